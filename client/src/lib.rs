//! ringstore client: an async (tokio) library for ringstore's binary protocol, with a
//! connection pool, request pipelining and streaming object bodies.
//!
//! The CLI, the HTTP adapter and `ringbench` embed it. The wire format is the
//! `ringstore-proto` crate (spec: `proto/PROTOCOL.md`); this crate adds the I/O.
//!
//! # Example
//!
//! ```no_run
//! use bytes::Bytes;
//! use ringstore_client::{Acl, Client, ClientConfig, PutObject, StorageClass};
//!
//! # async fn run() -> Result<(), ringstore_client::Error> {
//! let client = Client::connect(ClientConfig::new("127.0.0.1:7070", "AKID", "SECRET")).await?;
//! client.create_bucket("photos", Acl::Private, StorageClass::Standard, "local").await?;
//! let put = PutObject {
//!     bucket: "photos".into(),
//!     key: "cat.jpg".into(),
//!     content_type: "image/jpeg".into(),
//!     user_meta: vec![],
//!     content_length: 0, // put_object_bytes sets it
//!     content_md5: None,
//!     forbid_overwrite: false,
//! };
//! let meta = client.put_object_bytes(put, Bytes::from_static(b"meow")).await?;
//! let (response, body) = client.get_object_bytes("photos", "cat.jpg", None).await?;
//! assert_eq!((&body[..], response.meta.etag), (&b"meow"[..], meta.etag));
//!
//! // Large objects stream: chunk by chunk, or as an AsyncRead.
//! let mut stream = client.get_object("photos", "cat.jpg", None).await?;
//! while let Some(chunk) = stream.next_chunk().await {
//!     let _bytes = chunk?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Data flow
//!
//! [`Client`] → `pool` (picks the connection with the fewest requests in flight, opens
//! more on demand) → `connection` (a request takes a permit of the server's
//! `requests_in_flight_max`, a request id and a routing entry, then queues its frames for
//! the writer task; the reader task decodes frames and routes each by request id: the
//! response message to a oneshot, body chunks to a bounded channel). Uploads (`put`)
//! read the caller's body one 256 KiB chunk at a time; downloads (`get`) hand chunks to a
//! [`GetObjectStream`].
//!
//! # Modules
//!
//! - `config`: [`ClientConfig`]; `error`: [`Error`].
//! - `key_file`: [`credentials`], the caller's key from flags or `<data_dir>/root.key`.
//! - `client`: [`Client`], connect and the retry policy.
//! - `bucket`, `object`, `versions`, `admin`: the operations, one file per family
//!   (`versions` also has the object ACL operations; `admin` also has users and keys, and
//!   `key_lookup` for adapters that verify signatures).
//! - [`Client::acting_as`]: requests on behalf of a [`Principal`] (the HTTP adapter
//!   authenticates its callers and sends their requests as them).
//! - `put`, `get`: the streaming halves of PutObject and GetObject.
//! - `auth`: the Hello/Auth handshake and [`auth_proof`].
//! - `connection`, `pool`: the transport.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admin;
mod auth;
mod bucket;
mod client;
mod config;
mod connection;
mod error;
mod get;
mod key_file;
mod object;
mod pool;
mod put;
mod versions;

pub use auth::auth_proof;
pub use client::Client;
pub use config::{
    ClientConfig, CONNECTIONS_DEFAULT, CONNECT_TIMEOUT_DEFAULT, REQUEST_TIMEOUT_DEFAULT,
    RETRIES_DEFAULT,
};
pub use error::Error;
pub use get::GetObjectStream;
pub use key_file::{credentials, KeyFileError, ROOT_KEY_FILE};

/// The wire-format crate, for types not re-exported here.
pub use ringstore_proto as proto;
pub use ringstore_proto::{
    AccessKeyInfo, Acl, BucketInfo, DeleteObjectsResponse, DeleteResult, ETag, GetObjectResponse,
    KeyInfo, ListObjects, ListPage, NewAccessKey, ObjectMeta, ObjectSummary, ObjectType, Principal,
    PutObject, RangeSpec, Status, StorageClass, UserInfo, UserMeta,
};
pub use ringstore_proto::{
    DeleteVersionResult, ListObjectVersions, VersionEntry, VersionPage, Versioning,
};

#[cfg(test)]
mod tests;
