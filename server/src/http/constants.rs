//! The adapter's limits, in one place.

use std::time::Duration;

/// Longest object key, as the binary protocol allows.
pub use ringstore_client::proto::constants::KEY_BYTES_MAX;
/// Largest simple upload (5 GiB): beyond it `EntityTooLarge`.
pub use ringstore_client::proto::constants::OBJECT_BYTES_MAX;

/// Longest request target (path and query).
pub const URI_BYTES_MAX: usize = 16 * 1024;
/// Largest request head (request line and headers) hyper buffers; beyond it 431.
pub const HEAD_BYTES_MAX: usize = 64 * 1024;
/// Largest total of header names and values the adapter accepts (user metadata alone may
/// take 8 KiB); beyond it `RequestHeaderSectionTooLarge`.
pub const HEADERS_BYTES_MAX: usize = 32 * 1024;
/// Most header fields in one request.
pub const HEADERS_MAX: usize = 256;
/// Time a client has to send a whole request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest XML request body (a Delete of 1000 keys of 1023 bytes fits).
pub const XML_BODY_BYTES_MAX: usize = 2 * 1024 * 1024;
/// Largest clock difference a signed request may have (15 minutes, as both services).
pub const CLOCK_SKEW_SECS_MAX: u64 = 15 * 60;
/// Longest validity of a presigned URL (7 days, as S3).
pub const PRESIGN_EXPIRES_SECS_MAX: u64 = 7 * 24 * 3600;
/// How long a resolved access key is trusted before it is looked up again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);
/// Access keys the resolver remembers at once.
pub const KEY_CACHE_ENTRIES_MAX: usize = 10_000;
/// Keys a DeleteMultipleObjects request may name.
pub use ringstore_client::proto::constants::DELETE_KEYS_MAX;
/// Longest aws-chunked chunk header line (`hex;chunk-signature=64 hex`) or trailer line.
pub const CHUNK_LINE_BYTES_MAX: usize = 4096;
/// Largest upload without a declared length (collected in memory to learn it).
pub const UNSIZED_UPLOAD_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Such uploads in progress at once: with the limit above, at most 64 MiB of memory.
pub const UNSIZED_UPLOADS_MAX: usize = 4;
/// Threads of the adapter's tokio runtime.
pub const RUNTIME_THREADS: usize = 2;
/// Open HTTP connections; beyond this, new connections wait in the accept backlog.
pub const CONNECTIONS_MAX: usize = 1024;

const _: () = assert!(URI_BYTES_MAX < HEAD_BYTES_MAX);
const _: () = assert!(HEADERS_BYTES_MAX < HEAD_BYTES_MAX);
const _: () = assert!(KEY_BYTES_MAX * 3 < URI_BYTES_MAX);
