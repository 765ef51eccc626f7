//! Opens the target named by `--target`, with the key from flags, the environment or the
//! data directory's `root.key`.

use anyhow::{bail, Context, Result};
use ringstore_client::ClientConfig;

use crate::args::RunArgs;
use crate::constants::{CONNECTIONS_MAX, THREADS_MAX};
use crate::sign::{Scheme, Signer};
use crate::target::http::HttpTarget;
use crate::target::ringstore::RingTarget;
use crate::target::{Ctx, Target};

/// The access key id and secret of the run.
fn credentials(args: &RunArgs) -> Result<(String, String)> {
    Ok(ringstore_client::credentials(
        args.access_key_id.as_deref(),
        args.secret_access_key.as_deref(),
        &args.data_dir,
    )?)
}

/// Checks the run's numbers against the limits.
pub fn check_limits(args: &RunArgs) -> Result<()> {
    use crate::constants::*;
    if args.concurrency == 0 || args.concurrency > CONCURRENCY_MAX {
        bail!("--concurrency must be 1..={CONCURRENCY_MAX}");
    }
    if args.threads.is_some_and(|t| t == 0 || t > THREADS_MAX) {
        bail!("--threads must be 1..={THREADS_MAX}");
    }
    if args.keys == 0 || args.keys > KEY_COUNT_MAX {
        bail!("--keys must be 1..={KEY_COUNT_MAX}");
    }
    if args.list_page == 0 || args.list_page > LIST_PAGE_KEYS_MAX {
        bail!("--list-page must be 1..={LIST_PAGE_KEYS_MAX}");
    }
    if args
        .duration
        .is_some_and(|d| d.as_secs() > DURATION_SECONDS_MAX)
    {
        bail!("--duration must be at most {DURATION_SECONDS_MAX} s");
    }
    if args.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        bail!("--rate must be a positive number of operations per second");
    }
    Ok(())
}

/// Binary-protocol connections of the run: `--connections`, or the concurrency (at most
/// 32).
pub fn connections(args: &RunArgs) -> usize {
    args.connections
        .unwrap_or(args.concurrency.min(32))
        .clamp(1, CONNECTIONS_MAX)
}

/// Threads of the measured phase: `--threads`, or the CPUs available; never more than the
/// workers.
pub fn threads(args: &RunArgs) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    args.threads
        .unwrap_or(cpus)
        .clamp(1, THREADS_MAX)
        .min(args.concurrency.max(1))
}

/// Connects to the target.
pub async fn open(args: &RunArgs, ctx: Ctx) -> Result<Target> {
    let (id, secret) = credentials(args)?;
    if let Some(endpoint) = args.target.strip_prefix("ringstore://") {
        let mut cfg = ClientConfig::new(endpoint.trim_end_matches('/'), id, secret);
        cfg.connections = connections(args);
        let target = RingTarget::connect(cfg, ctx)
            .await
            .with_context(|| format!("connecting to {}", args.target))?;
        return Ok(Target::Ringstore(target));
    }
    if let Some(host) = args.target.strip_prefix("http://") {
        let host = host.trim_end_matches('/');
        if host.is_empty() || host.contains('/') {
            bail!("--target http://HOST:PORT takes no path (requests are path-style)");
        }
        let region = args.region.clone().unwrap_or_else(|| match args.sign {
            Scheme::Oss4 | Scheme::Oss1 => "cn-hangzhou".into(),
            Scheme::S3v4 => "us-east-1".into(),
        });
        let signer = Signer {
            scheme: args.sign,
            access_key_id: id,
            secret_access_key: secret,
            region,
        };
        return Ok(Target::Http(HttpTarget::new(host.to_owned(), signer, ctx)));
    }
    bail!(
        "--target {:?}: use ringstore://HOST:PORT or http://HOST:PORT (https is not supported)",
        args.target
    )
}
