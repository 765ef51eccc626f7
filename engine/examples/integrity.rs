//! Measures scrub throughput, rebuild throughput after a device replacement, and the p99
//! latency of foreground GETs (128 KiB objects, one at a time) without background work,
//! during an uncapped scrub, during a scrub at the default cap and during a rebuild.
//!
//! `cargo run --release -p ringstore-engine --example integrity -- DIR` (or
//! `bench/rebuild.sh`). The rebuild figure is the bytes written to the new device over the
//! time from the attach to the end of the rebuild pass; formatting (prefilling) the new
//! device is timed apart.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ringstore_engine::device_set::{format, FormatOptions};
use ringstore_engine::{Acl, Engine, EngineConfig, Handle, PutOptions, ScrubConfig, StorageClass};

const MIB: u64 = 1 << 20;
const SMALL: usize = 256;
const WAIT_SECS_MAX: u64 = 600;

fn paths(dir: &Path) -> Vec<PathBuf> {
    (0..6).map(|i| dir.join(format!("dev{i}"))).collect()
}

fn start(devices: Vec<PathBuf>, rate: u64) -> Engine {
    let scrub = ScrubConfig {
        rate_bytes_per_sec: rate,
        ..ScrubConfig::default()
    };
    Engine::start(EngineConfig {
        scrub,
        ..EngineConfig::new(devices)
    })
    .unwrap()
}

fn body(len: usize, seed: u64) -> Bytes {
    let mut x = seed | 1;
    let v: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    Bytes::from(v)
}

/// GETs one at a time until `stop`, at most 200 000; returns the p99 in µs and the count.
fn foreground(h: Handle, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(u64, usize)> {
    std::thread::spawn(move || {
        let mut lat = Vec::new();
        let mut i = 0usize;
        while !stop.load(Ordering::Relaxed) && lat.len() < 200_000 {
            let key = format!("small/{}", i % SMALL);
            let t = Instant::now();
            futures::executor::block_on(h.get_object_bytes("bench", &key, None)).unwrap();
            lat.push(t.elapsed().as_micros() as u64);
            i += 1;
        }
        lat.sort_unstable();
        (lat[lat.len() * 99 / 100], lat.len())
    })
}

/// Runs the foreground load while `work` runs; returns (p99 µs, GETs, seconds of work).
fn with_load(h: &Handle, work: impl FnOnce()) -> (u64, usize, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let fg = foreground(h.clone(), stop.clone());
    let t = Instant::now();
    work();
    let secs = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let (p99, n) = fg.join().unwrap();
    (p99, n, secs)
}

/// Waits for `target` finished passes, at most `WAIT_SECS_MAX`.
fn wait_passes(h: &Handle, target: u64) {
    let since = Instant::now();
    while h.shared.stats.scrub_passes.get() < target {
        assert!(
            since.elapsed().as_secs() < WAIT_SECS_MAX,
            "no pass finished in {WAIT_SECS_MAX} s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `work` under the foreground load if `load`; (p99 µs, GETs, seconds of work).
fn maybe_loaded(h: &Handle, load: bool, work: impl FnOnce()) -> (u64, usize, f64) {
    if load {
        return with_load(h, work);
    }
    let t = Instant::now();
    work();
    (0, 0, t.elapsed().as_secs_f64())
}

/// Replaces device `dev` and waits for its rebuild pass; `load`: with foreground GETs,
/// whose p99 is taken apart while the replacement is formatted and while it is rebuilt.
fn rebuild(h: &Handle, dir: &Path, dev: usize, load: bool) {
    let s = h.shared.clone();
    let (written0, read0) = (
        s.stats.rebuild_blocks_written.get(),
        s.stats.scrub_bytes.get(),
    );
    let passes = s.stats.scrub_passes.get() + h.partitions() as u64;
    let new = dir.join(format!("dev{dev}-new"));
    let replace = || {
        futures::executor::block_on(h.replace_device(&dev.to_string(), &new)).unwrap();
    };
    let (format_p99, format_n, formatted) = maybe_loaded(h, load, replace);
    let (p99, n, secs) = maybe_loaded(h, load, || wait_passes(h, passes));
    let written = (s.stats.rebuild_blocks_written.get() - written0) as f64 * 4096.0 / MIB as f64;
    let read = (s.stats.scrub_bytes.get() - read0) as f64 / MIB as f64;
    let fg = match load {
        true => format!(
            "foreground p99 {p99} µs over {n} GETs while rebuilding, {format_p99} µs over {format_n} while formatting"
        ),
        false => "no foreground load".to_string(),
    };
    println!(
        "rebuild of device {dev}: {written:.0} MiB written to it in {secs:.2} s = {:.0} MiB/s (reading {:.0} MiB/s from the others), after {formatted:.2} s formatting and prefilling it ({:.0} MiB/s including that); {fg}; unrecoverable {}",
        written / secs,
        read / secs,
        written / (secs + formatted),
        s.stats.scrub_unrecoverable.get()
    );
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or("target/integrity".into()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let opts = FormatOptions {
        data_shards: 4,
        parity_shards: 2,
        device_bytes: 1 << 30,
        extent_bytes: 16 * MIB,
        partitions: 2,
        force: true,
        prefill: true,
    };
    format(&paths(&dir), &opts).unwrap();
    let engine = start(paths(&dir), u64::MAX / 2);
    let h = engine.handle();
    futures::executor::block_on(async {
        h.create_bucket("bench", "l", Acl::Private, StorageClass::Standard, "b")
            .await
            .unwrap();
        for i in 0..SMALL {
            let b = body(128 << 10, i as u64);
            h.put_object_bytes("bench", &format!("small/{i}"), PutOptions::default(), b)
                .await
                .unwrap();
        }
        for i in 0..96 {
            let b = body(8 << 20, 1000 + i);
            h.put_object_bytes("bench", &format!("big/{i}"), PutOptions::default(), b)
                .await
                .unwrap();
        }
    });
    let stored: u64 = futures::executor::block_on(h.status())
        .unwrap()
        .iter()
        .map(|p| p.object_bytes)
        .sum();
    println!("stored {} MiB of objects (4+2, 2 partitions)", stored / MIB);
    let (p99, n, _) = with_load(&h, || std::thread::sleep(Duration::from_secs(5)));
    println!("foreground alone: p99 {p99} µs over {n} GETs of 128 KiB");

    let s = h.shared.clone();
    let before = s.stats.scrub_bytes.get();
    let (p99, n, secs) = with_load(&h, || {
        h.scrub_start();
        wait_passes(&h, 2);
    });
    let mib = (s.stats.scrub_bytes.get() - before) as f64 / MIB as f64;
    println!(
        "scrub uncapped: {mib:.0} MiB of device blocks in {secs:.2} s = {:.0} MiB/s; foreground p99 {p99} µs over {n} GETs",
        mib / secs
    );
    let default = ScrubConfig::default().rate_bytes_per_sec;
    s.scrub.rate_bytes_per_sec.store(default, Ordering::Relaxed);
    let before = s.stats.scrub_bytes.get();
    let (p99, n, secs) = with_load(&h, || {
        h.scrub_start();
        wait_passes(&h, 4);
    });
    let mib = (s.stats.scrub_bytes.get() - before) as f64 / MIB as f64;
    println!(
        "scrub at the default cap ({} MiB/s): {:.0} MiB/s; foreground p99 {p99} µs over {n} GETs",
        default / MIB,
        mib / secs
    );
    engine.shutdown();

    // Lose devices 5 and 4, replace each (the first while serving, the second on an
    // otherwise idle engine) and time the rebuilds.
    std::fs::remove_file(dir.join("dev5")).unwrap();
    std::fs::remove_file(dir.join("dev4")).unwrap();
    let engine = start(paths(&dir), default);
    let h = engine.handle();
    // The same foreground on the degraded set (two devices missing) without background
    // work: what the p99 during the rebuild compares with.
    let (p99, n, _) = with_load(&h, || std::thread::sleep(Duration::from_secs(5)));
    println!("foreground alone, two devices missing: p99 {p99} µs over {n} GETs of 128 KiB");
    rebuild(&h, &dir, 5, true);
    rebuild(&h, &dir, 4, false);
    engine.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
