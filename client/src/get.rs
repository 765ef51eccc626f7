//! GetObject: the response message ([`GetObjectResponse`]), then the body as a stream of
//! chunks, checked against `range_len`; a final chunk with an error status aborts it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures::Stream;
use ringstore_proto::{Body, GetObjectResponse, Principal, Request};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;
use tokio::time::Sleep;

use crate::auth::bad_response;
use crate::connection::Connection;
use crate::Error;

/// A download in progress: the object's metadata and range, then its bytes.
///
/// Read it with [`next_chunk`](Self::next_chunk), as a [`futures::Stream`] of chunks, or
/// as an [`AsyncRead`] with [`into_async_read`](Self::into_async_read). The stream ends
/// after exactly `response.range_len` bytes, or with one error (the server's status when
/// it aborts the download, [`Error::Timeout`] when no chunk arrives within
/// `request_timeout`, [`Error::Protocol`] when the body is longer or shorter than
/// announced). Dropping it early is fine: the rest of the body is read and discarded.
///
/// Chunks of a download share their connection with other requests: drain or drop the
/// stream before awaiting other requests from the same task, or a large body waiting in
/// the connection may hold their responses back until `request_timeout`.
pub struct GetObjectStream {
    /// The object's metadata and the byte range that follows.
    pub response: GetObjectResponse,
    chunks: Option<mpsc::Receiver<Result<Bytes, Error>>>,
    remaining: u64,
    idle_timeout: Duration,
    idle: Option<Pin<Box<Sleep>>>,
    /// Keeps the connection open while the body streams.
    conn: Arc<Connection>,
}

impl std::fmt::Debug for GetObjectStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetObjectStream")
            .field("response", &self.response)
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

/// Sends a GetObject (or GetObjectVersion) on `conn` and waits for its response message.
pub(crate) async fn get_object<R: Request<Response = GetObjectResponse>>(
    conn: Arc<Connection>,
    req: &R,
    principal: Option<&Principal>,
    timeout: Duration,
) -> Result<GetObjectStream, Error> {
    let mut in_flight = conn
        .send_message(req, principal, true, false, timeout)
        .await?;
    let frame = conn.response(&mut in_flight.head, timeout).await?;
    let response =
        GetObjectResponse::decode(&frame.body).map_err(|e| bad_response("GetObject", e))?;
    if frame.header.has_more() != (response.range_len > 0) {
        return Err(Error::Protocol(format!(
            "GetObject response with range_len {} has MORE {}",
            response.range_len,
            frame.header.has_more()
        )));
    }
    let remaining = response.range_len;
    Ok(GetObjectStream {
        response,
        chunks: if remaining > 0 {
            in_flight.chunks
        } else {
            None
        },
        remaining,
        idle_timeout: timeout,
        idle: None,
        conn,
    })
}

impl GetObjectStream {
    /// The next chunk of the body; `None` after the last one (or after an error).
    pub async fn next_chunk(&mut self) -> Option<Result<Bytes, Error>> {
        futures::StreamExt::next(self).await
    }

    /// Collects the rest of the body (at most `range_len` bytes) into one buffer.
    pub async fn collect_bytes(mut self) -> Result<Bytes, Error> {
        let first = match self.next_chunk().await {
            None => return Ok(Bytes::new()),
            Some(chunk) => chunk?,
        };
        if self.remaining == 0 {
            return Ok(first); // A body of one chunk needs no copy.
        }
        let mut all = Vec::with_capacity(first.len() + self.remaining as usize);
        all.extend_from_slice(&first);
        while let Some(chunk) = self.next_chunk().await {
            all.extend_from_slice(&chunk?);
        }
        Ok(all.into())
    }

    /// The body as an [`AsyncRead`]; errors arrive as `std::io::Error` (wrapping the
    /// client [`Error`] unless it is an I/O error or a timeout).
    pub fn into_async_read(self) -> impl AsyncRead + Send + Unpin {
        GetObjectReader {
            stream: self,
            chunk: Bytes::new(),
        }
    }

    /// Ends the stream with `error`.
    fn finish(&mut self, error: Error) -> Poll<Option<Result<Bytes, Error>>> {
        self.chunks = None;
        self.remaining = 0;
        Poll::Ready(Some(Err(error)))
    }
}

impl Stream for GetObjectStream {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            let Some(chunks) = this.chunks.as_mut() else {
                return Poll::Ready(None);
            };
            let polled = chunks.poll_recv(cx);
            if polled.is_pending() {
                let timeout = this.idle_timeout;
                let idle = this
                    .idle
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                ready!(idle.as_mut().poll(cx));
                return this.finish(Error::Timeout);
            }
            this.idle = None;
            match polled {
                Poll::Pending => unreachable!("handled above"),
                Poll::Ready(Some(Err(e))) => return this.finish(e),
                Poll::Ready(Some(Ok(chunk))) => {
                    if chunk.len() as u64 > this.remaining {
                        let e = format!("body longer than range_len by {} bytes", {
                            chunk.len() as u64 - this.remaining
                        });
                        return this.finish(Error::Protocol(e));
                    }
                    this.remaining -= chunk.len() as u64;
                    if chunk.is_empty() {
                        continue; // Only a final chunk may be empty; the loop sees the end.
                    }
                    return Poll::Ready(Some(Ok(chunk)));
                }
                Poll::Ready(None) if this.remaining == 0 => {
                    this.chunks = None;
                    return Poll::Ready(None);
                }
                Poll::Ready(None) => {
                    let error = match this.conn.is_closed() {
                        true => this.conn.failure(),
                        false => Error::Protocol(format!(
                            "body ended {} bytes short of range_len",
                            this.remaining
                        )),
                    };
                    return this.finish(error);
                }
            }
        }
    }
}

/// [`GetObjectStream::into_async_read`].
struct GetObjectReader {
    stream: GetObjectStream,
    chunk: Bytes,
}

impl AsyncRead for GetObjectReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        while self.chunk.is_empty() {
            match ready!(Pin::new(&mut self.stream).poll_next(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Err(e)) => return Poll::Ready(Err(e.into_io())),
                Some(Ok(chunk)) => self.chunk = chunk,
            }
        }
        let n = self.chunk.len().min(buf.remaining());
        buf.put_slice(&self.chunk[..n]);
        self.chunk.advance(n);
        Poll::Ready(Ok(()))
    }
}
