//! Signatures over raw bytes: what a wrong, unknown, stale or expired one gets, HEAD
//! errors, unsupported operations, and aws-chunked uploads (signed chunks, unsigned with a
//! trailing checksum) whose bad chunk or checksum stores nothing.

mod http_common;

use std::sync::OnceLock;

use base64::Engine as _;
use http_common::{
    chunk_signature, compact_now, exchange, now_secs, oss_v1, sigv4, start, Reply, Running,
};
use ringstore_server::AccessKey;

const BUCKET: &str = "sigs";

fn shared() -> &'static Running {
    static SHARED: OnceLock<Running> = OnceLock::new();
    SHARED.get_or_init(|| {
        let r = start("http-signatures");
        let req = oss_v1(&r.key, "PUT", "/sigs", "/sigs/", &[], now_secs(), b"");
        assert_eq!(exchange(r.http, &req).status, 200);
        r
    })
}

fn send(req: &[u8]) -> Reply {
    exchange(shared().http, req)
}

#[test]
fn wrong_unknown_stale_and_missing_signatures() {
    let r = shared();
    let reply = send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!((reply.status, reply.code().as_str()), (403, "AccessDenied"));
    let wrong = AccessKey {
        access_key_id: r.key.access_key_id.clone(),
        secret_access_key: "not-the-secret".into(),
    };
    let reply = send(&oss_v1(&wrong, "GET", "/", "/", &[], now_secs(), b""));
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (403, "SignatureDoesNotMatch")
    );
    assert!(
        reply.text().contains("<StringToSign>GET\n"),
        "{}",
        reply.text()
    );
    let unknown = AccessKey {
        access_key_id: "RSNOSUCHKEY000000000".into(),
        secret_access_key: "x".into(),
    };
    let reply = send(&oss_v1(&unknown, "GET", "/", "/", &[], now_secs(), b""));
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (403, "InvalidAccessKeyId")
    );
    let reply = send(&oss_v1(
        &r.key,
        "GET",
        "/",
        "/",
        &[],
        now_secs() - 20 * 60,
        b"",
    ));
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (403, "RequestTimeTooSkewed")
    );
    // A presigned URL whose Expires has passed.
    let expires = now_secs() - 10;
    let to_sign = format!("GET\n\n\n{expires}\n/sigs/k");
    let sig = {
        use hmac::Mac;
        let mut mac =
            hmac::Hmac::<sha1::Sha1>::new_from_slice(r.key.secret_access_key.as_bytes()).unwrap();
        mac.update(to_sign.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    };
    let sig: String = sig
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let req = format!(
        "GET /sigs/k?OSSAccessKeyId={}&Expires={expires}&Signature={sig} HTTP/1.1\r\nHost: t\r\n\
         Connection: close\r\n\r\n",
        r.key.access_key_id
    );
    let reply = send(req.as_bytes());
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (403, "AccessDenied"),
        "{}",
        reply.text()
    );
    assert!(reply.text().contains("expired"));
}

#[test]
fn head_errors_and_unsupported_operations() {
    let r = shared();
    let reply = send(&oss_v1(
        &r.key,
        "HEAD",
        "/sigs/none",
        "/sigs/none",
        &[],
        now_secs(),
        b"",
    ));
    assert_eq!(reply.status, 404);
    let err = reply
        .header("x-oss-err")
        .expect("HEAD errors carry x-oss-err");
    let xml = base64::engine::general_purpose::STANDARD
        .decode(err)
        .unwrap();
    assert!(String::from_utf8(xml)
        .unwrap()
        .contains("<Code>NoSuchKey</Code>"));
    let reply = send(&oss_v1(
        &r.key,
        "GET",
        "/sigs?lifecycle",
        "/sigs/?lifecycle",
        &[],
        now_secs(),
        b"",
    ));
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (501, "NotImplemented")
    );
    let reply = send(&oss_v1(
        &r.key,
        "POST",
        "/sigs/k?uploads",
        "/sigs/k?uploads",
        &[],
        now_secs(),
        b"",
    ));
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (501, "NotImplemented")
    );
}

/// A SigV4 request with an aws-chunked body, and its seed signature.
fn chunked_put(
    key: &str,
    payload: &str,
    extra: &[(&str, &str)],
    decoded: usize,
    body: &[u8],
    date: &str,
) -> (Vec<u8>, String) {
    let r = shared();
    let path = format!("/{BUCKET}/{key}");
    let decoded = decoded.to_string();
    let mut headers = vec![
        ("content-encoding", "aws-chunked"),
        ("x-amz-content-sha256", payload),
        ("x-amz-decoded-content-length", decoded.as_str()),
    ];
    headers.extend_from_slice(extra);
    headers.sort();
    let (auth, date, seed) = sigv4(&r.key, "PUT", &path, &headers, payload, date);
    let mut req = format!(
        "PUT {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nx-amz-date: {date}\r\n\
         Authorization: {auth}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in &headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    (bytes, seed)
}

fn get(key: &str) -> Reply {
    let r = shared();
    let target = format!("/{BUCKET}/{key}");
    send(&oss_v1(
        &r.key,
        "GET",
        &target,
        &target,
        &[],
        now_secs(),
        b"",
    ))
}

fn crc32_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(data).to_be_bytes())
}

#[test]
fn unsigned_chunks_with_a_trailing_checksum() {
    let data = b"hello chunked world";
    let trailer = [("x-amz-trailer", "x-amz-checksum-crc32")];
    let payload = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
    let body = |crc: &str| {
        format!(
            "a\r\n{}\r\n9\r\n{}\r\n0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n",
            std::str::from_utf8(&data[..10]).unwrap(),
            std::str::from_utf8(&data[10..]).unwrap()
        )
        .into_bytes()
    };
    let date = compact_now();
    let (bad, _) = chunked_put(
        "trailer",
        payload,
        &trailer,
        data.len(),
        &body("AAAAAA=="),
        &date,
    );
    let reply = send(&bad);
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (400, "BadDigest"),
        "{}",
        reply.text()
    );
    assert_eq!(
        get("trailer").status,
        404,
        "a failed checksum stores nothing"
    );
    let crc = crc32_b64(data);
    let (good, _) = chunked_put("trailer", payload, &trailer, data.len(), &body(&crc), &date);
    let reply = send(&good);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("x-amz-checksum-crc32"), Some(crc32_b64(data)));
    assert_eq!(get("trailer").body, data);
}

#[test]
fn signed_chunks_verify_and_a_tampered_chunk_fails() {
    let r = shared();
    let payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
    let chunks: [&[u8]; 2] = [&[b'a'; 70_000], b"tail"];
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    let date = compact_now();
    let build = |tamper: bool| {
        // The seed signature covers the head only, so it is known before the body.
        let (_, seed) = chunked_put("signed", payload, &[], total, b"", &date);
        let mut body = Vec::new();
        let mut previous = seed;
        for c in chunks.iter().copied().chain([&b""[..]]) {
            let sig = chunk_signature(&r.key, &date, &previous, c);
            body.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", c.len()).as_bytes());
            let mut data = c.to_vec();
            if tamper && c.len() == 4 {
                data[0] ^= 1;
            }
            body.extend_from_slice(&data);
            body.extend_from_slice(b"\r\n");
            previous = sig;
        }
        chunked_put("signed", payload, &[], total, &body, &date).0
    };
    let reply = send(&build(false));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(get("signed").body.len(), total);
    let reply = send(&build(true));
    assert_eq!(reply.code(), "SignatureDoesNotMatch", "{}", reply.text());
}

#[test]
fn anonymous_callers_get_what_bucket_and_object_acls_allow() {
    let r = shared();
    let now = now_secs();
    let acl = [("x-oss-acl", "public-read")];
    assert_eq!(
        send(&oss_v1(
            &r.key,
            "PUT",
            "/sigs-public",
            "/sigs-public/",
            &acl,
            now,
            b""
        ))
        .status,
        200
    );
    let target = "/sigs-public/k";
    assert_eq!(
        send(&oss_v1(&r.key, "PUT", target, target, &[], now, b"open")).status,
        200
    );
    let anonymous = |method: &str| {
        let req = format!("{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx");
        send(req.as_bytes())
    };
    let got = anonymous("GET");
    assert_eq!((got.status, got.body.as_slice()), (200, &b"open"[..]));
    assert_eq!(anonymous("PUT").code(), "AccessDenied");
    // A private object in the public bucket.
    let private = [("x-oss-object-acl", "private")];
    let sub = format!("{target}?acl");
    assert_eq!(
        send(&oss_v1(&r.key, "PUT", &sub, &sub, &private, now, b"")).status,
        200
    );
    assert_eq!(anonymous("GET").code(), "AccessDenied");
    let reply = send(&oss_v1(&r.key, "GET", &sub, &sub, &[], now, b""));
    assert!(
        reply.text().contains("<Grant>private</Grant>"),
        "{}",
        reply.text()
    );
}

#[test]
fn copy_object_streams_the_source() {
    let r = shared();
    let now = now_secs();
    let data = vec![7u8; 300_000];
    let src = "/sigs/copy-src";
    let meta = [("x-oss-meta-color", "blue")];
    assert_eq!(
        send(&oss_v1(&r.key, "PUT", src, src, &meta, now, &data)).status,
        200
    );
    let dst = "/sigs/copy-dst";
    let copy = [("x-oss-copy-source", "/sigs/copy-src")];
    let reply = send(&oss_v1(&r.key, "PUT", dst, dst, &copy, now, b""));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.text().contains("<CopyObjectResult>"));
    let got = send(&oss_v1(&r.key, "GET", dst, dst, &[], now, b""));
    assert_eq!(got.body, data);
    assert_eq!(got.header("x-oss-meta-color").as_deref(), Some("blue"));
    let missing = [("x-oss-copy-source", "/sigs/none")];
    assert_eq!(
        send(&oss_v1(&r.key, "PUT", dst, dst, &missing, now, b"")).code(),
        "NoSuchKey"
    );
}
