//! The binary-protocol target: `ringstore://HOST:PORT` through `ringstore-client`.
//!
//! The client pipelines the workers' requests over a pool of connections; retries are off
//! so that every failure is counted.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Buf, Bytes};
use ringstore_client::{Acl, Client, ClientConfig, Error, ListObjects, PutObject, StorageClass};
use tokio::io::{AsyncRead, ReadBuf};

use super::{BodyCheck, Ctx};
use crate::content::Chunks;
use crate::stats::{Done, OpError};
use crate::workload::OpKind;

/// The shared client of a run.
pub struct RingTarget {
    client: Client,
    endpoint: String,
    ctx: Ctx,
}

/// A worker's handle (a clone of the shared client).
pub struct RingSession {
    client: Client,
    ctx: Ctx,
}

/// A client error as a report error kind: the protocol status name, or the transport
/// failure.
fn op_error(e: Error) -> OpError {
    let kind = match &e {
        Error::Status { status, .. } => status.name().to_owned(),
        Error::Io(_) => "io".into(),
        Error::Timeout => "timeout".into(),
        Error::Closed => "closed".into(),
        Error::Protocol(_) => "protocol".into(),
        Error::Auth(_) => "auth".into(),
        _ => "client".into(),
    };
    OpError::new(kind, e.to_string())
}

impl RingTarget {
    /// Connects and authenticates (a wrong endpoint or key fails here).
    pub async fn connect(mut cfg: ClientConfig, ctx: Ctx) -> Result<RingTarget, OpError> {
        cfg.retries = 0;
        let endpoint = cfg.endpoint.clone();
        let client = Client::connect(cfg).await.map_err(op_error)?;
        Ok(RingTarget {
            client,
            endpoint,
            ctx,
        })
    }

    pub fn url(&self) -> String {
        format!("ringstore://{}", self.endpoint)
    }

    pub fn check(&self, op: OpKind) -> Result<(), OpError> {
        match op {
            OpKind::Multipart | OpKind::Append => Err(OpError::unsupported(format!(
                "{op} is not supported by target {}: the binary protocol and client library \
                 have no {op} operations yet",
                self.url()
            ))),
            _ => Ok(()),
        }
    }

    pub async fn ensure_bucket(&self) -> Result<(), OpError> {
        let bucket = &self.ctx.bucket;
        match self.client.head_bucket(bucket).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => self
                .client
                .create_bucket(bucket, Acl::Private, StorageClass::Standard, "local")
                .await
                .map_err(op_error),
            Err(e) => Err(op_error(e)),
        }
    }

    pub fn session(&self) -> RingSession {
        RingSession {
            client: self.client.clone(),
            ctx: self.ctx.clone(),
        }
    }
}

/// A body read from content slices.
struct ChunkReader {
    chunks: Chunks,
    current: Bytes,
}

impl AsyncRead for ChunkReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        while this.current.is_empty() {
            match this.chunks.next() {
                Some(next) => this.current = next,
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = this.current.len().min(buf.remaining());
        buf.put_slice(&this.current[..n]);
        this.current.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl RingSession {
    pub async fn put(&mut self, key: &str, size: u64) -> Result<Done, OpError> {
        let req = PutObject {
            bucket: self.ctx.bucket.clone(),
            key: key.to_owned(),
            content_type: String::new(),
            user_meta: Vec::new(),
            content_length: size,
            content_md5: None,
            forbid_overwrite: false,
        };
        let mut chunks = self.ctx.content.chunks(key, 0, size);
        match chunks.next() {
            // The whole body is one slice of the content pool: send it without a copy.
            Some(whole) if whole.len() as u64 == size => {
                self.client.put_object_bytes(req, whole).await
            }
            first => {
                let current = first.unwrap_or_default();
                let body = ChunkReader { chunks, current };
                self.client.put_object(req, body).await
            }
        }
        .map_err(op_error)?;
        Ok(Done {
            bytes: size,
            objects: 1,
            ttfb: None,
        })
    }

    pub async fn get(&mut self, key: &str, size: u64, intended: Instant) -> Result<Done, OpError> {
        let bucket = &self.ctx.bucket;
        let mut stream = self
            .client
            .get_object(bucket, key, None)
            .await
            .map_err(op_error)?;
        let ttfb = intended.elapsed();
        let mut check = BodyCheck::new(&self.ctx, key, size);
        while let Some(chunk) = stream.next_chunk().await {
            check.feed(&chunk.map_err(op_error)?);
        }
        check.finish(ttfb)
    }

    pub async fn stat(&mut self, key: &str) -> Result<Done, OpError> {
        let bucket = &self.ctx.bucket;
        self.client
            .head_object(bucket, key)
            .await
            .map_err(op_error)?;
        Ok(Done::ONE_OBJECT)
    }

    pub async fn delete(&mut self, key: &str) -> Result<Done, OpError> {
        let bucket = &self.ctx.bucket;
        self.client
            .delete_object(bucket, key)
            .await
            .map_err(op_error)?;
        Ok(Done::ONE_OBJECT)
    }

    pub async fn list(
        &mut self,
        prefix: &str,
        marker: &str,
        max_keys: u32,
    ) -> Result<(Done, Option<String>), OpError> {
        let page = self
            .client
            .list_objects(ListObjects {
                bucket: self.ctx.bucket.clone(),
                prefix: prefix.to_owned(),
                delimiter: String::new(),
                marker: marker.to_owned(),
                max_keys,
            })
            .await
            .map_err(op_error)?;
        let next = match page.is_truncated {
            true => page
                .next_marker
                .or_else(|| page.objects.last().map(|o| o.key.clone())),
            false => None,
        };
        let done = Done {
            objects: page.objects.len() as u64,
            ..Done::default()
        };
        Ok((done, next))
    }

    pub async fn multipart(&mut self, _key: &str, _size: u64, _part: u64) -> Result<Done, OpError> {
        Err(OpError::unsupported(
            "multipart is not supported by the ringstore binary protocol yet",
        ))
    }

    pub async fn append(&mut self, _key: &str, _position: u64, _len: u64) -> Result<Done, OpError> {
        Err(OpError::unsupported(
            "append is not supported by the ringstore binary protocol yet",
        ))
    }
}
