//! Named crash points (built only with `--features failpoints`). For each point a child
//! process (this test binary, re-run) arms it through `RINGSTORE_FAILPOINTS`, runs
//! operations and logs each one before it starts and after it is acknowledged; the point
//! aborts the child. The parent checks the child died of SIGABRT at that point, restarts
//! the engine on the same devices and checks the all-or-nothing outcome: acknowledged
//! puts read back byte-exact with their ETag, acknowledged deletes stay deleted, the
//! operation in flight is wholly present or absent (for the put points: exactly which of
//! the two), LIST shows only whole objects; then the restarted engine still takes writes,
//! checkpoints and restarts cleanly.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use md5::{Digest, Md5};
use ringstore_engine::device_set::{format, FormatOptions};
use ringstore_engine::failpoint;
use ringstore_engine::{
    Acl, Engine, EngineConfig, Error, Handle, ListParams, PutOptions, StorageClass,
};

mod common;
use common::{block_on, data};

const BUCKET: &str = "crash";
/// Stored in data stripes (the small ones are packed into the log).
const LARGE_BYTES: usize = 300_000;
const SMALL_BYTES: usize = 2000;
/// How long a child may run before the test gives up on it (a safety net, not a check).
const CHILD_DEADLINE: Duration = Duration::from_secs(600);
/// Children run one at a time: each starts a whole engine.
static ONE_CHILD: Mutex<()> = Mutex::new(());

fn paths(dir: &Path) -> Vec<PathBuf> {
    common::device_paths(dir, 6)
}

fn start(dir: &Path) -> Engine {
    let mut cfg = EngineConfig::new(paths(dir));
    cfg.executors = 1;
    Engine::start(cfg).unwrap()
}

/// The child's operation log: `begin <op>` before an operation, `ok <op>` after its
/// acknowledgement. Each line is one write(2), so it survives the abort in the page cache.
struct Log(std::fs::File);

impl Log {
    fn line(&mut self, line: &str) {
        self.0.write_all(format!("{line}\n").as_bytes()).unwrap();
    }
}

async fn put(h: &Handle, log: &mut Log, i: u64, len: usize) {
    let op = format!("put k{i} {len}");
    log.line(&format!("begin {op}"));
    let body = Bytes::from(data(len, i));
    h.put_object_bytes(BUCKET, &format!("k{i}"), PutOptions::default(), body)
        .await
        .unwrap();
    log.line(&format!("ok {op}"));
}

async fn delete(h: &Handle, log: &mut Log, i: u64) {
    log.line(&format!("begin del k{i}"));
    h.delete_object(BUCKET, &format!("k{i}")).await.unwrap();
    log.line(&format!("ok del k{i}"));
}

/// The puts and deletes the put and checkpoint scenarios run: large objects at odd `i`.
async fn mixed_ops(h: &Handle, log: &mut Log) {
    for i in 0..8 {
        let len = if i % 2 == 1 { LARGE_BYTES } else { SMALL_BYTES };
        put(h, log, i, len).await;
        if i == 5 {
            delete(h, log, 2).await;
        }
    }
}

/// Many small objects packed in the log, most deleted, then checkpoints retire the log
/// extents they filled so background compaction moves the survivors. Operations run 64 at
/// a time; all of a group are logged as begun before any starts.
async fn compaction_ops(h: &Handle, log: &mut Log) {
    let n = 4000u64;
    let all: Vec<u64> = (0..n).collect();
    for group in all.chunks(64) {
        let ops: Vec<String> = group
            .iter()
            .map(|i| format!("put k{i} {SMALL_BYTES}"))
            .collect();
        ops.iter().for_each(|op| log.line(&format!("begin {op}")));
        futures::future::join_all(group.iter().map(|&i| async move {
            let body = Bytes::from(data(SMALL_BYTES, i));
            h.put_object_bytes(BUCKET, &format!("k{i}"), PutOptions::default(), body)
                .await
        }))
        .await
        .into_iter()
        .for_each(|r| {
            r.unwrap();
        });
        ops.iter().for_each(|op| log.line(&format!("ok {op}")));
    }
    let doomed: Vec<u64> = (0..n).filter(|i| i % 10 != 0).collect();
    for group in doomed.chunks(64) {
        group
            .iter()
            .for_each(|i| log.line(&format!("begin del k{i}")));
        futures::future::join_all(
            group
                .iter()
                .map(|&i| async move { h.delete_object(BUCKET, &format!("k{i}")).await.unwrap() }),
        )
        .await;
        group.iter().for_each(|i| log.line(&format!("ok del k{i}")));
    }
    log.line("begin compaction");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        h.checkpoint().await.unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The child: runs when RINGSTORE_CRASH_POINT_DIR names the device directory.
#[test]
fn crash_point_child() {
    let Ok(dir) = std::env::var("RINGSTORE_CRASH_POINT_DIR") else {
        return;
    };
    let point = std::env::var("RINGSTORE_CRASH_POINT").unwrap();
    let engine = start(Path::new(&dir));
    let h = engine.handle();
    if point == failpoint::DURING_REPAIR {
        // The parent damaged the set: a scrub pass finds it and repairs, until the abort.
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(120) {
            h.scrub_start();
            std::thread::sleep(Duration::from_millis(100));
        }
        return;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(Path::new(&dir).join("ops"))
        .unwrap();
    let mut log = Log(file);
    block_on(async {
        h.create_bucket(BUCKET, "r", Acl::Private, StorageClass::Standard, "o")
            .await
            .unwrap();
        if point == failpoint::DURING_COMPACTION {
            compaction_ops(&h, &mut log).await;
        } else {
            mixed_ops(&h, &mut log).await;
            log.line("begin checkpoint");
            h.checkpoint().await.unwrap();
            log.line("ok checkpoint");
        }
    });
    log.line("finished");
}

/// What the operation log says each key must be after the restart.
#[derive(Debug, Default)]
struct Model {
    /// Key to (seed, length, `true` if it must exist / `false` if it may or may not).
    objects: BTreeMap<String, (u64, usize, bool)>,
    /// Keys that must not exist.
    deleted: Vec<String>,
    /// The last operation begun and not acknowledged.
    in_flight: Option<String>,
}

fn model(ops: &str) -> Model {
    let mut m = Model::default();
    for line in ops.lines() {
        let (state, op) = line.split_once(' ').unwrap_or((line, ""));
        let words: Vec<&str> = op.split(' ').collect();
        match (state, words.as_slice()) {
            ("begin", ["put", key, len]) => {
                let seed = key[1..].parse().unwrap();
                m.objects
                    .insert(key.to_string(), (seed, len.parse().unwrap(), false));
            }
            ("ok", ["put", key, _]) => m.objects.get_mut(*key).unwrap().2 = true,
            ("begin", ["del", key]) => m.objects.get_mut(*key).unwrap().2 = false,
            ("ok", ["del", key]) => {
                m.objects.remove(*key);
                m.deleted.push(key.to_string());
            }
            _ => {}
        }
        match state {
            "begin" => m.in_flight = Some(op.to_owned()),
            "ok" => m.in_flight = None,
            _ => {}
        }
    }
    m
}

/// Checks the engine on `dir` against `m`; returns how many objects it found.
fn check(dir: &Path, m: &Model) -> usize {
    let engine = start(dir);
    let h = engine.handle();
    let found = block_on(async {
        let mut found = 0;
        for (key, &(seed, len, must)) in &m.objects {
            match h.get_object_bytes(BUCKET, key, None).await {
                Ok((meta, got)) => {
                    assert!(got == data(len, seed), "{key}: bytes differ");
                    assert_eq!(
                        meta.etag,
                        <[u8; 16]>::from(Md5::digest(&got)),
                        "{key}: ETag"
                    );
                    found += 1;
                }
                Err(Error::NoSuchKey { .. }) => assert!(!must, "acknowledged {key} is lost"),
                Err(e) => panic!("{key}: {e}"),
            }
        }
        for key in &m.deleted {
            let r = h.head_object(BUCKET, key).await;
            assert!(
                matches!(r, Err(Error::NoSuchKey { .. })),
                "deleted {key} is back"
            );
        }
        let mut params = ListParams {
            max_keys: 1000,
            ..Default::default()
        };
        let mut listed = 0;
        loop {
            let page = h.list_objects(BUCKET, &params).await.unwrap();
            for o in &page.objects {
                let (_, len, _) = m.objects.get(&o.key).expect("listed key is unknown");
                assert_eq!(o.size, *len as u64, "listed {} is not whole", o.key);
                listed += 1;
            }
            match page.next_marker {
                Some(marker) if page.is_truncated => params.marker = marker,
                _ => break,
            }
        }
        assert_eq!(listed, found, "LIST and GET disagree");
        found
    });
    engine.shutdown();
    found
}

/// After the checks: the engine still takes a write, checkpoints and restarts.
fn still_works(dir: &Path, m: &mut Model) {
    let engine = start(dir);
    let h = engine.handle();
    block_on(async {
        let body = Bytes::from(data(LARGE_BYTES, 1_000_000));
        h.put_object_bytes(BUCKET, "k1000000", PutOptions::default(), body)
            .await
            .unwrap();
        h.checkpoint().await.unwrap();
    });
    engine.shutdown();
    m.objects
        .insert("k1000000".into(), (1_000_000, LARGE_BYTES, true));
    check(dir, m);
}

/// Runs the child with `armed`, waits for it to die at `point`, returns its operation log.
fn crash_at(dir: &Path, point: &str, armed: &str) -> String {
    let stderr = std::fs::File::create(dir.join("stderr")).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_point_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RINGSTORE_CRASH_POINT_DIR", dir)
        .env("RINGSTORE_CRASH_POINT", point)
        .env(failpoint::ENV_VAR, armed)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > CHILD_DEADLINE {
            child.kill().unwrap();
            panic!("the child did not reach crash point {point}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(dir.join("stderr")).unwrap();
    assert_eq!(status.signal(), Some(libc::SIGABRT), "{status}: {stderr}");
    assert!(
        stderr.contains(&format!("crash point {point}: aborting")),
        "died elsewhere: {stderr}"
    );
    std::fs::read_to_string(dir.join("ops")).unwrap()
}

/// A fresh 4+2 set of six 48 MiB devices with one partition, in a scratch directory.
fn formatted_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("crash-points")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let opts = FormatOptions {
        data_shards: 4,
        parity_shards: 2,
        device_bytes: 48 << 20,
        extent_bytes: 1 << 20,
        partitions: 1,
        force: false,
        prefill: false,
    };
    format(&paths(dir.path()), &opts).unwrap();
    dir
}

/// One crash point end to end; returns the model and the restarted engine's object count.
fn run(point: &str, armed: &str) -> (Model, usize) {
    let _one = ONE_CHILD.lock().unwrap_or_else(|e| e.into_inner());
    let dir = formatted_dir();
    let ops = crash_at(dir.path(), point, armed);
    assert!(!ops.contains("finished"));
    let mut m = model(&ops);
    let found = check(dir.path(), &m);
    eprintln!(
        "{point}: in flight {:?}, {found} objects after restart, {} deleted",
        m.in_flight,
        m.deleted.len()
    );
    still_works(dir.path(), &mut m);
    (m, found)
}

#[test]
fn after_data_write_the_put_is_absent() {
    // Large objects are puts 1, 3, 5, 7: the second data write is put k3's.
    let armed = format!("{}@2", failpoint::AFTER_DATA_WRITE);
    let (m, found) = run(failpoint::AFTER_DATA_WRITE, &armed);
    assert_eq!(
        m.in_flight.as_deref(),
        Some(&*format!("put k3 {LARGE_BYTES}"))
    );
    // k0, k1 (k2 is deleted later, so not yet) are acknowledged; k3's record never was.
    assert_eq!(found, 3, "k0, k1, k2 and nothing of k3");
}

#[test]
fn after_log_record_the_put_is_present() {
    let armed = format!("{}@4", failpoint::AFTER_LOG_RECORD);
    let (m, found) = run(failpoint::AFTER_LOG_RECORD, &armed);
    assert_eq!(
        m.in_flight.as_deref(),
        Some(&*format!("put k3 {LARGE_BYTES}"))
    );
    assert_eq!(
        found, 4,
        "k0 to k2 and the unanswered k3, whose record is durable"
    );
}

#[test]
fn during_checkpoint_the_old_root_and_log_recover_everything() {
    let (m, found) = run(failpoint::DURING_CHECKPOINT, failpoint::DURING_CHECKPOINT);
    assert_eq!(m.in_flight.as_deref(), Some("checkpoint"));
    assert_eq!(found, 7, "k0 to k7 without the deleted k2");
    assert_eq!(m.deleted, ["k2"]);
}

#[test]
fn during_compaction_survivors_and_deletes_hold() {
    let (m, found) = run(failpoint::DURING_COMPACTION, failpoint::DURING_COMPACTION);
    assert_eq!(m.in_flight.as_deref(), Some("compaction"));
    assert_eq!(found, 400, "every tenth of 4000 survives");
    assert_eq!(m.deleted.len(), 3600);
}

/// Zeroes one row of a data stripe on two devices (shards 0 and 1 of one block index),
/// so a repair has two block runs to write; returns how many blocks it zeroed.
fn damage_one_stripe_row(dir: &Path) -> usize {
    const BLOCK: usize = 4096;
    let mut rows: BTreeMap<(u32, u32), Vec<(PathBuf, usize)>> = BTreeMap::new();
    for p in paths(dir) {
        let all = std::fs::read(&p).unwrap();
        for at in ((1 << 20)..all.len() - BLOCK).step_by(BLOCK) {
            let b = &all[at..at + 64];
            // A data-stripe block (kind 1) of a data shard 0 or 1 (FORMAT.md, block header).
            if b[0..4] == *b"RSBK" && b[5] == 1 && b[6] < 2 {
                let extent = u32::from_le_bytes(b[16..20].try_into().unwrap());
                let block = u32::from_le_bytes(b[20..24].try_into().unwrap());
                rows.entry((extent, block))
                    .or_default()
                    .push((p.clone(), at));
            }
        }
    }
    let (_, places) = rows
        .into_iter()
        .find(|(_, v)| v.len() == 2)
        .expect("a stripe row with shards 0 and 1");
    for (p, at) in &places {
        let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&f, &[0u8; BLOCK], *at as u64).unwrap();
    }
    places.len()
}

/// A scrub pass on the engine of `h`, bounded; returns the blocks it found corrupt.
fn scrub_pass(h: &Handle) -> u64 {
    let (passes, corrupt) = (
        h.shared.stats.scrub_passes.get(),
        h.shared.stats.scrub_corrupt.get(),
    );
    h.scrub_start();
    let started = Instant::now();
    while h.shared.stats.scrub_passes.get() == passes {
        assert!(
            started.elapsed() < CHILD_DEADLINE,
            "the scrub pass did not end"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    h.shared.stats.scrub_corrupt.get() - corrupt
}

#[test]
fn during_repair_reads_stay_exact_and_the_next_pass_finishes_it() {
    let _one = ONE_CHILD.lock().unwrap_or_else(|e| e.into_inner());
    let dir = formatted_dir();
    let engine = start(dir.path());
    let h = engine.handle();
    let mut log = Log(std::fs::File::create(dir.path().join("populate")).unwrap());
    block_on(async {
        h.create_bucket(BUCKET, "r", Acl::Private, StorageClass::Standard, "o")
            .await
            .unwrap();
        for i in 0..4 {
            put(&h, &mut log, i, LARGE_BYTES).await;
        }
        h.checkpoint().await.unwrap();
    });
    engine.shutdown();
    assert_eq!(damage_one_stripe_row(dir.path()), 2);

    // The repair child runs no logged operation: its log stays empty.
    std::fs::File::create(dir.path().join("ops")).unwrap();
    let ops = crash_at(
        dir.path(),
        failpoint::DURING_REPAIR,
        failpoint::DURING_REPAIR,
    );
    assert!(ops.is_empty());

    let engine = start(dir.path());
    let h = engine.handle();
    block_on(async {
        for i in 0..4 {
            let (_, got) = h
                .get_object_bytes(BUCKET, &format!("k{i}"), None)
                .await
                .unwrap();
            assert!(got == data(LARGE_BYTES, i), "k{i} reads back exactly");
        }
    });
    // The pass after the restart repairs what the aborted one left (at most one of the
    // two blocks), and the next finds nothing.
    let left = scrub_pass(&h);
    assert!(
        left <= 1,
        "{left} blocks still corrupt after the aborted repair"
    );
    assert_eq!(h.shared.stats.scrub_unrecoverable.get(), 0);
    assert_eq!(scrub_pass(&h), 0, "a second pass finds nothing");
    engine.shutdown();
}
