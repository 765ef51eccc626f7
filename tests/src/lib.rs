//! Harness for black-box tests: starts the real `ringstore` binary on a free loopback port
//! with a data directory of its own, and stops it (gracefully or with SIGKILL).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod xorshift;

pub const ACCESS_KEY_ID: &str = "RSTESTACCESSKEY00001";
pub const SECRET: &str = "test-secret-0123456789abcdefghijklmnopqrstuv";

/// The `ringstore` binary cargo built beside this test (in the profile directory, the
/// parent of a test's `deps/`) or beside a bin target of this crate.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let beside = exe.parent().expect("executable directory");
    let dir = match beside.file_name() {
        Some(name) if name == "deps" => beside.parent().expect("target profile directory"),
        _ => beside,
    };
    let bin = dir.join("ringstore");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p ringstore-tools`",
        bin.display()
    );
    bin
}

/// A directory on the build's filesystem (O_DIRECT needs a real one, not tmpfs).
pub fn scratch() -> PathBuf {
    let dir = binary().parent().expect("profile dir").join("blackbox");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Daemon {
    pub data_dir: PathBuf,
    pub endpoint: String,
    /// The Prometheus endpoint (host:port).
    pub metrics: String,
    /// The HTTP (OSS / S3) adapter (host:port); empty when started without it.
    pub http: String,
    child: Option<Child>,
    /// Where the daemon's stderr goes, when started by `start_logged`.
    log: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

impl Daemon {
    /// Starts a daemon with a fresh data directory under `target/`.
    pub fn start() -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("daemon")
            .tempdir_in(scratch())
            .unwrap();
        let mut d = Daemon::start_in(dir.path());
        d._dir = Some(dir);
        d
    }

    /// Starts a daemon with a fresh data directory and the HTTP adapter on a free port.
    pub fn start_http() -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("daemon-http")
            .tempdir_in(scratch())
            .unwrap();
        let http = Some(format!("127.0.0.1:{}", free_port()));
        let mut d = Daemon::spawn(dir.path(), http, None);
        d._dir = Some(dir);
        d
    }

    /// Starts a daemon with the HTTP adapter on a fresh data directory whose six device
    /// files are `device_size` each (for example "32MiB"; the default is 128MiB).
    pub fn start_http_sized(device_size: &str) -> Daemon {
        Daemon::start_http_sized_in(&scratch(), device_size)
    }

    /// `start_http_sized` with the data directory made under `parent` (for example a
    /// small file system mounted for the test).
    pub fn start_http_sized_in(parent: &Path, device_size: &str) -> Daemon {
        Daemon::start_http_sized_with(parent, device_size, &[])
    }

    /// `start_http_sized_in` with `extra` arguments for `ringstore serve` (for example
    /// `["--read-cache", "16MiB"]`).
    pub fn start_http_sized_with(parent: &Path, device_size: &str, extra: &[&str]) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("daemon-http")
            .tempdir_in(parent)
            .unwrap();
        let http = Some(format!("127.0.0.1:{}", free_port()));
        let mut d = Daemon::spawn_sized(dir.path(), http, None, device_size, extra);
        d._dir = Some(dir);
        d
    }

    /// Starts a daemon with debug logging, its stderr captured for `log`.
    pub fn start_logged() -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("daemon")
            .tempdir_in(scratch())
            .unwrap();
        let log = dir.path().join("daemon.log");
        let mut d = Daemon::spawn(dir.path(), None, Some(&log));
        d._dir = Some(dir);
        d
    }

    /// Everything the daemon wrote to stderr so far (`start_logged` only).
    pub fn log(&self) -> String {
        let path = self.log.as_ref().expect("started with start_logged");
        std::fs::read_to_string(path).unwrap()
    }

    /// Starts the daemon again on the same data directory (after `kill9` or `stop`).
    pub fn restart(&mut self) {
        assert!(
            self.child.is_none(),
            "stop or kill the daemon before restarting it"
        );
        let http = (!self.http.is_empty()).then(|| format!("127.0.0.1:{}", free_port()));
        let mut d = Daemon::spawn(&self.data_dir, http, None);
        self.endpoint = std::mem::take(&mut d.endpoint);
        self.metrics = std::mem::take(&mut d.metrics);
        self.http = std::mem::take(&mut d.http);
        self.child = d.child.take();
    }

    /// Starts a daemon on an existing data directory (which the caller keeps).
    pub fn start_in(data_dir: &Path) -> Daemon {
        Daemon::spawn(data_dir, None, None)
    }

    /// Starts `ringstore serve` on `data_dir`, with the HTTP adapter on `http` if given and
    /// debug logging into `log` if given.
    fn spawn(data_dir: &Path, http: Option<String>, log: Option<&Path>) -> Daemon {
        Daemon::spawn_sized(data_dir, http, log, "128MiB", &[])
    }

    /// `spawn` with device files of `device_size` (it matters only when the data directory
    /// is new: an existing device set keeps its size) and `extra` serve arguments.
    fn spawn_sized(
        data_dir: &Path,
        http: Option<String>,
        log: Option<&Path>,
        device_size: &str,
        extra: &[&str],
    ) -> Daemon {
        let level = match log {
            Some(_) => "debug".to_string(),
            None => std::env::var("RINGSTORE_TEST_LOG").unwrap_or_else(|_| "warn".into()),
        };
        let stderr = match log {
            Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
            None => Stdio::inherit(),
        };
        let port = free_port();
        let endpoint = format!("127.0.0.1:{port}");
        let metrics = format!("127.0.0.1:{}", free_port());
        let mut cmd = Command::new(binary());
        if let Some(addr) = &http {
            cmd.args(["serve", "--http-listen", addr]);
        } else {
            // Without an address the adapter would take the default port 9000, which
            // daemons of tests running side by side would fight over.
            cmd.args(["serve", "--http-listen", ""]);
        }
        let child = cmd
            .args([
                "--device-size",
                device_size,
                "--no-prefill",
                "--cores",
                "2",
                "--listen",
                &endpoint,
                "--metrics-listen",
                &metrics,
            ])
            .args(extra)
            .arg("--data-dir")
            .arg(data_dir)
            .env("RINGSTORE_ROOT_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("RINGSTORE_ROOT_SECRET_ACCESS_KEY", SECRET)
            .env("RINGSTORE_LOG", level)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start ringstore serve");
        let mut d = Daemon {
            data_dir: data_dir.to_path_buf(),
            endpoint: endpoint.clone(),
            metrics,
            http: http.clone().unwrap_or_default(),
            child: Some(child),
            log: log.map(Path::to_path_buf),
            _dir: None,
        };
        d.wait_ready(&endpoint);
        if let Some(addr) = http {
            d.wait_ready(&addr);
        }
        d
    }

    fn wait_ready(&mut self, addr: &str) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if std::net::TcpStream::connect(addr).is_ok() {
                return;
            }
            let child = self.child.as_mut().expect("daemon running");
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                panic!("ringstore serve exited ({status}) before listening on {addr}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("ringstore did not listen on {addr} within 60 s");
    }

    pub fn client_config(&self) -> ringstore_client::ClientConfig {
        ringstore_client::ClientConfig::new(self.endpoint.clone(), ACCESS_KEY_ID, SECRET)
    }

    pub async fn client(&self) -> ringstore_client::Client {
        ringstore_client::Client::connect(self.client_config())
            .await
            .expect("connect and authenticate")
    }

    /// Runs the CLI against this daemon.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_stdin(args, None)
    }

    /// Runs the CLI against this daemon with another access key.
    pub fn cli_as(&self, access_key_id: &str, secret: &str, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--access-key-id", access_key_id]);
        all.extend_from_slice(&["--secret-access-key", secret]);
        self.cli(&all)
    }

    pub fn cli_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        use std::io::Write;
        let mut child = Command::new(binary())
            .args(args)
            .env("RINGSTORE_ENDPOINT", &self.endpoint)
            .env("RINGSTORE_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("RINGSTORE_SECRET_ACCESS_KEY", SECRET)
            .env("RINGSTORE_LOG", "warn")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ringstore");
        if let Some(data) = stdin {
            child.stdin.take().unwrap().write_all(data).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("daemon running").id()
    }

    /// SIGKILL: no chance to flush or checkpoint.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM, then wait for a clean exit; returns the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("daemon running");
        // SAFETY: sending a signal to our own child process, whose pid we hold.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            if start.elapsed() > Duration::from_secs(60) {
                c.kill().unwrap();
                panic!("ringstore did not exit within 60 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// GET of a path on the daemon's metrics endpoint: (status code, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the metrics endpoint");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (code, body)
}

/// A plain put request (no metadata, no checks); the body sets the length.
pub fn put_request(bucket: &str, key: &str) -> ringstore_client::PutObject {
    ringstore_client::PutObject {
        bucket: bucket.into(),
        key: key.into(),
        content_type: String::new(),
        user_meta: Vec::new(),
        content_length: 0,
        content_md5: None,
        forbid_overwrite: false,
    }
}

/// Object sizes at the edges of blocks and of the 1 MiB chunking, for round trips.
pub const EDGE_SIZES: [usize; 8] = [
    0,
    1,
    4095,
    4096,
    4097,
    (1 << 20) - 1,
    1 << 20,
    (1 << 20) + 1,
];

/// Deterministic test content (the seed spread over the whole state first, so that small
/// seeds start far apart).
pub fn content(len: usize, seed: u64) -> Vec<u8> {
    xorshift::bytes(len, seed.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}
