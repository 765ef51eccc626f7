//! Response status codes: one code per engine error, grouped like the opcodes.
//!
//! A response frame carries its status in the header; `Ok` responses carry the operation's
//! response message, every other status carries an [`ErrorBody`] (a UTF-8
//! message of at most `ERROR_MESSAGE_BYTES_MAX` bytes). Codes never change meaning; a
//! retired code keeps its number.

use std::fmt;

use crate::codec::{Body, BodyError, Field, Reader, Writer};
use crate::constants::{ADMIN_JSON_BYTES_MAX, ERROR_MESSAGE_BYTES_MAX};

/// Groups of status codes (high byte), mirroring the opcode families.
pub const STATUS_GROUP_REQUEST: u16 = 0x0100;
pub const STATUS_GROUP_SESSION: u16 = 0x0200;
pub const STATUS_GROUP_BUCKET: u16 = 0x0300;
pub const STATUS_GROUP_OBJECT: u16 = 0x0400;
pub const STATUS_GROUP_SERVER: u16 = 0x0500;
/// Reserved for the statuses of later features (multipart, append, copy, versioning,
/// inventory), in this order, one group each.
pub const STATUS_GROUP_RESERVED_FIRST: u16 = 0x0600;
/// Versioning (the fourth reserved group): statuses only version-addressed opcodes return.
pub const STATUS_GROUP_VERSIONING: u16 = 0x0900;

macro_rules! statuses {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, )*) => {
        /// A response status (`u16` on the wire, header offset 20).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum Status {
            $( $(#[$doc])* $name = $code, )*
        }

        impl Status {
            /// Every status, in code order (for tests, docs and the HTTP adapter's tables).
            pub const ALL: &'static [Status] = &[$(Status::$name,)*];

            /// The status's name as written in PROTOCOL.md, for logs and error messages.
            pub fn name(self) -> &'static str {
                match self { $(Status::$name => stringify!($name),)* }
            }
        }

        impl TryFrom<u16> for Status {
            type Error = u16;
            /// Returns the unknown code as the error.
            fn try_from(code: u16) -> Result<Self, u16> {
                match code {
                    $($code => Ok(Status::$name),)*
                    other => Err(other),
                }
            }
        }
    };
}

statuses! {
    /// The operation succeeded; the body is the operation's response message.
    Ok = 0x0000,

    /// The request body is malformed: truncated, trailing bytes, invalid UTF-8, a bad enum
    /// value, a count or length over its limit, or a streaming rule broken.
    BadRequest = 0x0101,
    /// The opcode is not one this server knows.
    UnknownOpcode = 0x0102,
    /// The opcode is known but this server does not implement it yet.
    NotImplemented = 0x0103,

    /// A request other than Hello or Auth arrived before authentication succeeded; the
    /// server closes the connection after sending it.
    NotAuthenticated = 0x0201,
    /// Unknown access key, wrong proof, or the key may not perform this operation.
    AccessDenied = 0x0202,
    /// UserDelete, KeyCreate or KeyList named a user that does not exist.
    NoSuchUser = 0x0203,
    /// UserCreate of a display name that is taken.
    UserAlreadyExists = 0x0204,
    /// UserDelete of a user who still owns buckets.
    UserOwnsBuckets = 0x0205,
    /// KeyDelete of an access key id that does not exist.
    NoSuchAccessKey = 0x0206,
    /// UserCreate would exceed `USERS_MAX`.
    TooManyUsers = 0x0207,
    /// KeyCreate would give the user more than `ACCESS_KEYS_PER_USER_MAX` keys.
    TooManyAccessKeys = 0x0208,
    /// The display name breaks the naming rules (1..=64 of `a-z 0-9 . _ -`).
    InvalidUserName = 0x0209,

    /// The bucket name breaks the naming rules (length 3..=63, lowercase, digits, '-').
    InvalidBucketName = 0x0301,
    /// CreateBucket named a bucket that already exists.
    BucketAlreadyExists = 0x0302,
    /// The named bucket does not exist.
    NoSuchBucket = 0x0303,
    /// DeleteBucket on a bucket that still holds objects.
    BucketNotEmpty = 0x0304,
    /// CreateBucket would exceed the server's bucket limit.
    TooManyBuckets = 0x0305,

    /// The key is empty, not UTF-8, or otherwise not a valid object name.
    InvalidKey = 0x0401,
    /// The key is longer than `KEY_BYTES_MAX` (1023) bytes.
    KeyTooLong = 0x0402,
    /// The named object does not exist.
    NoSuchKey = 0x0403,
    /// The requested range cannot be satisfied for this object.
    InvalidRange = 0x0404,
    /// `content_length` exceeds `OBJECT_BYTES_MAX`.
    ObjectTooLarge = 0x0405,
    /// User metadata exceeds `USER_META_BYTES_MAX`, or a content type is too long.
    MetadataTooLarge = 0x0406,
    /// The body's MD5 does not match `content_md5`.
    BadDigest = 0x0407,
    /// The body chunks were shorter or longer than `content_length`.
    IncompleteBody = 0x0408,
    /// PutObject with `forbid_overwrite` on a key that exists.
    FileAlreadyExists = 0x0409,

    /// No space left for the data or its metadata.
    StorageFull = 0x0501,
    /// Too few devices are online to accept the operation right now.
    DeviceUnavailable = 0x0502,
    /// More shards of the object are lost than the scheme has parity: the data cannot be
    /// served. Never retried silently.
    DataUnavailable = 0x0503,
    /// A bug or an unexpected engine failure; the message says which.
    InternalError = 0x0504,
    /// Too many requests in flight on this connection or core; retry later.
    Busy = 0x0505,
    /// The operation did not complete within the server's deadline.
    Timeout = 0x0506,

    /// The object has no version with the id given.
    NoSuchVersion = 0x0901,
    /// The version named is a delete marker, which cannot be read (or the operation does
    /// not apply to it).
    MethodNotAllowed = 0x0902,
}

impl Status {
    /// The code on the wire.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// Whether the client may retry the same request unchanged (after a backoff).
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Status::Busy | Status::Timeout | Status::DeviceUnavailable
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:04x})", self.name(), self.code())
    }
}

/// The body of every response whose status is not `Ok`: a UTF-8 message naming the problem
/// (the key, the bucket, the limit), with no length prefix, at most
/// `ERROR_MESSAGE_BYTES_MAX` bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorBody {
    pub message: String,
}

impl ErrorBody {
    /// An error body from any message, cut at a character boundary to the limit.
    pub fn new(message: &str) -> ErrorBody {
        ErrorBody {
            message: truncate_message(message).to_owned(),
        }
    }
}

impl Body for ErrorBody {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        check_raw(Field::Message, self.message.len())?;
        w.bytes(self.message.as_bytes());
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        let message = read_raw_string(r, Field::Message)?;
        Ok(ErrorBody { message })
    }
}

/// `message` cut at a character boundary to at most `ERROR_MESSAGE_BYTES_MAX` bytes.
pub fn truncate_message(message: &str) -> &str {
    let mut end = message.len().min(ERROR_MESSAGE_BYTES_MAX);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

/// Checks the length of a field that fills the whole body (no length prefix).
pub(crate) fn check_raw(field: Field, len: usize) -> Result<(), BodyError> {
    let max = match field {
        Field::Message => ERROR_MESSAGE_BYTES_MAX,
        Field::Json => ADMIN_JSON_BYTES_MAX,
        other => unreachable!("{other:?} is not a whole-body field"),
    };
    if len > max {
        return Err(BodyError::BadLength {
            field,
            len,
            min: 0,
            max,
        });
    }
    Ok(())
}

/// Reads the rest of the body as one UTF-8 string.
pub(crate) fn read_raw_string(r: &mut Reader<'_>, field: Field) -> Result<String, BodyError> {
    let bytes = r.rest();
    check_raw(field, bytes.len())?;
    let s = std::str::from_utf8(bytes).map_err(|_| BodyError::InvalidUtf8 { field })?;
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Opcode;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let codes: Vec<u16> = Status::ALL.iter().map(|s| s.code()).collect();
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, codes, "codes in ascending order, no duplicates");
        for status in Status::ALL {
            assert_eq!(Status::try_from(status.code()), Ok(*status));
        }
        assert_eq!(Status::try_from(0x0999), Err(0x0999));
        assert_eq!(Status::ALL.len(), 35);
        assert_eq!(Status::NoSuchKey.to_string(), "NoSuchKey (0x0403)");
        assert!(Status::Busy.is_retryable() && !Status::DataUnavailable.is_retryable());
        for status in &Status::ALL[1..] {
            let group = status.code() & 0xFF00;
            assert!(group < STATUS_GROUP_RESERVED_FIRST || group == STATUS_GROUP_VERSIONING);
        }
    }

    #[test]
    fn opcodes_are_unique_and_round_trip() {
        let codes: Vec<u16> = Opcode::ALL.iter().map(|o| o.code()).collect();
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, codes);
        for opcode in Opcode::ALL {
            assert_eq!(Opcode::try_from(opcode.code()), Ok(*opcode));
        }
        assert_eq!(Opcode::try_from(0x0301), Err(0x0301));
        assert_eq!(Opcode::try_from(0x0000), Err(0x0000));
        assert_eq!(
            Opcode::ScrubStatus.family(),
            crate::opcode::OPCODE_FAMILY_ADMIN
        );
        assert!(Opcode::Auth.allowed_before_auth() && !Opcode::Ping.allowed_before_auth());
    }

    #[test]
    fn error_bodies() {
        let body = ErrorBody::new("no such key 'a/b' in bucket 'photos'");
        let mut out = bytes::BytesMut::new();
        body.encode(&mut out).unwrap();
        assert_eq!(ErrorBody::decode(&out), Ok(body));
        assert_eq!(
            ErrorBody::new(&"x".repeat(5000)).message.len(),
            ERROR_MESSAGE_BYTES_MAX
        );
        assert!(ErrorBody::decode(&[b'x'; ERROR_MESSAGE_BYTES_MAX + 1]).is_err());
        assert!(ErrorBody::decode(b"\xc3").is_err());
        assert_eq!(truncate_message("aé"), "aé");
    }
}
