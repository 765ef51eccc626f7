//! Memory per object and restart time at scale: puts N empty objects (default 10 million),
//! stops the engine cleanly (checkpoint), starts it again and times the restart.
//!
//! `cargo run --release -p ringstore-engine --example scale -- DIR [N] [--keep]`
//!
//! `--keep` leaves the device set in DIR; `scale -- DIR --restart-only` then times only a
//! start of that set (to profile the restart without putting the objects again).

use std::path::PathBuf;
use std::time::Instant;

use bytes::Bytes;
use ringstore_engine::device_set::{format, FormatOptions};
use ringstore_engine::{Acl, Engine, EngineConfig, PutOptions, StorageClass};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let (flags, args): (Vec<String>, Vec<String>) =
        std::env::args().skip(1).partition(|a| a.starts_with("--"));
    let dir = PathBuf::from(args.first().map_or("target/scale", |s| s.as_str()));
    let n: usize = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let paths: Vec<PathBuf> = (0..6).map(|i| dir.join(format!("dev{i}"))).collect();
    if flags.iter().any(|f| f == "--restart-only") {
        restart(paths);
        return;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let opts = FormatOptions {
        data_shards: 4,
        parity_shards: 2,
        device_bytes: 4 << 30,
        extent_bytes: 64 << 20,
        partitions: 2,
        force: true,
        prefill: false,
    };
    format(&paths, &opts).unwrap();
    let engine = Engine::start(EngineConfig::new(paths.clone())).unwrap();
    let h = engine.handle();
    let rss0 = rss_bytes();
    let t = Instant::now();
    futures::executor::block_on(async {
        h.create_bucket(
            "scale",
            "local",
            Acl::Private,
            StorageClass::Standard,
            "bench",
        )
        .await
        .unwrap();
        let batch = 512;
        for i in 0..n.div_ceil(batch) {
            let puts = (0..batch).filter(|j| i * batch + j < n).map(|j| {
                let key = format!(
                    "objects/{:04}/{:010}",
                    (i * batch + j) % 1000,
                    i * batch + j
                );
                let h = h.clone();
                async move {
                    h.put_object_bytes("scale", &key, PutOptions::default(), Bytes::new())
                        .await
                        .unwrap()
                }
            });
            futures::future::join_all(puts).await;
            if i % 2000 == 0 {
                eprintln!("{} objects, rss {} MiB", i * batch, rss_bytes() >> 20);
            }
        }
    });
    let secs = t.elapsed().as_secs_f64();
    let rss1 = rss_bytes();
    println!(
        "{n} empty objects put in {secs:.1} s ({:.0} puts/s)",
        n as f64 / secs
    );
    println!(
        "resident memory: {} MiB, {:.0} bytes per object",
        rss1 >> 20,
        (rss1 - rss0) as f64 / n as f64
    );
    let t = Instant::now();
    engine.shutdown();
    println!(
        "clean stop (checkpoint) in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    restart(paths);
    if !flags.iter().any(|f| f == "--keep") {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Starts the set, prints how long that took, the objects found and the memory they took.
fn restart(paths: Vec<PathBuf>) {
    let rss_before = rss_bytes();
    let t = Instant::now();
    let engine = Engine::start(EngineConfig::new(paths)).unwrap();
    let restart = t.elapsed().as_secs_f64();
    let objects: u64 = futures::executor::block_on(engine.handle().status())
        .unwrap()
        .iter()
        .map(|p| p.objects)
        .sum();
    println!("restart in {restart:.1} s with {objects} objects");
    println!(
        "resident memory after restart: {} MiB",
        (rss_bytes().saturating_sub(rss_before)) >> 20
    );
    engine.shutdown();
}
