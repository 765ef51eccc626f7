//! Tests of the client's framing over a real byte pipe (`tokio::io::duplex`, or a local
//! TCP socket for the pool), with the far end scripted frame by frame. They exercise
//! protocol mechanics only (handshake, routing by request id, chunking, aborts); the
//! daemon's behaviour is tested end to end in `tests/`.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ringstore_proto::constants::CHUNK_BYTES_RECOMMENDED;
use ringstore_proto::{
    Auth, Body, Challenge, ETag, Empty, Frame, FrameDecoder, FrameHeader, GetObject,
    GetObjectResponse, Hello, ObjectMeta, ObjectType, Opcode, Ping, PutObject, Route, Status,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::auth::{auth_proof, read_frame};
use crate::connection::Connection;
use crate::{get, put, Client, ClientConfig, Error};

const KEY_ID: &str = "test-key";
const SECRET: &str = "test-secret";
const TIMEOUT: Duration = Duration::from_secs(5);

/// The server's side of a byte stream, driven frame by frame by a test.
struct Peer<S> {
    stream: S,
    buf: BytesMut,
    decoder: FrameDecoder,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Peer<S> {
    fn new(stream: S) -> Peer<S> {
        Peer {
            stream,
            buf: BytesMut::new(),
            decoder: FrameDecoder::new(),
        }
    }

    async fn recv(&mut self) -> Frame {
        read_frame(&mut self.stream, &mut self.buf, &mut self.decoder)
            .await
            .expect("a frame from the client")
    }

    async fn send_raw(&mut self, header: FrameHeader, body: &[u8]) {
        let mut out = BytesMut::new();
        ringstore_proto::encode_frame(&header, body, &mut out);
        self.stream.write_all(&out).await.unwrap();
    }

    /// Answers request `to` with `Ok` and `message` (MORE when `more`).
    async fn reply(&mut self, to: &Frame, message: &impl Body, more: bool) {
        let mut body = BytesMut::new();
        message.encode(&mut body).unwrap();
        let header = FrameHeader::response(to.header.opcode, to.header.request_id, Status::Ok);
        self.send_raw(header.more(more), &body).await;
    }

    async fn reply_error(&mut self, to: &Frame, status: Status, message: &str) {
        let header = FrameHeader::response(to.header.opcode, to.header.request_id, status);
        self.send_raw(header, message.as_bytes()).await;
    }

    async fn chunk(&mut self, to: &Frame, body: &[u8], more: bool) {
        let header = FrameHeader::chunk(to.header.opcode, to.header.request_id, true, more);
        self.send_raw(header, body).await;
    }

    /// Plays the server's half of the handshake; `accept` decides the Auth answer.
    async fn handshake(&mut self, secret: &str, in_flight_max: u32) -> bool {
        self.handshake_on(secret, in_flight_max, Default::default())
            .await
    }

    /// [`handshake`](Self::handshake) for a connection served by `route`'s core.
    async fn handshake_on(&mut self, secret: &str, in_flight_max: u32, route: Route) -> bool {
        let hello_frame = self.recv().await;
        assert_eq!(hello_frame.header.opcode, Opcode::Hello.code());
        assert!(!hello_frame.header.has_more() && !hello_frame.header.is_chunk());
        let hello = Hello::decode(&hello_frame.body).unwrap();
        assert_eq!(hello.access_key_id, KEY_ID);
        let server_nonce = [0x5A; 32];
        let challenge = Challenge {
            server_nonce,
            requests_in_flight_max: in_flight_max,
            route,
        };
        self.reply(&hello_frame, &challenge, false).await;
        let auth_frame = self.recv().await;
        assert_eq!(auth_frame.header.opcode, Opcode::Auth.code());
        let auth = Auth::decode(&auth_frame.body).unwrap();
        let expected = auth_proof(secret, KEY_ID, &hello.client_nonce, &server_nonce);
        if auth.proof == expected {
            self.reply(&auth_frame, &Empty, false).await;
            true
        } else {
            self.reply_error(&auth_frame, Status::AccessDenied, "bad proof")
                .await;
            false
        }
    }
}

fn config(endpoint: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new(endpoint, KEY_ID, SECRET);
    cfg.request_timeout = TIMEOUT;
    cfg
}

/// A connection over an in-process pipe, and the scripted server end, after the
/// handshake.
async fn connected(in_flight_max: u32) -> (Arc<Connection>, Peer<tokio::io::DuplexStream>) {
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    let mut peer = Peer::new(server_end);
    let (r, w) = tokio::io::split(client_end);
    let cfg = config("pipe");
    let (conn, accepted) = tokio::join!(
        Connection::start(r, w, &cfg),
        peer.handshake(SECRET, in_flight_max)
    );
    assert!(accepted);
    (Arc::new(conn.unwrap()), peer)
}

fn meta(key: &str, size: u64) -> ObjectMeta {
    ObjectMeta {
        bucket: "bucket".into(),
        key: key.into(),
        size,
        etag: ETag {
            md5: [0xEE; 16],
            suffix: None,
        },
        content_type: String::new(),
        user_meta: vec![],
        last_modified_ms: 1,
        object_type: ObjectType::Normal,
        version_id: None,
        crc64: None,
    }
}

fn get_request(key: &str) -> GetObject {
    GetObject {
        bucket: "bucket".into(),
        key: key.into(),
        range: None,
    }
}

fn pattern(len: usize) -> Bytes {
    (0..len).map(|i| (i % 251) as u8).collect::<Vec<_>>().into()
}

#[tokio::test]
async fn wrong_secret_is_an_auth_error() {
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    let mut peer = Peer::new(server_end);
    let (r, w) = tokio::io::split(client_end);
    let mut cfg = config("pipe");
    cfg.secret_access_key = "wrong".into();
    let (conn, accepted) = tokio::join!(Connection::start(r, w, &cfg), peer.handshake(SECRET, 8));
    assert!(!accepted);
    let error = conn.err().expect("refused");
    assert!(
        matches!(&error, Error::Auth(m) if m.contains("AccessDenied")),
        "{error}"
    );
    assert!(error.is_access_denied());
}

/// Two pipelined requests; the server answers them out of order and interleaves the
/// Ping response between the chunks of the download.
#[tokio::test]
async fn responses_route_by_request_id_in_any_order() {
    let (conn, mut peer) = connected(8).await;
    let body = pattern(CHUNK_BYTES_RECOMMENDED + 1000);
    let client = {
        let conn = conn.clone();
        async move {
            let request = get_request("k");
            let stream = get::get_object(conn.clone(), &request, None, TIMEOUT);
            let mut stream = stream.await.unwrap();
            conn.call(&Ping, TIMEOUT).await.unwrap();
            assert_eq!(stream.response.range_len, body.len() as u64);
            let mut received = Vec::new();
            let mut chunks = 0;
            while let Some(chunk) = stream.next_chunk().await {
                received.extend_from_slice(&chunk.unwrap());
                chunks += 1;
            }
            assert_eq!((chunks, &received[..]), (2, &body[..]));
        }
    };
    let server = async {
        let get = peer.recv().await;
        assert_eq!(get.header.opcode, Opcode::GetObject.code());
        assert_eq!(GetObject::decode(&get.body).unwrap(), get_request("k"));
        let size = (CHUNK_BYTES_RECOMMENDED + 1000) as u64;
        let response = GetObjectResponse {
            meta: meta("k", size),
            range_start: 0,
            range_len: size,
        };
        peer.reply(&get, &response, true).await;
        let ping = peer.recv().await;
        assert_ne!(ping.header.request_id, get.header.request_id);
        let body = pattern(size as usize);
        peer.chunk(&get, &body[..CHUNK_BYTES_RECOMMENDED], true)
            .await;
        peer.reply(&ping, &Empty, false).await;
        peer.chunk(&get, &body[CHUNK_BYTES_RECOMMENDED..], true)
            .await;
        peer.chunk(&get, b"", false).await; // an empty final chunk is allowed
    };
    tokio::join!(client, server);
    assert_eq!(conn.in_flight(), 0);
    assert!(!conn.is_closed());
}

/// A 600 KiB upload: the message frame with MORE, then chunks of 256 + 256 + 88 KiB,
/// only the last without MORE, decoded back with the proto crate's `FrameDecoder`.
#[tokio::test]
async fn put_body_is_chunked() {
    let (conn, mut peer) = connected(8).await;
    let body = pattern(600 * 1024);
    let request = PutObject {
        bucket: "bucket".into(),
        key: "big".into(),
        content_type: "application/octet-stream".into(),
        user_meta: vec![("a".into(), "b".into())],
        content_length: body.len() as u64,
        content_md5: None,
        forbid_overwrite: false,
    };
    let client = put::put_object(&conn, &request, None, &body[..], TIMEOUT);
    let server = async {
        let message = peer.recv().await;
        assert!(message.header.has_more() && !message.header.is_chunk());
        assert_eq!(PutObject::decode(&message.body).unwrap(), request);
        let mut lens = Vec::new();
        let mut received = Vec::new();
        loop {
            let chunk = peer.recv().await;
            let h = chunk.header;
            assert!(h.is_chunk() && !h.is_response());
            assert_eq!(
                (h.opcode, h.request_id),
                (message.header.opcode, message.header.request_id)
            );
            lens.push(chunk.body.len());
            received.extend_from_slice(&chunk.body);
            if !h.has_more() {
                break;
            }
        }
        assert_eq!(lens, [256 * 1024, 256 * 1024, 88 * 1024]);
        assert_eq!(received, body);
        peer.reply(&message, &meta("big", body.len() as u64), false)
            .await;
    };
    let (stored, ()) = tokio::join!(client, server);
    assert_eq!(stored.unwrap().size, 600 * 1024);
}

#[tokio::test]
async fn empty_put_sends_no_chunks() {
    let (conn, mut peer) = connected(8).await;
    let request = PutObject {
        bucket: "bucket".into(),
        key: "empty".into(),
        content_type: String::new(),
        user_meta: vec![],
        content_length: 0,
        content_md5: None,
        forbid_overwrite: true,
    };
    let client = put::put_object(&conn, &request, None, tokio::io::empty(), TIMEOUT);
    let server = async {
        let message = peer.recv().await;
        assert!(!message.header.has_more());
        peer.reply(&message, &meta("empty", 0), false).await;
        // The next frame is the Ping below, not a chunk.
        let ping = peer.recv().await;
        assert_eq!(ping.header.opcode, Opcode::Ping.code());
        peer.reply(&ping, &Empty, false).await;
    };
    let client = async {
        let stored = client.await.unwrap();
        conn.call(&Ping, TIMEOUT).await.unwrap();
        stored
    };
    let (stored, ()) = tokio::join!(client, server);
    assert_eq!(stored.size, 0);
}

/// The server rejects an upload at once: the client stops sending and closes the body
/// with an empty final chunk.
#[tokio::test]
async fn early_rejection_stops_the_upload() {
    let (conn, mut peer) = connected(8).await;
    let body = pattern(8 * CHUNK_BYTES_RECOMMENDED);
    let request = PutObject {
        bucket: "nobucket".into(),
        key: "k".into(),
        content_type: String::new(),
        user_meta: vec![],
        content_length: body.len() as u64,
        content_md5: None,
        forbid_overwrite: false,
    };
    let client = put::put_object(&conn, &request, None, &body[..], TIMEOUT);
    let server = async {
        let message = peer.recv().await;
        peer.reply_error(&message, Status::NoSuchBucket, "no bucket 'nobucket'")
            .await;
        // Give the client's reader time to route the rejection before any chunk is read.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut data_chunks = 0;
        loop {
            let chunk = peer.recv().await;
            assert!(chunk.header.is_chunk());
            if !chunk.header.has_more() {
                assert!(
                    chunk.body.is_empty(),
                    "the body is closed by an empty chunk"
                );
                break;
            }
            data_chunks += 1;
        }
        data_chunks
    };
    let (result, data_chunks) = tokio::join!(client, server);
    let error = result.unwrap_err();
    assert_eq!(error.status(), Some(Status::NoSuchBucket), "{error}");
    assert!(error.is_not_found());
    assert!(
        data_chunks < 8,
        "sent {data_chunks} chunks after the rejection"
    );
}

/// A body of one chunk is read before anything is sent: one shorter than
/// `content_length` is an I/O error and the server never hears of the upload.
#[tokio::test]
async fn short_small_body_sends_nothing() {
    let (conn, mut peer) = connected(8).await;
    let request = PutObject {
        bucket: "bucket".into(),
        key: "k".into(),
        content_type: String::new(),
        user_meta: vec![],
        content_length: 1000,
        content_md5: None,
        forbid_overwrite: false,
    };
    let result = put::put_object(&conn, &request, None, &[7u8; 10][..], TIMEOUT).await;
    assert!(matches!(result, Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof));
    assert_eq!(conn.in_flight(), 0);
    let client = conn.call(&Ping, TIMEOUT);
    let server = async {
        let ping = peer.recv().await;
        assert_eq!(
            ping.header.opcode,
            Opcode::Ping.code(),
            "the first frame is the ping"
        );
        peer.reply(&ping, &Empty, false).await;
    };
    let (pong, ()) = tokio::join!(client, server);
    pong.unwrap();
}

/// A body shorter than `content_length` is an I/O error, and the upload is aborted with an
/// empty final chunk so the connection stays usable.
#[tokio::test]
async fn short_body_aborts_the_upload() {
    let (conn, mut peer) = connected(8).await;
    let request = PutObject {
        bucket: "bucket".into(),
        key: "k".into(),
        content_type: String::new(),
        user_meta: vec![],
        content_length: CHUNK_BYTES_RECOMMENDED as u64 + 1000,
        content_md5: None,
        forbid_overwrite: false,
    };
    let client = put::put_object(&conn, &request, None, &[7u8; 10][..], TIMEOUT);
    let server = async {
        let message = peer.recv().await;
        let abort = peer.recv().await;
        assert!(abort.header.is_chunk() && !abort.header.has_more() && abort.body.is_empty());
        peer.reply_error(&message, Status::IncompleteBody, "0 of 1000 bytes")
            .await;
    };
    let (result, ()) = tokio::join!(client, server);
    assert!(matches!(result, Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof));
    // The late IncompleteBody is consumed by the routing table; the window empties.
    tokio::time::timeout(TIMEOUT, async {
        while conn.in_flight() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
}

/// A final chunk with an error status aborts the download after the data before it.
#[tokio::test]
async fn error_chunk_aborts_a_download() {
    let (conn, mut peer) = connected(8).await;
    let client = async {
        let request = get_request("k");
        let mut stream = get::get_object(conn.clone(), &request, None, TIMEOUT)
            .await
            .unwrap();
        assert_eq!(&stream.next_chunk().await.unwrap().unwrap()[..], b"abc");
        let error = stream.next_chunk().await.unwrap().unwrap_err();
        assert_eq!(error.status(), Some(Status::DataUnavailable));
        assert!(stream.next_chunk().await.is_none());
    };
    let server = async {
        let get = peer.recv().await;
        let response = GetObjectResponse {
            meta: meta("k", 10),
            range_start: 0,
            range_len: 10,
        };
        peer.reply(&get, &response, true).await;
        peer.chunk(&get, b"abc", true).await;
        let header = FrameHeader::chunk(get.header.opcode, get.header.request_id, true, false);
        let header = FrameHeader {
            status: Status::DataUnavailable.code(),
            ..header
        };
        peer.send_raw(header, b"3 shards lost").await;
    };
    tokio::join!(client, server);
    assert!(!conn.is_closed());
}

/// A body longer than `range_len` is a protocol error, and so is a short one.
#[tokio::test]
async fn body_length_is_checked() {
    let (conn, mut peer) = connected(8).await;
    let client = async {
        for _ in 0..2 {
            let mut stream = get::get_object(conn.clone(), &get_request("k"), None, TIMEOUT)
                .await
                .unwrap();
            let mut error = None;
            while let Some(chunk) = stream.next_chunk().await {
                if let Err(e) = chunk {
                    error = Some(e);
                }
            }
            assert!(matches!(error, Some(Error::Protocol(_))), "{error:?}");
        }
    };
    let server = async {
        for body in [&b"toolong"[..], b"ab"] {
            let get = peer.recv().await;
            let response = GetObjectResponse {
                meta: meta("k", 4),
                range_start: 0,
                range_len: 4,
            };
            peer.reply(&get, &response, true).await;
            peer.chunk(&get, body, false).await;
        }
    };
    tokio::join!(client, server);
}

/// A dropped download is drained without blocking the connection.
#[tokio::test]
async fn dropped_download_is_discarded() {
    let (conn, mut peer) = connected(8).await;
    let client = async {
        let stream = get::get_object(conn.clone(), &get_request("k"), None, TIMEOUT).await;
        drop(stream.unwrap());
        conn.call(&Ping, TIMEOUT).await.unwrap();
    };
    let server = async {
        let get = peer.recv().await;
        let len = 20 * CHUNK_BYTES_RECOMMENDED;
        let response = GetObjectResponse {
            meta: meta("k", len as u64),
            range_start: 0,
            range_len: len as u64,
        };
        peer.reply(&get, &response, true).await;
        let ping = peer.recv().await;
        let chunk = pattern(CHUNK_BYTES_RECOMMENDED);
        for i in 0..20 {
            peer.chunk(&get, &chunk, i < 19).await;
        }
        peer.reply(&ping, &Empty, false).await;
    };
    tokio::join!(client, server);
}

/// A frame error or a connection-level error frame fails every request in flight and
/// closes the connection.
#[tokio::test]
async fn connection_errors_fail_every_request_in_flight() {
    for garbage in [true, false] {
        let (conn, mut peer) = connected(8).await;
        let client = async {
            let (a, b) = tokio::join!(conn.call(&Ping, TIMEOUT), conn.call(&Ping, TIMEOUT));
            for result in [a, b] {
                assert!(matches!(result, Err(Error::Protocol(_))), "{result:?}");
            }
        };
        let server = async {
            peer.recv().await;
            peer.recv().await;
            if garbage {
                peer.stream
                    .write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                    .await
                    .unwrap();
            } else {
                let header = FrameHeader::response(0, 0, Status::BadRequest);
                peer.send_raw(header, b"bad flags").await;
            }
        };
        tokio::join!(client, server);
        assert!(conn.is_closed());
        assert!(matches!(
            conn.call(&Ping, TIMEOUT).await,
            Err(Error::Protocol(_))
        ));
    }
}

/// The window of requests in flight is the server's `requests_in_flight_max`: with a
/// window of 2, a third request waits until one of the first two is answered.
#[tokio::test]
async fn in_flight_window_is_respected() {
    let (conn, mut peer) = connected(2).await;
    let client = async {
        let calls = (0..5).map(|_| conn.call(&Ping, TIMEOUT));
        for result in futures::future::join_all(calls).await {
            result.unwrap();
        }
    };
    let server = async {
        let mut pending = vec![peer.recv().await, peer.recv().await];
        for _ in 0..3 {
            let early = tokio::time::timeout(Duration::from_millis(50), peer.recv()).await;
            assert!(
                early.is_err(),
                "a third request was sent while two were in flight"
            );
            let answered = pending.remove(0);
            peer.reply(&answered, &Empty, false).await;
            pending.push(peer.recv().await);
        }
        for request in pending {
            peer.reply(&request, &Empty, false).await;
        }
    };
    tokio::join!(client, server);
    assert_eq!(conn.in_flight(), 0);
}

/// A connection that dies is dropped from the pool; an idempotent request retries on a
/// new one.
#[tokio::test]
async fn dead_connection_is_replaced_and_idempotent_requests_retry() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut first = Peer::new(socket);
        assert!(first.handshake(SECRET, 8).await);
        first.recv().await;
        drop(first); // closes the socket with the Ping unanswered
        let (socket, _) = listener.accept().await.unwrap();
        let mut second = Peer::new(socket);
        assert!(second.handshake(SECRET, 8).await);
        let ping = second.recv().await;
        second.reply(&ping, &Empty, false).await;
        second
    });
    let client = Client::connect(config(&endpoint)).await.unwrap();
    client.ping().await.unwrap();
    let _second = server.await.unwrap();
    assert_eq!(client.pool.len(), 1);
}

/// The full client over a local socket: connect, a retried `Busy`, and a put/get round
/// trip.
#[tokio::test]
async fn client_retries_busy_and_round_trips() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut peer = Peer::new(socket);
        assert!(peer.handshake(SECRET, 8).await);
        let ping = peer.recv().await;
        peer.reply_error(&ping, Status::Busy, "slow down").await;
        let ping = peer.recv().await;
        peer.reply(&ping, &Empty, false).await;
        let put = peer.recv().await;
        let data = peer.recv().await;
        assert!(!data.header.has_more());
        peer.reply(&put, &meta("k", data.body.len() as u64), false)
            .await;
        let get = peer.recv().await;
        let response = GetObjectResponse {
            meta: meta("k", data.body.len() as u64),
            range_start: 0,
            range_len: data.body.len() as u64,
        };
        peer.reply(&get, &response, true).await;
        peer.chunk(&get, &data.body, false).await;
        let put = peer.recv().await;
        peer.reply_error(&put, Status::Busy, "never retried").await;
        let chunk = peer.recv().await; // the aborted body's empty chunk, or its data
        assert!(chunk.header.is_chunk());
    });
    let mut cfg = config(&endpoint);
    cfg.connections = 1;
    let client = Client::connect(cfg).await.unwrap();
    client.ping().await.unwrap();
    let request = PutObject {
        bucket: "bucket".into(),
        key: "k".into(),
        content_type: String::new(),
        user_meta: vec![],
        content_length: 0,
        content_md5: None,
        forbid_overwrite: false,
    };
    let stored = client
        .put_object_bytes(request.clone(), Bytes::from_static(b"hello"))
        .await
        .unwrap();
    assert_eq!(stored.size, 5);
    let (response, body) = client.get_object_bytes("bucket", "k", None).await.unwrap();
    assert_eq!((response.range_len, &body[..]), (5, &b"hello"[..]));
    let busy = client
        .put_object_bytes(request, Bytes::from_static(b"again"))
        .await
        .unwrap_err();
    assert_eq!(busy.status(), Some(Status::Busy));
    server.await.unwrap();
    assert_eq!(client.pool.len(), 1);
}

/// Object requests go to a connection of the core that owns the object once the pool has
/// one: HEAD and DELETE as PUT and GET. The scripted server plays two cores, one per
/// connection, and reports which core got which request.
#[tokio::test]
async fn object_requests_go_to_the_owning_core() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = listener.local_addr().unwrap().to_string();
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        for executor in 0..2u16 {
            let (socket, _) = listener.accept().await.unwrap();
            let seen = seen_tx.clone();
            tokio::spawn(async move {
                let mut peer = Peer::new(socket);
                let route = Route {
                    executor,
                    executors: 2,
                    partitions: 2,
                };
                assert!(peer.handshake_on(SECRET, 8, route).await);
                loop {
                    let frame = peer.recv().await;
                    let op = Opcode::try_from(frame.header.opcode).unwrap();
                    match op {
                        Opcode::HeadObject => peer.reply(&frame, &meta("k", 0), false).await,
                        _ => peer.reply(&frame, &Empty, false).await,
                    }
                    seen.send((executor, op)).unwrap();
                }
            });
        }
    });
    let mut cfg = config(&endpoint);
    cfg.connections = 2;
    let client = Client::connect(cfg).await.unwrap();
    let owned_by = |core: usize| {
        (0..)
            .map(|i| format!("key-{i}"))
            .find(|k| ringstore_proto::routing::partition_of("bucket", k, 2) == core)
            .unwrap()
    };
    let (on_0, on_1) = (owned_by(0), owned_by(1));
    // The first connection is core 0's; a request for core 1 opens core 1's.
    client.head_object("bucket", &on_1).await.unwrap();
    assert_eq!(seen.recv().await, Some((0, Opcode::HeadObject)));
    for _ in 0..500 {
        if client.pool.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(client.pool.len(), 2);
    client.head_object("bucket", &on_1).await.unwrap();
    assert_eq!(seen.recv().await, Some((1, Opcode::HeadObject)));
    client.delete_object("bucket", &on_1).await.unwrap();
    assert_eq!(seen.recv().await, Some((1, Opcode::DeleteObject)));
    client.head_object("bucket", &on_0).await.unwrap();
    assert_eq!(seen.recv().await, Some((0, Opcode::HeadObject)));
    client.delete_object("bucket", &on_0).await.unwrap();
    assert_eq!(seen.recv().await, Some((0, Opcode::DeleteObject)));
}

#[tokio::test]
async fn client_connect_fails_fast_on_a_bad_key() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        Peer::new(socket).handshake("the real secret", 8).await
    });
    let error = Client::connect(config(&endpoint)).await.unwrap_err();
    assert!(matches!(error, Error::Auth(_)), "{error}");
}

/// On behalf of a principal, the message frame carries PRINCIPAL and the prefix, and the
/// upload's chunk frames carry neither.
#[tokio::test]
async fn requests_on_behalf_of_a_principal_carry_the_flag_and_prefix() {
    let (conn, mut peer) = connected(8).await;
    let principal = ringstore_proto::Principal::User("1234567890123456".into());
    let request = PutObject {
        bucket: "bkt".into(),
        key: "k".into(),
        content_type: String::new(),
        user_meta: vec![],
        content_length: 3,
        content_md5: None,
        forbid_overwrite: false,
    };
    let client = put::put_object(&conn, &request, Some(&principal), &b"abc"[..], TIMEOUT);
    let server = async {
        let message = peer.recv().await;
        assert!(message.header.has_principal() && message.header.has_more());
        let (got, rest) = ringstore_proto::split_principal(&message.body).unwrap();
        assert_eq!(got, principal);
        assert_eq!(PutObject::decode(&rest).unwrap(), request);
        let chunk = peer.recv().await;
        assert!(chunk.header.is_chunk() && !chunk.header.has_principal());
        assert_eq!(&chunk.body[..], b"abc");
        peer.reply(&message, &meta("k", 3), false).await;
    };
    let (stored, ()) = tokio::join!(client, server);
    assert_eq!(stored.unwrap().size, 3);
    let ping = conn.call_as(&Ping, Some(&ringstore_proto::Principal::Anonymous), TIMEOUT);
    let server = async {
        let frame = peer.recv().await;
        let (got, rest) = ringstore_proto::split_principal(&frame.body).unwrap();
        assert_eq!(
            (got, rest.len()),
            (ringstore_proto::Principal::Anonymous, 0)
        );
        peer.reply(&frame, &Empty, false).await;
    };
    let (pong, ()) = tokio::join!(ping, server);
    pong.unwrap();
}
