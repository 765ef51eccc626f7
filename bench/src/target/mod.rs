//! Targets: where a run sends its requests.
//!
//! - `ringstore://HOST:PORT`: the binary protocol through `ringstore-client`
//!   ([`ringstore`]).
//! - `http://HOST:PORT`: an OSS or S3 endpoint over HTTP/1.1 with hyper, path-style, signed
//!   with `--sign s3v4|oss1|oss4` ([`http`], XML answers read by [`xml`]).
//!
//! A [`Target`] is shared by the workers of one thread (the measured phase opens one per
//! `--threads` thread); each worker opens its own [`Session`] (the HTTP target's session is
//! one keep-alive connection; the binary protocol's sessions share the thread's pipelined
//! connection pool). Operations a target cannot perform are refused by
//! [`Target::check`] before a run starts.

pub mod http;
pub mod ringstore;
pub mod xml;

use std::time::{Duration, Instant};

use crate::content::{Content, Verifier};
use crate::stats::{Done, OpError};
use crate::workload::OpKind;

/// What every session needs to know about the run.
#[derive(Clone)]
pub struct Ctx {
    pub bucket: String,
    pub content: Content,
    /// Check every GET body against the expected content.
    pub verify: bool,
}

/// A target of a run.
pub enum Target {
    Ringstore(ringstore::RingTarget),
    Http(http::HttpTarget),
}

/// One worker's connection to a target.
pub enum Session {
    Ringstore(ringstore::RingSession),
    Http(Box<http::HttpSession>),
}

impl Target {
    /// The URL given on the command line.
    pub fn url(&self) -> String {
        match self {
            Target::Ringstore(t) => t.url(),
            Target::Http(t) => t.url(),
        }
    }

    /// Refuses an operation the target does not support, with the reason.
    pub fn check(&self, op: OpKind) -> Result<(), OpError> {
        match self {
            Target::Ringstore(t) => t.check(op),
            Target::Http(t) => t.check(op),
        }
    }

    /// Creates the run's bucket unless it exists.
    pub async fn ensure_bucket(&self) -> Result<(), OpError> {
        match self {
            Target::Ringstore(t) => t.ensure_bucket().await,
            Target::Http(t) => t.ensure_bucket().await,
        }
    }

    pub async fn session(&self) -> Result<Session, OpError> {
        Ok(match self {
            Target::Ringstore(t) => Session::Ringstore(t.session()),
            Target::Http(t) => Session::Http(Box::new(t.session())),
        })
    }
}

/// Dispatches a call to the session's variant.
macro_rules! each {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Session::Ringstore($s) => $call,
            Session::Http($s) => $call,
        }
    };
}

impl Session {
    /// Writes `key` with `size` bytes of its content.
    pub async fn put(&mut self, key: &str, size: u64) -> Result<Done, OpError> {
        each!(self, s => s.put(key, size).await)
    }

    /// Reads `key`, which should hold `size` bytes; TTFB is measured from `intended`.
    pub async fn get(&mut self, key: &str, size: u64, intended: Instant) -> Result<Done, OpError> {
        each!(self, s => s.get(key, size, intended).await)
    }

    pub async fn stat(&mut self, key: &str) -> Result<Done, OpError> {
        each!(self, s => s.stat(key).await)
    }

    pub async fn delete(&mut self, key: &str) -> Result<Done, OpError> {
        each!(self, s => s.delete(key).await)
    }

    /// One LIST page of up to `max_keys` keys under `prefix` after `marker`; returns the
    /// marker of the next page, `None` at the end.
    pub async fn list(
        &mut self,
        prefix: &str,
        marker: &str,
        max_keys: u32,
    ) -> Result<(Done, Option<String>), OpError> {
        each!(self, s => s.list(prefix, marker, max_keys).await)
    }

    /// Uploads `key` (`size` bytes) in parts of `part_bytes`.
    pub async fn multipart(
        &mut self,
        key: &str,
        size: u64,
        part_bytes: u64,
    ) -> Result<Done, OpError> {
        each!(self, s => s.multipart(key, size, part_bytes).await)
    }

    /// Appends `len` bytes of `key`'s content at `position` (0 creates the object).
    pub async fn append(&mut self, key: &str, position: u64, len: u64) -> Result<Done, OpError> {
        each!(self, s => s.append(key, position, len).await)
    }
}

/// Counts a GET body as it arrives and, with `--verify`, checks it against the content
/// `key` should hold; both targets read their bodies through one.
pub struct BodyCheck<'a> {
    key: &'a str,
    size: u64,
    bytes: u64,
    verifier: Option<Verifier>,
}

impl<'a> BodyCheck<'a> {
    /// A check for `key`, which should hold `size` bytes.
    pub fn new(ctx: &Ctx, key: &'a str, size: u64) -> Self {
        BodyCheck {
            key,
            size,
            bytes: 0,
            verifier: ctx.verify.then(|| ctx.content.verifier(key, 0, size)),
        }
    }

    /// The next piece of the body.
    pub fn feed(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        if let Some(v) = self.verifier.as_mut() {
            v.feed(data);
        }
    }

    /// The GET's result once the body has ended: a verify failure if it did not match.
    pub fn finish(self, ttfb: Duration) -> Result<Done, OpError> {
        if self.verifier.is_some_and(|v| !v.finish()) {
            return Err(verify_error(self.key, self.size, self.bytes));
        }
        Ok(Done {
            bytes: self.bytes,
            objects: 1,
            ttfb: Some(ttfb),
        })
    }
}

/// The verify failure for a body that did not match.
fn verify_error(key: &str, size: u64, got: u64) -> OpError {
    OpError::new(
        "verify",
        format!("GET {key}: the {got}-byte body is not the {size}-byte content that was put"),
    )
}
