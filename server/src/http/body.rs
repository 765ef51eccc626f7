//! Request bodies, streamed: plain or aws-chunked framing, and every check the request
//! asked for (the body's SHA-256, chunk signatures, `x-amz-checksum-*` from the header or
//! the trailer), done before the last byte is handed on.
//!
//! [`BodyReader::into_async_read`] gives the `AsyncRead` the client library's upload
//! reads from. The engine commits an object only after it received all
//! `content_length` bytes, so holding back the final bytes until every check passed means a
//! body that fails a check is never stored: the reader fails instead, the upload is
//! aborted, and the failure is left in the [`Outcome`] for the handler to answer with.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use futures::Stream;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};

use super::auth::{Payload, SeedSignature};
use super::checksum::{Algorithm, Hasher};
use super::constants::CHUNK_LINE_BYTES_MAX;
use super::error::Failure;
use super::request::ApiRequest;

/// What reading the body found, for the handler.
#[derive(Debug, Default)]
pub struct Outcome {
    pub failure: Option<Failure>,
    /// The verified checksum (algorithm and base64 value), to echo in the response.
    pub checksum: Option<(Algorithm, String)>,
}

/// How the bytes on the wire frame the object's bytes.
enum Framing {
    Plain,
    Chunked {
        /// Bytes left in the current chunk.
        chunk_left: u64,
        /// Chunk signatures, when signed.
        signer: Option<SeedSignature>,
        /// The SHA-256 of the current chunk's data, when signed (boxed: a hasher's state
        /// is large and most bodies are plain).
        chunk_hash: Option<Box<Sha256>>,
        /// The signature the current chunk claimed.
        chunk_signature: String,
    },
}

/// A checksum to verify: the expected value comes from a header now or a trailer later.
struct ChecksumCheck {
    algorithm: Algorithm,
    hasher: Hasher,
    expected: Option<String>,
}

/// Reads one request body: the decoded length is known up front (`Content-Length`, or
/// `x-amz-decoded-content-length` for aws-chunked).
pub struct BodyReader {
    body: Incoming,
    buf: Bytes,
    ended: bool,
    framing: Framing,
    /// Decoded bytes still to come.
    remaining: u64,
    sha256: Option<(Sha256, [u8; 32])>,
    checksum: Option<ChecksumCheck>,
    /// Whether the end-of-body checks ran.
    finished: bool,
    outcome: Arc<Mutex<Outcome>>,
}

impl BodyReader {
    /// The reader for `req`'s body of `decoded_len` bytes under `payload`'s rule.
    pub fn new(
        req: &ApiRequest,
        body: Incoming,
        payload: &Payload,
        decoded_len: u64,
    ) -> Result<(BodyReader, Arc<Mutex<Outcome>>), Failure> {
        let chunked = is_aws_chunked(req, payload);
        let framing = if chunked {
            let signer = match payload {
                Payload::StreamingSigned(seed) => Some(seed.clone()),
                _ => None,
            };
            Framing::Chunked {
                chunk_left: 0,
                chunk_hash: signer.as_ref().map(|_| Box::new(Sha256::new())),
                signer,
                chunk_signature: String::new(),
            }
        } else {
            Framing::Plain
        };
        let sha256 = match payload {
            Payload::Sha256(d) => Some((Sha256::new(), *d)),
            _ => None,
        };
        let outcome = Arc::new(Mutex::new(Outcome::default()));
        let reader = BodyReader {
            body,
            buf: Bytes::new(),
            ended: false,
            framing,
            remaining: decoded_len,
            sha256,
            checksum: checksum_check(req)?,
            finished: false,
            outcome: outcome.clone(),
        };
        Ok((reader, outcome))
    }

    /// The next piece of the decoded body; `None` at its end.
    pub async fn next_data(&mut self) -> Result<Option<Bytes>, Failure> {
        if self.remaining == 0 {
            // An empty body still has its framing and checks (a final chunk, a trailer).
            if !self.finished {
                self.finish().await?;
            }
            return Ok(None);
        }
        let piece = match self.framing {
            Framing::Plain => self.take(self.remaining).await?,
            Framing::Chunked { .. } => self.chunk_data().await?,
        };
        self.remaining -= piece.len() as u64;
        if let Some((h, _)) = &mut self.sha256 {
            h.update(&piece);
        }
        if let Some(c) = &mut self.checksum {
            c.hasher.update(&piece);
        }
        if self.remaining == 0 {
            self.finish().await?;
        }
        Ok(Some(piece))
    }

    /// Reads the whole body into memory (request documents only; the caller bounds it).
    pub async fn read_all(&mut self) -> Result<Bytes, Failure> {
        let mut all = BytesMut::new();
        while let Some(piece) = self.next_data().await? {
            all.extend_from_slice(&piece);
        }
        Ok(all.freeze())
    }

    /// The body as an `AsyncRead`; a failure is recorded in the outcome and read as an
    /// I/O error.
    pub fn into_async_read(self) -> impl AsyncRead + Send + Unpin {
        let outcome = self.outcome.clone();
        let stream = futures::stream::unfold(Some(self), |state| async move {
            let mut reader = state?;
            match reader.next_data().await {
                Ok(Some(piece)) => Some((Ok(piece), Some(reader))),
                Ok(None) => None,
                Err(failure) => {
                    let message = failure.to_string();
                    reader.outcome.lock().expect("not poisoned").failure = Some(failure);
                    Some((Err(std::io::Error::other(message)), None))
                }
            }
        });
        StreamRead {
            stream: Box::pin(stream),
            chunk: Bytes::new(),
            _outcome: outcome,
        }
    }

    /// Up to `max` bytes from the wire (at least one).
    async fn take(&mut self, max: u64) -> Result<Bytes, Failure> {
        while self.buf.is_empty() {
            if !self.fill().await? {
                return Err(incomplete());
            }
        }
        let n = (self.buf.len() as u64).min(max) as usize;
        Ok(self.buf.split_to(n))
    }

    /// Appends the next frame of the wire body to `buf`; false at its end.
    async fn fill(&mut self) -> Result<bool, Failure> {
        if self.ended {
            return Ok(false);
        }
        loop {
            match self.body.frame().await {
                None => {
                    self.ended = true;
                    return Ok(false);
                }
                Some(Err(e)) => {
                    return Err(Failure::IncompleteBody(format!(
                        "reading the body failed: {e}"
                    )))
                }
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    if data.is_empty() {
                        continue;
                    }
                    self.buf = if self.buf.is_empty() {
                        data
                    } else {
                        let mut joined = BytesMut::with_capacity(self.buf.len() + data.len());
                        joined.extend_from_slice(&self.buf);
                        joined.extend_from_slice(&data);
                        joined.freeze()
                    };
                    return Ok(true);
                }
            }
        }
    }

    /// One CRLF-terminated line of aws-chunked framing (without the CRLF).
    async fn line(&mut self) -> Result<Option<String>, Failure> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf.split_to(end);
                self.buf.advance(2);
                let text = std::str::from_utf8(&line)
                    .map_err(|_| bad_chunk("a chunk header is not UTF-8"))?;
                return Ok(Some(text.to_owned()));
            }
            if self.buf.len() > CHUNK_LINE_BYTES_MAX {
                return Err(bad_chunk("a chunk header line is too long"));
            }
            if !self.fill().await? {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(incomplete());
            }
        }
    }

    /// The next data of an aws-chunked body, reading chunk headers as needed.
    async fn chunk_data(&mut self) -> Result<Bytes, Failure> {
        loop {
            let Framing::Chunked { chunk_left, .. } = &self.framing else {
                unreachable!("chunked framing")
            };
            if *chunk_left > 0 {
                let want = (*chunk_left).min(self.remaining);
                let piece = self.take(want).await?;
                let Framing::Chunked {
                    chunk_left,
                    chunk_hash,
                    ..
                } = &mut self.framing
                else {
                    unreachable!("chunked framing")
                };
                *chunk_left -= piece.len() as u64;
                if let Some(h) = chunk_hash {
                    h.update(&piece);
                }
                if *chunk_left == 0 {
                    self.end_chunk().await?;
                }
                return Ok(piece);
            }
            let size = self.chunk_header().await?;
            if size == 0 {
                return Err(incomplete());
            }
            if size > self.remaining {
                return Err(bad_chunk(
                    "a chunk is longer than x-amz-decoded-content-length",
                ));
            }
            if let Framing::Chunked { chunk_left, .. } = &mut self.framing {
                *chunk_left = size;
            }
        }
    }

    /// Reads `size[;chunk-signature=sig]`, returns the size and remembers the signature.
    async fn chunk_header(&mut self) -> Result<u64, Failure> {
        let line = self.line().await?.ok_or_else(incomplete)?;
        let (size, ext) = line.split_once(';').unwrap_or((&line, ""));
        let size = u64::from_str_radix(size.trim(), 16)
            .map_err(|_| bad_chunk("a chunk size is not hexadecimal"))?;
        if let Framing::Chunked {
            signer,
            chunk_signature,
            ..
        } = &mut self.framing
        {
            if signer.is_some() {
                let sig = ext.trim().strip_prefix("chunk-signature=");
                *chunk_signature = sig
                    .ok_or_else(|| bad_chunk("a chunk has no chunk-signature"))?
                    .to_owned();
            }
        }
        Ok(size)
    }

    /// After a chunk's data: its CRLF, and its signature check.
    async fn end_chunk(&mut self) -> Result<(), Failure> {
        let crlf = self.line().await?;
        if crlf.as_deref() != Some("") {
            return Err(bad_chunk("chunk data is not followed by CRLF"));
        }
        self.check_chunk_signature()
    }

    fn check_chunk_signature(&mut self) -> Result<(), Failure> {
        let Framing::Chunked {
            signer,
            chunk_hash,
            chunk_signature,
            ..
        } = &mut self.framing
        else {
            return Ok(());
        };
        let (Some(signer), Some(hash)) = (signer, chunk_hash) else {
            return Ok(());
        };
        let digest = hex::encode(std::mem::take(hash.as_mut()).finalize());
        let expected = signer.next_chunk(&digest);
        if !super::auth::sign::same(&expected, chunk_signature) {
            return Err(Failure::SignatureDoesNotMatch {
                string_to_sign: format!("chunk signature of a chunk hashing to {digest}"),
            });
        }
        Ok(())
    }

    /// After the last data byte: the final chunk and trailer (aws-chunked), then every
    /// check of the whole body.
    async fn finish(&mut self) -> Result<(), Failure> {
        self.finished = true;
        if let Framing::Chunked { .. } = self.framing {
            let size = self.chunk_header().await?;
            if size != 0 {
                return Err(bad_chunk(
                    "the body is longer than x-amz-decoded-content-length",
                ));
            }
            self.check_chunk_signature()?;
            self.trailer().await?;
        }
        if let Some((h, expected)) = self.sha256.take() {
            if h.finalize()[..] != expected[..] {
                return Err(Failure::ContentSha256Mismatch);
            }
        }
        if let Some(c) = &self.checksum {
            let actual = c.hasher.finish_base64();
            match &c.expected {
                Some(expected) if *expected == actual => {}
                Some(_) => return Err(Failure::ChecksumMismatch(c.algorithm.name())),
                None => {
                    return Err(Failure::InvalidRequest(format!(
                        "the trailer declared {} but did not carry it",
                        c.algorithm.header()
                    )))
                }
            }
            self.outcome.lock().expect("not poisoned").checksum = Some((c.algorithm, actual));
        }
        Ok(())
    }

    /// Trailer lines up to the blank line (or the end of the body).
    async fn trailer(&mut self) -> Result<(), Failure> {
        let mut signed_text = String::new();
        let mut trailer_signature = None;
        while let Some(line) = self.line().await? {
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| bad_chunk("a trailer line is not name:value"))?;
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name == "x-amz-trailer-signature" {
                trailer_signature = Some(value.to_owned());
                continue;
            }
            signed_text.push_str(&format!("{name}:{value}\n"));
            if let Some(c) = &mut self.checksum {
                if name == c.algorithm.header() {
                    c.expected = Some(value.to_owned());
                }
            }
        }
        if let Framing::Chunked {
            signer: Some(signer),
            ..
        } = &mut self.framing
        {
            if signer.trailer {
                let expected = signer.trailer_signature(&signed_text);
                let claimed = trailer_signature.unwrap_or_default();
                if !super::auth::sign::same(&expected, &claimed) {
                    return Err(Failure::SignatureDoesNotMatch {
                        string_to_sign: "trailer signature".into(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Whether the body is aws-chunked framed.
pub fn is_aws_chunked(req: &ApiRequest, payload: &Payload) -> bool {
    matches!(
        payload,
        Payload::StreamingSigned(_) | Payload::StreamingUnsigned
    ) || req
        .header("content-encoding")
        .is_some_and(|e| e.split(',').any(|p| p.trim() == "aws-chunked"))
        && req.header("x-amz-decoded-content-length").is_some()
}

/// The checksum a request asks to verify: a value header, or a trailer it announces.
fn checksum_check(req: &ApiRequest) -> Result<Option<ChecksumCheck>, Failure> {
    let mut found = None;
    for (name, value) in &req.headers {
        if let Some(algorithm) = Algorithm::from_header(name.as_str()) {
            let value = std::str::from_utf8(value.as_bytes())
                .map_err(|_| Failure::InvalidRequest(format!("{name} is not text")))?;
            found = Some((algorithm, Some(value.trim().to_owned())));
        }
    }
    if found.is_none() {
        if let Some(trailer) = req.header("x-amz-trailer") {
            let name = trailer.trim().to_ascii_lowercase();
            match Algorithm::from_header(&name) {
                Some(algorithm) => found = Some((algorithm, None)),
                None => {
                    return Err(Failure::InvalidRequest(format!(
                        "the trailing checksum {trailer} is not supported"
                    )))
                }
            }
        }
    }
    Ok(found.map(|(algorithm, expected)| ChecksumCheck {
        algorithm,
        hasher: Hasher::new(algorithm),
        expected,
    }))
}

fn incomplete() -> Failure {
    Failure::IncompleteBody(
        "You did not provide the number of bytes specified by the Content-Length HTTP header."
            .into(),
    )
}

fn bad_chunk(what: &str) -> Failure {
    Failure::IncompleteBody(format!("malformed aws-chunked body: {what}"))
}

/// An `AsyncRead` over a stream of byte pieces.
struct StreamRead {
    stream: Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>,
    chunk: Bytes,
    _outcome: Arc<Mutex<Outcome>>,
}

impl AsyncRead for StreamRead {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        while self.chunk.is_empty() {
            match ready!(self.stream.as_mut().poll_next(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Err(e)) => return Poll::Ready(Err(e)),
                Some(Ok(chunk)) => self.chunk = chunk,
            }
        }
        let n = self.chunk.len().min(buf.remaining());
        buf.put_slice(&self.chunk[..n]);
        self.chunk.advance(n);
        Poll::Ready(Ok(()))
    }
}
