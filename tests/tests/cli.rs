//! The `ringstore` CLI against the real daemon: round trips, listing, errors, exit codes.

use md5::{Digest, Md5};
use ringstore_tests::{content, Daemon};

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn cli_round_trips_listing_and_exit_codes() {
    let d = Daemon::start();
    let dir = tempfile::Builder::new()
        .prefix("cli")
        .tempdir_in(ringstore_tests::scratch())
        .unwrap();
    ok(&d.cli(&["mb", "rs://clibkt"]));
    let sizes: Vec<usize> = ringstore_tests::EDGE_SIZES
        .into_iter()
        .chain([5 << 20])
        .collect();
    for (i, &len) in sizes.iter().enumerate() {
        let body = content(len, i as u64);
        let src = dir.path().join(format!("in{len}"));
        std::fs::write(&src, &body).unwrap();
        let key = format!("rs://clibkt/dir/obj{len}");
        ok(&d.cli(&["cp", src.to_str().unwrap(), &key]));
        let dst = dir.path().join(format!("out{len}"));
        ok(&d.cli(&["cp", &key, dst.to_str().unwrap()]));
        assert!(std::fs::read(&dst).unwrap() == body, "size {len}");
        let stat = ok(&d.cli(&["stat", &key]));
        assert!(stat.contains(&format!("Size:          {len}")), "{stat}");
        assert!(
            stat.to_uppercase().contains(&hex(&Md5::digest(&body))),
            "{stat}"
        );
        if len > 10 {
            let part = d.cli(&["cp", "--range", "3-9", &key, "-"]);
            ok(&part);
            assert_eq!(&part.stdout[..], &body[3..10]);
        }
    }
    // stdin upload, stdout download
    let out = d.cli_stdin(&["cp", "-", "rs://clibkt/top"], Some(b"from stdin"));
    ok(&out);
    assert_eq!(ok(&d.cli(&["cp", "rs://clibkt/top", "-"])), "from stdin");
    let ls = ok(&d.cli(&["ls", "rs://clibkt", "--delimiter", "/"]));
    assert!(
        ls.contains("PRE") && ls.contains("dir/") && ls.contains("rs://clibkt/top"),
        "{ls}"
    );
    let ls = ok(&d.cli(&["ls", "rs://clibkt/dir/"]));
    assert_eq!(ls.lines().count(), sizes.len(), "{ls}");
    assert!(ok(&d.cli(&["ls"])).contains("rs://clibkt"));
    let status = ok(&d.cli(&["admin", "status"]));
    assert!(
        status.contains("\"health\"") && status.contains("\"up\""),
        "{status}"
    );
    // The scrub verifies every object written above: start a pass, wait (bounded) for
    // every partition to finish it, pause.
    let start = ok(&d.cli(&["admin", "scrub", "start"]));
    assert!(start.contains("\"paused\":false"), "{start}");
    let partitions = status.matches("\"log_seq\"").count() as u64;
    let mut scrub = serde_json::Value::Null;
    for _ in 0..1000 {
        scrub = serde_json::from_str(&ok(&d.cli(&["admin", "scrub", "status"]))).unwrap();
        if scrub["passes"].as_u64().unwrap() >= partitions {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(scrub["passes"].as_u64().unwrap() >= partitions, "{scrub}");
    assert!(
        scrub["scanned_bytes"].as_u64().unwrap() > 5 << 20,
        "{scrub}"
    );
    assert_eq!(scrub["corrupt_blocks"], 0, "{scrub}");
    let paused = ok(&d.cli(&["admin", "scrub", "pause"]));
    assert!(paused.contains("\"paused\":true"), "{paused}");
    let (code, metrics) = ringstore_tests::http_get(&d.metrics, "/metrics");
    assert_eq!(code, 200);
    assert!(
        metrics.contains("ringstore_puts_total")
            && metrics.contains("ringstore_devices{state=\"up\"} 6")
            && metrics.contains("ringstore_scrub_blocks_total"),
        "{metrics}"
    );
    // Errors: a script can tell them apart by exit code.
    assert_eq!(d.cli(&["stat", "rs://clibkt/nope"]).status.code(), Some(3));
    assert_eq!(
        d.cli(&["cp", "rs://nobucket/x", "-"]).status.code(),
        Some(3)
    );
    let full = d.cli(&["rb", "rs://clibkt"]);
    assert_eq!(full.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&full.stderr)
        .to_lowercase()
        .contains("not empty"));
    assert_eq!(d.cli(&["mb", "rs://Bad_Name"]).status.code(), Some(1));
    let denied = std::process::Command::new(ringstore_tests::binary())
        .args([
            "ls",
            "--endpoint",
            &d.endpoint,
            "--access-key-id",
            "RSNOTAKEY",
            "--secret-access-key",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(
        denied.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );
    for len in sizes {
        ok(&d.cli(&["rm", &format!("rs://clibkt/dir/obj{len}")]));
    }
    ok(&d.cli(&["rm", "rs://clibkt/top"]));
    ok(&d.cli(&["rb", "rs://clibkt"]));
    assert_eq!(d.cli(&["stat", "rs://clibkt"]).status.code(), Some(3));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}
