//! The HTTP adapter: the OSS and S3 REST dialects over the binary protocol.
//!
//! A thin layer on tokio + hyper, on its own runtime (`RUNTIME_THREADS` threads, off the
//! engine cores), that reaches the engine only through the client library, as any other
//! program would. One router serves both dialects with one handler per operation; the
//! dialect of each request (OSS: `OSS ` / `OSS4-HMAC-SHA256` signatures and `x-oss-*`
//! headers; S3: `AWS4-HMAC-SHA256` and `x-amz-*`) chooses the headers, the ETag case and
//! the error codes of the answer. Path-style and virtual-host addressing.
//!
//! Data flow: `serve` accepts a connection and runs hyper's HTTP/1.1 server on it; each
//! request gets a 24-character request id, is parsed (`request`), routed (`router`),
//! authenticated (`auth`: the signature is verified here, with the key's secret from
//! `auth::keys`), and handed to its operation in `ops`. Bodies stream both ways: uploads
//! through `body` (aws-chunked decoding, SHA-256 / CRC checks, holding back the final
//! bytes until they pass) into the client's upload, downloads from the client's
//! `GetObjectStream` into the response. Failures of any kind are a `error::Failure`,
//! rendered as the dialect's XML error document.
//!
//! Modules:
//! - `serve`: the runtime, the accept loop, the per-request frame (ids, common headers).
//! - `request`: `ApiRequest`, dialect detection, addressing, URI decoding, key checks.
//! - `router`: `Op`, the operation table.
//! - `auth`: SigV4 (header, presigned, chunk signatures), OSS V1, OSS V4, key resolution.
//! - `body`: the streaming request body and its checks; `checksum`: CRC32/CRC32C/CRC-64.
//! - `ops`: one file per operation family (service, bucket, acl, list, put, copy, get,
//!   delete).
//! - `error`: `Failure`, one code table per dialect, the error documents.
//! - `response`, `xml`, `time`: building answers, XML in and out, wire dates.
//! - `constants`: every limit of the adapter.
//! - `fuzz_api`: the pure parsers and canonicalizers, for `tests/fuzz/` (not a stable API).

mod auth;
mod body;
mod checksum;
pub mod constants;
mod error;
#[doc(hidden)]
pub mod fuzz_api;
mod ops;
mod request;
mod response;
mod router;
mod serve;
mod time;
mod xml;

pub use serve::{bind, HttpConfig, HttpServer};
