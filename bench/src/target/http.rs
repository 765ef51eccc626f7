//! The HTTP target: `http://HOST:PORT`, path-style requests in the S3 or OSS dialect,
//! signed per request (`--sign`), over one hyper HTTP/1.1 keep-alive connection per worker.
//!
//! Bodies are content slices with an exact length (no chunked encoding, no copy). Every
//! response body is read to its end so the connection can carry the next request; a
//! failed connection is replaced on the next operation.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::{xml, BodyCheck, Ctx};
use crate::constants::XML_BYTES_MAX;
use crate::content::Chunks;
use crate::sign::{Scheme, Signer, Unsigned};
use crate::stats::{Done, OpError};
use crate::workload::OpKind;

/// A request body: content slices, or one buffer, with its exact length.
pub enum ReqBody {
    Content(Chunks),
    Once(Option<Bytes>),
}

impl ReqBody {
    fn empty() -> ReqBody {
        ReqBody::Once(None)
    }

    fn len(&self) -> u64 {
        match self {
            ReqBody::Content(c) => c.remaining(),
            ReqBody::Once(b) => b.as_ref().map_or(0, |b| b.len() as u64),
        }
    }
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = match &mut *self {
            ReqBody::Content(c) => c.next(),
            ReqBody::Once(b) => b.take(),
        };
        Poll::Ready(next.map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.len() == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len())
    }
}

struct Shared {
    host: String,
    signer: Signer,
    ctx: Ctx,
}

/// An HTTP endpoint.
pub struct HttpTarget {
    shared: Arc<Shared>,
}

/// One worker's connection.
pub struct HttpSession {
    shared: Arc<Shared>,
    conn: Option<SendRequest<ReqBody>>,
}

fn transport(what: &str, e: impl std::fmt::Display) -> OpError {
    OpError::new("http transport", format!("{what}: {e}"))
}

impl HttpTarget {
    /// `host` is `HOST:PORT`.
    pub fn new(host: String, signer: Signer, ctx: Ctx) -> HttpTarget {
        HttpTarget {
            shared: Arc::new(Shared { host, signer, ctx }),
        }
    }

    pub fn url(&self) -> String {
        let scheme = match self.shared.signer.scheme {
            Scheme::S3v4 => "s3v4",
            Scheme::Oss1 => "oss1",
            Scheme::Oss4 => "oss4",
        };
        format!("http://{} ({scheme})", self.shared.host)
    }

    pub fn check(&self, op: OpKind) -> Result<(), OpError> {
        match op {
            OpKind::Append if !self.shared.signer.scheme.is_oss() => {
                Err(OpError::unsupported(format!(
                    "append is not supported by target {}: the S3 dialect has no appendable \
                     objects (use --sign oss1 or oss4 against an OSS endpoint)",
                    self.url()
                )))
            }
            _ => Ok(()),
        }
    }

    pub fn session(&self) -> HttpSession {
        HttpSession {
            shared: self.shared.clone(),
            conn: None,
        }
    }

    /// HEAD the bucket; create it when it is missing.
    pub async fn ensure_bucket(&self) -> Result<(), OpError> {
        let mut s = self.session();
        let head = s
            .request("HEAD", "", vec![], vec![], ReqBody::empty())
            .await?;
        match head.status() {
            StatusCode::OK => return s.drain(head).await.map(drop),
            StatusCode::NOT_FOUND => s.drain(head).await.map(drop)?,
            _ => return Err(s.failure(head).await),
        }
        let put = s
            .request("PUT", "", vec![], vec![], ReqBody::empty())
            .await?;
        match put.status() {
            // Someone else created it meanwhile: fine.
            s2 if s2.is_success() || s2 == StatusCode::CONFLICT => s.drain(put).await.map(drop),
            _ => Err(s.failure(put).await),
        }
    }
}

type Query = Vec<(String, Option<String>)>;

fn q(name: &str, value: Option<String>) -> (String, Option<String>) {
    (name.to_owned(), value)
}

impl HttpSession {
    async fn connection(&mut self) -> Result<&mut SendRequest<ReqBody>, OpError> {
        if self.conn.as_ref().is_none_or(|c| c.is_closed()) {
            self.conn = None;
            let stream = tokio::net::TcpStream::connect(&self.shared.host)
                .await
                .map_err(|e| transport("connect", e))?;
            stream
                .set_nodelay(true)
                .map_err(|e| transport("nodelay", e))?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| transport("handshake", e))?;
            tokio::spawn(async move {
                let _ = conn.await; // Its errors reach the request that was using it.
            });
            self.conn = Some(sender);
        }
        let conn = self.conn.as_mut().expect("connected above");
        conn.ready().await.map_err(|e| transport("connection", e))?;
        Ok(conn)
    }

    /// Signs and sends one request to `key` of the run's bucket (`""`: the bucket).
    async fn request(
        &mut self,
        method: &'static str,
        key: &str,
        query: Query,
        headers: Vec<(String, String)>,
        body: ReqBody,
    ) -> Result<Response<Incoming>, OpError> {
        let mut unsigned = Unsigned {
            method,
            host: self.shared.host.clone(),
            bucket: self.shared.ctx.bucket.clone(),
            key: key.to_owned(),
            query,
            headers,
        };
        self.shared.signer.sign(&mut unsigned, SystemTime::now());
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(unsigned.path_and_query())
            .header("host", &unsigned.host)
            .header("content-length", body.len());
        for (name, value) in &unsigned.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder.body(body).map_err(|e| transport("request", e))?;
        let conn = self.connection().await?;
        match conn.send_request(request).await {
            Ok(response) => Ok(response),
            Err(e) => {
                self.conn = None;
                Err(transport("send", e))
            }
        }
    }

    /// Reads a whole (small) response body.
    async fn drain(&mut self, response: Response<Incoming>) -> Result<Bytes, OpError> {
        let limited = http_body_util::Limited::new(response.into_body(), XML_BYTES_MAX);
        match limited.collect().await {
            Ok(body) => Ok(body.to_bytes()),
            Err(e) => {
                self.conn = None;
                Err(transport("response body", e))
            }
        }
    }

    /// The error for a response with a failure status: `http STATUS Code`.
    async fn failure(&mut self, response: Response<Incoming>) -> OpError {
        let status = response.status();
        let body = self.drain(response).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        let code = xml::first(&text, "Code").unwrap_or_default();
        let message =
            xml::first(&text, "Message").unwrap_or_else(|| text.chars().take(200).collect());
        OpError::new(
            format!("http {} {code}", status.as_u16())
                .trim_end()
                .to_owned(),
            message,
        )
    }

    /// Sends a request and returns its body if the status is a success.
    async fn call(
        &mut self,
        method: &'static str,
        key: &str,
        query: Query,
        headers: Vec<(String, String)>,
        body: ReqBody,
    ) -> Result<(hyper::HeaderMap, Bytes), OpError> {
        let response = self.request(method, key, query, headers, body).await?;
        if !response.status().is_success() {
            return Err(self.failure(response).await);
        }
        let headers = response.headers().clone();
        Ok((headers, self.drain(response).await?))
    }

    fn object_headers() -> Vec<(String, String)> {
        vec![("content-type".into(), "application/octet-stream".into())]
    }

    pub async fn put(&mut self, key: &str, size: u64) -> Result<Done, OpError> {
        let body = ReqBody::Content(self.shared.ctx.content.chunks(key, 0, size));
        self.call("PUT", key, vec![], Self::object_headers(), body)
            .await?;
        Ok(Done {
            bytes: size,
            objects: 1,
            ttfb: None,
        })
    }

    pub async fn get(&mut self, key: &str, size: u64, intended: Instant) -> Result<Done, OpError> {
        let response = self
            .request("GET", key, vec![], vec![], ReqBody::empty())
            .await?;
        let ttfb = intended.elapsed();
        if !response.status().is_success() {
            return Err(self.failure(response).await);
        }
        let ctx = &self.shared.ctx;
        let mut check = BodyCheck::new(ctx, key, size);
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                self.conn = None;
                transport("response body", e)
            })?;
            if let Ok(data) = frame.into_data() {
                check.feed(&data);
            }
        }
        check.finish(ttfb)
    }

    pub async fn stat(&mut self, key: &str) -> Result<Done, OpError> {
        self.call("HEAD", key, vec![], vec![], ReqBody::empty())
            .await?;
        Ok(Done::ONE_OBJECT)
    }

    pub async fn delete(&mut self, key: &str) -> Result<Done, OpError> {
        self.call("DELETE", key, vec![], vec![], ReqBody::empty())
            .await?;
        Ok(Done::ONE_OBJECT)
    }

    /// S3: ListObjectsV2 with continuation tokens; OSS: ListObjects with markers.
    pub async fn list(
        &mut self,
        prefix: &str,
        marker: &str,
        max_keys: u32,
    ) -> Result<(Done, Option<String>), OpError> {
        let oss = self.shared.signer.scheme.is_oss();
        let mut query = vec![
            q("max-keys", Some(max_keys.to_string())),
            q("prefix", Some(prefix.to_owned())),
        ];
        match oss {
            true => query.push(q("marker", Some(marker.to_owned()))),
            false => {
                query.insert(0, q("list-type", Some("2".into())));
                if !marker.is_empty() {
                    query.push(q("continuation-token", Some(marker.to_owned())));
                }
            }
        }
        let (_, body) = self
            .call("GET", "", query, vec![], ReqBody::empty())
            .await?;
        let text = String::from_utf8_lossy(&body);
        let keys = xml::values(&text, "Key");
        let truncated = xml::first(&text, "IsTruncated").as_deref() == Some("true");
        let next = match (truncated, oss) {
            (false, _) => None,
            (true, false) => xml::first(&text, "NextContinuationToken"),
            (true, true) => xml::first(&text, "NextMarker").or_else(|| keys.last().cloned()),
        };
        let done = Done {
            objects: keys.len() as u64,
            ..Done::default()
        };
        Ok((done, next))
    }

    /// Initiate, upload the parts in order, complete; abort on a failure.
    pub async fn multipart(
        &mut self,
        key: &str,
        size: u64,
        part_bytes: u64,
    ) -> Result<Done, OpError> {
        let (_, body) = self
            .call(
                "POST",
                key,
                vec![q("uploads", None)],
                Self::object_headers(),
                ReqBody::empty(),
            )
            .await?;
        let upload_id = xml::first(&String::from_utf8_lossy(&body), "UploadId")
            .ok_or_else(|| OpError::new("http protocol", "InitiateMultipartUpload: no UploadId"))?;
        match self.upload_parts(key, size, part_bytes, &upload_id).await {
            Ok(()) => Ok(Done {
                bytes: size,
                objects: 1,
                ttfb: None,
            }),
            Err(e) => {
                let query = vec![q("uploadId", Some(upload_id))];
                let _ = self
                    .call("DELETE", key, query, vec![], ReqBody::empty())
                    .await;
                Err(e)
            }
        }
    }

    async fn upload_parts(
        &mut self,
        key: &str,
        size: u64,
        part_bytes: u64,
        upload_id: &str,
    ) -> Result<(), OpError> {
        let mut complete = String::from("<CompleteMultipartUpload>");
        let parts = size.div_ceil(part_bytes).max(1);
        for number in 1..=parts {
            let offset = (number - 1) * part_bytes;
            let len = part_bytes.min(size - offset);
            let chunks = self.shared.ctx.content.chunks(key, offset, len);
            let query = vec![
                q("partNumber", Some(number.to_string())),
                q("uploadId", Some(upload_id.to_owned())),
            ];
            let (headers, _) = self
                .call("PUT", key, query, vec![], ReqBody::Content(chunks))
                .await?;
            let etag = headers
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| OpError::new("http protocol", "UploadPart answer has no ETag"))?;
            complete.push_str(&format!(
                "<Part><PartNumber>{number}</PartNumber><ETag>{}</ETag></Part>",
                xml::escape(etag)
            ));
        }
        complete.push_str("</CompleteMultipartUpload>");
        let query = vec![q("uploadId", Some(upload_id.to_owned()))];
        let headers = vec![("content-type".into(), "application/xml".into())];
        let body = ReqBody::Once(Some(complete.into()));
        self.call("POST", key, query, headers, body).await.map(drop)
    }

    /// OSS AppendObject at `position`; checks the next position the server reports.
    pub async fn append(&mut self, key: &str, position: u64, len: u64) -> Result<Done, OpError> {
        let query = vec![q("append", None), q("position", Some(position.to_string()))];
        let chunks = self.shared.ctx.content.chunks(key, position, len);
        let (headers, _) = self
            .call(
                "POST",
                key,
                query,
                Self::object_headers(),
                ReqBody::Content(chunks),
            )
            .await?;
        let next = headers
            .get("x-oss-next-append-position")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if next != Some(position + len) {
            return Err(OpError::new(
                "http protocol",
                format!(
                    "AppendObject: next position {next:?}, expected {}",
                    position + len
                ),
            ));
        }
        Ok(Done {
            bytes: len,
            objects: 1,
            ttfb: None,
        })
    }
}
