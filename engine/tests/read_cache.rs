//! The read cache of small objects (`read_cache`) on real device files: a cached object is
//! never served after it changed (overwrite, delete, new version, compaction move, an
//! extent reused with a new generation), ranges are cut from the cached whole, damage on
//! the devices under a cached object does not reach the reader, and a budget of 0 turns
//! the cache off.

use bytes::Bytes;
use futures::StreamExt;
use ringstore_engine::{Error, Handle, PutOptions, RangeSpec, Versioning};

mod common;
use common::{block_on, create_bucket, data, free_extents, TestSet, MIB};

const SET: TestSet = TestSet::new(4, 2, 48 * MIB, 2).run_by(2, false);

fn start_with_cache(dir: &std::path::Path, bytes: usize) -> ringstore_engine::Engine {
    let mut cfg = SET.config(SET.paths(dir));
    cfg.read_cache_bytes = bytes;
    ringstore_engine::Engine::start(cfg).expect("engine starts")
}

async fn put(h: &Handle, bucket: &str, key: &str, body: Vec<u8>) -> Option<String> {
    h.put_object_bytes(bucket, key, PutOptions::default(), Bytes::from(body))
        .await
        .unwrap()
        .version_id
}

async fn get(h: &Handle, bucket: &str, key: &str) -> Result<Vec<u8>, Error> {
    h.get_object_bytes(bucket, key, None).await.map(|(_, b)| b)
}

/// Puts `key(i)` with body `body(i)` for every `i` of `ids`, 64 at a time.
async fn put_many(
    h: &Handle,
    bucket: &str,
    ids: impl Iterator<Item = u64>,
    key: impl Fn(u64) -> String,
    body: impl Fn(u64) -> Vec<u8>,
) {
    for chunk in ids.collect::<Vec<_>>().chunks(64) {
        let puts = chunk.iter().map(|&i| {
            let (key, body) = (key(i), body(i));
            async move { put(h, bucket, &key, body).await }
        });
        futures::future::join_all(puts).await;
    }
}

fn hits(h: &Handle) -> u64 {
    h.shared.stats.read_cache_hits.get()
}

fn misses(h: &Handle) -> u64 {
    h.shared.stats.read_cache_misses.get()
}

const SIZES: [usize; 4] = [1, 4096, 5000, 64 * 1024];

#[test]
fn cached_objects_follow_overwrites_deletes_versions_and_ranges() {
    let dir = SET.format("read-cache");
    let engine = start_with_cache(dir.path(), 64 * MIB as usize);
    let h = engine.handle();
    create_bucket(&h, "bkt");
    create_bucket(&h, "ver");
    block_on(async {
        let n = 120u64;
        let size = |i: u64| SIZES[i as usize % SIZES.len()];
        for i in 0..n {
            put(&h, "bkt", &format!("k{i}"), data(size(i), i)).await;
        }
        // First reads miss and fill the cache, second reads hit it.
        for i in 0..n {
            assert!(get(&h, "bkt", &format!("k{i}")).await.unwrap() == data(size(i), i));
        }
        assert_eq!(misses(&h), n);
        let before = hits(&h);
        for i in 0..n {
            assert!(get(&h, "bkt", &format!("k{i}")).await.unwrap() == data(size(i), i));
        }
        assert_eq!(hits(&h) - before, n, "every second read is a hit");

        // Ranges of a cached object are cut from it.
        for i in 0..n {
            let len = size(i) as u64;
            let whole = data(len as usize, i);
            for r in [
                RangeSpec::FromTo(0, 0),
                RangeSpec::From(len / 2),
                RangeSpec::Suffix(3),
            ] {
                let (a, l) = r.resolve(len).unwrap();
                let (_, got) = h
                    .get_object_bytes("bkt", &format!("k{i}"), Some(r))
                    .await
                    .unwrap();
                assert!(got == whole[a as usize..(a + l) as usize], "k{i} {r:?}");
            }
        }
        assert_eq!(misses(&h), n, "ranges of cached objects read nothing");

        // Overwrites with the same size: the new bytes, never the cached old ones.
        for i in 0..n {
            put(&h, "bkt", &format!("k{i}"), data(size(i), 1000 + i)).await;
        }
        for i in 0..n {
            assert!(
                get(&h, "bkt", &format!("k{i}")).await.unwrap() == data(size(i), 1000 + i),
                "k{i} after its overwrite"
            );
        }
        // Deletes: gone, although the old bytes are still cached.
        for i in (0..n).step_by(2) {
            h.delete_object("bkt", &format!("k{i}")).await.unwrap();
        }
        for i in 0..n {
            let r = get(&h, "bkt", &format!("k{i}")).await;
            if i % 2 == 0 {
                assert!(
                    matches!(r, Err(Error::NoSuchKey { .. })),
                    "k{i} deleted: {r:?}"
                );
            } else {
                assert!(r.unwrap() == data(size(i), 1000 + i));
            }
        }

        // A versioned bucket: each version reads as itself, cached or not.
        h.put_bucket_versioning("ver", Versioning::Enabled)
            .await
            .unwrap();
        let mut ids = Vec::new();
        for n in 0..4u64 {
            ids.push(put(&h, "ver", "doc", data(4096, 50 + n)).await.unwrap());
            assert!(get(&h, "ver", "doc").await.unwrap() == data(4096, 50 + n));
        }
        for _ in 0..2 {
            for (n, id) in ids.iter().enumerate() {
                let mut r = h
                    .get_object_version("ver", "doc", Some(id), None)
                    .await
                    .unwrap();
                let mut got = Vec::new();
                while let Some(chunk) = r.body.next().await {
                    got.extend_from_slice(&chunk.unwrap());
                }
                assert!(got == data(4096, 50 + n as u64), "version {n}");
            }
        }
    });
    engine.shutdown();
}

/// Packed objects cached, most deleted, compaction moves the survivors and frees the log
/// extents; new objects then fill reused extents (new generations, maybe the same blocks
/// and offsets as cached dead objects). Every read returns the object's own bytes.
#[test]
fn compaction_and_reused_extents_never_serve_cached_bytes_of_another_object() {
    let dir = SET.format("read-cache-compaction");
    let engine = start_with_cache(dir.path(), 64 * MIB as usize);
    let h = engine.handle();
    create_bucket(&h, "packed");
    let free = free_extents;
    let n = 4000u64;
    let keep = |i: u64| i.is_multiple_of(10);
    let before = free(&h);
    block_on(async {
        put_many(&h, "packed", 0..n, |i| format!("s{i}"), |i| data(2000, i)).await;
        for i in 0..n {
            assert!(get(&h, "packed", &format!("s{i}")).await.unwrap() == data(2000, i));
        }
        for chunk in (0..n).filter(|&i| !keep(i)).collect::<Vec<_>>().chunks(64) {
            let dels = chunk.iter().map(|&i| {
                let h = h.clone();
                async move { h.delete_object("packed", &format!("s{i}")).await.unwrap() }
            });
            futures::future::join_all(dels).await;
        }
        h.checkpoint().await.unwrap();
        h.checkpoint().await.unwrap();
    });
    let used = before - free(&h);
    let waited = std::time::Instant::now();
    while before - free(&h) >= used && waited.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(100));
        block_on(h.checkpoint()).unwrap();
    }
    assert!(before - free(&h) < used, "compaction freed no extent");
    block_on(async {
        for i in (0..n).filter(|&i| keep(i)) {
            assert!(
                get(&h, "packed", &format!("s{i}")).await.unwrap() == data(2000, i),
                "survivor s{i} after compaction"
            );
        }
        // New objects of the same size under new keys fill the freed extents.
        let body = |i| data(2000, 100_000 + i);
        put_many(&h, "packed", 0..n, |i| format!("t{i}"), body).await;
        for i in 0..n {
            assert!(
                get(&h, "packed", &format!("t{i}")).await.unwrap() == data(2000, 100_000 + i),
                "t{i}"
            );
            if keep(i) {
                assert!(get(&h, "packed", &format!("s{i}")).await.unwrap() == data(2000, i));
            }
        }
    });
    engine.shutdown();
}

/// Damage under a cached object does not reach its reader; with the cache off, the same
/// read goes to the devices every time (and repairs from parity).
#[test]
fn damage_under_a_cached_object_and_the_cache_turned_off() {
    use std::os::unix::fs::FileExt;
    let dir = SET.format("read-cache-off");
    let engine = start_with_cache(dir.path(), 64 * MIB as usize);
    let h = engine.handle();
    create_bucket(&h, "damaged");
    block_on(async {
        for i in 0..64u64 {
            put(&h, "damaged", &format!("o{i}"), data(4096, i)).await;
            assert!(get(&h, "damaged", &format!("o{i}")).await.unwrap() == data(4096, i));
        }
    });
    // Zero one device's blocks past the superblock and roots: the cached objects still
    // read right from memory.
    let dev = std::fs::OpenOptions::new()
        .write(true)
        .open(&SET.paths(dir.path())[0])
        .unwrap();
    let len = dev.metadata().unwrap().len();
    let mut at = MIB;
    while at + 4096 < len - 4096 {
        dev.write_at(&[0u8; 4096], at).unwrap();
        at += 4096;
    }
    dev.sync_all().unwrap();
    block_on(async {
        let before = hits(&h);
        for i in 0..64u64 {
            assert!(get(&h, "damaged", &format!("o{i}")).await.unwrap() == data(4096, i));
        }
        assert_eq!(hits(&h) - before, 64);
    });
    engine.shutdown();

    // Off: no hits, every read verified from the devices and rebuilt where damaged.
    let engine = start_with_cache(dir.path(), 0);
    let h = engine.handle();
    block_on(async {
        for _ in 0..2 {
            for i in 0..64u64 {
                assert!(get(&h, "damaged", &format!("o{i}")).await.unwrap() == data(4096, i));
            }
        }
    });
    assert_eq!(hits(&h), 0);
    assert_eq!(misses(&h), 0, "misses count only while the cache is on");
    engine.shutdown();
}
