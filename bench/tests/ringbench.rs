//! Black-box tests: short, bounded ringbench runs against the real daemon over the binary
//! protocol, checked through their JSON reports.

use std::path::{Path, PathBuf};
use std::process::Output;

use ringstore_tests::{Daemon, ACCESS_KEY_ID, SECRET};
use serde_json::Value;

struct Bench<'a> {
    daemon: &'a Daemon,
    dir: tempfile::TempDir,
}

impl Bench<'_> {
    fn new(daemon: &Daemon) -> Bench<'_> {
        let dir = tempfile::Builder::new()
            .prefix("ringbench")
            .tempdir_in(ringstore_tests::scratch())
            .unwrap();
        Bench { daemon, dir }
    }

    fn json_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.json"))
    }

    /// Runs `ringbench ARGS` against the daemon.
    fn run(&self, args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_ringbench"))
            .args(args)
            .args(["--no-progress", "--target"])
            .arg(format!("ringstore://{}", self.daemon.endpoint))
            .env("RINGSTORE_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("RINGSTORE_SECRET_ACCESS_KEY", SECRET)
            .output()
            .expect("run ringbench")
    }

    /// Runs a workload that must succeed, and returns its JSON report.
    fn report(&self, name: &str, args: &[&str]) -> Value {
        let path = self.json_path(name);
        let mut all = args.to_vec();
        let p = path.to_str().unwrap();
        all.extend(["--json", p]);
        let out = self.run(&all);
        assert!(out.status.success(), "ringbench {args:?}: {}", stderr(&out));
        load(&path)
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn load(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("JSON report")
}

/// The report entry of one operation kind.
fn op<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["ops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["op"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

fn count(report: &Value, name: &str) -> (u64, u64) {
    let o = op(report, name);
    (o["count"].as_u64().unwrap(), o["errors"].as_u64().unwrap())
}

#[test]
fn put_and_verified_get_report_exact_counts_and_compare() {
    let daemon = Daemon::start();
    let bench = Bench::new(&daemon);
    let args = [
        "put", "--ops", "300", "--keys", "100", "-c", "8", "--prefix", "p/",
    ];
    let put = bench.report("put", &args);
    assert_eq!(count(&put, "put"), (300, 0));
    let put_op = op(&put, "put");
    assert_eq!(put_op["bytes"], 300 * 4096);
    assert!(
        put_op["latency_us"]["p99"].as_u64().unwrap()
            >= put_op["latency_us"]["p50"].as_u64().unwrap()
    );

    let args = [
        "get",
        "--ops",
        "400",
        "--keys",
        "50",
        "--size",
        "1KiB..200KiB",
        "--verify",
        "-c",
        "8",
        "--prefix",
        "g/",
    ];
    let get = bench.report("get", &args);
    assert_eq!(count(&get, "get"), (400, 0));
    assert_eq!(
        (get["verified"].as_u64(), get["verify_failures"].as_u64()),
        (Some(400), Some(0))
    );
    assert!(op(&get, "get")["ttfb_us"]["p50"].as_u64().is_some());

    // Workers spread over three threads, each with its own connections (fewer than the
    // threads here: every thread still gets one): the counts stay exact.
    let args = [
        "get",
        "--ops",
        "301",
        "--keys",
        "50",
        "--verify",
        "-c",
        "7",
        "--threads",
        "3",
        "--connections",
        "2",
        "--prefix",
        "t/",
    ];
    let threaded = bench.report("threaded", &args);
    assert_eq!(count(&threaded, "get"), (301, 0));
    assert_eq!(threaded["verified"].as_u64(), Some(301));

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ringbench"))
        .arg("compare")
        .args([bench.json_path("put"), bench.json_path("get")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("PUT: only in A") && text.contains("GET: only in B"),
        "{text}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ringbench"))
        .arg("compare")
        .args([bench.json_path("get"), bench.json_path("get")])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("ops/s") && text.contains("+0.0%"), "{text}");
}

#[test]
fn mixed_list_delete_and_open_loop_stat() {
    let daemon = Daemon::start();
    let bench = Bench::new(&daemon);
    let args = [
        "mixed", "--ops", "500", "--keys", "60", "--verify", "--prefix", "m/",
    ];
    let mixed = bench.report("mixed", &args);
    let ops: Vec<(u64, u64)> = ["get", "stat", "put", "delete"]
        .iter()
        .map(|name| count(&mixed, name))
        .collect();
    assert_eq!(ops.iter().map(|c| c.0).sum::<u64>(), 500);
    assert!(ops.iter().all(|c| c.1 == 0), "{mixed}");
    assert_eq!(mixed["verify_failures"], 0);

    // One worker walks 250 keys in pages of 100, 100, 50, then starts again.
    let args = [
        "list",
        "--ops",
        "20",
        "--keys",
        "250",
        "--list-page",
        "100",
        "-c",
        "1",
        "--prefix",
        "l/",
    ];
    let list = bench.report("list", &args);
    assert_eq!(count(&list, "list"), (20, 0));
    assert_eq!(op(&list, "list")["objects"], 6 * 250 + 200);

    let args = ["delete", "--keys", "120", "--prefix", "d/", "--size", "0"];
    let delete = bench.report("delete", &args);
    assert_eq!(count(&delete, "delete"), (120, 0));

    let args = [
        "stat", "--ops", "200", "--rate", "400", "-c", "4", "--keys", "30", "--prefix", "s/",
    ];
    let stat = bench.report("stat", &args);
    assert_eq!(count(&stat, "stat"), (200, 0));
    assert_eq!(stat["run"]["mode"], "open@400/s");

    // Every run cleaned up after itself.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let page = rt.block_on(async {
        let client = daemon.client().await;
        let req = ringstore_client::ListObjects {
            bucket: "ringbench".into(),
            prefix: String::new(),
            delimiter: String::new(),
            marker: String::new(),
            max_keys: 1000,
        };
        client.list_objects(req).await.unwrap()
    });
    assert!(
        page.objects.is_empty(),
        "{} objects left",
        page.objects.len()
    );
}

#[test]
fn verify_catches_content_that_differs_from_what_the_run_expects() {
    let daemon = Daemon::start();
    let bench = Bench::new(&daemon);
    let args = [
        "put",
        "--ops",
        "20",
        "--keys",
        "20",
        "--seed",
        "1",
        "--no-cleanup",
        "--prefix",
        "v/",
    ];
    assert_eq!(count(&bench.report("put", &args), "put"), (20, 0));
    let same = [
        "get",
        "--ops",
        "40",
        "--keys",
        "20",
        "--seed",
        "1",
        "--no-prepare",
        "--verify",
    ];
    let mut same = same.to_vec();
    same.extend(["--no-cleanup", "--prefix", "v/"]);
    let good = bench.report("good", &same);
    assert_eq!(
        (good["verified"].as_u64(), good["verify_failures"].as_u64()),
        (Some(40), Some(0))
    );

    // Another seed means other bytes: every GET fails verification and the exit code says so.
    let path = bench.json_path("bad");
    let mut other: Vec<&str> = same.clone();
    other[6] = "2";
    other.extend(["--json", path.to_str().unwrap()]);
    let out = bench.run(&other);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let bad = load(&path);
    assert_eq!(
        (bad["verified"].as_u64(), bad["verify_failures"].as_u64()),
        (Some(40), Some(40))
    );
    let get = op(&bad, "get");
    assert_eq!(get["errors_by_kind"]["verify"]["count"], 40);
}

#[test]
fn operations_the_target_lacks_are_refused_before_the_run() {
    let daemon = Daemon::start();
    let bench = Bench::new(&daemon);
    for workload in ["multipart", "append"] {
        let out = bench.run(&[workload, "--ops", "1"]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "{workload} is not supported by target ringstore://"
            )),
            "{err}"
        );
    }
    let out = bench.run(&["put", "--ops", "1", "--size", "7XB"]);
    assert_eq!(out.status.code(), Some(2), "a bad size is a usage error");
    assert!(stderr(&out).contains("is not a size"));
}
