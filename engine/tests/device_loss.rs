//! Losing devices while keeping the data: a 2+2 set loses two devices (its parity), still
//! serves every byte, gets both replaced while serving, rebuilds them, and then survives
//! the loss of the two other devices — so the rebuilt ones hold everything (data, log,
//! checkpoint, superblocks). Losing more devices than the parity is a clean error.

use std::path::PathBuf;

use bytes::Bytes;
use ringstore_engine::shared::DeviceState;
use ringstore_engine::{Engine, Error, Handle, PutOptions};

mod common;
use common::{block_on, TestSet, MIB};

/// Four 24 MiB devices in 2+2, one partition, one unpinned executor.
const SET: TestSet = TestSet::new(2, 2, 24 * MIB, 1);

fn body(i: usize) -> Vec<u8> {
    let len = [10usize, 5000, 70_000, 600_000][i % 4];
    (0..len).map(|j| (j * 31 + i * 7) as u8).collect()
}

fn put(h: &Handle, i: usize) -> Result<(), Error> {
    let data = Bytes::from(body(i));
    block_on(h.put_object_bytes("loss", &format!("o{i}"), PutOptions::default(), data)).map(drop)
}

/// A fresh 2+2 set of four 24 MiB devices with bucket `loss` holding objects o0..o7,
/// and its engine running.
fn populated(prefix: &str) -> (tempfile::TempDir, Vec<PathBuf>, Engine) {
    let (dir, engine) = SET.set_up(prefix, "loss");
    let h = engine.handle();
    for i in 0..8 {
        put(&h, i).unwrap();
    }
    let all = SET.paths(dir.path());
    (dir, all, engine)
}

fn check_all(h: &Handle, count: usize) {
    for i in 0..count {
        let (_, got) = block_on(h.get_object_bytes("loss", &format!("o{i}"), None)).unwrap();
        assert!(got == body(i), "object {i} reads back exactly");
    }
}

fn wait_pass(h: &Handle, passes: u64) {
    for _ in 0..3000 {
        if h.shared.stats.scrub_passes.get() >= passes {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the rebuild pass did not finish");
}

#[test]
fn lose_parity_replace_rebuild_then_lose_the_others() {
    let (dir, all, engine) = populated("device-loss-");
    let h = engine.handle();
    block_on(h.checkpoint()).unwrap();
    engine.shutdown();

    // Two devices lost: reads are served degraded; writes need k + 1 devices.
    std::fs::remove_file(&all[1]).unwrap();
    std::fs::remove_file(&all[3]).unwrap();
    let engine = SET.start_on(all.clone()).unwrap();
    let h = engine.handle();
    assert_eq!(h.shared.devices[1].state(), DeviceState::Missing);
    check_all(&h, 8);
    assert!(matches!(put(&h, 8), Err(Error::DataUnavailable(_))));

    // Replace device 1 while serving: writes work again (k + 1 up).
    let new1 = dir.path().join("new1");
    assert_eq!(block_on(h.replace_device("1", &new1)).unwrap(), 1);
    put(&h, 8).unwrap();
    wait_pass(&h, 1);
    assert!(
        h.shared.stats.scrub_repaired.get() > 0,
        "device 1 was rebuilt"
    );
    assert_eq!(h.shared.stats.scrub_unrecoverable.get(), 0);
    // A path that is not a device of the set, and a formatted device, are refused.
    assert!(block_on(h.replace_device("/nope", &dir.path().join("x"))).is_err());
    assert!(block_on(h.replace_device("3", &all[0])).is_err());
    let new3 = dir.path().join("new3");
    block_on(h.replace_device("3", &new3)).unwrap();
    put(&h, 9).unwrap();
    wait_pass(&h, 2);
    check_all(&h, 10);
    engine.shutdown();

    // Full redundancy: the two original survivors can go, the rebuilt pair serves all.
    let rebuilt = vec![all[0].clone(), new1.clone(), all[2].clone(), new3.clone()];
    std::fs::remove_file(&all[0]).unwrap();
    std::fs::remove_file(&all[2]).unwrap();
    let engine = SET.start_on(rebuilt.clone()).unwrap();
    check_all(&engine.handle(), 10);
    engine.shutdown();

    // More devices lost than the parity: a clean refusal, nothing panics.
    std::fs::remove_file(&new1).unwrap();
    match SET.start_on(rebuilt) {
        Err(Error::Io(message)) => assert!(message.contains("missing"), "{message}"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a set missing 3 of 4 devices opened"),
    }
}

/// A device file truncated to nothing while the engine serves (a device that disappears
/// under an open descriptor): reads go on degraded and exact, the device's short reads
/// count as its errors (`DEVICE_READ_ERRORS_MAX` of them fail it), and writes go on.
#[test]
fn device_truncated_while_serving_reads_continue_degraded() {
    let (_dir, all, engine) = populated("device-truncated-");
    let h = engine.handle();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&all[2])
        .unwrap()
        .set_len(0)
        .unwrap();
    check_all(&h, 8);
    // A scrub pass reads every shard, device 2's too: its short reads count as errors.
    h.scrub_start();
    wait_pass(&h, 1);
    check_all(&h, 8);
    assert!(
        h.shared.devices[2].errors.get() > 0,
        "device 2's errors are counted"
    );
    put(&h, 8).unwrap();
    check_all(&h, 9);
    drop(h);
    engine.shutdown();
}
