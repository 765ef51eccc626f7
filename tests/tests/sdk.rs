//! SDK conformance: the real OSS and S3 SDKs and CLIs from PyPI (oss2, alibabacloud-oss-v2,
//! boto3, awscli, s3cmd; pinned in `tests/sdk/requirements.txt`) run their pytest suites in
//! `tests/sdk/` against `ringstore serve` with the HTTP adapter on a free loopback port.
//!
//! Each suite gets a daemon of its own. The venv comes from `tests/sdk/setup.sh` (created on
//! first use, reused while the requirements are unchanged). The buckets' owner is the root
//! key; a second, ordinary user for the denial tests is created with
//! `ringstore admin user create` / `admin key create`. While that command does not exist the
//! suites skip those tests, saying why. A suite passes only if pytest reports no failure and
//! no error; its whole output is in the panic message otherwise, and in
//! `target/sdk-reports/<suite>.log` either way.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ringstore_tests::{Daemon, ACCESS_KEY_ID, SECRET};

/// Region in the OSS V4 and S3 SigV4 credential scopes the SDKs send.
const OSS_REGION: &str = "cn-hangzhou";
const S3_REGION: &str = "us-east-1";
/// The ordinary user the denial tests act as.
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

/// A key of the second user, or why there is none.
enum OtherUser {
    Key { id: String, secret: String },
    Unavailable(String),
}

/// Creates the ordinary user and a key for it with the admin CLI.
fn other_user(d: &Daemon) -> OtherUser {
    let out = d.cli(&["admin", "user", "create", OTHER_USER]);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // clap answers an unknown subcommand with usage exit code 2.
        if out.status.code() == Some(2) && stderr.contains("unrecognized subcommand") {
            return OtherUser::Unavailable(format!(
                "`ringstore admin user create` is not available in this build: {}",
                stderr.lines().next().unwrap_or_default()
            ));
        }
        panic!(
            "ringstore admin user create {OTHER_USER} failed ({}): {stderr}",
            out.status
        );
    }
    let out = d.cli(&["admin", "key", "create", OTHER_USER]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ringstore admin key create {OTHER_USER} failed ({}): {stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let (id, secret) = parse_key(&stdout)
        .unwrap_or_else(|| panic!("no access key id and secret in `admin key create`: {stdout}"));
    OtherUser::Key { id, secret }
}

/// Finds the access key id and secret in the output of `admin key create`: `name = value`,
/// `name: value` or JSON, with names like access_key_id / AccessKeyId and secret_access_key.
fn parse_key(text: &str) -> Option<(String, String)> {
    let flat = text.replace([',', '{', '}'], "\n");
    let mut id = None;
    let mut secret = None;
    for line in flat.lines() {
        let Some((name, value)) = line.split_once(['=', ':']) else {
            continue;
        };
        let name: String = name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        let value = value.trim().trim_matches(['"', '\'', ' ']).to_string();
        if value.is_empty() {
            continue;
        }
        if name.contains("secret") {
            secret = Some(value);
        } else if name.contains("accesskeyid") || name == "keyid" || name == "id" {
            id = Some(value);
        }
    }
    Some((id?, secret?))
}

/// Runs one pytest module against a fresh daemon; panics with pytest's output on failure.
fn run_suite(module: &str) {
    let python = python();
    let d = Daemon::start_http();
    let mut cmd = Command::new(python);
    cmd.current_dir(repo_root().join("tests/sdk"))
        .args(["-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfEs"])
        .args(["--color=no", "--tb=short", module])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("RS_HTTP_ENDPOINT", format!("http://{}", d.http))
        .env("RS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("RS_SECRET_ACCESS_KEY", SECRET)
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
    match other_user(&d) {
        OtherUser::Key { id, secret } => {
            cmd.env("RS_OTHER_ACCESS_KEY_ID", id)
                .env("RS_OTHER_SECRET_ACCESS_KEY", secret);
        }
        OtherUser::Unavailable(reason) => {
            cmd.env("RS_OTHER_SKIP_REASON", reason);
        }
    }
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

#[test]
fn key_output_is_parsed_in_every_documented_shape() {
    let want = Some(("RSABC".to_string(), "s3cr/t+=".to_string()));
    assert_eq!(
        parse_key("access_key_id = \"RSABC\"\nsecret_access_key = \"s3cr/t+=\"\n"),
        want
    );
    assert_eq!(
        parse_key("AccessKeyId: RSABC\nSecretAccessKey: s3cr/t+=\n"),
        want
    );
    assert_eq!(
        parse_key(r#"{"user":"u","access_key_id":"RSABC","secret_access_key":"s3cr/t+="}"#),
        want
    );
    assert_eq!(parse_key("created user sdk-other\n"), None);
}
