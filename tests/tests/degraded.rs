//! The daemon with devices lost: two of six device files removed while it is stopped; it
//! starts degraded, serves every object byte-exact and reports the devices as missing;
//! `device replace` formats new files in their place and the rebuild restores them.

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
    for dev in [1, 4] {
        let new = d.data_dir.join(format!("replacement{dev}"));
        let reply = c
            .device_replace(&dev.to_string(), new.to_str().unwrap())
            .await
            .unwrap();
        assert!(
            reply.contains(&format!("\"replaced_device\":{dev}")),
            "{reply}"
        );
    }
    let status = c.admin_status().await.unwrap();
    assert!(status.matches("\"up\"").count() == 6, "{status}");
    // The rebuild is the scrub pass each partition runs after the replacements.
    let partitions = status.matches("\"log_seq\"").count();
    let mut scrub = String::new();
    for _ in 0..1000 {
        scrub = c.scrub_status().await.unwrap();
        let passes: u64 = scrub
            .split("\"passes\":")
            .nth(1)
            .and_then(|t| t.split(|ch: char| !ch.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        if passes >= partitions as u64 * 2
            || (passes >= partitions as u64 && scrub.contains("\"state\":\"idle\""))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(scrub.contains("\"unrecoverable_blocks\":0"), "{scrub}");
    assert!(
        !scrub.contains("\"repaired_blocks\":0"),
        "the new devices were written: {scrub}"
    );
    for (i, &len) in sizes.iter().enumerate() {
        let (_, got) = c
            .get_object_bytes("degraded", &format!("o{i}"), None)
            .await
            .unwrap();
        assert!(
            got == content(len, i as u64),
            "object {i} after the rebuild"
        );
    }
}
