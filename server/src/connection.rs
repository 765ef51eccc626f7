//! One binary-protocol connection, on the executor that accepted it.
//!
//! ```text
//!  socket ─► read loop (this task): FrameDecoder → handshake → requests table
//!                │ message frame: spawn one task per request (dispatch.rs)
//!                │ chunk frame:   forward into that PutObject's body channel
//!                ▼
//!  request tasks ──► FrameSink (bounded channel) ──► writer task ──► socket
//! ```
//!
//! The writer task is the only one that writes, so the frames of different responses
//! interleave but never tear. A frame error closes the connection (after a
//! connection-level error frame when the header was trusted, PROTOCOL.md "Decoding
//! rules"); a bad request body only fails that request.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::channel::mpsc;
use futures::io::{ReadHalf, WriteHalf};
use futures::{AsyncReadExt, AsyncWriteExt, SinkExt, StreamExt};
use futures_lite::FutureExt;
use glommio::net::TcpStream;
use ringstore_engine::{Error, PutBody};
use ringstore_proto::constants::{CHUNK_BYTES_MAX, CONNECTION_REQUEST_ID, HEADER_BYTES};
use ringstore_proto::frame::CONNECTION_OPCODE;
use ringstore_proto::{
    encode_error_frame, encode_message_frame, split_principal, Auth, Body, Challenge, DecodeError,
    Empty, Frame, FrameDecoder, FrameHeader, Hello, Opcode, Principal, PutObject, Route, Status,
};

use crate::authz::Who;
use crate::dispatch;
use crate::listener::ExecutorCtx;
use crate::users::Identity;

/// Frames queued for the writer before request tasks wait.
const OUT_QUEUE_DEPTH: usize = 64;
/// Bytes read from the socket per read call.
const READ_BYTES: usize = 64 * 1024;
/// Bytes read per call straight into the buffer of a frame larger than `READ_BYTES`.
const LARGE_READ_BYTES: usize = 1024 * 1024;
/// Frames whose body is at most this long are written with one write call.
const COALESCE_BYTES: usize = 64 * 1024;
/// Room reserved for a response message frame (header and body): an object's metadata
/// fits, so encoding one allocates once instead of growing its buffer step by step.
const RESPONSE_BYTES_TYPICAL: usize = HEADER_BYTES + 256;
/// After a fatal error the read side is drained this long so that the peer reads the
/// error frame instead of a reset.
const LINGER: Duration = Duration::from_secs(2);
/// Chunks queued into a PutObject body before the read loop waits for the engine.
pub const PUT_BODY_QUEUE_DEPTH: usize = 4;
/// Uploads of at most this many bytes are gathered by the read loop and handed to the
/// engine whole: one request to the owning core instead of one per chunk, and no copy
/// into the log batch's staging buffer. Bounded per connection by the requests in flight.
pub const PUT_GATHER_BYTES_MAX: usize = 64 * 1024;

enum Out {
    Frame {
        head: Bytes,
        body: Bytes,
    },
    /// A frame whose header travels inline (no allocation for it): a download's chunks.
    Chunk {
        header: [u8; HEADER_BYTES],
        body: Bytes,
    },
    /// Write what is queued, shut the write side down and stop.
    Close,
}

/// The sending end of the connection's writer; one clone per request task.
#[derive(Clone)]
pub struct FrameSink {
    tx: mpsc::Sender<Out>,
}

impl FrameSink {
    async fn send(&mut self, out: Out) -> bool {
        self.tx.send(out).await.is_ok()
    }

    /// Sends a message frame; a message that cannot be encoded (a bug) becomes an
    /// `InternalError` response.
    pub async fn message(&mut self, header: FrameHeader, message: &impl Body) -> bool {
        let mut out = BytesMut::with_capacity(RESPONSE_BYTES_TYPICAL);
        if let Err(e) = encode_message_frame(&header, message, &mut out) {
            tracing::error!(opcode = header.opcode, error = %e, "cannot encode a response");
            let (op, id) = (header.opcode, header.request_id);
            return self
                .error(op, id, Status::InternalError, &e.to_string())
                .await;
        }
        let head = out.freeze();
        self.send(Out::Frame {
            head,
            body: Bytes::new(),
        })
        .await
    }

    /// Sends an error response (or, with opcode 0 and request id 0, a connection error).
    pub async fn error(&mut self, opcode: u16, request_id: u64, status: Status, msg: &str) -> bool {
        let mut out = BytesMut::with_capacity(RESPONSE_BYTES_TYPICAL);
        encode_error_frame(opcode, request_id, status, msg, &mut out);
        let head = out.freeze();
        self.send(Out::Frame {
            head,
            body: Bytes::new(),
        })
        .await
    }

    /// Sends a frame whose body is not copied (GetObject chunks).
    pub async fn frame(&mut self, header: FrameHeader, body: Bytes) -> bool {
        let header = header.encode(&body);
        self.send(Out::Chunk { header, body }).await
    }
}

/// Writes frames in the order they were queued. Every frame already queued when the
/// writer wakes goes out in the same write call: a group commit answers many requests of
/// a connection at once, and one system call per response would cost more than the copy.
async fn write_loop(mut socket: WriteHalf<TcpStream>, mut rx: mpsc::Receiver<Out>) {
    let mut batch = BytesMut::with_capacity(COALESCE_BYTES);
    let mut closing = false;
    while let Some(first) = rx.next().await {
        let mut next = Some(first);
        let mut result = Ok(());
        while let Some(out) = next.take() {
            let (head, body): (&[u8], &Bytes) = match &out {
                Out::Frame { head, body } => (head, body),
                Out::Chunk { header, body } => (header, body),
                Out::Close => {
                    closing = true;
                    break;
                }
            };
            batch.extend_from_slice(head);
            result = if body.len() <= COALESCE_BYTES {
                batch.extend_from_slice(body);
                Ok(())
            } else {
                match write_batch(&mut socket, &mut batch).await {
                    Ok(()) => socket.write_all(body).await,
                    Err(e) => Err(e),
                }
            };
            if result.is_err() {
                break;
            }
            if batch.len() < COALESCE_BYTES {
                next = rx.try_recv().ok();
            }
        }
        if result.is_ok() {
            result = write_batch(&mut socket, &mut batch).await;
        }
        if let Err(e) = result {
            tracing::debug!(error = %e, "connection write failed");
            break;
        }
        if closing {
            break;
        }
    }
    let _ = socket.close().await;
}

/// Writes and empties `batch`.
async fn write_batch(
    socket: &mut WriteHalf<TcpStream>,
    batch: &mut BytesMut,
) -> std::io::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let r = socket.write_all(batch).await;
    batch.clear();
    r
}

/// The handshake's progress (PROTOCOL.md, "Connection state machine").
enum AuthState {
    AwaitHello,
    AwaitAuth {
        access_key_id: String,
        client_nonce: [u8; 32],
        server_nonce: [u8; 32],
    },
    Ready,
}

/// A request between its message frame and the end of both its response and, for an
/// upload, its request body.
pub struct InFlight {
    opcode: u16,
    /// The upload's remaining body, if the request has one.
    body: Option<BodyIn>,
    responded: bool,
}

struct BodyIn {
    /// `None` once the engine stopped listening or the body broke a rule: the rest of the
    /// chunks are discarded.
    tx: Option<mpsc::Sender<Bytes>>,
    /// A small upload waits here, not in the engine, until its last chunk: then it runs
    /// with its whole body (`PutBody::Whole`).
    gather: Option<Box<Gathering>>,
    received: u64,
    expected: u64,
}

/// A small upload whose request runs once its body is complete.
struct Gathering {
    frame: Frame,
    who: Who,
    message: PutObject,
    chunks: Vec<Bytes>,
    /// The body broke a rule: later chunks are dropped, as a stream's would be, and the
    /// engine answers `IncompleteBody` for the short body.
    broken: bool,
}

impl Gathering {
    fn run(self) -> Ready {
        let body = match self.chunks.len() {
            1 => self.chunks.into_iter().next().expect("one chunk"),
            _ => self.chunks.concat().into(),
        };
        let put = dispatch::Put {
            message: self.message,
            body: PutBody::Whole(body),
        };
        (self.frame, self.who, Some(put))
    }
}

/// A request ready to run: its message frame, who it acts as and, for an upload, its body.
type Ready = (Frame, Who, Option<dispatch::Put>);

/// What the read loop does with a chunk.
enum ChunkTo {
    Discard,
    Forward(mpsc::Sender<Bytes>, Bytes),
    Gathered,
}

/// The requests of one connection, shared by the read loop and the request tasks.
#[derive(Clone, Default)]
pub struct Requests(Rc<RefCell<HashMap<u64, InFlight>>>);

impl Requests {
    fn len(&self) -> usize {
        self.0.borrow().len()
    }

    /// A request task answered: forget the request unless its body is still arriving.
    pub fn responded(&self, id: u64) {
        let mut map = self.0.borrow_mut();
        let done = match map.get_mut(&id) {
            Some(r) => {
                r.responded = true;
                r.body.is_none()
            }
            None => false,
        };
        if done {
            map.remove(&id);
        }
    }

    /// Drops every upload's body sender, so the engine fails those puts, and forgets the
    /// gathered uploads that never got their last chunk; those are returned, to be answered
    /// as the engine answers a short body.
    fn abort_bodies(&self) -> Vec<(FrameHeader, Error)> {
        let mut never_ran = Vec::new();
        self.0.borrow_mut().retain(|_, r| {
            let Some(b) = &mut r.body else { return true };
            b.tx = None;
            let Some(g) = b.gather.take() else {
                return true;
            };
            let got = g.chunks.iter().map(|c| c.len() as u64).sum();
            let e = Error::IncompleteBody {
                expected: b.expected,
                got,
            };
            never_ran.push((g.frame.header, e));
            false
        });
        never_ran
    }
}

/// Why a request is not run: `Refuse` answers it and the connection goes on (its chunks,
/// if any, are discarded); `Reject` answers it and closes the connection.
enum NotAdmitted {
    Refuse(Status, String),
    Reject(Status, String),
}

/// Why the read loop ended.
enum End {
    /// EOF, idle timeout or server stop: let requests in flight finish.
    Graceful,
    /// A rule was broken and answered (or not, per PROTOCOL.md): close now.
    Fatal,
}

struct Conn {
    ctx: Rc<ExecutorCtx>,
    sink: FrameSink,
    requests: Requests,
    auth: AuthState,
    /// Who the connection authenticated as, once it did.
    identity: Option<ConnIdentity>,
}

/// The key a connection authenticated with and who it resolved to, as of `generation` of
/// the users store. A later generation re-resolves the key: a deleted key stops working
/// on open connections at their next request.
struct ConnIdentity {
    access_key_id: String,
    who: Who,
    generation: u64,
}

fn who_of(identity: Identity) -> Who {
    match identity.admin {
        true => Who::Admin(Rc::from(identity.user_id)),
        false => Who::User(Rc::from(identity.user_id)),
    }
}

/// Serves one accepted connection until it closes.
pub async fn serve(ctx: Rc<ExecutorCtx>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let (mut reader, writer) = stream.split();
    let (tx, rx) = mpsc::channel(OUT_QUEUE_DEPTH);
    let writer = glommio::spawn_local(write_loop(writer, rx));
    let mut conn = Conn {
        ctx,
        sink: FrameSink { tx },
        requests: Requests::default(),
        auth: AuthState::AwaitHello,
        identity: None,
    };
    let end = conn.read_loop(&mut reader).await;
    for (h, e) in conn.requests.abort_bodies() {
        let status = crate::errors::status_of(&e);
        conn.sink
            .error(h.opcode, h.request_id, status, &e.to_string())
            .await;
    }
    if let End::Fatal = end {
        conn.sink.send(Out::Close).await;
    }
    drop(conn);
    writer.await;
    if let End::Fatal = end {
        linger(&mut reader).await;
    }
}

/// Reads up to `rest` more bytes of a large frame (an upload chunk) straight into `buf`,
/// which the decoder has already sized for the whole frame: one copy less than reading
/// through the scratch buffer, and fewer system calls. The room is zeroed first (cheaper
/// than the copy it saves, and safe code), at most `LARGE_READ_BYTES` per call.
async fn read_in_place(
    reader: &mut ReadHalf<TcpStream>,
    buf: &mut BytesMut,
    rest: usize,
) -> std::io::Result<()> {
    let at = buf.len();
    buf.resize(at + rest.min(LARGE_READ_BYTES), 0);
    let r = reader.read(&mut buf[at..]).await;
    buf.truncate(at + *r.as_ref().unwrap_or(&0));
    match r {
        Ok(0) => Err(std::io::ErrorKind::UnexpectedEof.into()),
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Reads and discards until EOF or `LINGER`, so that closing does not reset the
/// connection before the peer has read our last frame.
async fn linger(reader: &mut ReadHalf<TcpStream>) {
    let mut scratch = vec![0u8; READ_BYTES];
    let drain = async {
        while let Ok(n) = reader.read(&mut scratch).await {
            if n == 0 {
                break;
            }
        }
    };
    drain.or(glommio::timer::sleep(LINGER)).await;
}

enum Event {
    Read(std::io::Result<usize>),
    /// Bytes of a large frame read straight into the frame buffer (EOF there is an error:
    /// the connection closed inside a frame).
    ReadInPlace(std::io::Result<()>),
    Idle,
    Stop,
}

impl Conn {
    async fn read_loop(&mut self, reader: &mut ReadHalf<TcpStream>) -> End {
        let mut decoder = FrameDecoder::new();
        let mut buf = BytesMut::with_capacity(READ_BYTES);
        let mut scratch = vec![0u8; READ_BYTES];
        let idle = Duration::from_secs(self.ctx.limits.idle_timeout_secs);
        loop {
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(frame)) => {
                        if let Some(end) = self.on_frame(frame).await {
                            return end;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return self.on_decode_error(e).await,
                }
            }
            let stop = self.ctx.stop.clone();
            let large = decoder
                .pending_header()
                .map(|h| h.frame_bytes() - buf.len())
                .filter(|&rest| rest > READ_BYTES);
            let event = async {
                match large {
                    Some(rest) => Event::ReadInPlace(read_in_place(reader, &mut buf, rest).await),
                    None => Event::Read(reader.read(&mut scratch).await),
                }
            }
            .or(async {
                glommio::timer::sleep(idle).await;
                Event::Idle
            })
            .or(async {
                let _ = stop.await;
                Event::Stop
            })
            .await;
            match event {
                Event::Read(Ok(0)) => {
                    if decoder.pending_header().is_some() || !buf.is_empty() {
                        tracing::debug!("connection closed inside a frame");
                        return End::Fatal;
                    }
                    return End::Graceful;
                }
                Event::Read(Ok(n)) => buf.extend_from_slice(&scratch[..n]),
                Event::ReadInPlace(Ok(())) => {}
                Event::Read(Err(e)) | Event::ReadInPlace(Err(e)) => {
                    tracing::debug!(error = %e, "connection read failed");
                    return End::Fatal;
                }
                Event::Idle if self.requests.len() > 0 => continue,
                Event::Idle => {
                    tracing::debug!("closing an idle connection");
                    return End::Graceful;
                }
                Event::Stop => return End::Graceful,
            }
        }
    }

    async fn on_decode_error(&mut self, e: DecodeError) -> End {
        tracing::debug!(error = %e, "frame error, closing the connection");
        if e.header_trusted() {
            let (op, id) = (CONNECTION_OPCODE, CONNECTION_REQUEST_ID);
            let msg = format!("frame error: {e}");
            self.sink.error(op, id, Status::BadRequest, &msg).await;
        }
        End::Fatal
    }

    /// Handles one frame; `Some` ends the connection.
    async fn on_frame(&mut self, frame: Frame) -> Option<End> {
        if !matches!(self.auth, AuthState::Ready) {
            return self.on_handshake_frame(frame).await;
        }
        if frame.header.is_chunk() {
            return self.on_chunk(frame).await;
        }
        self.on_request(frame).await
    }

    async fn on_handshake_frame(&mut self, frame: Frame) -> Option<End> {
        let h = frame.header;
        let state = std::mem::replace(&mut self.auth, AuthState::AwaitHello);
        let expected = match &state {
            AuthState::AwaitHello => Opcode::Hello,
            _ => Opcode::Auth,
        };
        if h.is_chunk() || h.has_more() || h.has_principal() || h.opcode != expected.code() {
            let msg = format!(
                "expected {} before authentication, got opcode 0x{:04x}",
                expected.name(),
                h.opcode
            );
            let status = Status::NotAuthenticated;
            self.sink.error(h.opcode, h.request_id, status, &msg).await;
            return Some(End::Fatal);
        }
        match state {
            AuthState::AwaitHello => self.on_hello(h, &frame.body).await,
            AuthState::AwaitAuth {
                access_key_id,
                client_nonce,
                server_nonce,
            } => {
                let auth = match Auth::decode(&frame.body) {
                    Ok(auth) => auth,
                    Err(e) => return self.reject(h, e.status(), &e.to_string()).await,
                };
                let users = &self.ctx.users;
                let generation = users.generation();
                let identity = users
                    .verify(&access_key_id, &client_nonce, &server_nonce, &auth.proof)
                    .then(|| users.identity_of_key(&access_key_id))
                    .flatten();
                let Some(identity) = identity else {
                    let msg = format!("access denied for access key {access_key_id:?}");
                    return self.reject(h, Status::AccessDenied, &msg).await;
                };
                self.auth = AuthState::Ready;
                self.identity = Some(ConnIdentity {
                    access_key_id,
                    who: who_of(identity),
                    generation,
                });
                let header = FrameHeader::response(h.opcode, h.request_id, Status::Ok);
                self.sink.message(header, &Empty).await;
                None
            }
            AuthState::Ready => unreachable!("handshake frames only before Ready"),
        }
    }

    async fn on_hello(&mut self, h: FrameHeader, body: &[u8]) -> Option<End> {
        let hello = match Hello::decode(body) {
            Ok(hello) => hello,
            Err(e) => return self.reject(h, e.status(), &e.to_string()).await,
        };
        let server_nonce: [u8; 32] = rand::random();
        let ctx = &self.ctx;
        let route = Route {
            executor: ctx.executor as u16,
            executors: ctx.executors as u16,
            partitions: ctx.handle.partitions() as u16,
        };
        let challenge = Challenge {
            server_nonce,
            requests_in_flight_max: ctx.limits.requests_in_flight_max,
            route,
        };
        let header = FrameHeader::response(h.opcode, h.request_id, Status::Ok);
        self.sink.message(header, &challenge).await;
        self.auth = AuthState::AwaitAuth {
            access_key_id: hello.access_key_id,
            client_nonce: hello.client_nonce,
            server_nonce,
        };
        None
    }

    /// Answers `h` with an error and closes the connection.
    async fn reject(&mut self, h: FrameHeader, status: Status, msg: &str) -> Option<End> {
        self.sink.error(h.opcode, h.request_id, status, msg).await;
        Some(End::Fatal)
    }

    async fn on_request(&mut self, frame: Frame) -> Option<End> {
        let h = frame.header;
        if h.request_id == CONNECTION_REQUEST_ID {
            let msg = "request id 0 is reserved for connection-level errors";
            return self.reject(h, Status::BadRequest, msg).await;
        }
        if self.requests.0.borrow().contains_key(&h.request_id) {
            let msg = format!("request id {} is already in flight", h.request_id);
            return self.reject(h, Status::BadRequest, &msg).await;
        }
        let max = self.ctx.limits.requests_in_flight_max as usize;
        if self.requests.len() >= 2 * max {
            let msg = "far more requests in flight than the announced limit";
            return self.reject(h, Status::Busy, msg).await;
        }
        let mut frame = frame;
        let (opcode, who) = match self.admit(&mut frame) {
            Ok(admitted) => admitted,
            Err(NotAdmitted::Refuse(status, msg)) => {
                self.refuse(h, status, &msg).await;
                return None;
            }
            Err(NotAdmitted::Reject(status, msg)) => return self.reject(h, status, &msg).await,
        };
        let put = if opcode == Opcode::PutObject {
            match self.accept_put(h, frame, who) {
                Ok(Some(run)) => run,
                Ok(None) => return None,
                Err((status, msg)) => {
                    self.refuse(h, status, &msg).await;
                    return None;
                }
            }
        } else {
            self.register(h, None);
            (frame, who, None)
        };
        self.spawn_request(opcode, put);
        None
    }

    /// Runs a request on its own task, which answers it.
    fn spawn_request(&self, opcode: Opcode, (frame, who, put): Ready) {
        let h = frame.header;
        let ctx = self.ctx.clone();
        let (sink, requests) = (self.sink.clone(), self.requests.clone());
        let caller = dispatch::Caller { who };
        glommio::spawn_local(async move {
            dispatch::serve(ctx, sink, caller, frame, opcode, put).await;
            requests.responded(h.request_id);
        })
        .detach();
    }

    /// Checks a request message against the connection's state and decides who it acts
    /// as (the connection's user, or the principal of its PRINCIPAL prefix, which is then
    /// cut from the body).
    fn admit(&mut self, frame: &mut Frame) -> Result<(Opcode, Who), NotAdmitted> {
        let h = frame.header;
        let max = self.ctx.limits.requests_in_flight_max as usize;
        let refuse = |status, msg: String| Err(NotAdmitted::Refuse(status, msg));
        let opcode = match Opcode::try_from(h.opcode) {
            Err(code) => {
                return refuse(
                    Status::UnknownOpcode,
                    format!("unknown opcode 0x{code:04x}"),
                )
            }
            Ok(_) if self.requests.len() >= max => {
                let msg = format!("more than {max} requests in flight on this connection");
                return refuse(Status::Busy, msg);
            }
            Ok(op) if op.allowed_before_auth() => {
                return refuse(
                    Status::BadRequest,
                    format!("{} after authentication", op.name()),
                );
            }
            Ok(op) if h.has_more() != op.request_has_body() && op != Opcode::PutObject => {
                let msg = format!("{} has no request body: MORE must be clear", op.name());
                return refuse(Status::BadRequest, msg);
            }
            Ok(op) => op,
        };
        let Some(who) = self.current_who() else {
            let msg = "the access key of this connection was deleted";
            return Err(NotAdmitted::Reject(Status::AccessDenied, msg.into()));
        };
        if !h.has_principal() {
            return Ok((opcode, who));
        }
        let (who, body) = self
            .acting_as(&who, &frame.body)
            .map_err(|(status, msg)| NotAdmitted::Refuse(status, msg))?;
        frame.body = body;
        Ok((opcode, who))
    }

    /// Who the connection is now: re-resolved when the users store changed since the last
    /// look; `None` once its key is gone.
    fn current_who(&mut self) -> Option<Who> {
        let users = &self.ctx.users;
        let identity = self.identity.as_mut().expect("authenticated");
        let generation = users.generation();
        if identity.generation != generation {
            identity.who = who_of(users.identity_of_key(&identity.access_key_id)?);
            identity.generation = generation;
        }
        Some(identity.who.clone())
    }

    /// A request with the PRINCIPAL flag: only an administrator's connection may send it;
    /// the request then acts as the principal in its body's prefix.
    fn acting_as(&self, who: &Who, body: &Bytes) -> Result<(Who, Bytes), (Status, String)> {
        if !who.is_admin() {
            let msg = "only an administrator key may act on behalf of a principal";
            return Err((Status::AccessDenied, msg.into()));
        }
        let (principal, rest) = split_principal(body)
            .map_err(|e| (e.status(), format!("malformed principal prefix: {e}")))?;
        let who = match principal {
            Principal::Anonymous => Who::Anonymous,
            Principal::User(user_id) => match self.ctx.users.identity_of_user(&user_id) {
                Some(identity) => who_of(identity),
                None => {
                    let msg = format!("access denied: no user has the id {user_id:?}");
                    return Err((Status::AccessDenied, msg));
                }
            },
        };
        Ok((who, rest))
    }

    /// Answers a request with an error at once; if chunks follow, they are discarded.
    async fn refuse(&mut self, h: FrameHeader, status: Status, msg: &str) {
        if h.has_more() {
            let body = Some(BodyIn {
                tx: None,
                gather: None,
                received: 0,
                expected: 0,
            });
            let entry = InFlight {
                opcode: h.opcode,
                body,
                responded: true,
            };
            self.requests.0.borrow_mut().insert(h.request_id, entry);
        }
        self.sink.error(h.opcode, h.request_id, status, msg).await;
    }

    /// Decodes a PutObject message and opens its body channel. The message frame has MORE
    /// set iff chunks follow, which they must iff `content_length > 0`. A body of at most
    /// `PUT_GATHER_BYTES_MAX` is gathered here instead (`Ok(None)`: the request runs when
    /// its last chunk arrives); otherwise the request is returned to run now.
    fn accept_put(
        &mut self,
        h: FrameHeader,
        frame: Frame,
        who: Who,
    ) -> Result<Option<Ready>, (Status, String)> {
        let message = PutObject::decode(&frame.body).map_err(|e| (e.status(), e.to_string()))?;
        if h.has_more() != (message.content_length > 0) {
            let msg = format!(
                "PutObject with content_length {} must {}set MORE",
                message.content_length,
                if h.has_more() { "not " } else { "" }
            );
            return Err((Status::BadRequest, msg));
        }
        let expected = message.content_length;
        if h.has_more() && expected <= PUT_GATHER_BYTES_MAX as u64 {
            let gather = Gathering {
                frame,
                who,
                message,
                chunks: Vec::new(),
                broken: false,
            };
            let body = BodyIn {
                tx: None,
                gather: Some(Box::new(gather)),
                received: 0,
                expected,
            };
            self.register(h, Some(body));
            return Ok(None);
        }
        let (tx, rx) = mpsc::channel(PUT_BODY_QUEUE_DEPTH);
        let body = h.has_more().then(|| BodyIn {
            tx: Some(tx),
            gather: None,
            received: 0,
            expected,
        });
        // Without chunks the sender is dropped here: the engine sees an empty body.
        self.register(h, body);
        let put = dispatch::Put {
            message,
            body: PutBody::Stream(rx),
        };
        Ok(Some((frame, who, Some(put))))
    }

    /// Records a request in flight, with the upload body it still expects.
    fn register(&mut self, h: FrameHeader, body: Option<BodyIn>) {
        let entry = InFlight {
            opcode: h.opcode,
            body,
            responded: false,
        };
        self.requests.0.borrow_mut().insert(h.request_id, entry);
    }

    async fn on_chunk(&mut self, frame: Frame) -> Option<End> {
        let h = frame.header;
        let Some(to) = self.take_chunk(frame) else {
            let msg = format!("chunk frame for request {} without an upload", h.request_id);
            return self.reject(h, Status::BadRequest, &msg).await;
        };
        if let ChunkTo::Forward(mut tx, body) = to {
            if !body.is_empty() && tx.send(body).await.is_err() {
                self.discard_body(h.request_id);
            }
        }
        if !h.has_more() {
            if let Some(gathered) = self.body_done(h.request_id) {
                self.spawn_request(Opcode::PutObject, gathered.run());
            }
        }
        None
    }

    /// Accounts a chunk to its upload. `None`: no upload in progress for it (a broken
    /// stream).
    fn take_chunk(&self, frame: Frame) -> Option<ChunkTo> {
        let h = frame.header;
        let mut map = self.requests.0.borrow_mut();
        let body = match map.get_mut(&h.request_id) {
            Some(r) if r.opcode == h.opcode => r.body.as_mut()?,
            _ => return None,
        };
        body.received += frame.body.len() as u64;
        let broken = frame.body.len() > CHUNK_BYTES_MAX || body.received > body.expected;
        if let Some(g) = body.gather.as_mut() {
            g.broken |= broken;
            if !g.broken && !frame.body.is_empty() {
                g.chunks.push(frame.body);
            }
            return Some(ChunkTo::Gathered);
        }
        if broken {
            body.tx = None; // the engine fails the put with IncompleteBody
        }
        let tx = match h.has_more() {
            true => body.tx.clone(),
            false => body.tx.take(),
        };
        Some(match tx {
            Some(tx) => ChunkTo::Forward(tx, frame.body),
            None => ChunkTo::Discard,
        })
    }

    /// The engine stopped reading this upload (it answered early): discard the rest.
    fn discard_body(&self, id: u64) {
        if let Some(Some(body)) = self
            .requests
            .0
            .borrow_mut()
            .get_mut(&id)
            .map(|r| &mut r.body)
        {
            body.tx = None;
        }
    }

    /// The upload's last chunk arrived: forget the request if it was also answered.
    /// Returns a gathered upload, which is now ready to run.
    fn body_done(&self, id: u64) -> Option<Gathering> {
        let mut map = self.requests.0.borrow_mut();
        let (answered, gathered) = match map.get_mut(&id) {
            Some(r) => {
                let gathered = r.body.take().and_then(|b| b.gather);
                (r.responded, gathered)
            }
            None => (false, None),
        };
        if answered {
            map.remove(&id);
        }
        gathered.map(|g| *g)
    }
}

/// Answers a connection beyond the executor's share of `connections_max` with a
/// connection-level `Busy` error frame, then closes it.
pub async fn refuse_busy(mut stream: TcpStream) {
    let mut out = BytesMut::new();
    let (op, id) = (CONNECTION_OPCODE, CONNECTION_REQUEST_ID);
    let msg = "too many connections; retry after a backoff";
    encode_error_frame(op, id, Status::Busy, msg, &mut out);
    if stream.write_all(&out).await.is_ok() {
        let _ = stream.close().await;
        let (mut reader, _writer) = stream.split();
        linger(&mut reader).await;
    }
}
