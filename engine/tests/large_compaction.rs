//! Data compaction of an extent that holds part of an object with stripes in other extents
//! too (one larger than an extent, and a small one that straddles two): only that part
//! moves (the object's segments are split around it), the extent is freed, and the object
//! reads back exactly, also as a noncurrent version and after a restart.

use std::time::{Duration, Instant};

use bytes::Bytes;
use md5::{Digest, Md5};
use ringstore_engine::device_set::{format, FormatOptions};
use ringstore_engine::{Acl, Engine, EngineConfig, Handle, PutOptions, StorageClass, Versioning};

mod common;
use common::{block_on, data};

/// Three of these fill 186 of a 1 MiB extent's 256 rows at k = 2; the big object's first
/// 64-row stripe then fits behind them.
const SMALL_BYTES: usize = 500_000;

fn free(h: &Handle) -> usize {
    block_on(h.status()).unwrap()[0].extents_free
}

async fn md5_of(h: &Handle, key: &str, version: &str, size: usize) -> [u8; 16] {
    let mut r = h
        .get_object_version("big", key, Some(version), None)
        .await
        .unwrap();
    let mut md5 = Md5::new();
    let mut len = 0;
    while let Some(chunk) = futures::StreamExt::next(&mut r.body).await {
        let chunk = chunk.unwrap();
        len += chunk.len();
        md5.update(&chunk);
    }
    assert_eq!(len, size);
    md5.finalize().into()
}

#[test]
fn extents_holding_part_of_a_large_object_are_compacted() {
    compact_first_stripe_of(70 << 20);
}

/// A 3 MB object (six stripes) whose first stripe shares an extent with dead objects: only
/// that stripe is copied, not the whole object.
#[test]
fn a_small_object_straddling_extents_moves_only_its_part() {
    let size = 3_000_000;
    let written = compact_first_stripe_of(size);
    // One 64-row stripe on three devices is 786 432 device bytes; a whole copy of the
    // object would write at least 1.5 times its size.
    assert!(
        written < size as u64,
        "compaction wrote {written} device bytes for a {size}-byte object"
    );
}

/// Puts three small objects, then an object of `size` bytes whose first stripe lands in
/// the same extent, deletes the small ones, waits until compaction frees that extent and
/// checks the object; returns the data bytes compaction wrote meanwhile.
fn compact_first_stripe_of(size: usize) -> u64 {
    let dir = tempfile::Builder::new()
        .prefix("large-compaction")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let paths: Vec<_> = (0..3).map(|i| dir.path().join(format!("dev{i}"))).collect();
    let opts = FormatOptions {
        data_shards: 2,
        parity_shards: 1,
        device_bytes: 128 << 20,
        extent_bytes: 1 << 20,
        partitions: 1,
        force: false,
        prefill: false,
    };
    format(&paths, &opts).unwrap();
    let mut cfg = EngineConfig::new(paths.clone());
    cfg.executors = 1;
    let engine = Engine::start(cfg.clone()).unwrap();
    let h = engine.handle();
    let big = data(size, 7);
    let want: [u8; 16] = Md5::digest(&big).into();
    let version = block_on(async {
        h.create_bucket("big", "r", Acl::Private, StorageClass::Standard, "o")
            .await
            .unwrap();
        h.put_bucket_versioning("big", Versioning::Enabled)
            .await
            .unwrap();
        let small = |i| Bytes::from(data(SMALL_BYTES, i));
        for i in 0..3 {
            let key = format!("before{i}");
            h.put_object_bytes("big", &key, PutOptions::default(), small(i))
                .await
                .unwrap();
        }
        let meta = h
            .put_object_bytes("big", "b", PutOptions::default(), Bytes::from(big))
            .await
            .unwrap();
        // The large object becomes a noncurrent version: its data must move all the same.
        h.put_object_bytes("big", "b", PutOptions::default(), small(9))
            .await
            .unwrap();
        for i in 0..3 {
            let key = format!("before{i}");
            let v = h
                .head_object("big", &key)
                .await
                .unwrap()
                .version_id
                .unwrap();
            h.delete_object_version("big", &key, Some(&v))
                .await
                .unwrap();
        }
        meta.version_id.unwrap()
    });
    let after_deletes = free(&h);
    let moved_before = h.shared.stats.compaction_objects_moved.get();
    let written_before = h.shared.stats.data_bytes_written.get();
    // Compaction runs on the low-share background queue: on a loaded machine it may take
    // a while, so the bound is generous (a hang, not a speed, is what it catches).
    let waited = Instant::now();
    while free(&h) <= after_deletes && waited.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(free(&h) > after_deletes, "the first extent was not freed");
    assert!(h.shared.stats.compaction_objects_moved.get() > moved_before);
    let written = h.shared.stats.data_bytes_written.get() - written_before;
    assert_eq!(block_on(md5_of(&h, "b", &version, size)), want);
    engine.shutdown();
    let engine = Engine::start(cfg).unwrap();
    let h = engine.handle();
    assert_eq!(block_on(md5_of(&h, "b", &version, size)), want);
    engine.shutdown();
    written
}
