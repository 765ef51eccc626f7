//! The kill -9 campaign, ten cycles: `ringstore-crashcheck` (tests/src/bin) starts the
//! real daemon, runs four clients doing PUT (packed and striped, overwrites), DELETE,
//! DELETE of several keys, object ACL changes, versioned PUT, delete markers and DELETE by
//! version id, kills the daemon with SIGKILL at a random moment, restarts it and checks
//! every key against its fsynced ledger (see the tool's docs for what is checked).
//!
//! Long run by hand (`cargo build -p ringstore-tools -p ringstore-tests` first):
//! `target/debug/ringstore-crashcheck --cycles 100`. Figures of the last long run are in
//! BENCHMARKS.md ("kill -9 campaign").

use std::process::Command;

#[test]
fn ten_cycles_of_kill_9_lose_nothing() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    // Output to files, not pipes: a daemon left behind would hold a pipe open.
    let dir = ringstore_tests::scratch();
    let (out_path, err_path) = (
        dir.join(format!("crashcheck-{seed}.out")),
        dir.join(format!("crashcheck-{seed}.err")),
    );
    let status = Command::new(env!("CARGO_BIN_EXE_ringstore-crashcheck"))
        .args([
            "--cycles",
            "10",
            "--clients",
            "4",
            "--seed",
            &seed.to_string(),
        ])
        .env("RINGSTORE_TEST_LOG", "error")
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .status()
        .expect("run ringstore-crashcheck");
    let stdout = std::fs::read_to_string(&out_path).unwrap();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    eprintln!("{stdout}{stderr}");
    assert!(status.success(), "crashcheck failed (seed {seed})");
    std::fs::remove_file(&out_path).unwrap();
    std::fs::remove_file(&err_path).unwrap();
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("crashcheck passed"))
        .expect("a summary line");
    assert!(summary.ends_with(", 0 lost"), "{summary}");
    let cycles = stdout.lines().filter(|l| l.starts_with("cycle ")).count();
    assert_eq!(cycles, 10, "every cycle reports");
    // The campaign means something only if the clients got work acknowledged.
    let acked: u64 = summary
        .split(", ")
        .find_map(|p| p.strip_suffix(" acknowledged operations checked"))
        .and_then(|n| n.parse().ok())
        .expect("acknowledged count in the summary");
    assert!(acked > 0, "{summary}");
}

/// Acknowledged object ACL changes of recovered versions survive kill -9, one request at a
/// time (the campaign's concurrent version, where a relocation races the change, is the
/// engine's `relocation_keeps_a_later_acl` test).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_acl_changes_survive_kill_9() {
    use ringstore_client::{Acl, StorageClass, Versioning};
    let mut d = ringstore_tests::Daemon::start();
    let c = d.client().await;
    c.create_bucket("aclkill", Acl::Private, StorageClass::Standard, "local")
        .await
        .unwrap();
    c.put_bucket_versioning("aclkill", Versioning::Enabled)
        .await
        .unwrap();
    let mut expected = Vec::new();
    for i in 0..8u64 {
        let key = format!("k{i}");
        let body = ringstore_tests::content([10, 1_100_000][i as usize % 2], i);
        let req = ringstore_tests::put_request("aclkill", &key);
        let meta = c.put_object_bytes(req, body.into()).await.unwrap();
        expected.push((key, meta.version_id.unwrap()));
    }
    // The versions come back from recovery before their ACLs change.
    drop(c);
    d.kill9();
    d.restart();
    let c = d.client().await;
    for (key, vid) in &expected {
        for acl in [Acl::Private, Acl::PublicRead] {
            c.put_object_acl("aclkill", key, Some(vid), acl)
                .await
                .unwrap();
        }
    }
    drop(c);
    d.kill9();
    d.restart();
    let c = d.client().await;
    for (key, vid) in &expected {
        let acl = c.get_object_acl("aclkill", key, Some(vid)).await.unwrap();
        assert_eq!(acl, Acl::PublicRead, "{key} version {vid}");
    }
}
