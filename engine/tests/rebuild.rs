//! Rebuild while writing: a 2+2 set loses a device, keeps taking writes (listed as stripes
//! lacking redundancy), gets the device replaced while a writer keeps putting and
//! overwriting objects through the attach and the rebuild pass, and ends with every
//! stripe on every device: each object reads back exactly with the two other original
//! devices removed. One put writes its first stripes before the replacement and commits
//! after the rebuild pass is over, so only the list of degraded writes can heal it. A put
//! whose first stripes reached the replaced device itself, committed after the pass, is
//! listed by its commit.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::channel::mpsc;
use futures::SinkExt;
use ringstore_engine::{Handle, PutOptions};

mod common;
use common::{block_on, TestSet, MIB};

/// Four 96 MiB devices in 2+2, two partitions, one unpinned executor.
const SET: TestSet = TestSet::new(2, 2, 96 * MIB, 2);
/// Four 64 MiB devices in 2+2, one partition, one unpinned executor.
const LATE_SET: TestSet = TestSet::new(2, 2, 64 * MIB, 1);
/// The writer stops after this many puts or this long, whichever comes first.
const WRITER_PUTS_MAX: usize = 400;
const WRITER_SECS_MAX: u64 = 30;

/// Version `round` of object `i`: sizes from packed-in-the-log to several stripes.
fn body(i: usize, round: usize) -> Vec<u8> {
    let len = [10usize, 5000, 70_000, 600_000, 2_300_000][i % 5];
    (0..len)
        .map(|j| (j * 31 + i * 7 + round * 13) as u8)
        .collect()
}

fn put(h: &Handle, i: usize, round: usize) {
    let data = Bytes::from(body(i, round));
    block_on(h.put_object_bytes("rebuild", &format!("o{i}"), PutOptions::default(), data)).unwrap();
}

fn check_all(h: &Handle, expected: &BTreeMap<usize, usize>) {
    for (&i, &round) in expected {
        let (_, got) = block_on(h.get_object_bytes("rebuild", &format!("o{i}"), None)).unwrap();
        assert!(
            got == body(i, round),
            "object {i} (round {round}) reads back exactly"
        );
    }
}

/// Puts objects `range` (round 0) and records them in `expected`.
fn put_new(h: &Handle, range: std::ops::Range<usize>, expected: &mut BTreeMap<usize, usize>) {
    for i in range {
        put(h, i, 0);
        expected.insert(i, 0);
    }
}

/// Replaces device 1 with `dir/new1` and waits for every partition's rebuild pass.
fn replace_device_1(h: &Handle, dir: &std::path::Path) -> std::path::PathBuf {
    let new1 = dir.join("new1");
    block_on(h.replace_device("1", &new1)).unwrap();
    let partitions = h.partitions() as u64;
    wait_until("the rebuild pass", || {
        h.shared.stats.scrub_passes.get() >= partitions
    });
    new1
}

/// Puts new objects and overwrites old ones until `stop`, bounded; returns what it wrote.
fn writer(h: Handle, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<BTreeMap<usize, usize>> {
    std::thread::spawn(move || {
        let mut wrote = BTreeMap::new();
        let since = Instant::now();
        for n in 0..WRITER_PUTS_MAX {
            if stop.load(Ordering::Relaxed) || since.elapsed().as_secs() > WRITER_SECS_MAX {
                break;
            }
            // Every third put overwrites one of the first objects.
            let i = if n % 3 == 0 { n % 30 } else { 100 + n };
            put(&h, i, n + 1);
            wrote.insert(i, n + 1);
        }
        wrote
    })
}

const SLOW_BYTES: usize = 4 << 20;
/// About four stripes of a 2+2 set, sent before the replacement.
const SLOW_FIRST_BYTES: usize = 2_200_000;

fn slow_body() -> Vec<u8> {
    (0..SLOW_BYTES).map(|j| (j * 17 + 5) as u8).collect()
}

/// Starts a put of `slow_body` whose body the caller sends.
fn slow_put(h: &Handle) -> (mpsc::Sender<Bytes>, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(1);
    let h = h.clone();
    let opts = PutOptions {
        content_length: SLOW_BYTES as u64,
        ..PutOptions::default()
    };
    let put = std::thread::spawn(move || {
        block_on(h.put_object("rebuild", "slow", opts, rx)).unwrap();
    });
    (tx, put)
}

fn check_slow(h: &Handle) {
    let (_, got) = block_on(h.get_object_bytes("rebuild", "slow", None)).unwrap();
    assert!(
        got == slow_body(),
        "the put that spanned the rebuild reads back exactly"
    );
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..6000 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{what} did not happen");
}

#[test]
fn writes_during_the_rebuild_end_fully_redundant() {
    let (dir, engine) = SET.set_up("rebuild-", "rebuild");
    let all = SET.paths(dir.path());
    let h = engine.handle();
    let mut expected = BTreeMap::new();
    put_new(&h, 0..30, &mut expected);
    block_on(h.checkpoint()).unwrap();
    engine.shutdown();

    // Device 1 lost: writes go on (k + 1 up) and are listed as lacking redundancy.
    std::fs::remove_file(&all[1]).unwrap();
    let engine = SET.start_on(all.clone()).unwrap();
    let h = engine.handle();
    put_new(&h, 30..40, &mut expected);
    let degraded = h.shared.scrub.degraded_stripes();
    assert!(degraded > 0, "writes without device 1 are listed");
    assert_eq!(degraded, h.shared.stats.degraded_stripes_written.get());

    // A put whose first stripes are written now, without device 1, and which commits
    // only after the rebuild pass is over: the pass cannot have seen it.
    let (mut slow_tx, slow) = slow_put(&h);
    let written = h.shared.stats.degraded_stripes_written.get();
    block_on(slow_tx.send(Bytes::from(slow_body()[..SLOW_FIRST_BYTES].to_vec()))).unwrap();
    wait_until("the slow put's first stripes", || {
        h.shared.stats.degraded_stripes_written.get() >= written + 4
    });

    // Replace it while a writer keeps putting through the attach and the whole pass.
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(h.clone(), stop.clone());
    let new1 = replace_device_1(&h, dir.path());
    assert_eq!(h.shared.devices[1].path(), new1.display().to_string());
    block_on(slow_tx.send(Bytes::from(slow_body()[SLOW_FIRST_BYTES..].to_vec()))).unwrap();
    drop(slow_tx);
    slow.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    let wrote = w.join().unwrap();
    assert!(!wrote.is_empty(), "the writer wrote during the rebuild");
    expected.extend(wrote);
    wait_until("healing the degraded stripes", || {
        h.shared.scrub.degraded_stripes() == 0
    });
    assert!(h.shared.stats.rebuild_blocks_written.get() > 0);
    assert_eq!(h.shared.stats.scrub_unrecoverable.get(), 0);
    // No reads here: a read that had to rebuild a shard would queue its repair and hide
    // a stripe the rebuild missed.
    engine.shutdown();

    // Full redundancy: the other two original devices go; the rebuilt one and the last
    // original (k = 2) serve everything, including what was written during the rebuild.
    std::fs::remove_file(&all[0]).unwrap();
    std::fs::remove_file(&all[2]).unwrap();
    let engine = SET.start_on(vec![new1, all[3].clone()]).unwrap();
    check_all(&engine.handle(), &expected);
    check_slow(&engine.handle());
    engine.shutdown();
}

/// A put whose first stripes reach device 1 while it is still in the set, which is then
/// replaced, and which commits only after the rebuild pass is over: its stripes are in no
/// list of degraded writes, and the pass never saw its key. The commit itself must list
/// them for the rebuild, or the new device lacks their shards.
#[test]
fn a_put_written_before_the_replacement_and_committed_after_the_pass_is_rebuilt() {
    let (dir, engine) = LATE_SET.set_up("rebuild-late-", "rebuild");
    let all = LATE_SET.paths(dir.path());
    let h = engine.handle();
    let mut expected = BTreeMap::new();
    put_new(&h, 0..10, &mut expected);

    // The slow put's first four stripes land on every device, the old device 1 included.
    let (mut slow_tx, slow) = slow_put(&h);
    let on_old = h.shared.devices[1].bytes_written.get();
    block_on(slow_tx.send(Bytes::from(slow_body()[..SLOW_FIRST_BYTES].to_vec()))).unwrap();
    // Four full 2+2 stripes: 64 blocks of 4 KiB on each device.
    wait_until("the slow put's first stripes on device 1", || {
        h.shared.devices[1].bytes_written.get() >= on_old + 4 * 64 * 4096
    });
    assert_eq!(
        h.shared.scrub.degraded_stripes(),
        0,
        "nothing was written degraded"
    );

    let new1 = replace_device_1(&h, dir.path());
    block_on(slow_tx.send(Bytes::from(slow_body()[SLOW_FIRST_BYTES..].to_vec()))).unwrap();
    drop(slow_tx);
    slow.join().unwrap();
    wait_until("rebuilding the late put's stripes", || {
        h.shared.scrub.degraded_stripes() == 0
    });
    assert_eq!(h.shared.stats.scrub_unrecoverable.get(), 0);
    engine.shutdown();

    // The old device 1 and two more originals go: new1 and device 3 (k = 2) serve all.
    for d in [0, 1, 2] {
        std::fs::remove_file(&all[d]).unwrap();
    }
    let engine = LATE_SET.start_on(vec![new1, all[3].clone()]).unwrap();
    check_all(&engine.handle(), &expected);
    check_slow(&engine.handle());
    engine.shutdown();
}

/// A checkpoint whose stripes reach device 1 while it is still in the set, which is then
/// replaced, and whose root is written only after the rebuild pass read the previous
/// root: the pass rebuilt the previous checkpoint, which this root frees, and never saw
/// this one. The checkpoint must list its stripes for the rebuild itself, or the new
/// device lacks their shards: a full scrub pass afterwards finds nothing to repair.
/// (A hold point keeps the checkpoint between its stripes and its root: `failpoints`.)
#[cfg(feature = "failpoints")]
#[test]
fn a_checkpoint_written_across_the_replacement_is_rebuilt() {
    use ringstore_engine::failpoint;

    let (dir, engine) = LATE_SET.set_up("rebuild-checkpoint-", "rebuild");
    let all = LATE_SET.paths(dir.path());
    let h = engine.handle();
    let mut expected = BTreeMap::new();
    put_new(&h, 0..10, &mut expected);
    // The checkpoint the rebuild pass will find and rebuild.
    block_on(h.checkpoint()).unwrap();
    put_new(&h, 10..20, &mut expected);

    // The next checkpoint writes its stripes to every device, the old device 1 included,
    // and waits before its root.
    let hold = failpoint::hold(failpoint::DURING_CHECKPOINT, h.shared.layout.set_id);
    let checkpoint = {
        let h = h.clone();
        std::thread::spawn(move || block_on(h.checkpoint()))
    };
    assert!(
        hold.wait_reached(Duration::from_secs(60)),
        "the checkpoint's stripes are written"
    );
    assert_eq!(h.shared.scrub.degraded_stripes(), 0);

    let new1 = replace_device_1(&h, dir.path());
    // The root naming the new checkpoint is written now, after the pass.
    drop(hold);
    checkpoint.join().unwrap().unwrap();
    wait_until("rebuilding the checkpoint's stripes", || {
        h.shared.scrub.degraded_stripes() == 0
    });

    // A full pass reads every shard of every block the set references, the current
    // checkpoint's included: on the new device none is missing.
    let corrupt = h.shared.stats.scrub_corrupt.get();
    let partitions = h.partitions() as u64;
    h.scrub_start();
    wait_until("the scrub pass", || {
        h.shared.stats.scrub_passes.get() >= 2 * partitions
    });
    assert_eq!(
        h.shared.stats.scrub_corrupt.get() - corrupt,
        0,
        "every block the set references has its shard on the new device"
    );
    assert_eq!(h.shared.stats.scrub_unrecoverable.get(), 0);
    engine.shutdown();

    // And the objects read back from the new device and one original (k = 2).
    for d in [0, 1, 2] {
        std::fs::remove_file(&all[d]).unwrap();
    }
    let engine = LATE_SET.start_on(vec![new1, all[3].clone()]).unwrap();
    check_all(&engine.handle(), &expected);
    engine.shutdown();
}

/// `rebuild_rate_bytes_per_sec` paces the rebuild pass: with a cap far below what the
/// devices allow, the pass waits to stay under it; with none (0), it never waits.
#[test]
fn the_rebuild_rate_cap_makes_the_pass_wait() {
    for cap in [0, 2 * MIB] {
        let (dir, engine) = LATE_SET.set_up("rebuild-cap-", "rebuild");
        let h = engine.handle();
        for i in 0..10 {
            put(&h, i, 0);
        }
        h.shared
            .scrub
            .rebuild_rate_bytes_per_sec
            .store(cap, Ordering::Relaxed);
        replace_device_1(&h, dir.path());
        let written = h.shared.stats.rebuild_blocks_written.get() * 4096;
        let waits = h.shared.stats.rebuild_throttle_waits.get();
        // Several stripes of 256 KiB: well over the first granted slot at 2 MiB/s.
        assert!(written > MIB, "the pass rebuilt {written} bytes");
        match cap {
            0 => assert_eq!(waits, 0, "no cap: the pass never waits"),
            _ => assert!(waits > 0, "a cap of {cap} B/s: the pass waited"),
        }
        engine.shutdown();
    }
}
