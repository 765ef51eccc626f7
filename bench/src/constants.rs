//! Every limit of ringbench in one place.

/// Period of the shared content pool: an object's bytes repeat after this many, so
/// bodies of any size are zero-copy slices of one buffer.
pub const CONTENT_PERIOD_BYTES: usize = 16 << 20;
/// Objects start at one of this many 8-byte aligned offsets of the pool (chosen by a hash
/// of the key), so a GET answered with another object's bytes fails `--verify`.
pub const CONTENT_STARTS: usize = CONTENT_PERIOD_BYTES / 8;
/// Largest body chunk handed to a transport at once.
pub const BODY_CHUNK_BYTES_MAX: usize = 1 << 20;
/// Largest object a run may write (the OSS / S3 single-object limit).
pub const OBJECT_BYTES_MAX: u64 = 5 << 30;
/// Most keys one run may address (the key state table is allocated up front).
pub const KEY_COUNT_MAX: u64 = 100_000_000;
/// Most concurrent workers.
pub const CONCURRENCY_MAX: usize = 4096;
/// Most connections the binary-protocol client pool may open.
pub const CONNECTIONS_MAX: usize = 256;
/// Most threads running workers (`--threads`).
pub const THREADS_MAX: usize = 64;
/// Longest run, so the per-second table stays bounded.
pub const DURATION_SECONDS_MAX: u64 = 24 * 3600;
/// Latencies are recorded in microseconds between 1 µs and this bound (longer ones are
/// clamped to it), with three significant digits.
pub const LATENCY_US_MAX: u64 = 3_600_000_000;
/// Keys asked for per LIST request unless `--list-page` says otherwise.
pub const LIST_PAGE_KEYS_DEFAULT: u32 = 1000;
/// Most keys per LIST request (the OSS / S3 limit).
pub const LIST_PAGE_KEYS_MAX: u32 = 1000;
/// S3 parts other than the last must be at least this large.
pub const PART_BYTES_MIN: u64 = 5 << 20;
/// Most parts of one multipart upload (the OSS / S3 limit).
pub const PARTS_MAX: u64 = 10_000;
/// Largest HTTP response body read into memory that is not object data (XML documents).
pub const XML_BYTES_MAX: usize = 8 << 20;
/// Distinct error messages kept per error kind for the report.
pub const ERROR_SAMPLES_MAX: usize = 3;
/// How often the progress bar is redrawn, in milliseconds.
pub const PROGRESS_INTERVAL_MS: u64 = 200;
/// Version of the JSON report layout; `compare` refuses other versions.
pub const REPORT_VERSION: u32 = 1;

const _: () = assert!(CONTENT_PERIOD_BYTES.is_multiple_of(BODY_CHUNK_BYTES_MAX));
const _: () = assert!(LIST_PAGE_KEYS_DEFAULT <= LIST_PAGE_KEYS_MAX);
const _: () = assert!(PART_BYTES_MIN * PARTS_MAX >= OBJECT_BYTES_MAX);
