//! Object versions on real device files: versioned puts, delete markers, deletes by version
//! id, suspended buckets and their null version, version listings, object ACLs and CRC-64,
//! across restarts that replay the log (after kill -9) and that load a checkpoint.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ringstore_engine::{
    Acl, Engine, EngineConfig, Error, Handle, ListParams, ListVersionsParams, ObjectAcl,
    PutOptions, StorageClass, VersionSummary, Versioning,
};

mod common;
use common::{block_on, free_extents, TestSet};

/// Three 64 MiB devices in 2+1, four partitions on two pinned executors.
const SET: TestSet = TestSet::new(2, 1, 64 << 20, 4).run_by(2, true);

/// A fresh set whose bucket `ver` has versioning enabled, and its engine.
fn versioned_set_up() -> (tempfile::TempDir, Engine) {
    let (dir, engine) = SET.set_up("versions", "ver");
    block_on(
        engine
            .handle()
            .put_bucket_versioning("ver", Versioning::Enabled),
    )
    .unwrap();
    (dir, engine)
}

/// Distinct contents per write; `big` ones are stored in data stripes, not the log.
fn body(n: u8, big: bool) -> Vec<u8> {
    let len = if big { 200_000 } else { 1000 + n as usize };
    (0..len).map(|i| (i as u8).wrapping_mul(n) ^ n).collect()
}

async fn put(h: &Handle, key: &str, n: u8, big: bool) -> String {
    let meta = h
        .put_object_bytes("ver", key, PutOptions::default(), Bytes::from(body(n, big)))
        .await
        .unwrap();
    meta.version_id
        .expect("a versioned bucket names the version")
}

/// What the script below leaves, as (key, contents or None for a delete marker), each
/// key's versions newest first; `ids` are the version ids the script printed.
fn expected(
    ids: &std::collections::HashMap<String, String>,
) -> Vec<(String, String, Option<Vec<u8>>)> {
    let id = |n: &str| ids[n].clone();
    let null = || "null".to_string();
    vec![
        ("a".into(), null(), Some(body(7, false))),
        ("a".into(), id("a-marker"), None),
        ("a".into(), id("a2"), Some(body(2, true))),
        ("a".into(), id("a1"), Some(body(1, false))),
        ("b".into(), id("b2"), Some(body(4, false))),
        ("c".into(), null(), Some(body(6, true))),
        ("d".into(), null(), None),
        ("d".into(), id("d-marker"), None),
        ("d".into(), id("d1"), Some(body(8, false))),
    ]
}

/// Versioned writes whose result `check` knows; prints each version id as `name id`.
async fn script(h: &Handle, out: &mut impl Write) {
    h.create_bucket("ver", "r", Acl::Private, StorageClass::Standard, "o")
        .await
        .unwrap();
    // Written before versioning: the null version, later replaced by a suspended put.
    let first = h
        .put_object_bytes(
            "ver",
            "a",
            PutOptions::default(),
            Bytes::from(body(9, false)),
        )
        .await
        .unwrap();
    assert_eq!(first.version_id, None);
    h.put_bucket_versioning("ver", Versioning::Enabled)
        .await
        .unwrap();
    let mut note = |name: &str, id: &str| writeln!(out, "{name} {id}").unwrap();
    note("a1", &put(h, "a", 1, false).await);
    note("a2", &put(h, "a", 2, true).await);
    let marker = h.delete_object_version("ver", "a", None).await.unwrap();
    assert!(marker.delete_marker);
    note("a-marker", marker.version_id.as_deref().unwrap());
    let b1 = put(h, "b", 3, false).await;
    note("b2", &put(h, "b", 4, false).await);
    let gone = h
        .delete_object_version("ver", "b", Some(&b1))
        .await
        .unwrap();
    assert_eq!((gone.version_id, gone.delete_marker), (Some(b1), false));
    h.put_object_acl("ver", "b", None, ObjectAcl::PublicRead)
        .await
        .unwrap();
    note("d1", &put(h, "d", 8, false).await);
    let m = h.delete_object_version("ver", "d", None).await.unwrap();
    note("d-marker", m.version_id.as_deref().unwrap());
    h.put_bucket_versioning("ver", Versioning::Suspended)
        .await
        .unwrap();
    // Suspended: puts replace the null version, older versions stay.
    assert_eq!(put(h, "c", 5, true).await, "null");
    assert_eq!(put(h, "c", 6, true).await, "null");
    assert_eq!(put(h, "a", 7, false).await, "null");
    let m = h.delete_object_version("ver", "d", None).await.unwrap();
    assert_eq!(
        (m.version_id.as_deref(), m.delete_marker),
        (Some("null"), true)
    );
    writeln!(out, "done").unwrap();
    out.flush().unwrap();
}

async fn all_versions(h: &Handle, max_keys: usize) -> Vec<VersionSummary> {
    let mut params = ListVersionsParams {
        max_keys,
        ..Default::default()
    };
    let mut out = Vec::new();
    loop {
        let page = h.list_object_versions("ver", &params).await.unwrap();
        assert!(page.versions.len() <= max_keys);
        out.extend(page.versions);
        if !page.is_truncated {
            return out;
        }
        params.key_marker = page.next_key_marker.unwrap();
        params.version_id_marker = page.next_version_id_marker.unwrap_or_default();
    }
}

async fn check(h: &Handle, ids: &std::collections::HashMap<String, String>) {
    let want = expected(ids);
    let listed = all_versions(h, 1000).await;
    let got: Vec<(String, String, bool)> = listed
        .iter()
        .map(|v| (v.key.clone(), v.version_id.clone(), v.delete_marker))
        .collect();
    let want_ids: Vec<(String, String, bool)> = want
        .iter()
        .map(|(k, v, d)| (k.clone(), v.clone(), d.is_none()))
        .collect();
    assert_eq!(got, want_ids);
    let latest: Vec<&str> = listed
        .iter()
        .filter(|v| v.is_latest)
        .map(|v| v.key.as_str())
        .collect();
    assert_eq!(latest, ["a", "b", "c", "d"]);
    // Pages of one or two versions walk the same sequence through the markers.
    assert_eq!(all_versions(h, 1).await, listed);
    assert_eq!(all_versions(h, 2).await, listed);
    for (key, version, contents) in &want {
        let got = h.get_object_version("ver", key, Some(version), None).await;
        match contents {
            Some(c) => {
                let mut r = got.unwrap();
                let mut bytes = Vec::new();
                while let Some(chunk) = futures::StreamExt::next(&mut r.body).await {
                    bytes.extend_from_slice(&chunk.unwrap());
                }
                assert_eq!(&bytes, c, "{key} {version}");
                assert_eq!(r.meta.version_id.as_deref(), Some(version.as_str()));
                assert_eq!(
                    r.meta.crc64,
                    crc::Crc::<u64>::new(&crc::CRC_64_XZ).checksum(c)
                );
            }
            None => assert!(matches!(got, Err(Error::MethodNotAllowed(_))), "{key}"),
        }
    }
    // Plain reads see current versions; a current delete marker hides the key.
    let (meta, a) = h.get_object_bytes("ver", "a", None).await.unwrap();
    assert_eq!(
        (a, meta.version_id.as_deref()),
        (body(7, false), Some("null"))
    );
    assert!(matches!(
        h.head_object("ver", "d").await,
        Err(Error::NoSuchKey { .. })
    ));
    let page = h
        .list_objects(
            "ver",
            &ListParams {
                max_keys: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let keys: Vec<&str> = page.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["a", "b", "c"]);
    assert_eq!(
        h.get_object_acl("ver", "b", None).await.unwrap(),
        ObjectAcl::PublicRead
    );
    assert_eq!(
        h.get_object_acl("ver", "a", Some(&ids["a1"]))
            .await
            .unwrap(),
        ObjectAcl::Default
    );
    assert_eq!(
        h.get_bucket_versioning("ver").unwrap(),
        Versioning::Suspended
    );
}

fn read_ids(file: &Path) -> (std::collections::HashMap<String, String>, bool) {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let done = text.lines().any(|l| l == "done");
    let ids = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    (ids, done)
}

/// The child: runs the script on the devices RINGSTORE_VERSIONS_CHILD names and waits to
/// be killed, so that what it wrote is only in the log.
#[test]
fn versions_child() {
    let Ok(dir) = std::env::var("RINGSTORE_VERSIONS_CHILD") else {
        return;
    };
    // EngineConfig's defaults here, not the executors of SET.
    let engine = Engine::start(EngineConfig::new(SET.paths(Path::new(&dir)))).unwrap();
    let h = engine.handle();
    let mut out = std::fs::File::create(format!("{dir}/ids")).unwrap();
    block_on(script(&h, &mut out));
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn versions_survive_log_replay_and_checkpoint() {
    let dir = SET.format("versions");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "versions_child", "--nocapture"])
        .env("RINGSTORE_VERSIONS_CHILD", dir.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let ids = loop {
        let (ids, done) = read_ids(&dir.path().join("ids"));
        if done {
            break ids;
        }
        assert!(
            Instant::now() < deadline,
            "the child did not finish its script"
        );
        assert!(child.try_wait().unwrap().is_none(), "the child died");
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    // Everything the child wrote is in the log only: replay rebuilds the chains.
    let engine = SET.start(dir.path());
    block_on(check(&engine.handle(), &ids));
    engine.shutdown();
    // Shutdown wrote a checkpoint: the chains come back from it.
    let engine = SET.start(dir.path());
    block_on(check(&engine.handle(), &ids));
    engine.shutdown();
}

#[test]
fn crc64_acl_and_bad_version_ids() {
    let (_dir, engine) = SET.set_up("versions", "ver");
    let h = engine.handle();
    block_on(async {
        let opts = PutOptions {
            acl: ObjectAcl::PublicReadWrite,
            ..Default::default()
        };
        let meta = h
            .put_object_bytes("ver", "check", opts, Bytes::from_static(b"123456789"))
            .await
            .unwrap();
        assert_eq!(meta.crc64, 0x995d_c9bb_df19_39fa);
        let head = h.head_object("ver", "check").await.unwrap();
        assert_eq!(
            (head.crc64, head.acl),
            (0x995d_c9bb_df19_39fa, ObjectAcl::PublicReadWrite)
        );
        assert_eq!(head.version_id, None, "versioning was never enabled");
        h.put_object_acl("ver", "check", None, ObjectAcl::Private)
            .await
            .unwrap();
        // Changing the ACL rewrites no data: same bytes, same CRC.
        let (meta, bytes) = h.get_object_bytes("ver", "check", None).await.unwrap();
        assert_eq!(
            (bytes.as_slice(), meta.acl),
            (&b"123456789"[..], ObjectAcl::Private)
        );
        assert!(matches!(
            h.put_object_acl("ver", "missing", None, ObjectAcl::Private)
                .await,
            Err(Error::NoSuchKey { .. })
        ));
        for bad in ["", "NULL", "0000000000000000", "xyz", "00000000000000001"] {
            assert!(
                matches!(
                    h.get_object_version("ver", "check", Some(bad), None).await,
                    Err(Error::InvalidArgument(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            h.head_object_version("ver", "check", Some("00000000000000ff"))
                .await,
            Err(Error::NoSuchVersion { .. })
        ));
        // In an unversioned bucket the one version is the null version.
        let null = h.head_object_version("ver", "check", Some("null")).await;
        assert_eq!(null.unwrap().version_id.as_deref(), Some("null"));
        assert!(matches!(
            h.put_bucket_versioning("ver", Versioning::Disabled).await,
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            h.put_bucket_versioning("nope", Versioning::Enabled).await,
            Err(Error::NoSuchBucket(_))
        ));
        // A bucket that holds only delete markers is not empty.
        h.put_bucket_versioning("ver", Versioning::Enabled)
            .await
            .unwrap();
        h.delete_object("ver", "check").await.unwrap();
        assert!(matches!(
            h.delete_bucket("ver").await,
            Err(Error::BucketNotEmpty(_))
        ));
    });
    engine.shutdown();
}

/// Every version of bucket `b` through a snapshot, in pages of `page` versions.
async fn scan(snap: &mut ringstore_engine::Snapshot, page: usize) -> Vec<VersionSummary> {
    let mut out = Vec::new();
    loop {
        let p = snap.next_page(page).await.unwrap();
        if p.is_empty() {
            return out;
        }
        out.extend(p);
    }
}

#[test]
fn snapshot_scan_ignores_writes_made_during_it() {
    let (_dir, engine) = versioned_set_up();
    let h = engine.handle();
    block_on(async {
        let key = |i: usize| format!("k{i:04}");
        let mut first_ids = Vec::new();
        for i in 0..600 {
            first_ids.push(put(&h, &key(i), (i % 200) as u8, false).await);
            if i % 3 == 0 {
                put(&h, &key(i), 1, false).await;
            }
        }
        let before = all_versions(&h, 1000).await;
        assert_eq!(before.len(), 800);
        let mut snap = h.open_snapshot("ver").await.unwrap();
        let mut seen = snap.next_page(50).await.unwrap();
        let cursor = seen.last().unwrap().key.clone();
        // Overwrites, delete markers, deletes of versions, ACL changes and new keys, on
        // both sides of where the scan has got to.
        for i in (0..600).step_by(7) {
            put(&h, &key(i), 9, false).await;
        }
        for i in (0..600).step_by(11) {
            h.delete_object("ver", &key(i)).await.unwrap();
        }
        for i in (0..600).step_by(13) {
            h.delete_object_version("ver", &key(i), Some(&first_ids[i]))
                .await
                .unwrap();
        }
        for i in (0..600).step_by(17) {
            h.put_object_acl("ver", &key(i), None, ObjectAcl::PublicRead)
                .await
                .ok();
        }
        for name in ["a-new", "k0000a", "zzz"] {
            put(&h, name, 3, false).await;
        }
        seen.extend(scan(&mut snap, 64).await);
        assert!(
            cursor.as_str() > "k0000a",
            "the scan had passed some changed keys"
        );
        assert_eq!(seen, before, "the snapshot returns the bucket as it was");
        snap.close().await;
        // The live bucket did change.
        assert_ne!(all_versions(&h, 1000).await, before);
        // Views are bounded per partition and closing (or dropping) frees them.
        let mut open = Vec::new();
        let too_many = loop {
            match h.open_snapshot("ver").await {
                Ok(s) => open.push(s),
                Err(e) => break e,
            }
            assert!(open.len() <= 16);
        };
        assert!(matches!(too_many, Error::TooManySnapshots(16)));
        drop(open);
        let mut again = h.open_snapshot("ver").await.unwrap();
        assert_eq!(scan(&mut again, 1000).await, all_versions(&h, 1000).await);
        again.close().await;
        assert!(matches!(
            h.open_snapshot("nope").await,
            Err(Error::NoSuchBucket(_))
        ));
    });
    engine.shutdown();
}

#[test]
fn version_listing_with_prefix_and_delimiter() {
    let (_dir, engine) = versioned_set_up();
    let h = engine.handle();
    block_on(async {
        let a1 = put(&h, "p/a", 1, false).await;
        let a2 = put(&h, "p/a", 2, false).await;
        for key in ["p/b/1", "p/b/2", "q", "o"] {
            put(&h, key, 3, false).await;
        }
        let mut params = ListVersionsParams {
            prefix: "p/".into(),
            delimiter: "/".into(),
            max_keys: 1,
            ..Default::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = h.list_object_versions("ver", &params).await.unwrap();
            assert_eq!(page.versions.len() + page.common_prefixes.len(), 1);
            seen.extend(
                page.versions
                    .iter()
                    .map(|v| format!("{} {}", v.key, v.version_id)),
            );
            seen.extend(page.common_prefixes.iter().cloned());
            if !page.is_truncated {
                break;
            }
            params.key_marker = page.next_key_marker.unwrap();
            params.version_id_marker = page.next_version_id_marker.unwrap_or_default();
        }
        assert_eq!(
            seen,
            [format!("p/a {a2}"), format!("p/a {a1}"), "p/b/".into()]
        );
        let bad = ListVersionsParams {
            version_id_marker: "nope".into(),
            max_keys: 10,
            ..Default::default()
        };
        assert!(matches!(
            h.list_object_versions("ver", &bad).await,
            Err(Error::InvalidArgument(_))
        ));
    });
    engine.shutdown();
}

#[test]
fn removing_versions_frees_their_space() {
    let (_dir, engine) = versioned_set_up();
    let h = engine.handle();
    let free = free_extents;
    let empty = free(&h);
    let ids: Vec<String> = block_on(async {
        let mut ids = Vec::new();
        for n in 0..12 {
            ids.push(put(&h, "k", n, true).await);
        }
        ids
    });
    let status = block_on(h.status()).unwrap();
    let (count, bytes): (u64, u64) = status
        .iter()
        .fold((0, 0), |a, p| (a.0 + p.objects, a.1 + p.object_bytes));
    assert_eq!(
        (count, bytes),
        (12, 12 * 200_000),
        "noncurrent versions are counted"
    );
    let full = free(&h);
    assert!(full < empty);
    block_on(async {
        for id in &ids {
            let r = h.delete_object_version("ver", "k", Some(id)).await.unwrap();
            assert!(!r.delete_marker);
        }
        assert!(matches!(
            h.head_object("ver", "k").await,
            Err(Error::NoSuchKey { .. })
        ));
    });
    // Every extent but the one being filled comes back.
    assert!(
        free(&h) + 1 >= empty,
        "{empty} free when empty, {full} full, {} after",
        free(&h)
    );
    let status = block_on(h.status()).unwrap();
    assert!(status.iter().all(|p| p.objects == 0 && p.object_bytes == 0));
    engine.shutdown();
}
