//! Space reclamation: sustained overwrites of a live set much smaller than the device set
//! never end in StorageFull, also when the process exits without a checkpoint after every
//! few hundred writes (as after kill -9); a set filled with live data refuses puts but
//! still accepts deletes, and takes puts again once deletes freed space.

use std::path::Path;
use std::process::Command;

use bytes::Bytes;
use ringstore_engine::{Acl, Error, Handle, PutOptions, StorageClass};

mod common;
use common::{block_on, data, TestSet};

/// Keys of the live set, and the packed size of each object: 24 × 48 KiB ≈ 1.2 MB live.
const KEYS: u64 = 24;
const BODY_BYTES: usize = 48 * 1024;
/// Runs of the child (each ends without a checkpoint) and overwrites in each: 28 × 150
/// × 48 KiB ≈ 200 MB written, twice the device set's capacity.
const RUNS: u64 = 28;
const WRITES_PER_RUN: u64 = 150;

/// 6 × 24 MiB, 1 MiB extents, one partition: 22 extents of 4 × 1 MiB ≈ 88 MB of user
/// capacity, of which the log, the reserve and the checkpoint keep a few.
const SET: TestSet = TestSet::new(4, 2, 24 << 20, 1).run_by(1, true);

/// The child: one run of overwrites, then an exit without shutdown (no checkpoint).
#[test]
fn overwrite_child() {
    let Ok(dir) = std::env::var("RINGSTORE_SPACE_CHILD") else {
        return;
    };
    let run: u64 = std::env::var("RINGSTORE_SPACE_RUN")
        .unwrap()
        .parse()
        .unwrap();
    let engine = SET.start(Path::new(&dir));
    let h = engine.handle();
    block_on(async {
        if run == 0 {
            h.create_bucket("owb", "r", Acl::Private, StorageClass::Standard, "o")
                .await
                .unwrap();
        }
        // Ten at a time (distinct keys), so that they share group commits.
        for group in 0..WRITES_PER_RUN / 10 {
            let puts = (0..10).map(|i| {
                let n = run * WRITES_PER_RUN + group * 10 + i;
                let body = Bytes::from(data(BODY_BYTES, n));
                let key = format!("k{}", n % KEYS);
                let h = h.clone();
                async move {
                    let r = h
                        .put_object_bytes("owb", &key, PutOptions::default(), body)
                        .await;
                    (n, r)
                }
            });
            for (n, r) in futures::future::join_all(puts).await {
                if let Err(e) = r {
                    eprintln!("put {n} failed: {e}");
                    std::process::exit(3);
                }
            }
        }
    });
    // As after kill -9: nothing is checkpointed, the next start replays the log.
    std::process::exit(0);
}

#[test]
fn overwrites_across_restarts_without_checkpoints_never_fill_the_set() {
    let dir = SET.format("space-restarts");
    for run in 0..RUNS {
        let status = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "overwrite_child",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("RINGSTORE_SPACE_CHILD", dir.path())
            .env("RINGSTORE_SPACE_RUN", run.to_string())
            .status()
            .unwrap();
        assert!(status.success(), "run {run} of the child failed ({status})");
    }
    let engine = SET.start(dir.path());
    let h = engine.handle();
    block_on(async {
        let last = RUNS * WRITES_PER_RUN;
        for n in last - KEYS..last {
            let (_, got) = h
                .get_object_bytes("owb", &format!("k{}", n % KEYS), None)
                .await
                .unwrap();
            assert!(got == data(BODY_BYTES, n), "k{} is not write {n}", n % KEYS);
        }
    });
    engine.shutdown();
}

async fn put(h: &Handle, key: &str, len: usize, seed: u64) -> Result<(), Error> {
    let body = Bytes::from(data(len, seed));
    h.put_object_bytes("full", key, PutOptions::default(), body)
        .await
        .map(|_| ())
}

/// Sizes of the objects that fill the set: packed and striped.
fn fill_size(i: u64) -> usize {
    [40_000, 200_000][(i % 2) as usize]
}

#[test]
fn a_full_set_takes_deletes_and_then_puts_again() {
    let (_dir, engine) = SET.set_up("space-full", "full");
    let h = engine.handle();
    block_on(async {
        let mut stored = Vec::new();
        for i in 0..2000u64 {
            match put(&h, &format!("o{i}"), fill_size(i), i).await {
                Ok(()) => stored.push(i),
                Err(Error::StorageFull) => break,
                Err(e) => panic!("put o{i}: unexpected {e}"),
            }
        }
        // 88 MB of capacity, 120 kB an object on average.
        assert!(
            stored.len() > 300 && stored.len() < 2000,
            "{}",
            stored.len()
        );
        for &i in &stored {
            let (_, got) = h
                .get_object_bytes("full", &format!("o{i}"), None)
                .await
                .unwrap();
            assert!(got == data(fill_size(i), i), "o{i} reads back wrong");
        }
        // Every delete is taken on the full set: its records use the reserve.
        let (gone, kept): (Vec<u64>, Vec<u64>) = stored.iter().partition(|&&i| i % 4 < 2);
        for &i in &gone {
            h.delete_object("full", &format!("o{i}")).await.unwrap();
        }
        // Half the live data is gone: puts of a third of it are taken again (compaction
        // of the half-dead extents, in the puts' path if the background has not yet).
        for j in 0..(gone.len() / 3) as u64 {
            put(&h, &format!("again{j}"), fill_size(j), 10_000 + j)
                .await
                .unwrap_or_else(|e| panic!("put again{j} after the deletes: {e}"));
        }
        for &i in &kept {
            let (_, got) = h
                .get_object_bytes("full", &format!("o{i}"), None)
                .await
                .unwrap();
            assert!(
                got == data(fill_size(i), i),
                "o{i} reads back wrong after compaction"
            );
        }
    });
    engine.shutdown();
}
