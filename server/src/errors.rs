//! Engine errors → protocol statuses: one function, one arm per variant.

use ringstore_engine::Error;
use ringstore_proto::Status;

/// The response status for a failed engine operation. The message sent with it is the
/// error's `Display` text, which names the bucket, the key or the limit.
pub fn status_of(error: &Error) -> Status {
    match error {
        Error::InvalidBucketName(_) => Status::InvalidBucketName,
        Error::BucketAlreadyExists(_) => Status::BucketAlreadyExists,
        Error::NoSuchBucket(_) => Status::NoSuchBucket,
        Error::BucketNotEmpty(_) => Status::BucketNotEmpty,
        Error::TooManyBuckets(_) => Status::TooManyBuckets,
        Error::InvalidKey(_) => Status::InvalidKey,
        Error::KeyTooLong(_) => Status::KeyTooLong,
        Error::NoSuchKey { .. } => Status::NoSuchKey,
        Error::NoSuchVersion { .. } => Status::NoSuchVersion,
        Error::MethodNotAllowed(_) => Status::MethodNotAllowed,
        // Snapshot views free up as scans finish: retryable.
        Error::TooManySnapshots(_) => Status::Busy,
        Error::InvalidRange { .. } => Status::InvalidRange,
        Error::ObjectTooLarge(_) => Status::ObjectTooLarge,
        Error::MetadataTooLarge(_) => Status::MetadataTooLarge,
        Error::InvalidArgument(_) => Status::BadRequest,
        Error::BadDigest => Status::BadDigest,
        Error::IncompleteBody { .. } => Status::IncompleteBody,
        Error::FileAlreadyExists(_) => Status::FileAlreadyExists,
        Error::StorageFull => Status::StorageFull,
        Error::DataUnavailable(_) => Status::DataUnavailable,
        // A failed device write or read the engine could not route around: the request may
        // be retried once the device is back, so it is not an internal error.
        Error::Io(_) => Status::DeviceUnavailable,
        Error::Busy => Status::Busy,
        // The daemon is stopping: retryable against the next instance.
        Error::ShuttingDown => Status::Busy,
        Error::Internal(_) => Status::InternalError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_status() {
        let key = || Error::NoSuchKey {
            bucket: "b".into(),
            key: "k".into(),
        };
        assert_eq!(status_of(&key()), Status::NoSuchKey);
        assert_eq!(
            status_of(&Error::IncompleteBody {
                expected: 1,
                got: 0
            }),
            Status::IncompleteBody
        );
        assert_eq!(
            status_of(&Error::DataUnavailable("x".into())),
            Status::DataUnavailable
        );
        assert_eq!(
            status_of(&Error::Internal("x".into())),
            Status::InternalError
        );
    }
}
