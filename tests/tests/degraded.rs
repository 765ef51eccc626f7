//! The daemon with devices lost: two of six device files removed while it is stopped; it
//! starts degraded, serves every object byte-exact and reports the devices as missing.

use bytes::Bytes;
use ringstore_client::{Acl, StorageClass};
use ringstore_tests::{content, Daemon};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_lost_devices_lose_nothing() {
    let mut d = Daemon::start();
    let c = d.client().await;
    c.create_bucket("degraded", Acl::Private, StorageClass::Standard, "local")
        .await
        .unwrap();
    let sizes = [1usize, 4096, 70_000, 3 << 20];
    for (i, &len) in sizes.iter().enumerate() {
        let p = ringstore_tests::put_request("degraded", &format!("o{i}"));
        c.put_object_bytes(p, Bytes::from(content(len, i as u64)))
            .await
            .unwrap();
    }
    drop(c);
    assert!(d.stop().success());
    for dev in [1, 4] {
        std::fs::remove_file(d.data_dir.join("devices").join(format!("dev{dev}"))).unwrap();
    }
    d.restart();
    let c = d.client().await;
    for (i, &len) in sizes.iter().enumerate() {
        let (_, got) = c
            .get_object_bytes("degraded", &format!("o{i}"), None)
            .await
            .unwrap();
        assert!(got == content(len, i as u64), "object {i} of {len} bytes");
    }
    let status = c.admin_status().await.unwrap();
    assert_eq!(status.matches("\"missing\"").count(), 2, "{status}");
    assert!(status.matches("\"up\"").count() == 4, "{status}");
}
