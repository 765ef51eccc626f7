//! Failures of an HTTP request and the error documents the two dialects send for them.
//!
//! [`Failure`] names every way a request can fail, whether the adapter found it (a bad
//! signature, a malformed header) or the daemon answered with a [`Status`]. Exactly one
//! function per dialect, [`oss_code`] and [`s3_code`], turns a failure into the HTTP
//! status and the error code that service sends; [`error_response`] renders the XML
//! `<Error>` document (for HEAD, OSS's base64 `x-oss-err` header instead of a body).

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use ringstore_client::{Error as ClientError, Status};

use super::request::Dialect;
use super::response::{full, Body};
use super::xml::XmlWriter;

/// Why a request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Failure {
    /// The daemon refused the operation with this status.
    #[error("{1}")]
    Engine(Status, String),
    /// The daemon could not be reached or broke the protocol.
    #[error("the storage service is unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("The access key id you provided does not exist in our records.")]
    InvalidAccessKeyId,
    /// The signature did not verify; the string the server signed helps the caller debug.
    #[error("The request signature we calculated does not match the signature you provided.")]
    SignatureDoesNotMatch { string_to_sign: String },
    #[error("The difference between the request time and the server's time is too large.")]
    RequestTimeTooSkewed,
    #[error("{0}")]
    AuthorizationMalformed(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    MissingArgument(String),
    #[error("The Content-MD5 you specified is not valid.")]
    InvalidDigest,
    #[error("The Content-MD5 you specified did not match what we received.")]
    BadDigest,
    /// An `x-amz-checksum-*` value did not match the body.
    #[error("The {0} you specified did not match the calculated checksum.")]
    ChecksumMismatch(&'static str),
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
    #[error("{0}")]
    MalformedXml(String),
    #[error("You must provide the Content-Length HTTP header.")]
    MissingContentLength,
    #[error("Your proposed upload exceeds the maximum allowed object size.")]
    EntityTooLarge,
    #[error("{0}")]
    IncompleteBody(String),
    #[error("{0}")]
    InvalidUri(String),
    #[error("{0}")]
    InvalidObjectName(String),
    #[error("Your key is too long.")]
    KeyTooLong,
    #[error("Your request header section exceeds the maximum allowed size.")]
    HeadersTooLarge,
    #[error("{0} is not implemented by this server.")]
    NotImplemented(String),
    #[error("The specified method is not allowed against this resource.")]
    MethodNotAllowed,
    #[error("At least one of the pre-conditions you specified did not hold.")]
    PreconditionFailed,
    /// Not an error for the caller: the 304 answer of a conditional GET.
    #[error("Not Modified")]
    NotModified,
}

impl Failure {
    /// The failure for a client library error.
    pub fn from_client(e: ClientError) -> Failure {
        match e {
            ClientError::Status { status, message } => Failure::Engine(status, message),
            other => Failure::Unavailable(other.to_string()),
        }
    }

    fn engine_message(status: Status) -> Option<&'static str> {
        Some(match status {
            Status::NoSuchBucket => "The specified bucket does not exist.",
            Status::NoSuchKey => "The specified key does not exist.",
            Status::BucketNotEmpty => "The bucket you tried to delete is not empty.",
            Status::BucketAlreadyExists => "The requested bucket name is not available.",
            Status::InvalidBucketName => "The specified bucket is not valid.",
            Status::AccessDenied => "Access Denied",
            Status::BadDigest => "The Content-MD5 you specified did not match what we received.",
            _ => return None,
        })
    }

    /// Whether the body differs from the Content-MD5 the request carries.
    fn is_md5_mismatch(&self) -> bool {
        matches!(
            self,
            Failure::BadDigest | Failure::Engine(Status::BadDigest, _)
        )
    }

    /// The message of the error document in `dialect`.
    pub fn message_in(&self, dialect: Dialect) -> String {
        match dialect {
            Dialect::Oss if self.is_md5_mismatch() => {
                "The Content-MD5 you specified was invalid.".into()
            }
            _ => self.message(),
        }
    }

    /// The message of the error document.
    pub fn message(&self) -> String {
        match self {
            Failure::Engine(status, message) => match Failure::engine_message(*status) {
                Some(text) => text.to_owned(),
                None => message.clone(),
            },
            other => other.to_string(),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        Failure::from_client(e)
    }
}

/// The HTTP status and the OSS error code of a failure.
pub fn oss_code(f: &Failure) -> (u16, &'static str) {
    match f {
        Failure::Engine(status, _) => match status {
            Status::InvalidKey => (400, "InvalidObjectName"),
            Status::KeyTooLong => (400, "InvalidObjectName"),
            Status::MetadataTooLarge => (400, "InvalidArgument"),
            Status::FileAlreadyExists => (409, "FileAlreadyExists"),
            Status::ObjectTooLarge => (400, "EntityTooLarge"),
            Status::IncompleteBody => (400, "IncompleteBody"),
            // OSS has no BadDigest: a Content-MD5 that differs from the body is InvalidDigest.
            Status::BadDigest => (400, "InvalidDigest"),
            other => engine_code(*other),
        },
        Failure::BadDigest => (400, "InvalidDigest"),
        Failure::KeyTooLong => (400, "InvalidObjectName"),
        Failure::ChecksumMismatch(_) => (400, "InvalidDigest"),
        Failure::ContentSha256Mismatch => (400, "InvalidDigest"),
        Failure::AuthorizationMalformed(_) => (400, "InvalidArgument"),
        Failure::MissingContentLength => (411, "MissingContentLength"),
        other => common_code(other),
    }
}

/// The HTTP status and the S3 error code of a failure.
pub fn s3_code(f: &Failure) -> (u16, &'static str) {
    match f {
        Failure::Engine(status, _) => match status {
            Status::InvalidKey => (400, "InvalidArgument"),
            Status::KeyTooLong => (400, "KeyTooLongError"),
            Status::MetadataTooLarge => (400, "MetadataTooLarge"),
            Status::FileAlreadyExists => (412, "PreconditionFailed"),
            Status::ObjectTooLarge => (400, "EntityTooLarge"),
            Status::IncompleteBody => (400, "IncompleteBody"),
            other => engine_code(*other),
        },
        Failure::KeyTooLong => (400, "KeyTooLongError"),
        Failure::ChecksumMismatch(_) => (400, "BadDigest"),
        Failure::ContentSha256Mismatch => (400, "XAmzContentSHA256Mismatch"),
        Failure::AuthorizationMalformed(_) => (400, "AuthorizationHeaderMalformed"),
        Failure::MissingContentLength => (411, "MissingContentLength"),
        other => common_code(other),
    }
}

/// Codes both services spell the same, for statuses from the daemon.
fn engine_code(status: Status) -> (u16, &'static str) {
    match status {
        Status::NoSuchBucket => (404, "NoSuchBucket"),
        Status::NoSuchKey => (404, "NoSuchKey"),
        Status::BucketNotEmpty => (409, "BucketNotEmpty"),
        Status::BucketAlreadyExists => (409, "BucketAlreadyExists"),
        Status::InvalidBucketName => (400, "InvalidBucketName"),
        Status::TooManyBuckets => (400, "TooManyBuckets"),
        Status::AccessDenied | Status::NotAuthenticated => (403, "AccessDenied"),
        Status::InvalidRange => (416, "InvalidRange"),
        Status::NoSuchVersion => (404, "NoSuchVersion"),
        Status::MethodNotAllowed => (405, "MethodNotAllowed"),
        Status::BadDigest => (400, "BadDigest"),
        Status::BadRequest => (400, "InvalidRequest"),
        Status::NotImplemented | Status::UnknownOpcode => (501, "NotImplemented"),
        Status::StorageFull => (507, "InsufficientStorage"),
        Status::Busy => (503, "SlowDown"),
        Status::DeviceUnavailable | Status::Timeout => (503, "ServiceUnavailable"),
        _ => (500, "InternalError"),
    }
}

/// Codes both services spell the same, for failures the adapter finds.
fn common_code(f: &Failure) -> (u16, &'static str) {
    match f {
        Failure::Engine(status, _) => engine_code(*status),
        Failure::Unavailable(_) => (503, "ServiceUnavailable"),
        Failure::AccessDenied(_) => (403, "AccessDenied"),
        Failure::InvalidAccessKeyId => (403, "InvalidAccessKeyId"),
        Failure::SignatureDoesNotMatch { .. } => (403, "SignatureDoesNotMatch"),
        Failure::RequestTimeTooSkewed => (403, "RequestTimeTooSkewed"),
        Failure::InvalidArgument(_) => (400, "InvalidArgument"),
        Failure::InvalidRequest(_) => (400, "InvalidRequest"),
        Failure::MissingArgument(_) => (400, "MissingArgument"),
        Failure::InvalidDigest => (400, "InvalidDigest"),
        Failure::BadDigest => (400, "BadDigest"),
        Failure::MalformedXml(_) => (400, "MalformedXML"),
        Failure::EntityTooLarge => (400, "EntityTooLarge"),
        Failure::IncompleteBody(_) => (400, "IncompleteBody"),
        Failure::InvalidUri(_) => (400, "InvalidURI"),
        Failure::InvalidObjectName(_) => (400, "InvalidObjectName"),
        Failure::HeadersTooLarge => (400, "RequestHeaderSectionTooLarge"),
        Failure::NotImplemented(_) => (501, "NotImplemented"),
        Failure::MethodNotAllowed => (405, "MethodNotAllowed"),
        Failure::PreconditionFailed => (412, "PreconditionFailed"),
        Failure::NotModified => (304, "NotModified"),
        // Dialect-specific failures are matched before this function is called.
        Failure::KeyTooLong
        | Failure::ChecksumMismatch(_)
        | Failure::ContentSha256Mismatch
        | Failure::AuthorizationMalformed(_)
        | Failure::MissingContentLength => (400, "InvalidRequest"),
    }
}

/// What an error document says about the request besides the failure.
pub struct ErrorContext<'a> {
    pub dialect: Dialect,
    pub request_id: &'a str,
    pub host_id: &'a str,
    pub is_head: bool,
    pub bucket: Option<&'a str>,
    pub key: Option<&'a str>,
}

/// The response for a failure: status, error document, and the dialect's headers.
pub fn error_response(f: &Failure, cx: &ErrorContext<'_>) -> Response<Body> {
    let (status, code) = match cx.dialect {
        Dialect::Oss => oss_code(f),
        Dialect::S3 => s3_code(f),
    };
    let status = StatusCode::from_u16(status).expect("valid status codes");
    if matches!(f, Failure::NotModified) {
        return Response::builder()
            .status(status)
            .body(full(Bytes::new()))
            .expect("valid response");
    }
    let xml = error_document(f, code, cx);
    let mut builder = Response::builder().status(status);
    if cx.is_head {
        if cx.dialect == Dialect::Oss {
            let encoded = base64::engine::general_purpose::STANDARD.encode(&xml);
            builder = builder.header("x-oss-err", encoded);
        }
        let mut response = builder.body(full(Bytes::new())).expect("valid response");
        response.headers_mut().remove(http::header::CONTENT_LENGTH);
        return response;
    }
    builder
        .header(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        )
        .body(full(Bytes::from(xml)))
        .expect("valid response")
}

fn error_document(f: &Failure, code: &str, cx: &ErrorContext<'_>) -> String {
    let mut w = XmlWriter::new();
    w.open("Error");
    w.elem("Code", code);
    w.elem("Message", &f.message_in(cx.dialect));
    w.elem("RequestId", cx.request_id);
    w.elem("HostId", cx.host_id);
    if let Some(bucket) = cx.bucket {
        w.elem("BucketName", bucket);
    }
    if let Some(key) = cx.key.filter(|k| !k.is_empty()) {
        w.elem("Key", key);
    }
    if let Failure::SignatureDoesNotMatch { string_to_sign } = f {
        w.elem("StringToSign", string_to_sign);
    }
    w.close("Error");
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_status_maps_to_a_4xx_or_5xx() {
        for &status in Status::ALL.iter().filter(|s| **s != Status::Ok) {
            let f = Failure::Engine(status, "m".into());
            for (code, name) in [oss_code(&f), s3_code(&f)] {
                assert!((400..600).contains(&code), "{status}: {code}");
                assert!(!name.is_empty());
            }
        }
        let f = Failure::Engine(Status::FileAlreadyExists, String::new());
        assert_eq!(oss_code(&f), (409, "FileAlreadyExists"));
        assert_eq!(s3_code(&f), (412, "PreconditionFailed"));
    }

    #[test]
    fn a_content_md5_mismatch_is_bad_digest_in_s3_and_invalid_digest_in_oss() {
        for f in [
            Failure::BadDigest,
            Failure::Engine(Status::BadDigest, "md5".into()),
        ] {
            assert_eq!(s3_code(&f), (400, "BadDigest"));
            assert_eq!(oss_code(&f), (400, "InvalidDigest"));
            assert_eq!(
                f.message_in(Dialect::Oss),
                "The Content-MD5 you specified was invalid."
            );
            assert!(f.message_in(Dialect::S3).contains("did not match"));
        }
        // A Content-MD5 that is not an MD5 at all is InvalidDigest in both.
        assert_eq!(s3_code(&Failure::InvalidDigest), (400, "InvalidDigest"));
        assert_eq!(oss_code(&Failure::InvalidDigest), (400, "InvalidDigest"));
    }

    #[test]
    fn head_errors_carry_no_body_and_oss_adds_x_oss_err() {
        let cx = ErrorContext {
            dialect: Dialect::Oss,
            request_id: "0123456789ABCDEF01234567",
            host_id: "h",
            is_head: true,
            bucket: Some("b"),
            key: Some("k"),
        };
        let f = Failure::Engine(Status::NoSuchKey, "no such key".into());
        let r = error_response(&f, &cx);
        assert_eq!(r.status(), 404);
        let err = r.headers()["x-oss-err"].to_str().unwrap();
        let xml = base64::engine::general_purpose::STANDARD
            .decode(err)
            .unwrap();
        let xml = String::from_utf8(xml).unwrap();
        assert!(xml.contains("<Code>NoSuchKey</Code>"), "{xml}");
        assert!(xml.contains("<RequestId>0123456789ABCDEF01234567</RequestId>"));
    }
}
