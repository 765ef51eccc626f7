//! The body encoding: a small little-endian format with a [`Writer`] and a [`Reader`].
//!
//! ```text
//! u8 u16 u32 u64   little-endian
//! bool             u8: 0 or 1
//! [u8; N]          N raw bytes
//! string           u16 length, then that many bytes of UTF-8 (string32: u32 length)
//! Option<T>        u8 tag: 0 = None, 1 = Some, then T
//! Vec<T>           u32 count, then the items
//! ```
//!
//! Every string and every vector is read through a [`Field`], which names its limits. The
//! writer checks the same limits, so a sender learns of a too-long key before it sends it
//! and a receiver never sees one.

use bytes::{BufMut, BytesMut};

use crate::constants::*;
use crate::status::Status;

/// A field with limits, named in errors and mapped to a status by [`BodyError::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    AccessKeyId,
    Bucket,
    Region,
    Owner,
    Key,
    Prefix,
    Delimiter,
    Marker,
    ContentType,
    UserMeta,
    MetaName,
    MetaValue,
    VersionId,
    ContentLength,
    MaxKeys,
    Range,
    Acl,
    StorageClass,
    ObjectType,
    Status,
    Objects,
    Versions,
    Versioning,
    CommonPrefixes,
    Buckets,
    Keys,
    Results,
    Message,
    Json,
    UserId,
    DisplayName,
    SecretAccessKey,
    Users,
    AccessKeys,
    /// The principal prefix's tag.
    Principal,
    /// A bool or an option tag that is neither 0 nor 1.
    Tag,
    /// The whole body (encoding only: over `FRAME_BODY_BYTES_MAX`).
    Body,
}

impl Field {
    /// Inclusive byte-length bounds of a string field.
    fn len_range(self) -> (usize, usize) {
        match self {
            Field::AccessKeyId => (ACCESS_KEY_ID_BYTES_MIN, ACCESS_KEY_ID_BYTES_MAX),
            Field::Bucket => (BUCKET_NAME_BYTES_MIN, BUCKET_NAME_BYTES_MAX),
            Field::Region => (0, REGION_BYTES_MAX),
            Field::Owner => (0, OWNER_BYTES_MAX),
            Field::Key => (KEY_BYTES_MIN, KEY_BYTES_MAX),
            Field::Prefix => (0, PREFIX_BYTES_MAX),
            Field::Delimiter => (0, DELIMITER_BYTES_MAX),
            Field::Marker => (0, MARKER_BYTES_MAX),
            Field::ContentType => (0, CONTENT_TYPE_BYTES_MAX),
            Field::MetaName => (1, USER_META_BYTES_MAX),
            Field::MetaValue | Field::UserMeta => (0, USER_META_BYTES_MAX),
            Field::VersionId => (1, VERSION_ID_BYTES_MAX),
            Field::Message => (0, ERROR_MESSAGE_BYTES_MAX),
            Field::Json => (0, ADMIN_JSON_BYTES_MAX),
            Field::UserId => (USER_ID_BYTES_MIN, USER_ID_BYTES_MAX),
            Field::DisplayName => (DISPLAY_NAME_BYTES_MIN, DISPLAY_NAME_BYTES_MAX),
            Field::SecretAccessKey => (SECRET_ACCESS_KEY_BYTES_MIN, SECRET_ACCESS_KEY_BYTES_MAX),
            other => unreachable!("{other:?} is not a string field"),
        }
    }

    /// The largest item count of a vector field.
    fn count_max(self) -> usize {
        match self {
            // Every name is at least one byte, so the byte limit bounds the count.
            Field::UserMeta => USER_META_BYTES_MAX,
            Field::Objects | Field::Versions | Field::CommonPrefixes => LIST_KEYS_MAX,
            Field::Buckets => LIST_BUCKETS_MAX,
            Field::Keys | Field::Results => DELETE_KEYS_MAX,
            Field::Users => USERS_MAX + 1,
            Field::AccessKeys => ACCESS_KEYS_MAX,
            other => unreachable!("{other:?} is not a vector field"),
        }
    }
}

/// Why a message body is malformed (decoding) or cannot be sent (encoding). Unlike a
/// [`DecodeError`](crate::DecodeError) it does not break the connection: the server
/// answers the request with [`BodyError::status`] and carries on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The body ends inside a field.
    #[error("body truncated at offset {offset}: {needed} more bytes needed")]
    Truncated { offset: usize, needed: usize },
    /// Bytes follow the last field of the message.
    #[error("{count} trailing bytes after the message")]
    TrailingBytes { count: usize },
    /// A string (or the user metadata total) is outside its length bounds.
    #[error("{field:?} is {len} bytes, allowed {min}..={max}")]
    BadLength {
        field: Field,
        len: usize,
        min: usize,
        max: usize,
    },
    /// A vector has more items than its limit.
    #[error("{field:?} has {count} items, limit {max}")]
    TooMany {
        field: Field,
        count: usize,
        max: usize,
    },
    /// A string is not UTF-8.
    #[error("{field:?} is not valid UTF-8")]
    InvalidUtf8 { field: Field },
    /// An enum tag, flag or number outside its allowed values.
    #[error("{field:?} has invalid value {value}")]
    InvalidValue { field: Field, value: u64 },
}

impl BodyError {
    /// The response status for a request whose body fails with this error.
    pub fn status(&self) -> Status {
        use BodyError::*;
        match *self {
            BadLength {
                field: Field::Key,
                len,
                max,
                ..
            } if len > max => Status::KeyTooLong,
            BadLength {
                field: Field::Key, ..
            }
            | InvalidUtf8 { field: Field::Key } => Status::InvalidKey,
            BadLength {
                field: Field::Bucket,
                ..
            }
            | InvalidUtf8 {
                field: Field::Bucket,
            } => Status::InvalidBucketName,
            BadLength { field, .. } | TooMany { field, .. }
                if matches!(
                    field,
                    Field::UserMeta | Field::MetaName | Field::MetaValue | Field::ContentType
                ) =>
            {
                Status::MetadataTooLarge
            }
            BadLength {
                field: Field::DisplayName,
                ..
            }
            | InvalidUtf8 {
                field: Field::DisplayName,
            } => Status::InvalidUserName,
            InvalidValue {
                field: Field::ContentLength,
                ..
            } => Status::ObjectTooLarge,
            InvalidValue {
                field: Field::Range,
                ..
            } => Status::InvalidRange,
            _ => Status::BadRequest,
        }
    }
}

/// A message body: one request or response of one opcode.
pub trait Body: Sized {
    /// Writes the fields in wire order.
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError>;
    /// Reads the fields in wire order.
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError>;

    /// Appends the encoded body to `out`; on error `out` is left as it was.
    fn encode(&self, out: &mut BytesMut) -> Result<(), BodyError> {
        let start = out.len();
        let result = self.write(&mut Writer::new(out)).and_then(|()| {
            let len = out.len() - start;
            if len > FRAME_BODY_BYTES_MAX {
                let (min, max) = (0, FRAME_BODY_BYTES_MAX);
                return Err(BodyError::BadLength {
                    field: Field::Body,
                    len,
                    min,
                    max,
                });
            }
            Ok(())
        });
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Decodes a whole frame body; bytes after the message are an error.
    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        let mut r = Reader::new(body);
        let message = Self::read(&mut r)?;
        r.finish()?;
        Ok(message)
    }
}

/// A request message, tied to its opcode and its success response.
pub trait Request: Body {
    const OPCODE: crate::Opcode;
    type Response: Body;
}

/// The body of an operation that takes or returns nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Empty;

impl Body for Empty {
    fn write(&self, _: &mut Writer<'_>) -> Result<(), BodyError> {
        Ok(())
    }
    fn read(_: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(Empty)
    }
}

/// Appends fields to a body buffer.
pub struct Writer<'a> {
    out: &'a mut BytesMut,
}

impl<'a> Writer<'a> {
    pub fn new(out: &'a mut BytesMut) -> Writer<'a> {
        Writer { out }
    }
    pub fn u8(&mut self, v: u8) {
        self.out.put_u8(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.out.put_u16_le(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.out.put_u32_le(v);
    }
    pub fn u64(&mut self, v: u64) {
        self.out.put_u64_le(v);
    }
    pub fn bool(&mut self, v: bool) {
        self.out.put_u8(v as u8);
    }
    pub fn bytes(&mut self, v: &[u8]) {
        self.out.put_slice(v);
    }

    /// A u16-length-prefixed string, checked against `field`'s bounds.
    pub fn string(&mut self, field: Field, s: &str) -> Result<(), BodyError> {
        check_len(field, s.len())?;
        let len = u16::try_from(s.len()).map_err(|_| too_long(field, s.len(), u16::MAX))?;
        self.u16(len);
        self.bytes(s.as_bytes());
        Ok(())
    }

    /// A u32-length-prefixed string, for fields that may exceed 64 KiB.
    pub fn string32(&mut self, field: Field, s: &str) -> Result<(), BodyError> {
        check_len(field, s.len())?;
        self.u32(s.len() as u32);
        self.bytes(s.as_bytes());
        Ok(())
    }

    /// An option tag: 0 = None, 1 = Some.
    pub fn tag(&mut self, some: bool) {
        self.u8(some as u8);
    }

    /// An `Option<String>`: a tag, then the string if present.
    pub fn opt_string(&mut self, field: Field, s: Option<&str>) -> Result<(), BodyError> {
        self.tag(s.is_some());
        s.map_or(Ok(()), |s| self.string(field, s))
    }

    /// A vector's u32 item count, checked against `field`'s limit.
    pub fn count(&mut self, field: Field, count: usize) -> Result<(), BodyError> {
        let max = field.count_max();
        if count > max {
            return Err(BodyError::TooMany { field, count, max });
        }
        self.u32(count as u32);
        Ok(())
    }
}

fn too_long(field: Field, len: usize, max: u16) -> BodyError {
    BodyError::BadLength {
        field,
        len,
        min: 0,
        max: max as usize,
    }
}

fn check_len(field: Field, len: usize) -> Result<(), BodyError> {
    let (min, max) = field.len_range();
    if len < min || len > max {
        return Err(BodyError::BadLength {
            field,
            len,
            min,
            max,
        });
    }
    Ok(())
}

/// Reads fields from a body, returning a typed error on every malformation.
pub struct Reader<'a> {
    buf: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, offset: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.offset
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], BodyError> {
        if n > self.remaining() {
            let needed = n - self.remaining();
            return Err(BodyError::Truncated {
                offset: self.offset,
                needed,
            });
        }
        let bytes = &self.buf[self.offset..self.offset + n];
        self.offset += n;
        Ok(bytes)
    }

    /// All bytes not yet read.
    pub fn rest(&mut self) -> &'a [u8] {
        let bytes = &self.buf[self.offset..];
        self.offset = self.buf.len();
        bytes
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], BodyError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8, BodyError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u16(&mut self) -> Result<u16, BodyError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32, BodyError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64, BodyError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A bool: 0 or 1, anything else is an error.
    pub fn bool(&mut self) -> Result<bool, BodyError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(BodyError::InvalidValue {
                field: Field::Tag,
                value: value.into(),
            }),
        }
    }

    /// An option tag (same encoding as a bool).
    pub fn tag(&mut self) -> Result<bool, BodyError> {
        self.bool()
    }

    /// A u16-length-prefixed string within `field`'s bounds.
    pub fn string(&mut self, field: Field) -> Result<String, BodyError> {
        let len = self.u16()? as usize;
        self.string_of_len(field, len)
    }

    /// A u32-length-prefixed string within `field`'s bounds.
    pub fn string32(&mut self, field: Field) -> Result<String, BodyError> {
        let len = self.u32()? as usize;
        self.string_of_len(field, len)
    }

    fn string_of_len(&mut self, field: Field, len: usize) -> Result<String, BodyError> {
        check_len(field, len)?;
        let bytes = self.bytes(len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| BodyError::InvalidUtf8 { field })?;
        Ok(s.to_owned())
    }

    /// An `Option<String>`.
    pub fn opt_string(&mut self, field: Field) -> Result<Option<String>, BodyError> {
        if self.tag()? {
            Ok(Some(self.string(field)?))
        } else {
            Ok(None)
        }
    }

    /// A vector's item count within `field`'s limit.
    pub fn count(&mut self, field: Field) -> Result<usize, BodyError> {
        let count = self.u32()? as usize;
        let max = field.count_max();
        if count > max {
            return Err(BodyError::TooMany { field, count, max });
        }
        Ok(count)
    }

    /// A vector: a count, then `count` items read by `item`. The allocation is bounded by
    /// the bytes left, so a lying count cannot make the reader allocate much.
    pub fn vec<T>(
        &mut self,
        field: Field,
        mut item: impl FnMut(&mut Reader<'a>) -> Result<T, BodyError>,
    ) -> Result<Vec<T>, BodyError> {
        let count = self.count(field)?;
        let mut items = Vec::with_capacity(count.min(self.remaining()));
        for _ in 0..count {
            items.push(item(self)?);
        }
        Ok(items)
    }

    /// Fails if any byte is left unread.
    pub fn finish(&self) -> Result<(), BodyError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(BodyError::TrailingBytes { count }),
        }
    }
}

/// Writes a vector: its count, then each item.
pub fn write_vec<T>(
    w: &mut Writer<'_>,
    field: Field,
    items: &[T],
    mut item: impl FnMut(&mut Writer<'_>, &T) -> Result<(), BodyError>,
) -> Result<(), BodyError> {
    w.count(field, items.len())?;
    items.iter().try_for_each(|x| item(w, x))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::XorShift;

    #[test]
    fn reader_errors() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16(), Ok(0x0201));
        assert_eq!(
            r.u32(),
            Err(BodyError::Truncated {
                offset: 2,
                needed: 3
            })
        );
        assert_eq!(r.finish(), Err(BodyError::TrailingBytes { count: 1 }));
        assert_eq!(
            Reader::new(&[2]).bool(),
            Err(BodyError::InvalidValue {
                field: Field::Tag,
                value: 2
            })
        );
        // A string whose length prefix runs past the end.
        assert_eq!(
            Reader::new(&[5, 0, b'a']).string(Field::Key),
            Err(BodyError::Truncated {
                offset: 2,
                needed: 4
            })
        );
        // A lying count is rejected, or bounded by the bytes that are really there.
        let mut r = Reader::new(&[0xFF, 0xFF, 0xFF, 0xFF]);
        assert!(matches!(
            r.count(Field::Keys),
            Err(BodyError::TooMany { .. })
        ));
        let mut r = Reader::new(&[0xE8, 0x03, 0, 0]);
        assert!(r.vec(Field::Keys, |r| r.string(Field::Key)).is_err());
    }

    #[test]
    fn writer_checks_limits_like_the_reader() {
        let mut out = BytesMut::new();
        let mut w = Writer::new(&mut out);
        assert!(w.string(Field::Region, &"r".repeat(65)).is_err());
        assert!(w.count(Field::Objects, 1001).is_err());
        w.string32(Field::Json, "{}").unwrap();
        w.opt_string(Field::VersionId, None).unwrap();
        assert_eq!(&out[..], &[2, 0, 0, 0, b'{', b'}', 0]);
        let mut r = Reader::new(&out);
        assert_eq!(r.string32(Field::Json).unwrap(), "{}");
        assert_eq!(r.opt_string(Field::VersionId), Ok(None));
        r.finish().unwrap();
    }

    /// Random bodies never make any message decoder panic.
    #[test]
    fn random_bodies_never_panic() {
        use crate::*;
        fn all(body: &[u8]) {
            let _ = Hello::decode(body);
            let _ = Challenge::decode(body);
            let _ = Auth::decode(body);
            let _ = CreateBucket::decode(body);
            let _ = DeleteBucket::decode(body);
            let _ = HeadBucket::decode(body);
            let _ = BucketInfo::decode(body);
            let _ = ListBuckets::decode(body);
            let _ = BucketList::decode(body);
            let _ = PutBucketAcl::decode(body);
            let _ = PutObject::decode(body);
            let _ = GetObject::decode(body);
            let _ = GetObjectResponse::decode(body);
            let _ = ObjectMeta::decode(body);
            let _ = HeadObject::decode(body);
            let _ = DeleteObject::decode(body);
            let _ = ListObjects::decode(body);
            let _ = ListPage::decode(body);
            let _ = DeleteObjects::decode(body);
            let _ = DeleteObjectsResponse::decode(body);
            let _ = ErrorBody::decode(body);
            let _ = AdminJson::decode(body);
        }
        let mut rng = XorShift::new(0x00B0_D1E5);
        for _ in 0..20_000 {
            let len = rng.below(300) as usize;
            let mut body = rng.bytes(len);
            // Small length prefixes and counts reach deeper than uniform random ones.
            for b in body.iter_mut() {
                if rng.below(3) == 0 {
                    *b %= 4;
                }
            }
            all(&body);
        }
    }
}
