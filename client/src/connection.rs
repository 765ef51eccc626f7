//! One authenticated connection: a writer task, a reader task, and the table of requests
//! in flight that routes every response frame by its request id.
//!
//! ```text
//!  request futures ──Outgoing (bounded mpsc)──► writer task ──► socket
//!        ▲                                                        │
//!        │ oneshot (response message)                             ▼
//!        │ bounded mpsc (body chunks)  ◄── route() ◄── reader task (FrameDecoder)
//! ```
//!
//! A request takes a permit of the connection's semaphore (sized by the server's
//! `requests_in_flight_max`), a fresh request id, and a [`Waiter`] in the table; the
//! waiter, and with it the permit, lives until the last frame of the response arrives,
//! even when the caller stopped waiting (timeout, dropped future or stream): the id is in
//! flight for the server until then, and late frames are discarded.
//!
//! Any frame error, connection-level error frame or socket error fails every request in
//! flight and closes the connection (PROTOCOL.md, "Decoding rules"); the pool then
//! replaces it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ringstore_proto::constants::{CONNECTION_REQUEST_ID, HEADER_BYTES};
use ringstore_proto::{
    encode_with_principal, Body, Flags, Frame, FrameDecoder, FrameHeader, Principal, Request, Route,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};

use crate::auth::{self, bad_response, FIRST_REQUEST_ID};
use crate::{ClientConfig, Error};

/// Frames queued for the writer task of one connection. Small, so that a request's
/// message frame waits behind few chunks of other requests' uploads.
pub(crate) const OUTGOING_FRAMES_MAX: usize = 16;
/// Chunks of one upload queued for the writer at a time: enough to keep the socket busy
/// while the next chunk is read from the caller, few enough that concurrent uploads and
/// small requests take turns.
pub(crate) const PUT_CHUNKS_QUEUED_MAX: usize = 2;
/// Chunks of one download buffered for a consumer that reads slower than the socket; past
/// this the reader task waits, which holds back the whole connection (accepted: the
/// consumer is the bottleneck anyway, and other connections of the pool are unaffected).
pub(crate) const GET_CHUNKS_BUFFERED_MAX: usize = 8;
const WRITE_BUFFER_BYTES: usize = 64 * 1024;
const READ_BUFFER_BYTES: usize = 64 * 1024;
/// Response frames with a body of at most this many bytes are copied out of the read
/// buffer: once every frame of a read is copied or gone, the buffer is reused in place.
/// Left shared, a small body still waiting for its consumer would pin the buffer, and the
/// next read would need a fresh 64 KiB allocation (whose pages the kernel zeroes).
/// Larger bodies are not copied.
const COPIED_BODY_BYTES_MAX: usize = 16 * 1024;
const _: () = assert!(PUT_CHUNKS_QUEUED_MAX < OUTGOING_FRAMES_MAX);

/// Allocates request ids: unique per connection, never 0 (reserved for connection-level
/// error frames). A u64 counter does not wrap in practice; if it ever did, ids of
/// requests still in flight would be caught by the assertion in [`Connection::begin`].
#[derive(Debug)]
pub(crate) struct RequestIds(AtomicU64);

impl RequestIds {
    pub(crate) fn starting_at(first: u64) -> RequestIds {
        RequestIds(AtomicU64::new(first))
    }

    pub(crate) fn next(&self) -> u64 {
        loop {
            let id = self.0.fetch_add(1, Ordering::Relaxed);
            if id != CONNECTION_REQUEST_ID {
                return id;
            }
        }
    }
}

/// One frame for the writer task: a header and its body, written back to back without
/// copying the body. `_slot` limits the chunks of one upload in the queue; it is released
/// once the frame is written.
pub(crate) struct Outgoing {
    header: [u8; HEADER_BYTES],
    body: Bytes,
    /// A second frame written right after this one (a small upload's only chunk), so that
    /// the server reads the whole request at once.
    then: Option<Box<([u8; HEADER_BYTES], Bytes)>>,
    _slot: Option<OwnedSemaphorePermit>,
}

impl Outgoing {
    pub(crate) fn new(header: FrameHeader, body: Bytes) -> Outgoing {
        Outgoing {
            header: header.encode(&body),
            body,
            then: None,
            _slot: None,
        }
    }

    fn then(mut self, header: FrameHeader, body: Bytes) -> Outgoing {
        self.then = Some(Box::new((header.encode(&body), body)));
        self
    }

    pub(crate) fn with_slot(mut self, slot: OwnedSemaphorePermit) -> Outgoing {
        self._slot = Some(slot);
        self
    }
}

/// Room reserved for a request message: object requests (bucket, key, a few fields) fit,
/// so encoding one allocates once instead of growing its buffer step by step.
const MESSAGE_BYTES_TYPICAL: usize = 256;

/// A message body encoded on its own, so its header can be built once the id is known.
pub(crate) fn encode_body(message: &impl Body) -> Result<Bytes, Error> {
    let mut out = BytesMut::with_capacity(MESSAGE_BYTES_TYPICAL);
    message.encode(&mut out)?;
    Ok(out.freeze())
}

/// The routing state of one request in flight.
struct Waiter {
    opcode: u16,
    /// Receives the response message (or error); taken once it is sent.
    head: Option<oneshot::Sender<Result<Frame, Error>>>,
    /// Receives the body chunks of a streamed response; `None` once the consumer is gone,
    /// after which chunks are read and dropped.
    chunks: Option<mpsc::Sender<Result<Bytes, Error>>>,
    /// Whether an `Ok` response may carry a body (GetObject).
    streaming: bool,
    /// Whether the response message arrived with MORE and chunks are expected.
    in_body: bool,
    _permit: Arc<OwnedSemaphorePermit>,
}

struct State {
    waiters: HashMap<u64, Waiter>,
    /// Set once the connection failed; new requests get a copy.
    failure: Option<Error>,
}

/// What the reader and writer tasks share with the request side.
struct Shared {
    state: Mutex<State>,
    shutdown: watch::Sender<bool>,
    /// Set with `shutdown`; read by the pool on every pick without taking a lock.
    closed: AtomicBool,
}

/// The handles a request holds while it is in flight.
pub(crate) struct InFlight {
    pub id: u64,
    pub head: oneshot::Receiver<Result<Frame, Error>>,
    pub chunks: Option<mpsc::Receiver<Result<Bytes, Error>>>,
    /// Held, never read: an upload keeps its place in the window until its body is sent,
    /// even if the response came early.
    pub _permit: Arc<OwnedSemaphorePermit>,
}

/// One authenticated connection; see the module documentation.
pub(crate) struct Connection {
    shared: Arc<Shared>,
    outgoing: mpsc::Sender<Outgoing>,
    permits: Arc<Semaphore>,
    ids: RequestIds,
    requests_in_flight_max: usize,
    /// The server core this connection is served by, and how objects map to cores.
    pub(crate) route: Route,
    /// A label for logs: the endpoint and a per-process connection number.
    label: String,
}

impl Connection {
    /// Connects to `cfg.endpoint`, authenticates and starts the tasks, all within
    /// `cfg.connect_timeout`.
    pub(crate) async fn open(cfg: &ClientConfig) -> Result<Connection, Error> {
        let open = async {
            if let Some(path) = cfg.endpoint.strip_prefix("unix:") {
                let (r, w) = tokio::net::UnixStream::connect(path).await?.into_split();
                Connection::start(r, w, cfg).await
            } else {
                let stream = tokio::net::TcpStream::connect(&cfg.endpoint).await?;
                stream.set_nodelay(true)?;
                let (r, w) = stream.into_split();
                Connection::start(r, w, cfg).await
            }
        };
        tokio::time::timeout(cfg.connect_timeout, open)
            .await
            .map_err(|_| Error::Timeout)?
    }

    /// Authenticates over a fresh byte stream and starts the reader and writer tasks.
    pub(crate) async fn start<R, W>(mut r: R, mut w: W, cfg: &ClientConfig) -> Result<Self, Error>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        static NUMBER: AtomicU64 = AtomicU64::new(0);
        let mut buf = BytesMut::with_capacity(READ_BUFFER_BYTES);
        let mut decoder = FrameDecoder::new();
        let (key_id, secret) = (&cfg.access_key_id, &cfg.secret_access_key);
        let session = auth::handshake(&mut r, &mut w, &mut buf, &mut decoder, key_id, secret);
        let session = session.await?;
        let requests_in_flight_max =
            (session.requests_in_flight_max as usize).min(Semaphore::MAX_PERMITS);
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                waiters: HashMap::new(),
                failure: None,
            }),
            shutdown,
            closed: AtomicBool::new(false),
        });
        let (outgoing, queue) = mpsc::channel(OUTGOING_FRAMES_MAX);
        let label = format!(
            "{}#{}",
            cfg.endpoint,
            NUMBER.fetch_add(1, Ordering::Relaxed)
        );
        tracing::debug!(connection = %label, requests_in_flight_max, "connected");
        tokio::spawn(write_loop(w, queue, shared.clone()));
        tokio::spawn(read_loop(r, buf, decoder, shared.clone()));
        Ok(Connection {
            shared,
            outgoing,
            permits: Arc::new(Semaphore::new(requests_in_flight_max)),
            ids: RequestIds::starting_at(FIRST_REQUEST_ID),
            requests_in_flight_max,
            route: session.route,
            label,
        })
    }

    /// Whether the connection failed or was closed; the pool drops it.
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire) || self.outgoing.is_closed()
    }

    /// Requests in flight, including those whose callers stopped waiting.
    pub(crate) fn in_flight(&self) -> usize {
        self.requests_in_flight_max - self.permits.available_permits()
    }

    /// The error that closed the connection, or [`Error::Closed`].
    pub(crate) fn failure(&self) -> Error {
        let state = self.shared.lock();
        state
            .failure
            .as_ref()
            .map_or(Error::Closed, Error::duplicate)
    }

    /// Fails every request in flight and closes the connection.
    pub(crate) fn fail(&self, error: Error) {
        tracing::debug!(connection = %self.label, %error, "closing connection");
        self.shared.fail(error);
    }

    /// Waits (at most `timeout`) for room in the in-flight window, then registers a
    /// request. `streaming`: its `Ok` response may carry body chunks.
    pub(crate) async fn begin(
        &self,
        opcode: u16,
        streaming: bool,
        timeout: Duration,
    ) -> Result<InFlight, Error> {
        // Room in the window is the common case: take it without arming a timer.
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let acquire = self.permits.clone().acquire_owned();
                tokio::time::timeout(timeout, acquire)
                    .await
                    .map_err(|_| Error::Timeout)?
                    .expect("the semaphore is never closed")
            }
        };
        let permit = Arc::new(permit);
        let id = self.ids.next();
        let (head_tx, head) = oneshot::channel();
        let (chunks_tx, chunks) = if streaming {
            let (tx, rx) = mpsc::channel(GET_CHUNKS_BUFFERED_MAX);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let mut state = self.shared.lock();
        if let Some(failure) = &state.failure {
            return Err(failure.duplicate());
        }
        let waiter = Waiter {
            opcode,
            head: Some(head_tx),
            chunks: chunks_tx,
            streaming,
            in_body: false,
            _permit: permit.clone(),
        };
        let previous = state.waiters.insert(id, waiter);
        assert!(previous.is_none(), "request id {id} reused while in flight");
        Ok(InFlight {
            id,
            head,
            chunks,
            _permit: permit,
        })
    }

    /// Unregisters a request whose message frame was never sent.
    pub(crate) fn forget(&self, id: u64) {
        self.shared.lock().waiters.remove(&id);
    }

    /// Queues a frame for the writer task, waiting at most `timeout` for room.
    pub(crate) async fn send(&self, frame: Outgoing, timeout: Duration) -> Result<(), Error> {
        // Room in the queue is the common case: queue without arming a timer.
        let frame = match self.outgoing.try_send(frame) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(self.failure()),
            Err(mpsc::error::TrySendError::Full(frame)) => frame,
        };
        match tokio::time::timeout(timeout, self.outgoing.send(frame)).await {
            Err(_) => Err(Error::Timeout),
            Ok(Err(_)) => Err(self.failure()),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Queues a frame without waiting; gives the frame back when the queue is full.
    pub(crate) fn try_send(&self, frame: Outgoing) -> Result<(), Option<Outgoing>> {
        self.outgoing.try_send(frame).map_err(|e| match e {
            mpsc::error::TrySendError::Full(frame) => Some(frame),
            mpsc::error::TrySendError::Closed(_) => None,
        })
    }

    /// A sender for tasks that must queue a frame after the request future is gone.
    pub(crate) fn sender(&self) -> mpsc::Sender<Outgoing> {
        self.outgoing.clone()
    }

    /// Registers a request and sends its message frame (MORE set when `more`). With a
    /// `principal`, the frame has PRINCIPAL set and the body starts with its prefix.
    pub(crate) async fn send_message<R: Request>(
        &self,
        request: &R,
        principal: Option<&Principal>,
        streaming: bool,
        more: bool,
        timeout: Duration,
    ) -> Result<InFlight, Error> {
        let then = |_: u64| None;
        self.send_message_then(request, principal, streaming, more, then, timeout)
            .await
    }

    /// [`send_message`](Self::send_message), with `then(id)` the frame to write right
    /// after the message, if any.
    pub(crate) async fn send_message_then<R: Request>(
        &self,
        request: &R,
        principal: Option<&Principal>,
        streaming: bool,
        more: bool,
        then: impl FnOnce(u64) -> Option<(FrameHeader, Bytes)>,
        timeout: Duration,
    ) -> Result<InFlight, Error> {
        let body = match principal {
            None => encode_body(request)?,
            Some(p) => {
                let mut out = BytesMut::with_capacity(MESSAGE_BYTES_TYPICAL);
                encode_with_principal(p, request, &mut out)?;
                out.freeze()
            }
        };
        let opcode = R::OPCODE.code();
        let in_flight = self.begin(opcode, streaming, timeout).await?;
        let mut header = FrameHeader::request(opcode, in_flight.id).more(more);
        header.flags = header.flags.with(Flags::PRINCIPAL, principal.is_some());
        let mut frame = Outgoing::new(header, body);
        if let Some((header, body)) = then(in_flight.id) {
            frame = frame.then(header, body);
        }
        if let Err(e) = self.send(frame, timeout).await {
            self.forget(in_flight.id);
            return Err(e);
        }
        Ok(in_flight)
    }

    /// Waits (at most `timeout`) for the response message of a request.
    pub(crate) async fn response(
        &self,
        head: &mut oneshot::Receiver<Result<Frame, Error>>,
        timeout: Duration,
    ) -> Result<Frame, Error> {
        match tokio::time::timeout(timeout, head).await {
            Err(_) => Err(Error::Timeout),
            Ok(Err(_)) => Err(self.failure()),
            Ok(Ok(result)) => result,
        }
    }

    /// Sends a request that has a single response message and decodes that response.
    #[cfg(test)]
    pub(crate) async fn call<R: Request>(
        &self,
        request: &R,
        timeout: Duration,
    ) -> Result<R::Response, Error> {
        self.call_as(request, None, timeout).await
    }

    /// [`call`](Self::call) on behalf of `principal`, if any.
    pub(crate) async fn call_as<R: Request>(
        &self,
        request: &R,
        principal: Option<&Principal>,
        timeout: Duration,
    ) -> Result<R::Response, Error> {
        let in_flight = self.send_message(request, principal, false, false, timeout);
        let mut in_flight = in_flight.await?;
        let frame = self.response(&mut in_flight.head, timeout).await?;
        R::Response::decode(&frame.body).map_err(|e| bad_response(R::OPCODE.name(), e))
    }
}

impl Drop for Connection {
    /// Nobody can send on this connection any more: stop both tasks.
    fn drop(&mut self) {
        self.shared.fail(Error::Closed);
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves the table consistent (every update is a
        // single map operation), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fail(&self, error: Error) {
        let waiters = {
            let mut state = self.lock();
            if state.failure.is_none() {
                state.failure = Some(error.duplicate());
            }
            std::mem::take(&mut state.waiters)
        };
        for (_, mut waiter) in waiters {
            if let Some(head) = waiter.head.take() {
                let _ = head.send(Err(error.duplicate()));
            } else if let Some(chunks) = &waiter.chunks {
                // A full channel means the consumer lags; it then sees the channel close
                // early and asks the connection for its failure.
                let _ = chunks.try_send(Err(error.duplicate()));
            }
        }
        self.closed.store(true, Ordering::Release);
        self.shutdown.send_replace(true);
    }

    /// Routes one response frame. `Ok(Some(..))` is a body chunk (or a download's error)
    /// to hand to its consumer; `Err` is fatal for the connection.
    fn route(&self, frame: Frame) -> Result<Option<Delivery>, Error> {
        let h = frame.header;
        if h.request_id == CONNECTION_REQUEST_ID {
            let message = String::from_utf8_lossy(&frame.body);
            let status = h
                .status()
                .map_or("unknown status".into(), |s| s.to_string());
            return Err(Error::Protocol(format!(
                "connection-level error from the server: {status}: {message}"
            )));
        }
        if !h.is_response() {
            return Err(Error::Protocol(format!(
                "request frame from the server: {h:?}"
            )));
        }
        let mut state = self.lock();
        let Some(waiter) = state.waiters.get_mut(&h.request_id) else {
            return Err(Error::Protocol(format!(
                "response for request id {} that is not in flight",
                h.request_id
            )));
        };
        if h.opcode != waiter.opcode {
            return Err(Error::Protocol(format!(
                "response opcode 0x{:04x} for a request of opcode 0x{:04x}",
                h.opcode, waiter.opcode
            )));
        }
        if waiter.in_body {
            return route_chunk(&mut state, frame);
        }
        if h.is_chunk() {
            return Err(Error::Protocol("chunk frame before its response".into()));
        }
        let ok = h.status == 0;
        if h.has_more() && !(ok && waiter.streaming) {
            return Err(Error::Protocol(format!("unexpected MORE flag: {h:?}")));
        }
        let result = if ok {
            Ok(frame)
        } else {
            Err(Error::from_status(h.status, &frame.body))
        };
        let head = if h.has_more() {
            waiter.in_body = true;
            waiter.head.take()
        } else {
            state.waiters.remove(&h.request_id).and_then(|w| w.head)
        };
        // The caller may have stopped waiting (timeout, dropped future): drop the answer.
        let _ = head
            .expect("a waiter has its head until it is answered")
            .send(result);
        Ok(None)
    }

    /// The consumer of a download is gone: read and drop the rest of its chunks.
    fn stop_delivery(&self, id: u64) {
        if let Some(waiter) = self.lock().waiters.get_mut(&id) {
            waiter.chunks = None;
        }
    }
}

/// A body chunk (or the error that aborts a download) for one consumer.
struct Delivery {
    id: u64,
    to: mpsc::Sender<Result<Bytes, Error>>,
    item: Result<Bytes, Error>,
}

fn route_chunk(state: &mut State, frame: Frame) -> Result<Option<Delivery>, Error> {
    let h = frame.header;
    if !h.is_chunk() {
        return Err(Error::Protocol(format!(
            "message frame for request id {} while its body is streaming",
            h.request_id
        )));
    }
    let last = !h.has_more();
    let item = if h.status == 0 {
        Ok(frame.body)
    } else if last {
        Err(Error::from_status(h.status, &frame.body))
    } else {
        return Err(Error::Protocol("error chunk with MORE set".into()));
    };
    let to = if last {
        // Removing the waiter drops its sender after this delivery: the stream ends.
        state.waiters.remove(&h.request_id).and_then(|w| w.chunks)
    } else {
        state.waiters[&h.request_id].chunks.clone()
    };
    let id = h.request_id;
    Ok(to.map(|to| Delivery { id, to, item }))
}

/// Completes when the connection is shut down.
async fn shut_down(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|closed| *closed).await;
}

async fn write_loop<W: AsyncWrite + Unpin>(
    w: W,
    mut queue: mpsc::Receiver<Outgoing>,
    shared: Arc<Shared>,
) {
    let mut shutdown = shared.shutdown.subscribe();
    // One wait for the shutdown, registered once, not once per batch.
    let closed = shut_down(&mut shutdown);
    tokio::pin!(closed);
    let mut w = BufWriter::with_capacity(WRITE_BUFFER_BYTES, w);
    loop {
        let frame = tokio::select! {
            frame = queue.recv() => frame,
            () = &mut closed => None,
        };
        let Some(frame) = frame else { break };
        if let Err(e) = write_batch(&mut w, frame, &mut queue).await {
            shared.fail(Error::Io(e));
            break;
        }
    }
    let _ = w.shutdown().await;
}

/// Writes one frame and whatever else is already queued, then flushes once.
async fn write_batch<W: AsyncWrite + Unpin>(
    w: &mut BufWriter<W>,
    first: Outgoing,
    queue: &mut mpsc::Receiver<Outgoing>,
) -> std::io::Result<()> {
    let mut next = Some(first);
    while let Some(frame) = next {
        w.write_all(&frame.header).await?;
        w.write_all(&frame.body).await?;
        if let Some((header, body)) = frame.then.as_deref() {
            w.write_all(header).await?;
            w.write_all(body).await?;
        }
        next = queue.try_recv().ok();
    }
    w.flush().await
}

async fn read_loop<R: AsyncRead + Unpin>(
    mut r: R,
    mut buf: BytesMut,
    mut decoder: FrameDecoder,
    shared: Arc<Shared>,
) {
    let mut shutdown = shared.shutdown.subscribe();
    // One wait for the shutdown, registered once, not once per read.
    let closed = shut_down(&mut shutdown);
    tokio::pin!(closed);
    let error = loop {
        let mut frame = match decoder.decode(&mut buf) {
            Err(e) => break Error::from(e),
            Ok(Some(frame)) => frame,
            Ok(None) => {
                let read = tokio::select! {
                    read = r.read_buf(&mut buf) => read,
                    () = &mut closed => return,
                };
                match read {
                    Err(e) => break Error::Io(e),
                    Ok(0) => break Error::Closed,
                    Ok(_) => continue,
                }
            }
        };
        if !frame.body.is_empty() && frame.body.len() <= COPIED_BODY_BYTES_MAX {
            frame.body = Bytes::copy_from_slice(&frame.body);
        }
        let delivery = match shared.route(frame) {
            Err(e) => break e,
            Ok(None) => continue,
            Ok(Some(delivery)) => delivery,
        };
        // Room for the chunk is the common case: hand it over without a select.
        let item = match delivery.to.try_send(delivery.item) {
            Ok(()) => continue,
            Err(mpsc::error::TrySendError::Closed(_)) => {
                shared.stop_delivery(delivery.id);
                continue;
            }
            Err(mpsc::error::TrySendError::Full(item)) => item,
        };
        tokio::select! {
            sent = delivery.to.send(item) => if sent.is_err() {
                shared.stop_delivery(delivery.id);
            },
            () = &mut closed => return,
        }
    };
    shared.fail(error);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_unique_and_never_zero() {
        let ids = RequestIds::starting_at(FIRST_REQUEST_ID);
        let taken: Vec<u64> = (0..1000).map(|_| ids.next()).collect();
        assert_eq!(taken[0], FIRST_REQUEST_ID);
        let mut sorted = taken.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), taken.len());
        let wrapping = RequestIds::starting_at(u64::MAX - 1);
        let ids: Vec<u64> = (0..4).map(|_| wrapping.next()).collect();
        assert_eq!(ids, [u64::MAX - 1, u64::MAX, 1, 2]);
    }

    #[test]
    fn request_ids_are_unique_across_threads() {
        let ids = Arc::new(RequestIds::starting_at(1));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let ids = ids.clone();
                std::thread::spawn(move || (0..1000).map(|_| ids.next()).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<u64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 4000);
        assert!(!all.contains(&0));
    }
}
