//! The HTTP adapter against bad input, over raw bytes: smuggling, missing lengths, bad
//! URIs and keys, oversized heads, bodies and keys, malformed XML, wrong digests. Each
//! answer is a 4xx with the documented code, and the server keeps serving.

mod http_common;

use std::sync::OnceLock;

use base64::Engine as _;
use http_common::{exchange, now_secs, oss_v1, start, Reply, Running};
use md5::Digest;

const BUCKET: &str = "bad-input";

fn shared() -> &'static Running {
    static SHARED: OnceLock<Running> = OnceLock::new();
    SHARED.get_or_init(|| {
        let r = start("http-bad-input");
        let req = signed(
            &r,
            "PUT",
            &format!("/{BUCKET}"),
            &format!("/{BUCKET}/"),
            &[],
            b"",
        );
        assert_eq!(exchange(r.http, &req).status, 200);
        r
    })
}

fn signed(
    r: &Running,
    method: &str,
    target: &str,
    resource: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    oss_v1(&r.key, method, target, resource, headers, now_secs(), body)
}

fn send(req: &[u8]) -> Reply {
    let reply = exchange(shared().http, req);
    let id = reply
        .header("x-oss-request-id")
        .expect("every answer carries a request id");
    assert_eq!(id.len(), 24, "{id}");
    reply
}

/// After each bad request: a good one still works.
fn still_serving() {
    let r = shared();
    let req = signed(r, "GET", "/", "/", &[], b"");
    let reply = send(&req);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.text().contains(BUCKET));
}

fn md5_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(data))
}

#[test]
fn content_length_with_transfer_encoding_is_refused_and_the_connection_closed() {
    let req = b"GET /bad-input HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\
                Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: test\r\n\r\n";
    let reply = send(req);
    assert!((400..500).contains(&reply.status), "{reply:?}");
    assert_eq!(reply.header("connection").as_deref(), Some("close"));
    still_serving();
}

#[test]
fn uploads_without_a_length_are_bounded() {
    let r = shared();
    let target = format!("/{BUCKET}/nolen");
    let te = [("transfer-encoding", "chunked")];
    let mut req = signed(r, "PUT", &target, &target, &te, b"");
    req.extend_from_slice(b"5\r\nhello\r\n0\r\n\r\n");
    let reply = send(&req);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        send(&signed(r, "GET", &target, &target, &[], b"")).body,
        b"hello"
    );
    // Over the limit of a body without a length: 411, nothing stored.
    let big = format!("/{BUCKET}/nolen-big");
    let mut req = signed(r, "PUT", &big, &big, &te, b"");
    let chunk = vec![b'z'; 17 << 20];
    req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
    req.extend_from_slice(&chunk);
    req.extend_from_slice(b"\r\n0\r\n\r\n");
    let reply = send(&req);
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (411, "MissingContentLength")
    );
    assert_eq!(send(&signed(r, "GET", &big, &big, &[], b"")).status, 404);
    still_serving();
}

#[test]
fn bad_uris_and_keys_are_400() {
    let r = shared();
    for (path, code) in [
        ("/bad-input/%zz", "InvalidURI"),
        ("/bad-input/a%2", "InvalidURI"),
        ("/bad-input/%ff%fe", "InvalidURI"),
        ("/bad-input/a/../b", "InvalidObjectName"),
        ("/bad-input/./b", "InvalidObjectName"),
    ] {
        let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        let reply = send(req.as_bytes());
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (400, code),
            "{path}: {}",
            reply.text()
        );
    }
    let long_key = format!("/{BUCKET}/{}", "k".repeat(1024));
    let reply = send(&signed(r, "PUT", &long_key, &long_key, &[], b"x"));
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (400, "InvalidObjectName")
    );
    let long_uri = format!(
        "GET /{BUCKET}/{} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "u".repeat(20_000)
    );
    assert_eq!(send(long_uri.as_bytes()).code(), "InvalidURI");
    still_serving();
}

#[test]
fn oversized_heads_and_garbage_are_refused() {
    let big = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "b".repeat(40_000)
    );
    let reply = send(big.as_bytes());
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (400, "RequestHeaderSectionTooLarge")
    );
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "b".repeat(1 << 20)
    );
    let reply = exchange(shared().http, huge.as_bytes());
    assert!((400..500).contains(&reply.status), "{reply:?}");
    let reply = exchange(shared().http, b"HELLO THERE\r\n\r\n");
    assert_eq!(reply.status, 400);
    still_serving();
}

#[test]
fn uploads_over_5_gib_are_entity_too_large() {
    let r = shared();
    let target = format!("/{BUCKET}/huge");
    let len = (5u64 << 30) + 1;
    let len = len.to_string();
    let req = signed(r, "PUT", &target, &target, &[("content-length", &len)], b"");
    let reply = send(&req);
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (400, "EntityTooLarge"),
        "{reply:?}"
    );
    still_serving();
}

#[test]
fn malformed_xml_is_refused() {
    let r = shared();
    let body = b"<Delete><Object><Key>a</Key></Delete>";
    let md5 = md5_b64(body);
    let target = format!("/{BUCKET}?delete");
    let resource = format!("/{BUCKET}/?delete");
    let reply = send(&signed(
        r,
        "POST",
        &target,
        &resource,
        &[("content-md5", &md5)],
        body,
    ));
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (400, "MalformedXML"),
        "{}",
        reply.text()
    );
    let body = b"<CreateBucketConfiguration><StorageClass>";
    let reply = send(&signed(r, "PUT", "/bad-xml", "/bad-xml/", &[], body));
    assert_eq!(reply.code(), "MalformedXML");
    // Without Content-MD5 OSS refuses a multiple delete.
    let body = b"<Delete><Object><Key>a</Key></Object></Delete>";
    let reply = send(&signed(r, "POST", &target, &resource, &[], body));
    assert_eq!(reply.status, 400);
    still_serving();
}

#[test]
fn wrong_digests_store_nothing() {
    let r = shared();
    let target = format!("/{BUCKET}/digest");
    let reply = send(&signed(
        r,
        "PUT",
        &target,
        &target,
        &[("content-md5", "not base64!")],
        b"data",
    ));
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (400, "InvalidDigest")
    );
    let wrong = md5_b64(b"other");
    let reply = send(&signed(
        r,
        "PUT",
        &target,
        &target,
        &[("content-md5", &wrong)],
        b"data",
    ));
    // OSS (this request is OSS-signed) has no BadDigest: a Content-MD5 that differs from
    // the body is InvalidDigest.
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (400, "InvalidDigest"),
        "{}",
        reply.text()
    );
    let reply = send(&signed(r, "GET", &target, &target, &[], b""));
    assert_eq!((reply.status, reply.code().as_str()), (404, "NoSuchKey"));
    let right = md5_b64(b"data");
    let reply = send(&signed(
        r,
        "PUT",
        &target,
        &target,
        &[("content-md5", &right)],
        b"data",
    ));
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("etag").unwrap(),
        format!("\"{}\"", hex::encode_upper(md5::Md5::digest(b"data")))
    );
}

#[test]
fn ranges_and_conditions() {
    let r = shared();
    let target = format!("/{BUCKET}/ranged");
    assert_eq!(
        send(&signed(r, "PUT", &target, &target, &[], b"0123456789")).status,
        200
    );
    for (range, status, body) in [
        ("bytes=2-4", 206, "234"),
        ("bytes=7-", 206, "789"),
        ("bytes=-3", 206, "789"),
        ("bytes=5-2", 200, "0123456789"),
    ] {
        let reply = send(&signed(
            r,
            "GET",
            &target,
            &target,
            &[("range", range)],
            b"",
        ));
        assert_eq!(
            (reply.status, reply.text().as_str()),
            (status, body),
            "{range}"
        );
    }
    let reply = send(&signed(
        r,
        "GET",
        &target,
        &target,
        &[("range", "bytes=20-")],
        b"",
    ));
    assert_eq!((reply.status, reply.code().as_str()), (416, "InvalidRange"));
    let etag = send(&signed(r, "HEAD", &target, &target, &[], b""))
        .header("etag")
        .unwrap();
    let reply = send(&signed(
        r,
        "GET",
        &target,
        &target,
        &[("if-none-match", &etag)],
        b"",
    ));
    assert_eq!(reply.status, 304);
    let reply = send(&signed(
        r,
        "GET",
        &target,
        &target,
        &[("if-match", "\"00\"")],
        b"",
    ));
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (412, "PreconditionFailed")
    );
    let with_override = format!("{target}?response-content-type=text%2Fx-test");
    let resource = format!("{target}?response-content-type=text/x-test");
    let reply = send(&signed(r, "GET", &with_override, &resource, &[], b""));
    assert_eq!(reply.header("content-type").as_deref(), Some("text/x-test"));
}

#[test]
fn expect_100_continue_is_answered_before_the_body() {
    use std::io::{Read, Write};
    let r = shared();
    let target = format!("/{BUCKET}/continued");
    let head = signed(
        r,
        "PUT",
        &target,
        &target,
        &[("expect", "100-continue"), ("content-length", "5")],
        b"",
    );
    let mut stream = std::net::TcpStream::connect(r.http).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    stream.write_all(&head).unwrap();
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"hello").unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(
        rest.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&rest)
    );
    assert_eq!(
        send(&signed(r, "GET", &target, &target, &[], b"")).body,
        b"hello"
    );
    // A request refused on its head (a wrong signature) gets its answer without a 100.
    let wrong = ringstore_server::AccessKey {
        access_key_id: r.key.access_key_id.clone(),
        secret_access_key: "wrong".into(),
    };
    let headers = [("expect", "100-continue"), ("content-length", "5")];
    let req = oss_v1(&wrong, "PUT", &target, &target, &headers, now_secs(), b"");
    let mut stream = std::net::TcpStream::connect(r.http).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    stream.write_all(&req).unwrap();
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 403");
}
