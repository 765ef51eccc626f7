//! Raw-byte protocol tests against a real server (real engine, real files): a std
//! `TcpStream` and the proto crate's encoders and decoders, nothing of the server's.
//!
//! Most tests share one server; every test that breaks a connection checks afterwards that
//! a new, well-behaved connection still works.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use bytes::BytesMut;
use ringstore_proto::constants::{AUTH_PROOF_CONTEXT, CHUNK_BYTES_MAX, FRAME_BODY_BYTES_MAX};
use ringstore_proto::frame::{OFFSET_BODY_LEN, OFFSET_HEADER_CRC32C};
use ringstore_proto::{
    encode_frame, encode_message_frame, AdminJson, AdminStatus, Auth, Body, Challenge,
    CreateBucket, DecodeError, Flags, Frame, FrameDecoder, FrameHeader, GetObject,
    GetObjectResponse, Hello, ListObjects, ListPage, ObjectMeta, Opcode, Ping, PutObject,
    RangeSpec, ScrubPause, ScrubStart, ScrubStatus, Status,
};
use ringstore_server::{AccessKey, ServeConfig, Server};

const BUCKET: &str = "protocol-tests";

struct Shared {
    server: Server,
    key: AccessKey,
}

fn config(data_dir: PathBuf) -> ServeConfig {
    ServeConfig {
        data_dir,
        device_size_bytes: 64 << 20,
        extent_size_bytes: 1 << 20,
        partitions: 2,
        prefill: false,
        listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: None,
        metrics_listen: None,
        ..ServeConfig::default()
    }
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn root_key(data_dir: &Path) -> AccessKey {
    let text = std::fs::read_to_string(data_dir.join("root.key")).unwrap();
    toml::from_str(&text).unwrap()
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let dir = fresh_dir("protocol");
        let server = ringstore_server::start(config(dir.clone())).expect("server starts");
        let shared = Shared {
            server,
            key: root_key(&dir),
        };
        let mut c = Client::connect(shared.server.local_addr());
        c.handshake(&shared.key);
        let create = CreateBucket {
            name: BUCKET.into(),
            region: "local".into(),
            acl: ringstore_proto::Acl::Private,
            storage_class: ringstore_proto::StorageClass::Standard,
        };
        let reply = c.call(Opcode::CreateBucket, 1, &create);
        assert_eq!(reply.header.status(), Ok(Status::Ok));
        shared
    })
}

struct Client {
    stream: TcpStream,
    decoder: FrameDecoder,
    buf: BytesMut,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Client {
            stream,
            decoder: FrameDecoder::new(),
            buf: BytesMut::new(),
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn send(&mut self, header: FrameHeader, body: &[u8]) {
        let mut out = BytesMut::new();
        encode_frame(&header, body, &mut out);
        self.send_raw(&out);
    }

    fn send_message(&mut self, header: FrameHeader, message: &impl Body) {
        let mut out = BytesMut::new();
        encode_message_frame(&header, message, &mut out).unwrap();
        self.send_raw(&out);
    }

    /// The next frame, or `None` when the server closed the connection.
    fn recv(&mut self) -> Option<Frame> {
        loop {
            if let Some(frame) = self.decoder.decode(&mut self.buf).unwrap() {
                return Some(frame);
            }
            let mut scratch = [0u8; 64 * 1024];
            match self.stream.read(&mut scratch) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&scratch[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }

    fn call(&mut self, opcode: Opcode, id: u64, message: &impl Body) -> Frame {
        self.send_message(FrameHeader::request(opcode.code(), id), message);
        self.recv().expect("a response")
    }

    fn hello(&mut self, access_key_id: &str) -> ([u8; 32], Challenge) {
        let client_nonce: [u8; 32] = rand::random();
        let hello = Hello {
            access_key_id: access_key_id.into(),
            client_nonce,
        };
        let reply = self.call(Opcode::Hello, 1, &hello);
        assert_eq!(reply.header.status(), Ok(Status::Ok));
        (client_nonce, Challenge::decode(&reply.body).unwrap())
    }

    fn auth(&mut self, id: &str, secret: &str, nonces: ([u8; 32], [u8; 32])) -> Frame {
        let proof = proof(secret, id, &nonces.0, &nonces.1);
        self.call(Opcode::Auth, 2, &Auth { proof })
    }

    fn handshake(&mut self, key: &AccessKey) {
        let (client_nonce, challenge) = self.hello(&key.access_key_id);
        assert_eq!(challenge.requests_in_flight_max, 64);
        let route = challenge.route;
        assert!(route.executor < route.executors, "{route:?}");
        assert!(route.partitions >= route.executors, "{route:?}");
        let nonces = (client_nonce, challenge.server_nonce);
        let reply = self.auth(&key.access_key_id, &key.secret_access_key, nonces);
        assert_eq!(reply.header.status(), Ok(Status::Ok));
        assert!(reply.body.is_empty());
    }

    fn expect_closed(&mut self) {
        assert_eq!(
            self.recv(),
            None,
            "the server should have closed the connection"
        );
    }

    fn expect_error(&mut self, opcode: u16, id: u64, status: Status) -> String {
        let frame = self.recv().expect("an error response");
        assert_eq!(frame.header.status(), Ok(status), "{frame:?}");
        assert_eq!((frame.header.opcode, frame.header.request_id), (opcode, id));
        assert!(frame.header.is_response() && !frame.header.has_more());
        String::from_utf8(frame.body.to_vec()).unwrap()
    }
}

fn proof(secret: &str, id: &str, client: &[u8; 32], server: &[u8; 32]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(AUTH_PROOF_CONTEXT);
    mac.update(client);
    mac.update(server);
    mac.update(id.as_bytes());
    mac.finalize().into_bytes().into()
}

/// A connection authenticated with the root key.
fn ready() -> Client {
    let s = shared();
    let mut c = Client::connect(s.server.local_addr());
    c.handshake(&s.key);
    c
}

/// A new connection still completes the handshake and answers a ping.
fn assert_healthy() {
    let mut c = ready();
    let reply = c.call(Opcode::Ping, 9, &Ping);
    assert_eq!(reply.header.status(), Ok(Status::Ok));
}

fn frame_bytes(header: FrameHeader, body: &[u8]) -> BytesMut {
    let mut out = BytesMut::new();
    encode_frame(&header, body, &mut out);
    out
}

#[test]
fn handshake_and_ping() {
    let mut c = ready();
    for id in 3..6 {
        let reply = c.call(Opcode::Ping, id, &Ping);
        assert_eq!(reply.header.status(), Ok(Status::Ok));
        assert_eq!(reply.header.request_id, id);
    }
}

#[test]
fn wrong_secret_is_denied_and_closed() {
    let s = shared();
    let mut c = Client::connect(s.server.local_addr());
    let (client_nonce, challenge) = c.hello(&s.key.access_key_id);
    let reply = c.auth(
        &s.key.access_key_id,
        "not-the-secret",
        (client_nonce, challenge.server_nonce),
    );
    assert_eq!(reply.header.status(), Ok(Status::AccessDenied));
    c.expect_closed();
    // An unknown key id is denied the same way.
    let mut c = Client::connect(s.server.local_addr());
    let (client_nonce, challenge) = c.hello("RSNOSUCHKEY");
    let nonces = (client_nonce, challenge.server_nonce);
    let reply = c.auth("RSNOSUCHKEY", &s.key.secret_access_key, nonces);
    assert_eq!(reply.header.status(), Ok(Status::AccessDenied));
    c.expect_closed();
    assert_healthy();
}

#[test]
fn request_before_auth_is_refused_and_closed() {
    let mut c = Client::connect(shared().server.local_addr());
    c.send_message(FrameHeader::request(Opcode::Ping.code(), 7), &Ping);
    c.expect_error(Opcode::Ping.code(), 7, Status::NotAuthenticated);
    c.expect_closed();
    // A request between Hello and Auth too.
    let mut c = Client::connect(shared().server.local_addr());
    c.hello(&shared().key.access_key_id);
    c.send_message(FrameHeader::request(Opcode::Ping.code(), 8), &Ping);
    c.expect_error(Opcode::Ping.code(), 8, Status::NotAuthenticated);
    c.expect_closed();
    assert_healthy();
}

#[test]
fn foreign_protocol_is_closed_without_answer() {
    let mut c = Client::connect(shared().server.local_addr());
    c.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    c.expect_closed();
    assert_healthy();
}

#[test]
fn bad_header_checksum_is_closed_without_answer() {
    let mut c = ready();
    let mut frame = frame_bytes(FrameHeader::request(Opcode::Ping.code(), 3), b"");
    frame[OFFSET_HEADER_CRC32C] ^= 1;
    c.send_raw(&frame);
    c.expect_closed();
    assert_healthy();
}

/// The header was trusted, so the server says why before closing.
fn expect_connection_error(c: &mut Client) {
    let message = c.expect_error(0, 0, Status::BadRequest);
    assert!(message.contains("frame error"), "{message}");
    c.expect_closed();
}

#[test]
fn bad_body_checksum_gets_a_connection_error() {
    let mut c = ready();
    let mut frame = frame_bytes(FrameHeader::request(Opcode::Ping.code(), 3), b"xy");
    let last = frame.len() - 1;
    frame[last] ^= 1;
    c.send_raw(&frame);
    expect_connection_error(&mut c);
    assert_healthy();
}

#[test]
fn oversized_body_gets_a_connection_error_before_the_body() {
    let mut c = ready();
    let mut frame = frame_bytes(FrameHeader::request(Opcode::Ping.code(), 3), b"");
    let len = (FRAME_BODY_BYTES_MAX as u32 + 1).to_le_bytes();
    frame[OFFSET_BODY_LEN..OFFSET_BODY_LEN + 4].copy_from_slice(&len);
    let crc = crc32c(&frame[..OFFSET_HEADER_CRC32C]);
    frame[OFFSET_HEADER_CRC32C..OFFSET_HEADER_CRC32C + 4].copy_from_slice(&crc.to_le_bytes());
    assert!(matches!(
        FrameDecoder::new().decode(&mut frame.clone()),
        Err(DecodeError::BodyTooLarge { .. })
    ));
    c.send_raw(&frame);
    expect_connection_error(&mut c);
    // Before authentication as well.
    let mut c = Client::connect(shared().server.local_addr());
    c.send_raw(&frame);
    expect_connection_error(&mut c);
    assert_healthy();
}

fn crc32c(bytes: &[u8]) -> u32 {
    // CRC-32C (Castagnoli), bitwise: the test must not share the server's implementation.
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn truncated_frame_then_close() {
    let mut c = ready();
    let frame = frame_bytes(FrameHeader::request(Opcode::Ping.code(), 3), b"body");
    c.send_raw(&frame[..20]);
    c.stream.shutdown(Shutdown::Write).unwrap();
    c.expect_closed();
    let mut c = ready();
    c.send_raw(&frame[..frame.len() - 1]);
    c.stream.shutdown(Shutdown::Write).unwrap();
    c.expect_closed();
    assert_healthy();
}

#[test]
fn unknown_opcode_keeps_the_connection() {
    let mut c = ready();
    c.send(FrameHeader::request(0x0E77, 11), b"whatever");
    let message = c.expect_error(0x0E77, 11, Status::UnknownOpcode);
    assert!(message.contains("0x0e77"), "{message}");
    let reply = c.call(Opcode::Ping, 12, &Ping);
    assert_eq!(reply.header.status(), Ok(Status::Ok));
    assert_healthy();
}

#[test]
fn chunk_without_upload_is_a_bad_request_and_closes() {
    let mut c = ready();
    c.send(
        FrameHeader::chunk(Opcode::PutObject.code(), 40, false, true),
        b"x",
    );
    c.expect_error(Opcode::PutObject.code(), 40, Status::BadRequest);
    c.expect_closed();
    assert_healthy();
}

fn put(c: &mut Client, id: u64, key: &str, data: &[u8], chunk: usize) -> Frame {
    let message = PutObject {
        bucket: BUCKET.into(),
        key: key.into(),
        content_type: "application/octet-stream".into(),
        user_meta: vec![("k".into(), "v".into())],
        content_length: data.len() as u64,
        content_md5: None,
        forbid_overwrite: false,
    };
    let header = FrameHeader::request(Opcode::PutObject.code(), id).more(!data.is_empty());
    c.send_message(header, &message);
    let pieces: Vec<&[u8]> = data.chunks(chunk).collect();
    for (i, piece) in pieces.iter().enumerate() {
        let more = i + 1 < pieces.len();
        c.send(
            FrameHeader::chunk(Opcode::PutObject.code(), id, false, more),
            piece,
        );
    }
    c.recv().expect("a put response")
}

/// A GetObject's response message and its body, checking the streaming rules.
fn get(c: &mut Client, id: u64, key: &str, range: Option<RangeSpec>) -> (Frame, Vec<u8>) {
    let message = GetObject {
        bucket: BUCKET.into(),
        key: key.into(),
        range,
    };
    let reply = c.call(Opcode::GetObject, id, &message);
    let mut body = Vec::new();
    if reply.header.status() != Ok(Status::Ok) {
        return (reply, body);
    }
    let response = GetObjectResponse::decode(&reply.body).unwrap();
    assert_eq!(reply.header.has_more(), response.range_len > 0);
    let mut more = reply.header.has_more();
    while more {
        let chunk = c.recv().expect("a chunk");
        assert!(chunk.header.is_chunk() && chunk.header.is_response());
        assert_eq!(chunk.header.status(), Ok(Status::Ok));
        assert_eq!(chunk.header.request_id, id);
        assert!(!chunk.body.is_empty() && chunk.body.len() <= CHUNK_BYTES_MAX);
        body.extend_from_slice(&chunk.body);
        more = chunk.header.has_more();
    }
    assert_eq!(body.len() as u64, response.range_len);
    (reply, body)
}

#[test]
fn put_get_round_trips() {
    let mut c = ready();
    let mut id = 100;
    for size in [0usize, 1, 5000, 3 << 20] {
        let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        let key = format!("round-trip/{size}");
        id += 2;
        let reply = put(&mut c, id, &key, &data, 256 * 1024);
        assert_eq!(reply.header.status(), Ok(Status::Ok), "{reply:?}");
        let meta = ObjectMeta::decode(&reply.body).unwrap();
        assert_eq!(meta.size, size as u64);
        let (reply, body) = get(&mut c, id + 1, &key, None);
        let got = GetObjectResponse::decode(&reply.body).unwrap();
        assert_eq!(got.meta.etag, meta.etag);
        assert_eq!(got.meta.user_meta, vec![("k".to_string(), "v".to_string())]);
        assert!(body == data, "{size} bytes differ");
    }
    let (reply, body) = get(
        &mut c,
        200,
        "round-trip/5000",
        Some(RangeSpec::FromTo(10, 19)),
    );
    let got = GetObjectResponse::decode(&reply.body).unwrap();
    assert_eq!((got.range_start, got.range_len), (10, 10));
    assert_eq!(
        body,
        (10..20).map(|i| (i * 31 % 251) as u8).collect::<Vec<_>>()
    );
    let (reply, _) = get(&mut c, 201, "round-trip/none", None);
    assert_eq!(reply.header.status(), Ok(Status::NoSuchKey));
    let list = ListObjects {
        bucket: BUCKET.into(),
        prefix: "round-trip/".into(),
        delimiter: String::new(),
        marker: String::new(),
        max_keys: 0,
    };
    let reply = c.call(Opcode::ListObjects, 202, &list);
    let page = ListPage::decode(&reply.body).unwrap();
    assert_eq!(page.objects.len(), 4);
}

#[test]
fn cancelled_and_overlong_uploads_store_nothing() {
    let mut c = ready();
    let op = Opcode::PutObject.code();
    let message = PutObject {
        bucket: BUCKET.into(),
        key: "cancelled".into(),
        content_type: String::new(),
        user_meta: vec![],
        content_length: 10,
        content_md5: None,
        forbid_overwrite: false,
    };
    c.send_message(FrameHeader::request(op, 50).more(true), &message);
    c.send(FrameHeader::chunk(op, 50, false, true), b"abc");
    c.send(FrameHeader::chunk(op, 50, false, false), b"");
    c.expect_error(op, 50, Status::IncompleteBody);
    c.send_message(FrameHeader::request(op, 51).more(true), &message);
    c.send(FrameHeader::chunk(op, 51, false, false), b"0123456789AB");
    c.expect_error(op, 51, Status::IncompleteBody);
    let (reply, _) = get(&mut c, 52, "cancelled", None);
    assert_eq!(reply.header.status(), Ok(Status::NoSuchKey));
    // Rejected early (no bucket): the rest of the chunks are discarded, the connection lives.
    let message = PutObject {
        bucket: "no-such-bucket".into(),
        ..message
    };
    c.send_message(FrameHeader::request(op, 53).more(true), &message);
    c.send(FrameHeader::chunk(op, 53, false, true), b"01234");
    c.send(FrameHeader::chunk(op, 53, false, false), b"56789");
    c.expect_error(op, 53, Status::NoSuchBucket);
    let reply = c.call(Opcode::Ping, 54, &Ping);
    assert_eq!(reply.header.status(), Ok(Status::Ok));
}

#[test]
fn admin_status_is_json_and_scrub_runs_on_request() {
    let mut c = ready();
    let reply = c.call(Opcode::AdminStatus, 60, &AdminStatus::default());
    assert_eq!(reply.header.status(), Ok(Status::Ok));
    let doc: serde_json::Value =
        serde_json::from_str(&AdminJson::decode(&reply.body).unwrap().json).unwrap();
    assert_eq!(doc["devices"]["count"], 6);
    assert_eq!(doc["partitions"].as_array().unwrap().len(), 2);
    assert!(doc["counters"]["puts"].is_u64());
    assert_eq!(doc["background"]["workers"]["scrub"]["enabled"], true);
    let json = |reply: &Frame| -> serde_json::Value {
        serde_json::from_str(&AdminJson::decode(&reply.body).unwrap().json).unwrap()
    };
    let bad = ScrubStart {
        json: "{\"rate\":1}".into(),
    };
    let reply = c.call(Opcode::ScrubStart, 61, &bad);
    assert_eq!(reply.header.status(), Ok(Status::BadRequest));
    let start = ScrubStart {
        json: "{\"rate_bytes_per_sec\":1048576}".into(),
    };
    let reply = c.call(Opcode::ScrubStart, 62, &start);
    assert_eq!(reply.header.status(), Ok(Status::Ok));
    assert_eq!(json(&reply)["rate_bytes_per_sec"], 1_048_576);
    // Both partitions finish a pass over the (nearly empty) set; bounded wait.
    let mut passes = 0;
    for i in 0..500u32 {
        let reply = c.call(Opcode::ScrubStatus, 63 + i as u64, &ScrubStatus::default());
        assert_eq!(reply.header.status(), Ok(Status::Ok));
        passes = json(&reply)["passes"].as_u64().unwrap();
        if passes >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(passes >= 2, "every partition finished a scrub pass");
    let reply = c.call(Opcode::ScrubPause, 600, &ScrubPause::default());
    assert_eq!(reply.header.status(), Ok(Status::Ok));
    assert_eq!(json(&reply)["paused"], true);
    assert_eq!(json(&reply)["corrupt_blocks"], 0);
}

#[test]
fn data_survives_a_restart() {
    let dir = fresh_dir("restart");
    let server = ringstore_server::start(config(dir.clone())).unwrap();
    let key = root_key(&dir);
    let mut c = Client::connect(server.local_addr());
    c.handshake(&key);
    let create = CreateBucket {
        name: BUCKET.into(),
        region: "local".into(),
        acl: ringstore_proto::Acl::Default,
        storage_class: ringstore_proto::StorageClass::Standard,
    };
    assert_eq!(
        c.call(Opcode::CreateBucket, 3, &create).header.status(),
        Ok(Status::Ok)
    );
    let reply = put(&mut c, 4, "kept", b"hello", 2);
    assert_eq!(reply.header.status(), Ok(Status::Ok));
    drop(c);
    server.shutdown();
    let server = ringstore_server::start(config(dir.clone())).unwrap();
    assert_eq!(root_key(&dir), key);
    let mut c = Client::connect(server.local_addr());
    c.handshake(&key);
    let (_, body) = get(&mut c, 5, "kept", None);
    assert_eq!(body, b"hello");
    drop(c);
    server.shutdown();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn connections_beyond_the_limit_get_busy() {
    let dir = fresh_dir("limit");
    let cfg = ServeConfig {
        connections_max: 2,
        ..config(dir.clone())
    };
    let server = ringstore_server::start(cfg).unwrap();
    let key = root_key(&dir);
    // Two executors with one connection each: of three connections, at least one is
    // refused, whichever executor the kernel hands it to.
    let mut clients: Vec<Client> = (0..3)
        .map(|_| Client::connect(server.local_addr()))
        .collect();
    let mut busy = 0;
    for c in &mut clients {
        let hello = Hello {
            access_key_id: key.access_key_id.clone(),
            client_nonce: [1; 32],
        };
        c.send_message(FrameHeader::request(Opcode::Hello.code(), 1), &hello);
        let frame = c.recv().expect("a response");
        if frame.header.status() == Ok(Status::Busy) {
            assert_eq!((frame.header.opcode, frame.header.request_id), (0, 0));
            c.expect_closed();
            busy += 1;
        } else {
            assert_eq!(frame.header.status(), Ok(Status::Ok));
        }
    }
    assert!((1..=2).contains(&busy), "{busy} connections refused");
    drop(clients);
    // Once the server has seen the closes, connections are accepted again.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = Client::connect(server.local_addr());
        let (client_nonce, challenge) =
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                c.hello(&key.access_key_id)
            })) {
                Ok(x) => x,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                Err(e) => std::panic::resume_unwind(e),
            };
        let nonces = (client_nonce, challenge.server_nonce);
        let reply = c.auth(&key.access_key_id, &key.secret_access_key, nonces);
        assert_eq!(reply.header.status(), Ok(Status::Ok));
        break;
    }
    server.shutdown();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn idle_connections_are_closed() {
    let dir = fresh_dir("idle");
    let cfg = ServeConfig {
        idle_timeout_secs: 1,
        ..config(dir.clone())
    };
    let server = ringstore_server::start(cfg).unwrap();
    let key = root_key(&dir);
    let mut idle = Client::connect(server.local_addr());
    idle.handshake(&key);
    // The server closes it by itself; the read returns once it has.
    idle.expect_closed();
    // A new connection is served as usual.
    let mut c = Client::connect(server.local_addr());
    c.handshake(&key);
    let reply = c.call(Opcode::Ping, 3, &Ping);
    assert_eq!(reply.header.status(), Ok(Status::Ok));
    drop(c);
    server.shutdown();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A request frame with PRINCIPAL set whose body is `principal` then `message`.
fn send_as(c: &mut Client, op: Opcode, id: u64, principal: &[u8], message: &impl Body) {
    let mut body = BytesMut::from(principal);
    message.encode(&mut body).unwrap();
    let mut header = FrameHeader::request(op.code(), id);
    header.flags = header.flags.with(Flags::PRINCIPAL, true);
    c.send(header, &body);
}

/// The prefix for `Principal::User(user_id)`.
fn user_prefix(user_id: &str) -> Vec<u8> {
    let mut p = vec![1u8];
    p.extend_from_slice(&(user_id.len() as u16).to_le_bytes());
    p.extend_from_slice(user_id.as_bytes());
    p
}

#[test]
fn principal_prefix_rules_on_an_administrator_connection() {
    let mut c = ready();
    // Anonymous may not write into a private bucket: refused at once, the upload's chunks
    // are discarded, and the connection goes on.
    let put_op = PutObject {
        bucket: BUCKET.into(),
        key: "anonymous-put".into(),
        content_type: String::new(),
        user_meta: vec![],
        content_length: 5,
        content_md5: None,
        forbid_overwrite: false,
    };
    let mut body = BytesMut::from(&[0u8][..]);
    put_op.encode(&mut body).unwrap();
    let mut header = FrameHeader::request(Opcode::PutObject.code(), 3).more(true);
    header.flags = header.flags.with(Flags::PRINCIPAL, true);
    c.send(header, &body);
    c.send(
        FrameHeader::chunk(Opcode::PutObject.code(), 3, false, false),
        b"hello",
    );
    let msg = c.expect_error(Opcode::PutObject.code(), 3, Status::AccessDenied);
    assert!(msg.contains("anonymous"), "{msg}");
    let head = ringstore_proto::HeadObject {
        bucket: BUCKET.into(),
        key: "anonymous-put".into(),
    };
    let reply = c.call(Opcode::HeadObject, 4, &head);
    assert_eq!(
        reply.header.status(),
        Ok(Status::NoSuchKey),
        "nothing stored"
    );
    // A malformed prefix is a bad request; an unknown user id is denied.
    send_as(&mut c, Opcode::Ping, 5, &[7], &Ping);
    c.expect_error(Opcode::Ping.code(), 5, Status::BadRequest);
    send_as(&mut c, Opcode::Ping, 6, &user_prefix("404"), &Ping);
    c.expect_error(Opcode::Ping.code(), 6, Status::AccessDenied);
    send_as(&mut c, Opcode::Ping, 7, &[0], &Ping);
    assert_eq!(c.recv().unwrap().header.status(), Ok(Status::Ok));
    // PRINCIPAL on a chunk frame breaks the framing rules: connection error, close.
    let mut chunk = FrameHeader::chunk(Opcode::PutObject.code(), 8, false, false);
    chunk.flags = chunk.flags.with(Flags::PRINCIPAL, true);
    c.send(chunk, b"x");
    expect_connection_error(&mut c);
    assert_healthy();
}

#[test]
fn principal_before_auth_is_refused() {
    let s = shared();
    let mut c = Client::connect(s.server.local_addr());
    let hello = Hello {
        access_key_id: s.key.access_key_id.clone(),
        client_nonce: [1; 32],
    };
    send_as(&mut c, Opcode::Hello, 1, &[0], &hello);
    c.expect_error(Opcode::Hello.code(), 1, Status::NotAuthenticated);
    c.expect_closed();
}

#[test]
fn user_keys_cannot_send_principals_and_die_with_their_deletion() {
    let mut root = ready();
    let create = ringstore_proto::UserCreate {
        display_name: "protocol-user".into(),
    };
    let user = root.call(Opcode::UserCreate, 3, &create);
    let user = ringstore_proto::UserInfo::decode(&user.body).unwrap();
    let make = ringstore_proto::KeyCreate {
        display_name: "protocol-user".into(),
    };
    let key = root.call(Opcode::KeyCreate, 4, &make);
    let key = ringstore_proto::NewAccessKey::decode(&key.body).unwrap();
    assert_eq!(key.user_id, user.user_id);
    let mut c = Client::connect(shared().server.local_addr());
    c.handshake(&AccessKey {
        access_key_id: key.access_key_id.clone(),
        secret_access_key: key.secret_access_key.clone(),
    });
    send_as(&mut c, Opcode::Ping, 3, &[0], &Ping);
    let msg = c.expect_error(Opcode::Ping.code(), 3, Status::AccessDenied);
    assert!(msg.contains("administrator"), "{msg}");
    // Not even as itself, and no admin operation either.
    send_as(&mut c, Opcode::Ping, 4, &user_prefix(&user.user_id), &Ping);
    c.expect_error(Opcode::Ping.code(), 4, Status::AccessDenied);
    let reply = c.call(Opcode::AdminStatus, 5, &AdminStatus::default());
    assert_eq!(reply.header.status(), Ok(Status::AccessDenied));
    let reply = c.call(Opcode::Ping, 6, &Ping);
    assert_eq!(reply.header.status(), Ok(Status::Ok));
    // Deleting the key: the open connection's next request is denied and it closes.
    let delete = ringstore_proto::KeyDelete {
        access_key_id: key.access_key_id.clone(),
    };
    let reply = root.call(Opcode::KeyDelete, 5, &delete);
    assert_eq!(reply.header.status(), Ok(Status::Ok));
    c.send_message(FrameHeader::request(Opcode::Ping.code(), 7), &Ping);
    let msg = c.expect_error(Opcode::Ping.code(), 7, Status::AccessDenied);
    assert!(msg.contains("deleted"), "{msg}");
    c.expect_closed();
}
