//! SDK conformance: the real OSS and S3 SDKs and CLIs from PyPI (oss2, alibabacloud-oss-v2,
//! boto3, awscli, s3cmd; pinned in `tests/sdk/requirements.txt`) run their pytest suites in
//! `tests/sdk/` against `ringstore serve` with the HTTP adapter on a free loopback port.
//!
//! Each suite gets a daemon of its own. The venv comes from `tests/sdk/setup.sh` (created on
//! first use, reused while the requirements are unchanged). The suites act as two ordinary
//! users made with the root key: the owner of the buckets they create, and another user for
//! the denial tests. A suite passes only if pytest reports no failure and no error; its
//! whole output is in the panic message otherwise, and in `target/sdk-reports/<suite>.log`
//! either way.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ringstore_tests::Daemon;

/// Region in the OSS V4 and S3 SigV4 credential scopes the SDKs send.
const OSS_REGION: &str = "cn-hangzhou";
const S3_REGION: &str = "us-east-1";
/// The ordinary users the suites act as: the buckets' owner, and another for the denials.
const OWNER_USER: &str = "sdk-owner";
const OTHER_USER: &str = "sdk-other";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// `target/` of this build (the `ringstore` binary lives in `target/<profile>/`).
fn target_dir() -> PathBuf {
    let bin = ringstore_tests::binary();
    bin.parent()
        .and_then(Path::parent)
        .expect("target directory")
        .to_path_buf()
}

/// The venv's python, created once per test binary by `tests/sdk/setup.sh`.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = std::env::var_os("RINGSTORE_SDK_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| target_dir().join("sdk-venv"));
        let out = Command::new("bash")
            .arg(repo_root().join("tests/sdk/setup.sh"))
            .env("RINGSTORE_SDK_VENV", &venv)
            .output()
            .expect("run tests/sdk/setup.sh");
        assert!(
            out.status.success(),
            "tests/sdk/setup.sh failed ({})\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        venv.join("bin/python")
    })
}

/// Creates an ordinary user and an access key for it (through the client library, with the
/// root key); returns the key id and secret.
fn user_key(d: &Daemon, name: &str) -> (String, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let root = d.client().await;
        root.user_create(name)
            .await
            .unwrap_or_else(|e| panic!("create user {name}: {e}"));
        let key = root
            .key_create(name)
            .await
            .unwrap_or_else(|e| panic!("create a key for {name}: {e}"));
        (key.access_key_id, key.secret_access_key)
    })
}

/// Runs one pytest module against a fresh daemon; panics with pytest's output on failure.
fn run_suite(module: &str) {
    let python = python();
    let d = Daemon::start_http();
    let (owner_id, owner_secret) = user_key(&d, OWNER_USER);
    let (other_id, other_secret) = user_key(&d, OTHER_USER);
    let mut cmd = Command::new(python);
    cmd.current_dir(repo_root().join("tests/sdk"))
        .args(["-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfEs"])
        .args(["--color=no", "--tb=short", "--durations=5", module])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("RS_HTTP_ENDPOINT", format!("http://{}", d.http))
        .env("RS_ACCESS_KEY_ID", owner_id)
        .env("RS_SECRET_ACCESS_KEY", owner_secret)
        .env("RS_OTHER_ACCESS_KEY_ID", other_id)
        .env("RS_OTHER_SECRET_ACCESS_KEY", other_secret)
        .env("RS_OSS_REGION", OSS_REGION)
        .env("RS_S3_REGION", S3_REGION)
        // Nothing from the environment may redirect the SDKs.
        .env_remove("AWS_CA_BUNDLE")
        .env_remove("AWS_PROFILE")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env("NO_PROXY", "127.0.0.1,localhost");
    let out = cmd.output().expect("run pytest");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let reports = target_dir().join("sdk-reports");
    std::fs::create_dir_all(&reports).unwrap();
    std::fs::write(reports.join(module.replace(".py", ".log")), &text).unwrap();
    // Exit 0: every collected test passed or was skipped; 5 (nothing collected) is a failure.
    assert!(
        out.status.success(),
        "{module}: pytest exited {}\n{text}",
        out.status
    );
    let summary = text.lines().last().unwrap_or_default();
    assert!(
        summary.contains("passed"),
        "{module}: no test passed\n{text}"
    );
    println!("{module}: {summary}");
}

#[test]
fn sdk_oss2() {
    run_suite("test_oss2.py");
}

#[test]
fn sdk_alibabacloud_oss_v2() {
    run_suite("test_oss_v2.py");
}

#[test]
fn sdk_boto3() {
    run_suite("test_boto3.py");
}

#[test]
fn sdk_awscli() {
    run_suite("test_awscli.py");
}

#[test]
fn sdk_s3cmd() {
    run_suite("test_s3cmd.py");
}

/// The authorization matrix over HTTP (S3 dialect): 13 operations × 3 bucket ACLs × 5
/// callers (owner, other user, anonymous, wrong secret, unknown key), then the owner's and
/// the other user's requests with a skewed clock, presigned URLs fresh and expired (SigV4
/// and V2), and bodies changed after signing.
#[test]
fn sdk_auth_matrix_s3() {
    run_suite("test_auth_matrix.py");
}

/// The same matrix in the OSS dialect (oss2, signatures V1 and V4), skewed clocks, presigned
/// URLs and bodies changed after signing included.
#[test]
fn sdk_auth_matrix_oss() {
    run_suite("test_auth_matrix_oss.py");
}
