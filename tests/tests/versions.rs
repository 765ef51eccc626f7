//! Versioning and object ACLs through the client library against the real daemon: the new
//! opcodes end to end, across a restart.

use bytes::Bytes;
use ringstore_client::{
    Acl, Error, ListObjectVersions, RangeSpec, Status, StorageClass, Versioning,
};
use ringstore_tests::{content, put_request, Daemon};

fn status_of(e: Error) -> Status {
    match e {
        Error::Status { status, .. } => status,
        other => panic!("expected a status, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_acls_and_crc64_over_the_protocol() {
    let mut d = Daemon::start();
    let c = d.client().await;
    c.create_bucket("verbkt", Acl::Private, StorageClass::Standard, "local")
        .await
        .unwrap();
    assert_eq!(
        c.get_bucket_versioning("verbkt").await.unwrap(),
        Versioning::Disabled
    );
    c.put_bucket_versioning("verbkt", Versioning::Enabled)
        .await
        .unwrap();
    let bodies = [content(10, 1), content(300_000, 2), content(5000, 3)];
    let mut ids = Vec::new();
    for body in &bodies {
        let meta = c
            .put_object_bytes(put_request("verbkt", "k"), Bytes::from(body.clone()))
            .await
            .unwrap();
        let crc = crc::Crc::<u64>::new(&crc::CRC_64_XZ).checksum(body);
        assert_eq!(meta.crc64, Some(crc));
        ids.push(meta.version_id.unwrap());
    }
    let marker = c.delete_object_version("verbkt", "k", None).await.unwrap();
    assert!(marker.delete_marker);
    let err = c.head_object("verbkt", "k").await.unwrap_err();
    assert_eq!(status_of(err), Status::NoSuchKey);
    let err = c
        .head_object_version("verbkt", "k", marker.version_id.as_deref())
        .await
        .unwrap_err();
    assert_eq!(status_of(err), Status::MethodNotAllowed);
    let err = c
        .head_object_version("verbkt", "k", Some("00000000000000aa"))
        .await
        .unwrap_err();
    assert_eq!(status_of(err), Status::NoSuchVersion);
    let (r, got) = {
        let s = c
            .get_object_version("verbkt", "k", Some(&ids[1]), Some(RangeSpec::From(1000)))
            .await
            .unwrap();
        let r = s.response.clone();
        (r, s.collect_bytes().await.unwrap())
    };
    assert_eq!(r.meta.version_id.as_deref(), Some(ids[1].as_str()));
    assert!(got[..] == bodies[1][1000..]);
    c.put_object_acl("verbkt", "k", Some(&ids[0]), Acl::PublicRead)
        .await
        .unwrap();
    // Deleting the marker by its id makes the newest version current again.
    let gone = c
        .delete_object_version("verbkt", "k", marker.version_id.as_deref())
        .await
        .unwrap();
    assert!(gone.delete_marker);
    assert!(d.stop().success());
    d.restart();
    let c = d.client().await;
    let (meta, got) = c.get_object_bytes("verbkt", "k", None).await.unwrap();
    assert!(got == bodies[2]);
    assert_eq!(meta.meta.version_id.as_deref(), Some(ids[2].as_str()));
    assert_eq!(
        c.get_object_acl("verbkt", "k", Some(&ids[0]))
            .await
            .unwrap(),
        Acl::PublicRead
    );
    assert_eq!(
        c.get_object_acl("verbkt", "k", None).await.unwrap(),
        Acl::Default
    );
    // Two versions per page, following the markers.
    let mut req = ListObjectVersions {
        bucket: "verbkt".into(),
        prefix: String::new(),
        delimiter: String::new(),
        key_marker: String::new(),
        version_id_marker: None,
        max_keys: 2,
    };
    let mut listed = Vec::new();
    loop {
        let page = c.list_object_versions(req.clone()).await.unwrap();
        listed.extend(
            page.versions
                .iter()
                .map(|v| (v.version_id.clone(), v.is_latest)),
        );
        if !page.is_truncated {
            break;
        }
        req.key_marker = page.next_key_marker.unwrap();
        req.version_id_marker = page.next_version_id_marker;
    }
    let want: Vec<(String, bool)> = ids
        .iter()
        .rev()
        .enumerate()
        .map(|(i, id)| (id.clone(), i == 0))
        .collect();
    assert_eq!(listed, want);
    let err = c
        .put_bucket_versioning("verbkt", Versioning::Disabled)
        .await
        .unwrap_err();
    assert_eq!(status_of(err), Status::BadRequest);
    assert!(d.stop().success());
}
