//! The daemon with devices lost: two of six device files removed while it is stopped; it
//! starts degraded, serves every object byte-exact and reports the devices as missing;
//! `device replace` formats new files in their place (writes in between are counted as
//! lacking redundancy and healed), the rebuild restores them, status shows the new paths,
//! and after a restart the rebuilt devices serve everything without two originals.

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
    let late = content(5 << 20, 99);
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
        if dev == 1 {
            // k + 1 devices up: writes go on, and what lacks device 4 is counted.
            let p = ringstore_tests::put_request("degraded", "late");
            c.put_object_bytes(p, Bytes::from(late.clone()))
                .await
                .unwrap();
            let status = c.admin_status().await.unwrap();
            assert!(number(&status, "degraded_stripes") > 0, "{status}");
        }
    }
    let status = c.admin_status().await.unwrap();
    assert!(status.matches("\"up\"").count() == 6, "{status}");
    for dev in [1, 4] {
        let new = d.data_dir.join(format!("replacement{dev}"));
        let shown = format!("\"path\":\"{}\"", new.display());
        assert!(status.contains(&shown), "status shows {shown}: {status}");
    }
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
    for _ in 0..1000 {
        if number(&c.admin_status().await.unwrap(), "degraded_stripes") == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let status = c.admin_status().await.unwrap();
    assert_eq!(number(&status, "degraded_stripes"), 0, "{status}");
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
    // A restart opens the replacements (devices/dev1 and dev4 lead to them) and they
    // hold everything: the set serves every object with two original devices gone.
    drop(c);
    assert!(d.stop().success());
    for dev in [0, 2] {
        std::fs::remove_file(d.data_dir.join("devices").join(format!("dev{dev}"))).unwrap();
    }
    d.restart();
    let c = d.client().await;
    let status = c.admin_status().await.unwrap();
    assert_eq!(status.matches("\"missing\"").count(), 2, "{status}");
    for (i, &len) in sizes.iter().enumerate() {
        let (_, got) = c
            .get_object_bytes("degraded", &format!("o{i}"), None)
            .await
            .unwrap();
        assert!(
            got == content(len, i as u64),
            "object {i} from the rebuilt devices"
        );
    }
    let (_, got) = c.get_object_bytes("degraded", "late", None).await.unwrap();
    assert!(got == late, "the object written with device 4 missing");
}

/// The first unsigned number after `"name":` in a JSON document.
fn number(doc: &str, name: &str) -> u64 {
    doc.split(&format!("\"{name}\":"))
        .nth(1)
        .and_then(|t| t.split(|ch: char| !ch.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {doc}"))
}
