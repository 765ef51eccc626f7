//! PutObject: the request message with MORE, then the body in chunk frames of
//! `CHUNK_BYTES_RECOMMENDED` bytes, the last without MORE (PROTOCOL.md, "Streaming").
//!
//! The body is read from the caller's `AsyncRead` one chunk at a time and queued for the
//! connection's writer with at most `PUT_CHUNKS_QUEUED_MAX` chunks of this upload waiting,
//! so memory per upload is bounded and other requests' frames interleave. If the server
//! answers before the body is complete (an early rejection such as `NoSuchBucket`), the
//! upload stops and the body is closed with an empty final chunk, as is an upload whose
//! caller's reader fails or ends early, or whose future is dropped.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ringstore_proto::constants::CHUNK_BYTES_RECOMMENDED;
use ringstore_proto::{Body, FrameHeader, ObjectMeta, Opcode, Principal, PutObject};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Semaphore;

use crate::auth::bad_response;
use crate::connection::{Connection, Outgoing, PUT_CHUNKS_QUEUED_MAX};
use crate::Error;

/// The chunk sizes of a body of `content_length` bytes, in order.
pub(crate) fn chunk_lens(content_length: u64) -> impl Iterator<Item = usize> {
    let chunk = CHUNK_BYTES_RECOMMENDED as u64;
    let count = content_length.div_ceil(chunk);
    (0..count).map(move |i| (content_length - i * chunk).min(chunk) as usize)
}

/// Whether a body of `content_length` bytes goes out as one chunk, with its message.
pub(crate) fn small_body(content_length: u64) -> bool {
    content_length > 0 && content_length <= CHUNK_BYTES_RECOMMENDED as u64
}

/// The header of the body chunk of upload `id` that ends with `remaining` bytes still to
/// send after it.
fn chunk_header(id: u64, remaining: u64) -> FrameHeader {
    FrameHeader::chunk(Opcode::PutObject.code(), id, false, remaining > 0)
}

/// Sends one PutObject on `conn` and waits for its response.
pub(crate) async fn put_object<B: AsyncRead + Unpin>(
    conn: &Connection,
    req: &PutObject,
    principal: Option<&Principal>,
    mut body: B,
    timeout: Duration,
) -> Result<ObjectMeta, Error> {
    let more = req.content_length > 0;
    if small_body(req.content_length) {
        return put_small(conn, req, principal, body, timeout).await;
    }
    let in_flight = conn.send_message(req, principal, false, more, timeout);
    let mut in_flight = in_flight.await?;
    let mut abort = AbortGuard {
        conn,
        id: in_flight.id,
        armed: more,
    };
    let slots = Arc::new(Semaphore::new(PUT_CHUNKS_QUEUED_MAX));
    let mut remaining = req.content_length;
    for len in chunk_lens(req.content_length) {
        if let Ok(early) = in_flight.head.try_recv() {
            return Err(early_response(early));
        }
        let chunk = read_chunk(&mut body, len).await?;
        remaining -= len as u64;
        // Waiting for a slot means waiting for the server to read: its early answer may
        // come meanwhile.
        let acquire = tokio::time::timeout(timeout, slots.clone().acquire_owned());
        let slot = tokio::select! {
            biased;
            early = &mut in_flight.head => {
                return Err(early_response(early.unwrap_or_else(|_| Err(conn.failure()))));
            }
            slot = acquire => slot.map_err(|_| Error::Timeout)?,
        };
        let slot = slot.expect("the semaphore is never closed");
        let frame = Outgoing::new(chunk_header(in_flight.id, remaining), chunk);
        conn.send(frame.with_slot(slot), timeout).await?;
    }
    abort.armed = false;
    let frame = conn.response(&mut in_flight.head, timeout).await?;
    ObjectMeta::decode(&frame.body).map_err(|e| bad_response("PutObject", e))
}

/// A body of one chunk is read first and sent with the message, in one write: the server
/// then has the whole request after one read, and nothing is left to abort.
async fn put_small<B: AsyncRead + Unpin>(
    conn: &Connection,
    req: &PutObject,
    principal: Option<&Principal>,
    mut body: B,
    timeout: Duration,
) -> Result<ObjectMeta, Error> {
    let chunk = read_chunk(&mut body, req.content_length as usize).await?;
    put_small_bytes(conn, req, principal, chunk, timeout).await
}

/// [`put_small`] of a body already in memory (`req.content_length` bytes, at most one
/// chunk): sent as it is, without a copy.
pub(crate) async fn put_small_bytes(
    conn: &Connection,
    req: &PutObject,
    principal: Option<&Principal>,
    chunk: Bytes,
    timeout: Duration,
) -> Result<ObjectMeta, Error> {
    assert!(chunk.len() as u64 == req.content_length && small_body(req.content_length));
    let then = |id| Some((chunk_header(id, 0), chunk));
    let in_flight = conn.send_message_then(req, principal, false, true, then, timeout);
    let mut in_flight = in_flight.await?;
    let frame = conn.response(&mut in_flight.head, timeout).await?;
    ObjectMeta::decode(&frame.body).map_err(|e| bad_response("PutObject", e))
}

/// Reads exactly `len` bytes of the caller's body.
async fn read_chunk<B: AsyncRead + Unpin>(body: &mut B, len: usize) -> Result<Bytes, Error> {
    let mut chunk = BytesMut::with_capacity(len);
    while chunk.len() < len {
        // `take` keeps a reader from filling spare capacity past this chunk.
        let want = (len - chunk.len()) as u64;
        if (&mut *body).take(want).read_buf(&mut chunk).await? == 0 {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the body ended before content_length bytes",
            )));
        }
    }
    Ok(chunk.freeze())
}

/// The error for a response that arrived before the whole body was sent.
fn early_response(response: Result<ringstore_proto::Frame, Error>) -> Error {
    match response {
        Err(e) => e,
        Ok(_) => Error::Protocol("PutObject succeeded before its body was sent".into()),
    }
}

/// Closes an unfinished upload's body with an empty final chunk (the client abort of
/// PROTOCOL.md), so the server answers `IncompleteBody` and the connection stays usable.
struct AbortGuard<'a> {
    conn: &'a Connection,
    id: u64,
    armed: bool,
}

impl Drop for AbortGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let frame = Outgoing::new(chunk_header(self.id, 0), Bytes::new());
        let Err(Some(frame)) = self.conn.try_send(frame) else {
            return; // Queued, or the connection is closed anyway.
        };
        // The queue is full: queue the abort from a task. Without a runtime (the future was
        // dropped outside one) the server's framing would stay stuck: close instead.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let sender = self.conn.sender();
                runtime.spawn(async move { sender.send(frame).await });
            }
            Err(_) => self.conn.fail(Error::Closed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_lengths() {
        let k = CHUNK_BYTES_RECOMMENDED;
        assert_eq!(chunk_lens(0).count(), 0);
        assert_eq!(chunk_lens(1).collect::<Vec<_>>(), [1]);
        assert_eq!(chunk_lens(k as u64).collect::<Vec<_>>(), [k]);
        let lens: Vec<_> = chunk_lens(600 * 1024).collect();
        assert_eq!(lens, [k, k, 600 * 1024 - 2 * k]);
        assert_eq!(chunk_lens(5 << 30).map(|l| l as u64).sum::<u64>(), 5 << 30);
    }
}
