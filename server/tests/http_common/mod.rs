//! What the HTTP adapter tests share: a real server (real engine, real files, the adapter
//! on a free port), raw HTTP/1.1 exchanges over a std `TcpStream`, and request signers
//! written from the services' documented algorithms (nothing of the server's own code).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use ringstore_server::{AccessKey, ServeConfig, Server};
use sha2::{Digest, Sha256};

pub struct Running {
    pub server: Server,
    pub key: AccessKey,
    pub http: SocketAddr,
    dir: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts a server with the adapter on a free port.
///
/// A server shared through a `static` is never dropped, so its directory outlives the
/// test process: the directories of earlier runs whose process is gone are removed here.
pub fn start(name: &str) -> Running {
    remove_stale(name);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = ServeConfig {
        data_dir: dir.clone(),
        device_size_bytes: 64 << 20,
        extent_size_bytes: 1 << 20,
        partitions: 2,
        prefill: false,
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: None,
        http_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..ServeConfig::default()
    };
    let server = ringstore_server::start(cfg).expect("server starts");
    let text = std::fs::read_to_string(dir.join("root.key")).unwrap();
    let key: AccessKey = toml::from_str(&text).unwrap();
    let http = server.http_addr().expect("adapter enabled");
    Running {
        server,
        key,
        http,
        dir,
    }
}

/// Removes `<name>-<pid>` directories of processes that no longer run.
fn remove_stale(name: &str) {
    let Ok(entries) = std::fs::read_dir(env!("CARGO_TARGET_TMPDIR")) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(name)?.strip_prefix('-')?.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A parsed response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Reply {
    /// A header's value (names compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `<Code>` of an error document.
    pub fn code(&self) -> String {
        let text = self.text();
        text.split("<Code>")
            .nth(1)
            .and_then(|t| t.split("</Code>").next())
            .unwrap_or("")
            .to_owned()
    }
}

/// Sends `request` as is and reads one response (the request should ask the server to close
/// with `Connection: close`, or the server closes after an error).
pub fn exchange(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // The server may answer and close before reading all of an oversized request.
    let _ = stream.write_all(request);
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
        if let Some(reply) = parse(&raw, request.starts_with(b"HEAD ")) {
            return reply;
        }
    }
    parse(&raw, request.starts_with(b"HEAD ")).unwrap_or_else(|| {
        panic!(
            "no complete response in {:?}",
            String::from_utf8_lossy(&raw)
        )
    })
}

/// One complete response at the start of `raw`, if there is one.
fn parse(raw: &[u8], head_request: bool) -> Option<Reply> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let reply = Reply {
        status,
        head,
        body: Vec::new(),
    };
    let len: usize = reply
        .header("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let body_start = end + 4;
    let is_head_like = head_request || status == 304 || status == 204;
    if is_head_like {
        return Some(reply);
    }
    if raw.len() < body_start + len {
        return None;
    }
    Some(Reply {
        body: raw[body_start..body_start + len].to_vec(),
        ..reply
    })
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn http_date(secs: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

/// An OSS V1 signed request: `headers` are (lowercase name, value); `resource` is
/// `/bucket/key` (decoded) plus signed sub-resources.
pub fn oss_v1(
    key: &AccessKey,
    method: &str,
    target: &str,
    resource: &str,
    headers: &[(&str, &str)],
    date_secs: u64,
    body: &[u8],
) -> Vec<u8> {
    let date = http_date(date_secs);
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| *k == n)
            .map_or("", |(_, v)| *v)
    };
    let mut oss: Vec<_> = headers
        .iter()
        .filter(|(k, _)| k.starts_with("x-oss-"))
        .collect();
    oss.sort();
    let canonical: String = oss.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let to_sign = format!(
        "{method}\n{}\n{}\n{date}\n{canonical}{resource}",
        get("content-md5"),
        get("content-type")
    );
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.secret_access_key.as_bytes()).unwrap();
    mac.update(to_sign.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nDate: {date}\r\n\
         Authorization: OSS {}:{sig}\r\n",
        key.access_key_id
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !headers
        .iter()
        .any(|(k, _)| *k == "content-length" || *k == "transfer-encoding")
    {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn hmac256(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The SigV4 signing key and the scope, for `date` (`YYYYMMDD`).
pub fn sigv4_key(key: &AccessKey, date: &str) -> (Vec<u8>, String) {
    let k = hmac256(format!("AWS4{}", key.secret_access_key).as_bytes(), date);
    let k = hmac256(&k, "us-east-1");
    let k = hmac256(&k, "s3");
    (
        hmac256(&k, "aws4_request"),
        format!("{date}/us-east-1/s3/aws4_request"),
    )
}

/// The SigV4 `Authorization` value and `x-amz-date` for a request whose path needs no
/// encoding and which has no query; `headers` are the signed ones besides host and
/// x-amz-date, lowercase and sorted.
pub fn sigv4(
    key: &AccessKey,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    payload: &str,
    amz_date: &str,
) -> (String, String, String) {
    let amz_date = amz_date.to_owned();
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    all.push(("host".into(), "test".into()));
    all.push(("x-amz-date".into(), amz_date.clone()));
    all.sort();
    let canonical_headers: String = all.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let canonical = format!("{method}\n{path}\n\n{canonical_headers}\n{signed}\n{payload}");
    let (signing, scope) = sigv4_key(key, &amz_date[..8]);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let sig = hex::encode(hmac256(&signing, &to_sign));
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope},SignedHeaders={signed},Signature={sig}",
        key.access_key_id
    );
    (auth, amz_date, sig)
}

/// The signature of the next aws-chunked chunk.
pub fn chunk_signature(key: &AccessKey, amz_date: &str, previous: &str, data: &[u8]) -> String {
    let (signing, scope) = sigv4_key(key, &amz_date[..8]);
    let to_sign = format!(
        "AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{previous}\n{}\n{}",
        sha256_hex(b""),
        sha256_hex(data)
    );
    hex::encode(hmac256(&signing, &to_sign))
}

/// Now as `YYYYMMDDTHHMMSSZ`.
pub fn compact_now() -> String {
    let d = httpdate::fmt_http_date(SystemTime::now());
    // "Tue, 01 Dec 2026 18:56:04 GMT" → 20261201T185604Z
    let parts: Vec<&str> = d.split_whitespace().collect();
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])
    .unwrap()
        + 1;
    format!(
        "{}{month:02}{}T{}Z",
        parts[3],
        parts[1],
        parts[4].replace(':', "")
    )
}
