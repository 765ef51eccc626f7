//! Restart after kill -9: a child process (this test binary, re-run) puts and deletes
//! objects and prints each acknowledgement; the parent kills it at a random moment, then
//! checks that every acknowledged put reads back exactly and every acknowledged delete
//! stayed deleted.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ringstore_engine::device_set::{format, FormatOptions};
use ringstore_engine::{Acl, Engine, EngineConfig, Error, ListParams, PutOptions, StorageClass};

mod common;

fn body(i: u64) -> Vec<u8> {
    let len = if i % 16 == 3 {
        300_000
    } else {
        [10usize, 5000, 70_000, 1000][(i % 4) as usize]
    };
    (0..len).map(|j| (j as u64 * 31 + i * 7) as u8).collect()
}

fn paths(dir: &std::path::Path) -> Vec<PathBuf> {
    common::device_paths(dir, 6)
}

/// The child: runs when RINGSTORE_CRASH_CHILD names the device directory.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var("RINGSTORE_CRASH_CHILD") else {
        return;
    };
    let start: u64 = std::env::var("RINGSTORE_CRASH_START")
        .unwrap()
        .parse()
        .unwrap();
    let engine = Engine::start(EngineConfig::new(paths(std::path::Path::new(&dir)))).unwrap();
    let h = engine.handle();
    // Acknowledgements go to a file the parent reads (the page cache outlives kill -9).
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(format!("{dir}/acks"))
        .unwrap();
    futures::executor::block_on(async {
        if start == 0 {
            h.create_bucket("crash", "r", Acl::Private, StorageClass::Standard, "o")
                .await
                .unwrap();
        }
        writeln!(out, "ready").unwrap();
        for i in start.. {
            if i % 8 == 0 && std::env::var("RINGSTORE_CRASH_NO_CHECKPOINT").is_err() {
                // Checkpoints move the replay start and free log extents: crash across them too.
                h.checkpoint().await.unwrap();
            }
            let puts = (0..8).map(|j| {
                let (h, n, dir2) = (h.clone(), i * 8 + j, dir.clone());
                async move {
                    if n % 5 == 4 && n >= 9 {
                        // Announced first: a delete in flight at the kill may or may not land.
                        let mut o = std::fs::OpenOptions::new()
                            .append(true)
                            .open(format!("{}/acks", dir2))
                            .unwrap();
                        writeln!(o, "begin del {}", n - 9).unwrap();
                        h.delete_object("crash", &format!("k{}", n - 9))
                            .await
                            .map(|_| format!("del {}", n - 9))
                    } else {
                        h.put_object_bytes(
                            "crash",
                            &format!("k{n}"),
                            PutOptions::default(),
                            Bytes::from(body(n)),
                        )
                        .await
                        .map(|_| format!("put {n}"))
                    }
                }
            });
            for r in futures::future::join_all(puts).await {
                // A failed operation is simply not acknowledged (the device set may fill).
                let Ok(line) = r else { continue };
                writeln!(out, "{line}").unwrap();
            }
        }
    });
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::Builder::new()
        .prefix("crash")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let opts = FormatOptions {
        data_shards: 4,
        parity_shards: 2,
        device_bytes: 512 << 20,
        extent_bytes: 4 << 20,
        partitions: 2,
        force: false,
        prefill: false,
    };
    format(&paths(dir.path()), &opts).unwrap();
    let mut acked_put = std::collections::BTreeSet::new();
    let mut acked_del = std::collections::BTreeSet::new();
    let mut uncertain = std::collections::BTreeSet::new();
    let mut next = 0u64;
    for cycle in 0..8u64 {
        let acks = dir.path().join("acks");
        let _ = std::fs::remove_file(&acks);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env("RINGSTORE_CRASH_CHILD", dir.path())
            .env("RINGSTORE_CRASH_START", next.to_string())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the child is up, let it run for a while, then kill it.
        let started = Instant::now();
        let ready = || std::fs::read_to_string(&acks).is_ok_and(|s| s.starts_with("ready"));
        while !ready() && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let seen_ready = ready();
        std::thread::sleep(Duration::from_millis(200 + 100 * cycle));
        child.kill().unwrap();
        child.wait().unwrap();
        for line in std::fs::read_to_string(&acks).unwrap_or_default().lines() {
            if let Some(n) = line.strip_prefix("put ") {
                let n: u64 = n.parse().unwrap();
                acked_put.insert(n);
                acked_del.remove(&n);
                next = next.max(n / 8 + 1);
            } else if let Some(n) = line.strip_prefix("begin del ") {
                uncertain.insert(n.parse::<u64>().unwrap());
            } else if let Some(n) = line.strip_prefix("del ") {
                let n: u64 = n.parse().unwrap();
                acked_del.insert(n);
                acked_put.remove(&n);
                uncertain.remove(&n);
            }
        }
        assert!(seen_ready, "child did not start");
        eprintln!(
            "cycle {cycle}: killed; {} objects acknowledged so far",
            acked_put.len()
        );
        next += 1;
        let engine = Engine::start(EngineConfig::new(paths(dir.path()))).unwrap();
        let h = engine.handle();
        futures::executor::block_on(async {
            for &n in &uncertain {
                // A delete in flight at the kill: the object is whole or gone.
                match h.get_object_bytes("crash", &format!("k{n}"), None).await {
                    Ok((_, got)) => assert!(got == body(n), "cycle {cycle}: object {n} differs"),
                    Err(Error::NoSuchKey { .. }) => {
                        acked_put.remove(&n);
                        acked_del.insert(n);
                    }
                    Err(e) => panic!("cycle {cycle}: object {n}: {e}"),
                }
            }
            uncertain.clear();
            for &n in &acked_put {
                let (meta, got) = h
                    .get_object_bytes("crash", &format!("k{n}"), None)
                    .await
                    .unwrap();
                assert!(got == body(n), "cycle {cycle}: object {n} differs");
                assert_eq!(meta.size, body(n).len() as u64);
            }
            for &n in &acked_del {
                assert!(
                    matches!(
                        h.head_object("crash", &format!("k{n}")).await,
                        Err(Error::NoSuchKey { .. })
                    ),
                    "cycle {cycle}: deleted object {n} came back"
                );
            }
            // Everything listed, acknowledged or not, is whole: no partial object is visible.
            let mut params = ListParams {
                max_keys: 1000,
                ..Default::default()
            };
            loop {
                let page = h.list_objects("crash", &params).await.unwrap();
                for o in &page.objects {
                    let n: u64 = o.key[1..].parse().unwrap();
                    let (_, got) = h.get_object_bytes("crash", &o.key, None).await.unwrap();
                    assert!(
                        got == body(n) && o.size == got.len() as u64,
                        "cycle {cycle}: listed {} is not whole",
                        o.key
                    );
                }
                match page.next_marker {
                    Some(m) if page.is_truncated => params.marker = m,
                    _ => break,
                }
            }
        });
        eprintln!("cycle {cycle}: verified");
        engine.shutdown();
    }
    assert!(
        acked_put.len() > 10,
        "only {} puts acknowledged",
        acked_put.len()
    );
}

/// Runs the child (no checkpoints, one partition) until it has acknowledged `n` writes,
/// then kills it: everything it wrote is only in the log.
fn log_only_set(n: usize) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("damage")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let opts = FormatOptions {
        data_shards: 4,
        parity_shards: 2,
        device_bytes: 64 << 20,
        extent_bytes: 2 << 20,
        partitions: 1,
        force: false,
        prefill: false,
    };
    format(&paths(dir.path()), &opts).unwrap();
    let acks = dir.path().join("acks");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env("RINGSTORE_CRASH_CHILD", dir.path())
        .env("RINGSTORE_CRASH_START", "0")
        .env("RINGSTORE_CRASH_NO_CHECKPOINT", "1")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let count = || {
        std::fs::read_to_string(&acks)
            .map_or(0, |s| s.lines().filter(|l| l.starts_with("put ")).count())
    };
    while count() < n && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(count() >= n, "child acknowledged only {} writes", count());
    dir
}

/// Zeroes the first block of the partition's first log extent (extent 0, where batch 1
/// starts; its shard i is on device i) on the given devices.
fn damage_first_batch(dir: &std::path::Path, devices: &[usize]) {
    use std::os::unix::fs::FileExt;
    for &d in devices {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join(format!("dev{d}")))
            .unwrap();
        f.write_all_at(&[0u8; 4096], 1 << 20).unwrap();
        f.sync_all().unwrap();
    }
}

#[test]
fn damaged_committed_log_is_repaired_within_parity_and_refused_beyond() {
    // Two shards of the first batch lost: rebuilt from parity, everything replays.
    let dir = log_only_set(40);
    damage_first_batch(dir.path(), &[0, 1]);
    let engine = Engine::start(EngineConfig::new(paths(dir.path()))).unwrap();
    let acked: Vec<u64> = std::fs::read_to_string(dir.path().join("acks"))
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("put ").map(|n| n.parse().unwrap()))
        .collect();
    futures::executor::block_on(async {
        for n in acked {
            match engine
                .handle()
                .get_object_bytes("crash", &format!("k{n}"), None)
                .await
            {
                Ok((_, got)) => assert!(got == body(n), "object {n} differs"),
                // Deleted later by the child (every fifth operation deletes an older key).
                Err(Error::NoSuchKey { .. }) => {}
                Err(e) => panic!("object {n}: {e}"),
            }
        }
    });
    engine.shutdown();
    // Three shards lost (more than the two parity shards) in the committed middle of the
    // log: start-up refuses, naming the damage, instead of dropping what follows.
    let dir = log_only_set(40);
    damage_first_batch(dir.path(), &[0, 1, 2]);
    let err = Engine::start(EngineConfig::new(paths(dir.path())))
        .err()
        .expect("must refuse to start");
    assert!(err.to_string().contains("damaged"), "{err}");
}
