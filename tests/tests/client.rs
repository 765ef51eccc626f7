//! The client library against the real daemon: sizes, ranges, concurrency, restart.

use bytes::Bytes;
use md5::{Digest, Md5};
use ringstore_client::{Acl, ListObjects, PutObject, RangeSpec, StorageClass};
use ringstore_tests::{content, Daemon};

fn put(bucket: &str, key: &str) -> PutObject {
    PutObject {
        bucket: bucket.into(),
        key: key.into(),
        content_type: "application/octet-stream".into(),
        user_meta: vec![("origin".into(), "test".into())],
        content_length: 0,
        content_md5: None,
        forbid_overwrite: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_ranges_concurrency_and_clean_restart() {
    let mut d = Daemon::start();
    let c = d.client().await;
    c.create_bucket("clientbkt", Acl::Private, StorageClass::Standard, "local")
        .await
        .unwrap();
    let sizes: Vec<usize> = ringstore_tests::EDGE_SIZES
        .into_iter()
        .chain([64 << 20])
        .collect();
    for (i, &len) in sizes.iter().enumerate() {
        let body = content(len, i as u64);
        let meta = c
            .put_object_bytes(
                put("clientbkt", &format!("s{len}")),
                Bytes::from(body.clone()),
            )
            .await
            .unwrap();
        assert_eq!(meta.etag.md5, <[u8; 16]>::from(Md5::digest(&body)));
        let (_, got) = c
            .get_object_bytes("clientbkt", &format!("s{len}"), None)
            .await
            .unwrap();
        assert!(got == body, "size {len}");
        if len > 0 {
            let (r, got) = c
                .get_object_bytes(
                    "clientbkt",
                    &format!("s{len}"),
                    Some(RangeSpec::Suffix(5000)),
                )
                .await
                .unwrap();
            assert!(
                got == body[len - (r.range_len as usize)..],
                "size {len} suffix"
            );
        }
    }
    // 16 concurrent clients' worth of requests over the pool.
    let tasks = (0..16u64).map(|t| {
        let c = c.clone();
        tokio::spawn(async move {
            for i in 0..25u64 {
                let key = format!("conc/{t}/{i}");
                let body = content(((t * 7919 + i * 104_729) % 200_000) as usize, t * 1000 + i);
                c.put_object_bytes(put("clientbkt", &key), Bytes::from(body.clone()))
                    .await
                    .unwrap();
                let (_, got) = c.get_object_bytes("clientbkt", &key, None).await.unwrap();
                assert!(got == body, "{key}");
            }
        })
    });
    for t in futures::future::join_all(tasks).await {
        t.unwrap();
    }
    let page = c
        .list_objects(ListObjects {
            bucket: "clientbkt".into(),
            prefix: "conc/".into(),
            delimiter: "/".into(),
            marker: String::new(),
            max_keys: 1000,
        })
        .await
        .unwrap();
    assert_eq!(page.common_prefixes.len(), 16);
    let err = c.head_object("clientbkt", "missing").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    drop(c);
    assert!(
        d.stop().success(),
        "SIGTERM must end the daemon with exit 0"
    );
    d.restart();
    let c = d.client().await;
    for (i, &len) in sizes.iter().enumerate() {
        let (_, got) = c
            .get_object_bytes("clientbkt", &format!("s{len}"), None)
            .await
            .unwrap();
        assert!(got == content(len, i as u64), "size {len} after restart");
    }
}
