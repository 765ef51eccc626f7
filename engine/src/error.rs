//! The engine's error type. Each variant maps one-to-one to a protocol status code and to
//! an OSS / S3 error code in the HTTP adapter.

/// An operation failed. Programmer errors are assertions, not variants.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid bucket name {0}")]
    InvalidBucketName(String),
    #[error("bucket {0:?} already exists")]
    BucketAlreadyExists(String),
    #[error("bucket {0:?} does not exist")]
    NoSuchBucket(String),
    #[error("bucket {0:?} is not empty")]
    BucketNotEmpty(String),
    #[error("too many buckets (the limit is {0})")]
    TooManyBuckets(usize),
    #[error("invalid object key: {0}")]
    InvalidKey(String),
    #[error("object key is {0} bytes long, more than 1023")]
    KeyTooLong(usize),
    #[error("object {key:?} does not exist in bucket {bucket:?}")]
    NoSuchKey { bucket: String, key: String },
    #[error("object {key:?} in bucket {bucket:?} has no version {version_id}")]
    NoSuchVersion {
        bucket: String,
        key: String,
        version_id: String,
    },
    /// The operation does not apply to what it names (a delete marker addressed by its
    /// version id, a versioning change a bucket cannot make).
    #[error("method not allowed: {0}")]
    MethodNotAllowed(String),
    #[error("too many snapshots are open on a partition (the limit is {0})")]
    TooManySnapshots(usize),
    #[error("the requested range is not satisfiable for an object of {size} bytes")]
    InvalidRange { size: u64 },
    #[error("object of {0} bytes is larger than the 5 GiB limit of a simple upload")]
    ObjectTooLarge(u64),
    #[error("user metadata is {0} bytes, more than 8 KiB")]
    MetadataTooLarge(usize),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("the content MD5 does not match the body")]
    BadDigest,
    #[error("body length {got} does not match the declared content length {expected}")]
    IncompleteBody { expected: u64, got: u64 },
    #[error("object {0:?} already exists and overwriting was forbidden")]
    FileAlreadyExists(String),
    #[error("the device set is full")]
    StorageFull,
    #[error("data cannot be read correctly: {0}")]
    DataUnavailable(String),
    #[error("device I/O failed: {0}")]
    Io(String),
    #[error("the engine is busy; retry")]
    Busy,
    #[error("the engine is shutting down")]
    ShuttingDown,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        if e.raw_os_error() == Some(libc::ENOSPC) {
            Error::StorageFull
        } else {
            Error::Io(e.to_string())
        }
    }
}
