//! Measures scrub throughput, rebuild throughput after a device replacement, and the p99
//! latency of foreground GETs (128 KiB objects, one at a time) without background work,
//! during an uncapped scrub, during a scrub at the default cap and during a rebuild.
//!
//! `cargo run --release -p ringstore-engine --example integrity -- DIR` (or
//! `bench/rebuild.sh`): six device files under DIR. The rebuild figure is the bytes
//! written to the new device over the time from the attach to the end of the rebuild
//! pass; formatting (prefilling) the new device is timed apart.
//!
//! `integrity --devices D0,D1,D2,D3,D4,D5 --spare S [--big N] [--rebuild-only]` (or
//! `bench/rebuild.sh --loop RATE`): the same on six block devices and a spare. Devices 5
//! and 4 are lost by wiping their superblocks while the engine is stopped; device 5 is
//! replaced by the spare, device 4 by the wiped device 5. `--big`: how many 8 MiB
//! objects (default 96); `--rebuild-only`: skip the scrub runs. With `RB_DEVICE_MIB_S` set (a device's sequential write rate),
//! the rebuild rates are also given as a share of half of it, the target.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ringstore_engine::device_set::{format, FormatOptions, Layout};
use ringstore_engine::{Acl, Engine, EngineConfig, Handle, PutOptions, ScrubConfig, StorageClass};

const MIB: u64 = 1 << 20;
const SMALL: usize = 256;
const WAIT_SECS_MAX: u64 = 600;

/// Where the set lives.
enum Place {
    /// Six files in this directory, removed to lose a device.
    Dir(PathBuf),
    /// Six block devices and a spare.
    Block {
        devices: Vec<PathBuf>,
        spare: PathBuf,
    },
}

struct Args {
    place: Place,
    big: u64,
    /// Only the rebuilds: no scrub runs and no foreground run on the whole set.
    rebuild_only: bool,
    /// A device's sequential write rate (MiB/s), to rate the rebuild against.
    device_mib_s: Option<f64>,
}

fn usage() -> ! {
    eprintln!("usage: integrity [DIR] | integrity --devices D0,..,D5 --spare S [--big N] [--rebuild-only]");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut it = std::env::args().skip(1);
    let (mut dir, mut devices, mut spare, mut big) = (None, None, None, 96);
    let mut rebuild_only = false;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--devices" => {
                let list = it.next().unwrap_or_else(|| usage());
                devices = Some(list.split(',').map(PathBuf::from).collect::<Vec<_>>());
            }
            "--spare" => spare = Some(PathBuf::from(it.next().unwrap_or_else(|| usage()))),
            "--rebuild-only" => rebuild_only = true,
            "--big" => {
                big = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            _ if a.starts_with("--") => usage(),
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let place = match (dir, devices, spare) {
        (None, Some(devices), Some(spare)) if devices.len() == 6 => Place::Block { devices, spare },
        (dir, None, None) => Place::Dir(dir.unwrap_or("target/integrity".into())),
        _ => usage(),
    };
    let device_mib_s = std::env::var("RB_DEVICE_MIB_S")
        .ok()
        .and_then(|v| v.parse().ok());
    Args {
        place,
        big,
        rebuild_only,
        device_mib_s,
    }
}

impl Place {
    fn paths(&self) -> Vec<PathBuf> {
        match self {
            Place::Dir(dir) => (0..6).map(|i| dir.join(format!("dev{i}"))).collect(),
            Place::Block { devices, .. } => devices.clone(),
        }
    }

    /// The path device `dev`'s replacement is formatted on.
    fn replacement(&self, dev: usize) -> PathBuf {
        match self {
            Place::Dir(dir) => dir.join(format!("dev{dev}-new")),
            Place::Block { devices, spare } => match dev {
                5 => spare.clone(),
                // The lost device 5, wiped, replaces device 4.
                _ => devices[5].clone(),
            },
        }
    }
}

/// Makes device `dev` lost: its file removed, or its superblock copies zeroed.
fn lose(place: &Place, layout: &Layout, dev: usize) {
    let path = &place.paths()[dev];
    match place {
        Place::Dir(_) => std::fs::remove_file(path).unwrap(),
        Place::Block { .. } => {
            use std::os::unix::fs::FileExt;
            let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            let zeros = vec![0u8; 4096];
            f.write_all_at(&zeros, 0).unwrap();
            f.write_all_at(&zeros, layout.superblock_b_offset())
                .unwrap();
            f.sync_all().unwrap();
        }
    }
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

/// Seconds this process's threads have run on a CPU and waited runnable for one (the
/// machine's other load), from /proc/self/task/*/schedstat; zeros where it is missing.
fn sched_secs() -> (f64, f64) {
    let mut sum = (0.0, 0.0);
    for t in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let Ok(line) = std::fs::read_to_string(t.path().join("schedstat")) else {
            continue;
        };
        let mut f = line
            .split_whitespace()
            .map(|v| v.parse::<f64>().unwrap_or(0.0));
        sum.0 += f.next().unwrap_or(0.0) / 1e9;
        sum.1 += f.next().unwrap_or(0.0) / 1e9;
    }
    sum
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
fn rebuild(h: &Handle, place: &Place, dev: usize, load: bool, device_mib_s: Option<f64>) {
    let s = h.shared.clone();
    let (written0, read0) = (
        s.stats.rebuild_blocks_written.get(),
        s.stats.scrub_bytes.get(),
    );
    let passes = s.stats.scrub_passes.get() + h.partitions() as u64;
    let new = place.replacement(dev);
    let replace = || {
        futures::executor::block_on(h.replace_device(&dev.to_string(), &new)).unwrap();
    };
    let (format_p99, format_n, formatted) = maybe_loaded(h, load, replace);
    let sched0 = sched_secs();
    let (p99, n, secs) = maybe_loaded(h, load, || wait_passes(h, passes));
    let sched1 = sched_secs();
    let (cpu, waited) = (sched1.0 - sched0.0, sched1.1 - sched0.1);
    let written = (s.stats.rebuild_blocks_written.get() - written0) as f64 * 4096.0 / MIB as f64;
    let read = (s.stats.scrub_bytes.get() - read0) as f64 / MIB as f64;
    let fg = match load {
        true => format!(
            "foreground p99 {p99} µs over {n} GETs while rebuilding, {format_p99} µs over {format_n} while formatting"
        ),
        false => "no foreground load".to_string(),
    };
    let target = match device_mib_s {
        Some(d) => format!(
            " = {:.2} × the target (half of {d:.0} MiB/s)",
            written / secs / (d / 2.0)
        ),
        None => String::new(),
    };
    println!(
        "rebuild of device {dev}: {written:.0} MiB written to it in {secs:.2} s = {:.0} MiB/s{target} (reading {:.0} MiB/s from the others), after {formatted:.2} s formatting and prefilling it ({:.0} MiB/s including that); {fg}; the process ran {cpu:.2} CPU-s and waited {waited:.2} s runnable for a CPU; unrecoverable {}",
        written / secs,
        read / secs,
        written / (secs + formatted),
        s.stats.scrub_unrecoverable.get()
    );
}

fn main() {
    let args = parse_args();
    let place = &args.place;
    let device_bytes = match place {
        Place::Dir(dir) => {
            let _ = std::fs::remove_dir_all(dir);
            std::fs::create_dir_all(dir).unwrap();
            1 << 30
        }
        // The smallest block device's size.
        Place::Block { .. } => 0,
    };
    let opts = FormatOptions {
        data_shards: 4,
        parity_shards: 2,
        device_bytes,
        extent_bytes: 16 * MIB,
        partitions: 2,
        force: true,
        prefill: true,
    };
    let layout = format(&place.paths(), &opts).unwrap();
    let engine = start(place.paths(), u64::MAX / 2);
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
        for i in 0..args.big {
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
    let default = ScrubConfig::default().rate_bytes_per_sec;
    if !args.rebuild_only {
        scrubs(&h, default);
    }
    engine.shutdown();

    // Lose devices 5 and 4, replace each (the first while serving, the second on an
    // otherwise idle engine) and time the rebuilds.
    lose(place, &layout, 5);
    lose(place, &layout, 4);
    let engine = start(place.paths()[..4].to_vec(), default);
    let h = engine.handle();
    // The same foreground on the degraded set (two devices missing) without background
    // work: what the p99 during the rebuild compares with.
    let (p99, n, _) = with_load(&h, || std::thread::sleep(Duration::from_secs(5)));
    println!("foreground alone, two devices missing: p99 {p99} µs over {n} GETs of 128 KiB");
    rebuild(&h, place, 5, true, args.device_mib_s);
    rebuild(&h, place, 4, false, args.device_mib_s);
    engine.shutdown();
    if let Place::Dir(dir) = place {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The foreground alone, then under an uncapped scrub and a scrub at the default cap.
fn scrubs(h: &Handle, default: u64) {
    let (p99, n, _) = with_load(h, || std::thread::sleep(Duration::from_secs(5)));
    println!("foreground alone: p99 {p99} µs over {n} GETs of 128 KiB");
    let s = h.shared.clone();
    let before = s.stats.scrub_bytes.get();
    let (p99, n, secs) = with_load(h, || {
        h.scrub_start();
        wait_passes(h, 2);
    });
    let mib = (s.stats.scrub_bytes.get() - before) as f64 / MIB as f64;
    println!(
        "scrub uncapped: {mib:.0} MiB of device blocks in {secs:.2} s = {:.0} MiB/s; foreground p99 {p99} µs over {n} GETs",
        mib / secs
    );
    s.scrub.rate_bytes_per_sec.store(default, Ordering::Relaxed);
    let before = s.stats.scrub_bytes.get();
    let (p99, n, secs) = with_load(h, || {
        h.scrub_start();
        wait_passes(h, 4);
    });
    let mib = (s.stats.scrub_bytes.get() - before) as f64 / MIB as f64;
    println!(
        "scrub at the default cap ({} MiB/s): {:.0} MiB/s; foreground p99 {p99} µs over {n} GETs",
        default / MIB,
        mib / secs
    );
}
