//! ringstore-crashcheck: the kill -9 campaign.
//!
//! Starts the real daemon (`ringstore serve` on 127.0.0.1, a small device set under
//! `target/`), runs concurrent clients doing a random mix of PUT (packed and striped
//! sizes, overwrites), DELETE, DELETE of several keys, object ACL changes and, in a
//! versioned bucket, versioned PUT, delete markers and DELETE by version id; kills the
//! daemon with SIGKILL at a random moment; restarts it and checks every key against the
//! ledger (`ledger`): acknowledged writes read back byte-exact with their ETag and CRC-64
//! unless superseded, acknowledged deletes stay deleted, each operation in flight at the
//! kill is all-or-nothing, LIST agrees with HEAD, version listings agree with the ledger.
//!
//! ```text
//! ringstore-crashcheck [--cycles N] [--seed S] [--clients C] [--kill-ms-max MS]
//! ```
//!
//! Exits 0 with a summary line when nothing was lost; otherwise prints every
//! discrepancy, the seed and the kept ledger, and exits 1.
//!
//! - `ledger`: the fsynced record file and its replay; `model`: the expected state;
//! - `worker`: one client's operation mix; `check`: the verification after a restart.

mod check;
mod ledger;
mod model;
mod rng;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use ringstore_client::{Acl, StorageClass, Versioning};
use ringstore_tests::Daemon;

use ledger::{Ledger, Record};
use model::{PLAIN_BUCKET, VERSIONED_BUCKET};
use rng::Rng;

struct Args {
    cycles: u64,
    seed: u64,
    clients: usize,
    kill_ms_max: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        cycles: 10,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
        clients: 4,
        kill_ms_max: 1500,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || -> Result<u64, String> {
            let v = it.next().ok_or(format!("{flag} needs a value"))?;
            v.parse()
                .map_err(|_| format!("{flag}: {v:?} is not a number"))
        };
        match flag.as_str() {
            "--cycles" => a.cycles = value()?,
            "--seed" => a.seed = value()?,
            "--clients" => a.clients = value()?.clamp(1, 64) as usize,
            "--kill-ms-max" => a.kill_ms_max = value()?.max(10),
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: ringstore-crashcheck [--cycles N] \
                     [--seed S] [--clients C] [--kill-ms-max MS]"
                ))
            }
        }
    }
    Ok(a)
}

fn all_keys(clients: usize) -> Vec<String> {
    let mut keys = Vec::new();
    for letter in ['p', 'v'] {
        for c in 0..clients {
            for i in 0..worker::KEYS_PER_CLIENT {
                keys.push(worker::key_name(letter, c, i));
            }
        }
    }
    keys
}

/// Connects to the daemon. A fresh connection is sometimes reset during the handshake on
/// a loaded machine: a few bounded retries, then the run fails with the error.
async fn connect(d: &Daemon) -> ringstore_client::Client {
    let mut last = None;
    for attempt in 0..CONNECT_ATTEMPTS {
        match ringstore_client::Client::connect(d.client_config()).await {
            Ok(c) => return c,
            Err(e) => {
                eprintln!("connect attempt {attempt}: {e}");
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    panic!("cannot connect to the daemon: {last:?}");
}

const CONNECT_ATTEMPTS: u32 = 5;

async fn setup(d: &Daemon) {
    let c = connect(d).await;
    for b in [PLAIN_BUCKET, VERSIONED_BUCKET] {
        c.create_bucket(b, Acl::Private, StorageClass::Standard, "local")
            .await
            .expect("create bucket");
    }
    c.put_bucket_versioning(VERSIONED_BUCKET, Versioning::Enabled)
        .await
        .expect("enable versioning");
}

/// One cycle: load, kill at a random moment, restart, check. Returns the check's report.
async fn cycle(
    d: &mut Daemon,
    ledger: &Arc<Ledger>,
    a: &Args,
    n: u64,
    rng: &mut Rng,
) -> check::Report {
    let c = connect(d).await;
    let workers: Vec<_> = (0..a.clients)
        .map(|w| {
            let seed = rng.next_u64();
            tokio::spawn(worker::run(w, c.clone(), ledger.clone(), seed, a.seed))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(10 + rng.below(a.kill_ms_max))).await;
    d.kill9();
    ledger.record(Record::Killed { cycle: n });
    let mut panics = Vec::new();
    for h in workers {
        if let Err(e) = h.await {
            panics.push(format!("a client failed: {e}"));
        }
    }
    drop(c);
    d.restart();
    let c = connect(d).await;
    let mut report = check::check(&c, ledger, a.seed, &all_keys(a.clients)).await;
    report.failures.extend(panics);
    report
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = parse_args().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    println!(
        "crashcheck: seed {} ({} cycles, {} clients)",
        a.seed, a.cycles, a.clients
    );
    let mut d = Daemon::start();
    setup(&d).await;
    let path = ringstore_tests::scratch().join(format!("crashcheck-{}.ledger", a.seed));
    let ledger = Arc::new(Ledger::create(&path).expect("create the ledger"));
    let mut rng = Rng::new(a.seed);
    let mut versions = 0;
    for n in 0..a.cycles {
        let r = cycle(&mut d, &ledger, &a, n, &mut rng).await;
        versions += r.versions_verified;
        let acked = ledger.with_model(|m| m.acknowledged);
        println!(
            "cycle {n}: {acked} acknowledged so far; in flight at the kill: {} applied, {} not; \
             {} versions verified",
            r.in_flight_new, r.in_flight_old, r.versions_verified
        );
        if !r.failures.is_empty() {
            for f in &r.failures {
                eprintln!("LOST: {f}");
            }
            eprintln!(
                "crashcheck FAILED in cycle {n}: {} discrepancies; seed {}; ledger kept at {}",
                r.failures.len(),
                a.seed,
                path.display()
            );
            // exit() runs no destructors: stop the daemon here, or it outlives the run.
            d.kill9();
            std::process::exit(1);
        }
    }
    let m = ledger.with_model(|m| m.clone());
    println!(
        "crashcheck passed: seed {}, {} cycles, {} acknowledged operations checked, \
         {} in-flight key outcomes resolved ({} applied, {} not), {} versions verified, 0 lost",
        a.seed,
        a.cycles,
        m.acknowledged,
        m.resolved_new + m.resolved_old,
        m.resolved_new,
        m.resolved_old,
        versions
    );
    let _ = std::fs::remove_file(&path);
}
