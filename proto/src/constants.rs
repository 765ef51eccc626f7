//! Every limit and fixed size of the wire protocol, in one place.
//!
//! Decoders enforce each of these at the edge, so the server and the engine never see a
//! field longer than its limit. Related constants are tied together with
//! `const _: () = assert!(…)` so that a change that breaks another fails the build.
//! The engine keeps its own copies of the object-model limits (`KEY_BYTES_MAX`…); the two
//! must agree, and the server asserts that they do.

/// The first four bytes of every frame.
pub const MAGIC: [u8; 4] = *b"RSP1";
/// The only protocol version this crate speaks.
pub const VERSION: u8 = 1;

/// Every frame starts with a fixed header of this size (see `frame.rs` for the offsets).
pub const HEADER_BYTES: usize = 32;
/// The header CRC32C covers bytes `0..HEADER_CHECKSUMMED_BYTES`.
pub const HEADER_CHECKSUMMED_BYTES: usize = 28;
const _: () = assert!(HEADER_CHECKSUMMED_BYTES + 4 == HEADER_BYTES);

/// The largest body one frame may carry: a full chunk plus room for a message around it.
pub const FRAME_BODY_BYTES_MAX: usize = 1024 * 1024 + 4 * 1024;
const _: () = assert!(FRAME_BODY_BYTES_MAX <= u32::MAX as usize);

/// The largest object-body chunk one CHUNK frame may carry.
pub const CHUNK_BYTES_MAX: usize = 1024 * 1024;
/// The chunk size senders should use: large enough to amortise the header, small enough
/// that interleaved responses on one connection take turns often.
pub const CHUNK_BYTES_RECOMMENDED: usize = 256 * 1024;
const _: () = assert!(CHUNK_BYTES_RECOMMENDED <= CHUNK_BYTES_MAX);
const _: () = assert!(CHUNK_BYTES_MAX <= FRAME_BODY_BYTES_MAX);

/// Request id 0 is reserved for connection-level error frames sent by the server;
/// clients number their requests from 1.
pub const CONNECTION_REQUEST_ID: u64 = 0;

/// Bytes of the client and server nonces in the auth handshake.
pub const NONCE_BYTES: usize = 32;
/// Bytes of the HMAC-SHA256 auth proof.
pub const PROOF_BYTES: usize = 32;
/// The domain-separation prefix of the auth proof (the proto crate carries it, never
/// computes the HMAC).
pub const AUTH_PROOF_CONTEXT: &[u8] = b"ringstore-auth-v1";
/// Access key ids.
pub const ACCESS_KEY_ID_BYTES_MIN: usize = 1;
pub const ACCESS_KEY_ID_BYTES_MAX: usize = 128;

/// Secret access keys, as KeyCreate and KeyLookup carry them.
pub const SECRET_ACCESS_KEY_BYTES_MIN: usize = 1;
pub const SECRET_ACCESS_KEY_BYTES_MAX: usize = 128;
/// User ids: OSS-style owner ids (decimal strings); a bucket's `owner` is one.
pub const USER_ID_BYTES_MIN: usize = 1;
pub const USER_ID_BYTES_MAX: usize = OWNER_BYTES_MAX;
/// User display names (`[a-z0-9._-]`, checked by the server).
pub const DISPLAY_NAME_BYTES_MIN: usize = 1;
pub const DISPLAY_NAME_BYTES_MAX: usize = 64;
/// Users the daemon keeps, besides the built-in `root`.
pub const USERS_MAX: usize = 1000;
/// Access keys KeyCreate may give one user (as OSS and IAM: two, so a key can be rotated).
pub const ACCESS_KEYS_PER_USER_MAX: usize = 2;
/// Every access key: each user's (root included) plus the root key from the environment
/// or `root.key`.
pub const ACCESS_KEYS_MAX: usize = (USERS_MAX + 1) * ACCESS_KEYS_PER_USER_MAX + 1;
/// The principal prefix of a request sent on behalf of someone (PRINCIPAL flag): a tag and
/// at most one user id.
pub const PRINCIPAL_PREFIX_BYTES_MAX: usize = 1 + 2 + USER_ID_BYTES_MAX;

/// Bucket names (the engine checks the character set; the wire checks the length).
pub const BUCKET_NAME_BYTES_MIN: usize = 3;
pub const BUCKET_NAME_BYTES_MAX: usize = 63;
/// Region names, for example `local` or `oss-cn-hangzhou`.
pub const REGION_BYTES_MAX: usize = 64;
/// Owner ids in `BucketInfo`.
pub const OWNER_BYTES_MAX: usize = 128;

/// Object keys, as OSS: 1 to 1023 bytes of UTF-8.
pub const KEY_BYTES_MIN: usize = 1;
pub const KEY_BYTES_MAX: usize = 1023;
/// LIST prefix, delimiter and marker are key fragments.
pub const PREFIX_BYTES_MAX: usize = KEY_BYTES_MAX;
pub const DELIMITER_BYTES_MAX: usize = KEY_BYTES_MAX;
pub const MARKER_BYTES_MAX: usize = KEY_BYTES_MAX;
/// Content-Type values.
pub const CONTENT_TYPE_BYTES_MAX: usize = 256;
/// User metadata: the sum of all names and values, as OSS (8 KiB).
pub const USER_META_BYTES_MAX: usize = 8 * 1024;
/// Version ids (opaque strings chosen by the engine).
pub const VERSION_ID_BYTES_MAX: usize = 64;
/// A simple upload's size limit (OSS and S3: 5 GiB).
pub const OBJECT_BYTES_MAX: u64 = 5 * 1024 * 1024 * 1024;

/// Keys plus common prefixes in one LIST page, and the largest `max_keys` a client may ask.
pub const LIST_KEYS_MAX: usize = 1000;
/// Buckets in one ListBuckets page.
pub const LIST_BUCKETS_MAX: usize = 1000;
/// Keys in one DeleteObjects request.
pub const DELETE_KEYS_MAX: usize = 1000;

/// An error response body: the UTF-8 message naming the problem.
pub const ERROR_MESSAGE_BYTES_MAX: usize = 4 * 1024;
/// An admin request or response body: UTF-8 JSON, possibly empty.
pub const ADMIN_JSON_BYTES_MAX: usize = FRAME_BODY_BYTES_MAX;

/// The largest encoding of one length-prefixed key: u16 length + the bytes.
const KEY_FIELD_BYTES_MAX: usize = 2 + KEY_BYTES_MAX;
const _: () = assert!(KEY_BYTES_MAX <= u16::MAX as usize);
const _: () = assert!(USER_META_BYTES_MAX <= u16::MAX as usize);
const _: () = assert!(ERROR_MESSAGE_BYTES_MAX <= FRAME_BODY_BYTES_MAX);
// A DeleteObjects request and its response must fit in one frame without chunking:
// bucket, count, quiet flag, then the keys (response: key + u16 status each).
const _: () = assert!(
    2 + BUCKET_NAME_BYTES_MAX + 4 + 1 + DELETE_KEYS_MAX * KEY_FIELD_BYTES_MAX
        <= FRAME_BODY_BYTES_MAX
);
const _: () = assert!(4 + DELETE_KEYS_MAX * (KEY_FIELD_BYTES_MAX + 2) <= FRAME_BODY_BYTES_MAX);
// A UserList of every user (id, name, created, admin flag, key ids) fits in one frame, and
// so does a KeyList of every key (key id, user id, name, created).
const _: () = assert!(
    4 + (USERS_MAX + 1)
        * (2 + USER_ID_BYTES_MAX
            + 2
            + DISPLAY_NAME_BYTES_MAX
            + 8
            + 1
            + 4
            + (ACCESS_KEYS_PER_USER_MAX + 1) * (2 + ACCESS_KEY_ID_BYTES_MAX))
        <= FRAME_BODY_BYTES_MAX
);
const _: () = assert!(
    4 + ACCESS_KEYS_MAX
        * (2 + ACCESS_KEY_ID_BYTES_MAX + 2 + USER_ID_BYTES_MAX + 2 + DISPLAY_NAME_BYTES_MAX + 8)
        <= FRAME_BODY_BYTES_MAX
);
// A maximal DeleteObjects request still fits with a principal prefix before it.
const _: () = assert!(
    PRINCIPAL_PREFIX_BYTES_MAX
        + 2
        + BUCKET_NAME_BYTES_MAX
        + 4
        + 1
        + DELETE_KEYS_MAX * KEY_FIELD_BYTES_MAX
        <= FRAME_BODY_BYTES_MAX
);
// A ListPage of 1000 maximal keys does NOT fit (each entry costs up to 1023 + 40 bytes, so
// about 1.07 MB); the server closes a page early, with `is_truncated`, when the next entry
// would cross `LIST_PAGE_BYTES_MAX`. See `object::ListPage` and PROTOCOL.md, "ListObjects".
