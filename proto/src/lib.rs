//! ringstore binary protocol: frames, opcodes, status codes and message codecs. No I/O.
//!
//! The specification is `PROTOCOL.md` beside this crate; each module repeats the part of
//! it that it implements.
//!
//! Data flow, receiving: bytes from a socket go into a `BytesMut`; [`FrameDecoder`] checks
//! the header (magic, version, header CRC32C, limits) before trusting `body_len`, waits for
//! the body, checks its CRC32C and yields a [`Frame`]. The receiver then matches the
//! opcode ([`Opcode`]) and decodes the body with the message's [`Body::decode`]; a
//! [`DecodeError`] closes the connection, a [`BodyError`] only fails the request (its
//! [`BodyError::status`] is the response status). Sending is the reverse:
//! [`encode_message_frame`] for messages, [`encode_frame`] (or [`FrameHeader::encode`]
//! for vectored writes) for body chunks, [`encode_error_frame`] for error responses.
//!
//! Modules:
//! - [`constants`]: every limit and fixed size.
//! - [`frame`]: the 32-byte header, flags, encoders, [`decode`] and [`FrameDecoder`].
//! - [`codec`]: the body encoding ([`Writer`], [`Reader`]), [`Body`], [`Request`],
//!   [`BodyError`].
//! - [`opcode`], [`status`]: the numbers, and [`ErrorBody`].
//! - [`session`], [`bucket`], [`object`], [`versioning`], [`admin`], [`user`]: one file
//!   per operation family, with each request, its response and the types they carry
//!   (`versioning` also has the object ACL messages).
//! - [`principal`]: the prefix of a request sent on behalf of a principal.
//! - [`routing`]: which partition owns an object, for clients that send each request to
//!   the core that owns it (the Challenge's [`Route`]).

#![forbid(unsafe_code)]

// First: the modules after it declare requests with its macro.
#[macro_use]
mod string_request;

pub mod admin;
pub mod bucket;
pub mod codec;
pub mod constants;
pub mod frame;
pub mod object;
pub mod opcode;
pub mod principal;
pub mod routing;
pub mod session;
pub mod status;
pub mod user;
pub mod versioning;

pub use admin::{AdminJson, AdminStatus, DeviceReplace, ScrubPause, ScrubStart, ScrubStatus};
pub use bucket::{
    Acl, BucketInfo, BucketList, CreateBucket, DeleteBucket, GetBucketInfo, HeadBucket,
    ListBuckets, PutBucketAcl, StorageClass,
};
pub use codec::{Body, BodyError, Empty, Field, Reader, Request, Writer};
pub use frame::{
    decode, decode_header, encode_error_frame, encode_frame, encode_message_frame, DecodeError,
    DecodedHeader, Flags, Frame, FrameDecoder, FrameHeader, FrameRef,
};
pub use object::{
    DeleteObject, DeleteObjects, DeleteObjectsResponse, DeleteResult, ETag, GetObject,
    GetObjectResponse, HeadObject, ListObjects, ListPage, ObjectMeta, ObjectSummary, ObjectType,
    PutObject, RangeSpec, UserMeta,
};
pub use opcode::Opcode;
pub use principal::{encode_with_principal, split_principal, Principal};
pub use session::{Auth, Challenge, Hello, Ping, Route};
pub use status::{ErrorBody, Status};
pub use user::{
    AccessKeyInfo, AccessKeys, KeyCreate, KeyDelete, KeyInfo, KeyList, KeyLookup,
    KeyLookupResponse, NewAccessKey, UserCreate, UserDelete, UserInfo, UserList, Users,
};
pub use versioning::{
    BucketVersioning, DeleteObjectVersion, DeleteVersionResult, GetBucketVersioning, GetObjectAcl,
    GetObjectVersion, HeadObjectVersion, ListObjectVersions, ObjectAclResponse,
    PutBucketVersioning, PutObjectAcl, VersionEntry, VersionPage, Versioning,
};

#[cfg(test)]
mod test_support;
