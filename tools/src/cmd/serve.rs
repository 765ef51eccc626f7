//! `ringstore serve`: the daemon on an embedded default configuration.

use anyhow::Result;
use ringstore_server::ServeConfig;

use crate::args::ServeArgs;
use crate::uri::parse_size;

pub fn serve(args: ServeArgs) -> Result<()> {
    let mut cfg = ServeConfig::load(args.config.as_deref())?;
    if let Some(d) = args.data_dir {
        cfg.data_dir = d;
    }
    if let Some(s) = args.device_size {
        cfg.device_size_bytes = parse_size(&s)?;
    }
    if let Some(l) = args.listen {
        cfg.listen = l
            .parse()
            .map_err(|e| anyhow::anyhow!("invalid --listen address {l:?}: {e}"))?;
    }
    if let Some(m) = args.metrics_listen {
        cfg.metrics_listen = if m.is_empty() {
            None
        } else {
            Some(
                m.parse()
                    .map_err(|e| anyhow::anyhow!("invalid --metrics-listen address {m:?}: {e}"))?,
            )
        };
    }
    if let Some(h) = args.http_listen {
        cfg.http_listen = if h.is_empty() {
            None
        } else {
            Some(
                h.parse()
                    .map_err(|e| anyhow::anyhow!("invalid --http-listen address {h:?}: {e}"))?,
            )
        };
    }
    if let Some(r) = args.read_cache {
        cfg.read_cache_bytes = parse_size(&r)?;
    }
    if let Some(c) = args.cores {
        cfg.cores = c;
    }
    if args.no_prefill {
        cfg.prefill = false;
    }
    ringstore_server::run(cfg)
}
