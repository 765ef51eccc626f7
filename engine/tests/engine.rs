//! Engine tests on real device files (O_DIRECT through io_uring on ext4).

use std::path::PathBuf;

use bytes::Bytes;
use md5::{Digest, Md5};
use ringstore_engine::device_set::{format, FormatOptions};
use ringstore_engine::{
    Acl, Engine, EngineConfig, Error, ListParams, PutOptions, RangeSpec, StorageClass,
};

mod common;
use common::{block_on, data};

struct Set {
    _dir: tempfile::TempDir,
    paths: Vec<PathBuf>,
}

fn device_set(k: usize, m: usize, device_mib: u64, partitions: usize) -> Set {
    let dir = tempfile::Builder::new()
        .prefix("engine")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let paths: Vec<PathBuf> = (0..k + m)
        .map(|i| dir.path().join(format!("dev{i}")))
        .collect();
    let opts = FormatOptions {
        data_shards: k,
        parity_shards: m,
        device_bytes: device_mib << 20,
        extent_bytes: 1 << 20,
        partitions,
        force: false,
        prefill: false,
    };
    format(&paths, &opts).unwrap();
    Set { _dir: dir, paths }
}

fn start(set: &Set) -> Engine {
    let mut cfg = EngineConfig::new(set.paths.clone());
    cfg.executors = 2;
    Engine::start(cfg).unwrap()
}

const SIZES: [usize; 10] = [
    0,
    1,
    4095,
    4096,
    4097,
    65536,
    65537,
    (1 << 20) - 1,
    1 << 20,
    (1 << 20) + 1,
];

#[test]
fn round_trips_ranges_and_restart() {
    let set = device_set(4, 2, 64, 2);
    let engine = start(&set);
    let h = engine.handle();
    block_on(async {
        h.create_bucket("bkt", "local", Acl::Private, StorageClass::Standard, "root")
            .await
            .unwrap();
        for (i, &len) in SIZES.iter().enumerate() {
            let body = data(len, i as u64);
            let meta = h
                .put_object_bytes(
                    "bkt",
                    &format!("obj/{len}"),
                    PutOptions::default(),
                    Bytes::from(body.clone()),
                )
                .await
                .unwrap();
            assert_eq!(meta.etag, <[u8; 16]>::from(Md5::digest(&body)));
            let (_, got) = h
                .get_object_bytes("bkt", &format!("obj/{len}"), None)
                .await
                .unwrap();
            assert!(got == body, "size {len}");
            for r in [
                RangeSpec::FromTo(0, 0),
                RangeSpec::From(len.saturating_sub(5) as u64),
                RangeSpec::Suffix(4033),
            ] {
                if len == 0 {
                    assert!(matches!(
                        h.get_object_bytes("bkt", &format!("obj/{len}"), Some(r))
                            .await,
                        Err(Error::InvalidRange { .. })
                    ));
                    continue;
                }
                let (a, n) = r.resolve(len as u64).unwrap();
                let (_, got) = h
                    .get_object_bytes("bkt", &format!("obj/{len}"), Some(r))
                    .await
                    .unwrap();
                assert!(
                    got == body[a as usize..(a + n) as usize],
                    "size {len} range {r:?}"
                );
            }
        }
    });
    engine.shutdown();
    let engine = start(&set);
    let h = engine.handle();
    block_on(async {
        for (i, &len) in SIZES.iter().enumerate() {
            let (meta, got) = h
                .get_object_bytes("bkt", &format!("obj/{len}"), None)
                .await
                .unwrap();
            assert!(got == data(len, i as u64), "size {len} after restart");
            assert_eq!(meta.size, len as u64);
        }
    });
    engine.shutdown();
}

#[test]
fn big_object_across_stripes_and_stripe_edges() {
    let set = device_set(4, 2, 128, 1);
    let engine = start(&set);
    let h = engine.handle();
    let stripe = 4 * 64 * 4032usize;
    block_on(async {
        h.create_bucket("big", "local", Acl::Private, StorageClass::Standard, "root")
            .await
            .unwrap();
        let len = 64 << 20;
        let body = data(len, 7);
        h.put_object_bytes("big", "o", PutOptions::default(), Bytes::from(body.clone()))
            .await
            .unwrap();
        let (_, got) = h.get_object_bytes("big", "o", None).await.unwrap();
        assert!(got == body);
        for (a, b) in [
            (stripe - 1, stripe),
            (stripe, stripe + 4031),
            (4031, 4032),
            (len - 1, len - 1),
            (3 * stripe - 7, 5 * stripe + 3),
        ] {
            let (_, got) = h
                .get_object_bytes("big", "o", Some(RangeSpec::FromTo(a as u64, b as u64)))
                .await
                .unwrap();
            assert!(got == body[a..=b], "range {a}-{b}");
        }
    });
    engine.shutdown();
}

#[test]
fn list_with_delimiter_across_partitions() {
    let set = device_set(4, 2, 64, 4);
    let engine = start(&set);
    let h = engine.handle();
    block_on(async {
        h.create_bucket("lst", "local", Acl::Private, StorageClass::Standard, "root")
            .await
            .unwrap();
        let mut keys = Vec::new();
        for d in 0..5 {
            for f in 0..7 {
                keys.push(format!("dir{d}/file{f}"));
            }
        }
        keys.push("top1".into());
        keys.push("top2".into());
        for k in &keys {
            h.put_object_bytes("lst", k, PutOptions::default(), Bytes::from_static(b"x"))
                .await
                .unwrap();
        }
        keys.sort();
        let mut all = Vec::new();
        let mut p = ListParams {
            max_keys: 4,
            ..Default::default()
        };
        loop {
            let page = h.list_objects("lst", &p).await.unwrap();
            all.extend(page.objects.iter().map(|o| o.key.clone()));
            if !page.is_truncated {
                break;
            }
            p.marker = page.next_marker.unwrap();
        }
        assert_eq!(all, keys);
        let page = h
            .list_objects(
                "lst",
                &ListParams {
                    delimiter: "/".into(),
                    max_keys: 1000,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            page.common_prefixes,
            (0..5).map(|d| format!("dir{d}/")).collect::<Vec<_>>()
        );
        assert_eq!(
            page.objects
                .iter()
                .map(|o| o.key.as_str())
                .collect::<Vec<_>>(),
            ["top1", "top2"]
        );
        let mut p = ListParams {
            delimiter: "/".into(),
            max_keys: 2,
            ..Default::default()
        };
        let mut names = Vec::new();
        loop {
            let page = h.list_objects("lst", &p).await.unwrap();
            names.extend(page.common_prefixes.clone());
            names.extend(page.objects.iter().map(|o| o.key.clone()));
            if !page.is_truncated {
                break;
            }
            p.marker = page.next_marker.unwrap();
        }
        assert_eq!(names.len(), 7, "{names:?}");
        let page = h
            .list_objects(
                "lst",
                &ListParams {
                    prefix: "dir3/".into(),
                    max_keys: 100,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.objects.len(), 7);
        assert!(matches!(
            h.delete_bucket("lst").await,
            Err(Error::BucketNotEmpty(_))
        ));
        for k in &keys {
            h.delete_object("lst", k).await.unwrap();
            h.delete_object("lst", k).await.unwrap();
        }
        assert!(matches!(
            h.head_object("lst", "top1").await,
            Err(Error::NoSuchKey { .. })
        ));
        h.delete_bucket("lst").await.unwrap();
        assert!(matches!(h.head_bucket("lst"), Err(Error::NoSuchBucket(_))));
    });
    engine.shutdown();
}

#[test]
fn bad_input_gets_typed_errors() {
    let set = device_set(4, 2, 32, 1);
    let engine = start(&set);
    let h = engine.handle();
    block_on(async {
        assert!(matches!(
            h.create_bucket("A", "r", Acl::Private, StorageClass::Standard, "o")
                .await,
            Err(Error::InvalidBucketName(_))
        ));
        h.create_bucket("abc", "r", Acl::Private, StorageClass::Standard, "o")
            .await
            .unwrap();
        assert!(matches!(
            h.create_bucket("abc", "r", Acl::Private, StorageClass::Standard, "o")
                .await,
            Err(Error::BucketAlreadyExists(_))
        ));
        let o = PutOptions::default();
        assert!(matches!(
            h.put_object_bytes("nope", "k", o.clone(), Bytes::new())
                .await,
            Err(Error::NoSuchBucket(_))
        ));
        assert!(matches!(
            h.put_object_bytes("abc", "/k", o.clone(), Bytes::new())
                .await,
            Err(Error::InvalidKey(_))
        ));
        assert!(matches!(
            h.put_object_bytes("abc", &"k".repeat(1024), o.clone(), Bytes::new())
                .await,
            Err(Error::KeyTooLong(1024))
        ));
        let bad_md5 = PutOptions {
            content_md5: Some([0; 16]),
            ..o.clone()
        };
        assert!(matches!(
            h.put_object_bytes("abc", "k", bad_md5, Bytes::from_static(b"hi"))
                .await,
            Err(Error::BadDigest)
        ));
        assert!(matches!(
            h.head_object("abc", "k").await,
            Err(Error::NoSuchKey { .. })
        ));
        h.put_object_bytes("abc", "k", o.clone(), Bytes::from_static(b"v1"))
            .await
            .unwrap();
        let no_over = PutOptions {
            forbid_overwrite: true,
            ..o.clone()
        };
        assert!(matches!(
            h.put_object_bytes("abc", "k", no_over, Bytes::from_static(b"v2"))
                .await,
            Err(Error::FileAlreadyExists(_))
        ));
        assert_eq!(h.get_object_bytes("abc", "k", None).await.unwrap().1, b"v1");
        let meta = vec![("m".to_string(), "x".repeat(9000))];
        assert!(matches!(
            h.put_object_bytes(
                "abc",
                "k",
                PutOptions {
                    user_meta: meta,
                    ..o.clone()
                },
                Bytes::new()
            )
            .await,
            Err(Error::MetadataTooLarge(_))
        ));
        let short = PutOptions {
            content_length: 10,
            ..o.clone()
        };
        let (tx, rx) = futures::channel::mpsc::channel(1);
        drop(tx);
        assert!(matches!(
            h.put_object("abc", "k", short, rx).await,
            Err(Error::IncompleteBody {
                expected: 10,
                got: 0
            })
        ));
        assert_eq!(h.get_object_bytes("abc", "k", None).await.unwrap().1, b"v1");
    });
    engine.shutdown();
}

/// Fills the device set until StorageFull, checks everything acknowledged, deletes, and
/// writes again.
#[test]
fn enospc_is_clean_and_space_comes_back() {
    let set = device_set(4, 2, 24, 1);
    let engine = start(&set);
    let h = engine.handle();
    block_on(async {
        h.create_bucket("full", "r", Acl::Private, StorageClass::Standard, "o")
            .await
            .unwrap();
        let mut stored = Vec::new();
        for i in 0..1000 {
            let body = data(300_000, i);
            match h
                .put_object_bytes(
                    "full",
                    &format!("o{i}"),
                    PutOptions::default(),
                    Bytes::from(body),
                )
                .await
            {
                Ok(_) => stored.push(i),
                Err(Error::StorageFull) => break,
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert!(
            !stored.is_empty() && stored.len() < 1000,
            "filled after {}",
            stored.len()
        );
        for &i in &stored {
            assert!(
                h.get_object_bytes("full", &format!("o{i}"), None)
                    .await
                    .unwrap()
                    .1
                    == data(300_000, i)
            );
        }
        for &i in &stored {
            h.delete_object("full", &format!("o{i}")).await.unwrap();
        }
        // The log and its two reserve extents keep some of the freed space.
        for i in 0..(stored.len() * 3 / 4) as u64 {
            h.put_object_bytes(
                "full",
                &format!("again{i}"),
                PutOptions::default(),
                Bytes::from(data(300_000, i)),
            )
            .await
            .unwrap();
        }
    });
    engine.shutdown();
}

fn fill(set: &Set, sizes: &[usize]) {
    let engine = start(set);
    let h = engine.handle();
    block_on(async {
        h.create_bucket("dur", "r", Acl::Private, StorageClass::Standard, "o")
            .await
            .unwrap();
        for (i, &len) in sizes.iter().enumerate() {
            h.put_object_bytes(
                "dur",
                &format!("k{i}"),
                PutOptions::default(),
                Bytes::from(data(len, i as u64)),
            )
            .await
            .unwrap();
        }
    });
    engine.shutdown();
}

fn check(set: &Set, sizes: &[usize]) {
    let engine = start(set);
    let h = engine.handle();
    block_on(async {
        for (i, &len) in sizes.iter().enumerate() {
            let (_, got) = h
                .get_object_bytes("dur", &format!("k{i}"), None)
                .await
                .unwrap();
            assert!(got == data(len, i as u64), "object {i} of {len} bytes");
        }
        let page = h
            .list_objects(
                "dur",
                &ListParams {
                    max_keys: 1000,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.objects.len(), sizes.len());
    });
    engine.shutdown();
}

const DURABILITY_SIZES: [usize; 6] = [1, 4096, 70_000, 1 << 20, 3 << 20, 100];

#[test]
fn losing_up_to_parity_devices_loses_nothing() {
    for lost in 1..=2usize {
        let set = device_set(4, 2, 48, 2);
        fill(&set, &DURABILITY_SIZES);
        for d in 0..lost {
            if d == 0 {
                std::fs::remove_file(&set.paths[d * 3]).unwrap();
            } else {
                // Truncated to half: its later extents are gone.
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&set.paths[d * 3])
                    .unwrap();
                f.set_len(24 << 20).unwrap();
            }
        }
        check(&set, &DURABILITY_SIZES);
    }
    let set = device_set(4, 2, 48, 2);
    fill(&set, &DURABILITY_SIZES);
    for d in 0..3 {
        std::fs::remove_file(&set.paths[d]).unwrap();
    }
    let mut cfg = EngineConfig::new(set.paths.clone());
    cfg.executors = 1;
    let err = Engine::start(cfg)
        .err()
        .expect("three of six devices lost must not open");
    assert!(err.to_string().contains("missing"), "{err}");
}

/// Zeroes sectors on one device and flips bits on another, all over the extents (data,
/// log and checkpoint blocks): every object still reads back exactly.
#[test]
fn flipped_bits_and_zeroed_sectors_are_repaired_on_read() {
    use std::os::unix::fs::FileExt;
    let set = device_set(4, 2, 48, 2);
    fill(&set, &DURABILITY_SIZES);
    let len = std::fs::metadata(&set.paths[0]).unwrap().len();
    let zero = std::fs::OpenOptions::new()
        .write(true)
        .open(&set.paths[1])
        .unwrap();
    let flip = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&set.paths[4])
        .unwrap();
    let mut at = 1u64 << 20;
    let mut n = 0;
    while at + 4096 < len - 4096 {
        zero.write_at(&[0u8; 4096], at).unwrap();
        let mut b = [0u8; 1];
        let off = at + 4096 + (n * 97 % 4096);
        flip.read_at(&mut b, off).unwrap();
        b[0] ^= 1 << (n % 8);
        flip.write_at(&b, off).unwrap();
        at += 4096 * 3;
        n += 1;
    }
    zero.sync_all().unwrap();
    flip.sync_all().unwrap();
    check(&set, &DURABILITY_SIZES);
}

/// Small objects packed in the log: after most are deleted and checkpoints retire the log
/// extents, compaction moves the survivors and the extents come back; survivors read back
/// before and after a restart.
#[test]
fn log_compaction_frees_extents_of_deleted_small_objects() {
    let set = device_set(4, 2, 48, 1);
    let engine = start(&set);
    let h = engine.handle();
    let free = |h: &ringstore_engine::Handle| block_on(h.status()).unwrap()[0].extents_free;
    let n = 6000u64;
    let keep = |i: u64| i.is_multiple_of(10);
    block_on(async {
        h.create_bucket("packed", "r", Acl::Private, StorageClass::Standard, "o")
            .await
            .unwrap();
    });
    let before = free(&h);
    block_on(async {
        for chunk in (0..n).collect::<Vec<_>>().chunks(64) {
            let puts = chunk.iter().map(|&i| {
                let h = h.clone();
                async move {
                    let body = Bytes::from(data(2000, i));
                    h.put_object_bytes("packed", &format!("s{i}"), PutOptions::default(), body)
                        .await
                        .unwrap();
                }
            });
            futures::future::join_all(puts).await;
        }
        for chunk in (0..n).filter(|&i| !keep(i)).collect::<Vec<_>>().chunks(64) {
            let dels = chunk.iter().map(|&i| {
                let h = h.clone();
                async move { h.delete_object("packed", &format!("s{i}")).await.unwrap() }
            });
            futures::future::join_all(dels).await;
        }
        // Two checkpoints move the replay start past the extents the puts filled.
        h.checkpoint().await.unwrap();
        h.checkpoint().await.unwrap();
    });
    let used = before - free(&h);
    let start_wait = std::time::Instant::now();
    while before - free(&h) >= used && start_wait.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(100));
        block_on(h.checkpoint()).unwrap();
    }
    let after = before - free(&h);
    assert!(
        after < used,
        "compaction freed nothing: {used} extents in use before, {after} after"
    );
    engine.shutdown();
    let engine = start(&set);
    let h = engine.handle();
    block_on(async {
        for i in 0..n {
            let r = h.get_object_bytes("packed", &format!("s{i}"), None).await;
            if keep(i) {
                assert!(r.unwrap().1 == data(2000, i), "survivor {i}");
            } else {
                assert!(matches!(r, Err(Error::NoSuchKey { .. })), "deleted {i}");
            }
        }
    });
    engine.shutdown();
}

/// Larger objects in data extents: after most are deleted, compaction rewrites the
/// survivors elsewhere and the mostly dead extents come back; survivors read back before
/// and after a restart.
#[test]
fn data_compaction_frees_mostly_dead_extents() {
    let set = device_set(4, 2, 48, 1);
    let engine = start(&set);
    let h = engine.handle();
    let free = |h: &ringstore_engine::Handle| block_on(h.status()).unwrap()[0].extents_free;
    let n = 60u64;
    let keep = |i: u64| i.is_multiple_of(3);
    block_on(async {
        h.create_bucket("dense", "r", Acl::Private, StorageClass::Standard, "o")
            .await
            .unwrap();
        for i in 0..n {
            let body = Bytes::from(data(200_000, i));
            h.put_object_bytes("dense", &format!("d{i}"), PutOptions::default(), body)
                .await
                .unwrap();
        }
    });
    let full = free(&h);
    block_on(async {
        for i in (0..n).filter(|&i| !keep(i)) {
            h.delete_object("dense", &format!("d{i}")).await.unwrap();
        }
    });
    let after_deletes = free(&h);
    let waited = std::time::Instant::now();
    while free(&h) <= after_deletes && waited.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let compacted = free(&h);
    assert!(compacted > after_deletes, "no extent came back: {full} free when full, {after_deletes} after deletes, {compacted} after");
    assert!(
        h.shared.stats.compaction_objects_moved.get() > 0,
        "compaction moved no object"
    );
    engine.shutdown();
    let engine = start(&set);
    let h = engine.handle();
    block_on(async {
        for i in 0..n {
            let r = h.get_object_bytes("dense", &format!("d{i}"), None).await;
            if keep(i) {
                assert!(r.unwrap().1 == data(200_000, i), "survivor {i}");
            } else {
                assert!(matches!(r, Err(Error::NoSuchKey { .. })), "deleted {i}");
            }
        }
    });
    engine.shutdown();
}
