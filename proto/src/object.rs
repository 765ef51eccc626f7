//! Object messages (opcodes 0x02xx) and the object types they carry.
//!
//! PutObject and GetObject stream their data in CHUNK frames after the message frame; the
//! messages here carry only the metadata (see PROTOCOL.md, "Streaming").

use std::fmt;

use crate::bucket::{read_max, u8_enum, write_max};
use crate::codec::{write_vec, Body, BodyError, Empty, Field, Reader, Request, Writer};
use crate::constants::{
    FRAME_BODY_BYTES_MAX, LIST_KEYS_MAX, MARKER_BYTES_MAX, OBJECT_BYTES_MAX, USER_META_BYTES_MAX,
};
use crate::status::Status;
use crate::Opcode;

u8_enum!(
    /// How an object was written, as OSS.
    ObjectType, Field::ObjectType, {
        Normal = 0,
        Multipart = 1,
        Appendable = 2,
    }
);

/// An entity tag: the MD5 of the content, or for multipart objects the MD5 of the parts'
/// MD5s with the part count as a `-N` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ETag {
    pub md5: [u8; 16],
    /// The `-N` suffix of multipart ETags.
    pub suffix: Option<u32>,
}

impl ETag {
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.bytes(&self.md5);
        w.tag(self.suffix.is_some());
        if let Some(n) = self.suffix {
            w.u32(n);
        }
    }
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        let md5 = r.array()?;
        let suffix = if r.tag()? { Some(r.u32()?) } else { None };
        Ok(ETag { md5, suffix })
    }
    pub(crate) fn encoded_bytes(&self) -> usize {
        16 + 1 + if self.suffix.is_some() { 4 } else { 0 }
    }
}

/// Uppercase hex, as OSS shows it (`5EB63BBBE01EEED093CB22BB8F5ACDC3`, or `…-3`), without
/// quotes; the HTTP adapter quotes it and chooses the case of its dialect.
impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.md5.iter().try_for_each(|b| write!(f, "{b:02X}"))?;
        match self.suffix {
            Some(n) => write!(f, "-{n}"),
            None => Ok(()),
        }
    }
}

/// User metadata (`x-oss-meta-*`), in the order given; names and values together at most
/// `USER_META_BYTES_MAX` bytes.
pub type UserMeta = Vec<(String, String)>;

fn write_user_meta(w: &mut Writer<'_>, meta: &UserMeta) -> Result<(), BodyError> {
    check_user_meta_total(meta.iter().map(|(n, v)| n.len() + v.len()).sum())?;
    write_vec(w, Field::UserMeta, meta, |w, (name, value)| {
        w.string(Field::MetaName, name)?;
        w.string(Field::MetaValue, value)
    })
}

fn read_user_meta(r: &mut Reader<'_>) -> Result<UserMeta, BodyError> {
    let mut total = 0usize;
    r.vec(Field::UserMeta, |r| {
        let name = r.string(Field::MetaName)?;
        let value = r.string(Field::MetaValue)?;
        total += name.len() + value.len();
        check_user_meta_total(total)?;
        Ok((name, value))
    })
}

fn check_user_meta_total(len: usize) -> Result<(), BodyError> {
    if len > USER_META_BYTES_MAX {
        let (field, min, max) = (Field::UserMeta, 0, USER_META_BYTES_MAX);
        return Err(BodyError::BadLength {
            field,
            len,
            min,
            max,
        });
    }
    Ok(())
}

fn check_content_length(value: u64) -> Result<u64, BodyError> {
    if value > OBJECT_BYTES_MAX {
        return Err(BodyError::InvalidValue {
            field: Field::ContentLength,
            value,
        });
    }
    Ok(value)
}

fn write_opt_u64(w: &mut Writer<'_>, v: Option<u64>) {
    w.tag(v.is_some());
    if let Some(v) = v {
        w.u64(v);
    }
}

fn read_opt_u64(r: &mut Reader<'_>) -> Result<Option<u64>, BodyError> {
    if r.tag()? {
        Ok(Some(r.u64()?))
    } else {
        Ok(None)
    }
}

/// An object's metadata, as returned by PutObject, HeadObject and GetObject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub etag: ETag,
    pub content_type: String,
    pub user_meta: UserMeta,
    pub last_modified_ms: u64,
    pub object_type: ObjectType,
    /// The version's id (`null` for the null version); absent in a bucket whose
    /// versioning was never enabled.
    pub version_id: Option<String>,
    /// CRC-64/XZ of the content, which OSS calls crc64ecma (`x-oss-hash-crc64ecma`).
    pub crc64: Option<u64>,
}

impl Body for ObjectMeta {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::Bucket, &self.bucket)?;
        w.string(Field::Key, &self.key)?;
        w.u64(self.size);
        self.etag.write(w);
        w.string(Field::ContentType, &self.content_type)?;
        write_user_meta(w, &self.user_meta)?;
        w.u64(self.last_modified_ms);
        self.object_type.write(w);
        w.opt_string(Field::VersionId, self.version_id.as_deref())?;
        write_opt_u64(w, self.crc64);
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(ObjectMeta {
            bucket: r.string(Field::Bucket)?,
            key: r.string(Field::Key)?,
            size: r.u64()?,
            etag: ETag::read(r)?,
            content_type: r.string(Field::ContentType)?,
            user_meta: read_user_meta(r)?,
            last_modified_ms: r.u64()?,
            object_type: ObjectType::read(r)?,
            version_id: r.opt_string(Field::VersionId)?,
            crc64: read_opt_u64(r)?,
        })
    }
}

/// PutObject (0x0201): sent with MORE when `content_length > 0`, then CHUNK frames carrying
/// exactly `content_length` bytes. Response: the new [`ObjectMeta`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutObject {
    pub bucket: String,
    pub key: String,
    pub content_type: String,
    pub user_meta: UserMeta,
    /// ≤ `OBJECT_BYTES_MAX`.
    pub content_length: u64,
    /// When set, the server fails with `BadDigest` unless the body's MD5 matches.
    pub content_md5: Option<[u8; 16]>,
    /// When set, the server fails with `FileAlreadyExists` if the key exists
    /// (`x-oss-forbid-overwrite`).
    pub forbid_overwrite: bool,
}

impl Body for PutObject {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::Bucket, &self.bucket)?;
        w.string(Field::Key, &self.key)?;
        w.string(Field::ContentType, &self.content_type)?;
        write_user_meta(w, &self.user_meta)?;
        w.u64(check_content_length(self.content_length)?);
        w.tag(self.content_md5.is_some());
        if let Some(md5) = &self.content_md5 {
            w.bytes(md5);
        }
        w.bool(self.forbid_overwrite);
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(PutObject {
            bucket: r.string(Field::Bucket)?,
            key: r.string(Field::Key)?,
            content_type: r.string(Field::ContentType)?,
            user_meta: read_user_meta(r)?,
            content_length: check_content_length(r.u64()?)?,
            content_md5: if r.tag()? { Some(r.array()?) } else { None },
            forbid_overwrite: r.bool()?,
        })
    }
}

/// A byte range of a GET, as the three forms of an HTTP `Range: bytes=` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RangeSpec {
    /// `bytes=first-last`, both inclusive; `first <= last`.
    FromTo(u64, u64),
    /// `bytes=first-`: from `first` to the end.
    From(u64),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

const RANGE_NONE: u8 = 0;
const RANGE_FROM_TO: u8 = 1;
const RANGE_FROM: u8 = 2;
const RANGE_SUFFIX: u8 = 3;

pub(crate) fn write_range(w: &mut Writer<'_>, range: Option<RangeSpec>) -> Result<(), BodyError> {
    match range {
        None => w.u8(RANGE_NONE),
        Some(RangeSpec::FromTo(first, last)) => {
            if first > last {
                return Err(BodyError::InvalidValue {
                    field: Field::Range,
                    value: first,
                });
            }
            w.u8(RANGE_FROM_TO);
            w.u64(first);
            w.u64(last);
        }
        Some(RangeSpec::From(first)) => {
            w.u8(RANGE_FROM);
            w.u64(first);
        }
        Some(RangeSpec::Suffix(n)) => {
            w.u8(RANGE_SUFFIX);
            w.u64(n);
        }
    }
    Ok(())
}

pub(crate) fn read_range(r: &mut Reader<'_>) -> Result<Option<RangeSpec>, BodyError> {
    match r.u8()? {
        RANGE_NONE => Ok(None),
        RANGE_FROM_TO => {
            let (first, last) = (r.u64()?, r.u64()?);
            if first > last {
                return Err(BodyError::InvalidValue {
                    field: Field::Range,
                    value: first,
                });
            }
            Ok(Some(RangeSpec::FromTo(first, last)))
        }
        RANGE_FROM => Ok(Some(RangeSpec::From(r.u64()?))),
        RANGE_SUFFIX => Ok(Some(RangeSpec::Suffix(r.u64()?))),
        tag => Err(BodyError::InvalidValue {
            field: Field::Tag,
            value: tag.into(),
        }),
    }
}

/// GetObject (0x0202). Response: [`GetObjectResponse`], then the data in CHUNK frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetObject {
    pub bucket: String,
    pub key: String,
    pub range: Option<RangeSpec>,
}

impl Body for GetObject {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::Bucket, &self.bucket)?;
        w.string(Field::Key, &self.key)?;
        write_range(w, self.range)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(GetObject {
            bucket: r.string(Field::Bucket)?,
            key: r.string(Field::Key)?,
            range: read_range(r)?,
        })
    }
}

/// The response to GetObject: sent with MORE when `range_len > 0`, then CHUNK frames
/// carrying exactly `range_len` bytes starting at object offset `range_start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetObjectResponse {
    pub meta: ObjectMeta,
    pub range_start: u64,
    pub range_len: u64,
}

impl Body for GetObjectResponse {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        self.meta.write(w)?;
        w.u64(self.range_start);
        w.u64(self.range_len);
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(GetObjectResponse {
            meta: ObjectMeta::read(r)?,
            range_start: r.u64()?,
            range_len: r.u64()?,
        })
    }
}

string_request!(
    /// HeadObject (0x0203). Response: [`ObjectMeta`].
    HeadObject { bucket: String = Bucket, key: String = Key },
    Opcode::HeadObject, ObjectMeta
);
string_request!(
    /// DeleteObject (0x0204). Response: [`Empty`], also when the key did not exist.
    DeleteObject { bucket: String = Bucket, key: String = Key },
    Opcode::DeleteObject, Empty
);

/// ListObjects (0x0205): one page of keys in byte order, as OSS ListObjects (v1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListObjects {
    pub bucket: String,
    pub prefix: String,
    /// Empty: no grouping.
    pub delimiter: String,
    /// Start after this key (exclusive); empty for the first page.
    pub marker: String,
    /// 0..=LIST_KEYS_MAX; 0 means the server's default (100).
    pub max_keys: u32,
}

impl Body for ListObjects {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::Bucket, &self.bucket)?;
        w.string(Field::Prefix, &self.prefix)?;
        w.string(Field::Delimiter, &self.delimiter)?;
        w.string(Field::Marker, &self.marker)?;
        write_max(w, self.max_keys, LIST_KEYS_MAX)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(ListObjects {
            bucket: r.string(Field::Bucket)?,
            prefix: r.string(Field::Prefix)?,
            delimiter: r.string(Field::Delimiter)?,
            marker: r.string(Field::Marker)?,
            max_keys: read_max(r, LIST_KEYS_MAX)?,
        })
    }
}

/// One key of a LIST page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSummary {
    pub key: String,
    pub size: u64,
    pub etag: ETag,
    pub last_modified_ms: u64,
    pub object_type: ObjectType,
}

impl ObjectSummary {
    /// Bytes this entry adds to an encoded [`ListPage`].
    pub fn encoded_bytes(&self) -> usize {
        2 + self.key.len() + 8 + self.etag.encoded_bytes() + 8 + 1
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::Key, &self.key)?;
        w.u64(self.size);
        self.etag.write(w);
        w.u64(self.last_modified_ms);
        self.object_type.write(w);
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(ObjectSummary {
            key: r.string(Field::Key)?,
            size: r.u64()?,
            etag: ETag::read(r)?,
            last_modified_ms: r.u64()?,
            object_type: ObjectType::read(r)?,
        })
    }
}

/// The budget of a [`ListPage`] without its `next_marker`: keeping
/// `encoded_bytes() <= LIST_PAGE_BYTES_MAX` guarantees the page still fits in one frame
/// once any next marker is set. 1000 maximal keys do not fit, so a server closes a page
/// early (`is_truncated`) when the next entry would cross this budget.
pub const LIST_PAGE_BYTES_MAX: usize = FRAME_BODY_BYTES_MAX - (2 + MARKER_BYTES_MAX);

/// The response to ListObjects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListPage {
    pub objects: Vec<ObjectSummary>,
    /// Keys rolled up at the delimiter; with `objects`, at most `max_keys` entries.
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// The marker for the next page, when truncated.
    pub next_marker: Option<String>,
}

impl ListPage {
    /// Bytes of the encoded page.
    pub fn encoded_bytes(&self) -> usize {
        let objects: usize = self.objects.iter().map(ObjectSummary::encoded_bytes).sum();
        let prefixes: usize = self.common_prefixes.iter().map(|p| 2 + p.len()).sum();
        let marker = self.next_marker.as_ref().map_or(0, |m| 2 + m.len());
        4 + objects + 4 + prefixes + 1 + 1 + marker
    }
}

impl Body for ListPage {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        check_page_entries(self.objects.len() + self.common_prefixes.len())?;
        write_vec(w, Field::Objects, &self.objects, |w, o| o.write(w))?;
        write_vec(w, Field::CommonPrefixes, &self.common_prefixes, |w, p| {
            w.string(Field::Prefix, p)
        })?;
        w.bool(self.is_truncated);
        w.opt_string(Field::Marker, self.next_marker.as_deref())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        let objects = r.vec(Field::Objects, ObjectSummary::read)?;
        let common_prefixes = r.vec(Field::CommonPrefixes, |r| r.string(Field::Prefix))?;
        check_page_entries(objects.len() + common_prefixes.len())?;
        Ok(ListPage {
            objects,
            common_prefixes,
            is_truncated: r.bool()?,
            next_marker: r.opt_string(Field::Marker)?,
        })
    }
}

fn check_page_entries(count: usize) -> Result<(), BodyError> {
    if count > LIST_KEYS_MAX {
        return Err(BodyError::TooMany {
            field: Field::Objects,
            count,
            max: LIST_KEYS_MAX,
        });
    }
    Ok(())
}

/// DeleteObjects (0x0206): delete up to `DELETE_KEYS_MAX` keys of one bucket.
/// Response: [`DeleteObjectsResponse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteObjects {
    pub bucket: String,
    pub keys: Vec<String>,
    /// As OSS quiet mode: the response lists only the keys that failed.
    pub quiet: bool,
}

impl Body for DeleteObjects {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::Bucket, &self.bucket)?;
        write_vec(w, Field::Keys, &self.keys, |w, k| w.string(Field::Key, k))?;
        w.bool(self.quiet);
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(DeleteObjects {
            bucket: r.string(Field::Bucket)?,
            keys: r.vec(Field::Keys, |r| r.string(Field::Key))?,
            quiet: r.bool()?,
        })
    }
}

/// The outcome for one key of DeleteObjects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteResult {
    pub key: String,
    /// `Ok` when deleted (or already absent), otherwise why not.
    pub status: Status,
}

/// The response to DeleteObjects: one result per key, in request order (in quiet mode only
/// the failures).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteObjectsResponse {
    pub results: Vec<DeleteResult>,
}

impl Body for DeleteObjectsResponse {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        write_vec(w, Field::Results, &self.results, |w, x| {
            w.string(Field::Key, &x.key)?;
            w.u16(x.status.code());
            Ok(())
        })
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        let results = r.vec(Field::Results, |r| {
            let key = r.string(Field::Key)?;
            let code = r.u16()?;
            let status = Status::try_from(code).map_err(|v| BodyError::InvalidValue {
                field: Field::Status,
                value: v.into(),
            })?;
            Ok(DeleteResult { key, status })
        })?;
        Ok(DeleteObjectsResponse { results })
    }
}

impl Request for PutObject {
    const OPCODE: Opcode = Opcode::PutObject;
    type Response = ObjectMeta;
}
impl Request for GetObject {
    const OPCODE: Opcode = Opcode::GetObject;
    type Response = GetObjectResponse;
}
impl Request for ListObjects {
    const OPCODE: Opcode = Opcode::ListObjects;
    type Response = ListPage;
}
impl Request for DeleteObjects {
    const OPCODE: Opcode = Opcode::DeleteObjects;
    type Response = DeleteObjectsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constants::{DELETE_KEYS_MAX, KEY_BYTES_MAX};
    use crate::test_support::round_trip;
    use bytes::BytesMut;

    fn meta() -> ObjectMeta {
        ObjectMeta {
            bucket: "photos".into(),
            key: "2024/07/cat.jpg".into(),
            size: 123_456,
            etag: ETag {
                md5: [0x5E; 16],
                suffix: None,
            },
            content_type: "image/jpeg".into(),
            user_meta: vec![
                ("camera".into(), "x100".into()),
                ("empty".into(), "".into()),
            ],
            last_modified_ms: 1_720_000_000_000,
            object_type: ObjectType::Normal,
            version_id: None,
            crc64: Some(0xDEAD_BEEF_0123_4567),
        }
    }

    fn summary(key: String) -> ObjectSummary {
        let etag = ETag {
            md5: [1; 16],
            suffix: Some(3),
        };
        let object_type = ObjectType::Multipart;
        ObjectSummary {
            key,
            size: 5,
            etag,
            last_modified_ms: 9,
            object_type,
        }
    }

    fn put() -> PutObject {
        PutObject {
            bucket: "photos".into(),
            key: "k".into(),
            content_type: "text/plain".into(),
            user_meta: vec![],
            content_length: OBJECT_BYTES_MAX,
            content_md5: Some([2; 16]),
            forbid_overwrite: true,
        }
    }

    fn encode_err(message: &impl Body) -> BodyError {
        let mut out = BytesMut::new();
        let err = message.encode(&mut out).unwrap_err();
        assert!(out.is_empty());
        err
    }

    #[test]
    fn round_trips() {
        round_trip(&meta());
        let versioned = ObjectMeta {
            etag: ETag {
                md5: [0xAB; 16],
                suffix: Some(10_000),
            },
            object_type: ObjectType::Appendable,
            version_id: Some("CAEQNhiBgMDJgZCA0BYiIDc4MGZjZGI2OWJmZjQ1ZTM".into()),
            crc64: None,
            ..meta()
        };
        round_trip(&versioned);
        round_trip(&put());
        round_trip(&PutObject {
            content_md5: None,
            forbid_overwrite: false,
            ..put()
        });
        let ranges = [
            None,
            Some(RangeSpec::FromTo(0, 0)),
            Some(RangeSpec::FromTo(10, u64::MAX)),
            Some(RangeSpec::From(7)),
            Some(RangeSpec::Suffix(500)),
        ];
        for range in ranges {
            round_trip(&GetObject {
                bucket: "b12".into(),
                key: "k".into(),
                range,
            });
        }
        round_trip(&GetObjectResponse {
            meta: meta(),
            range_start: 10,
            range_len: 20,
        });
        round_trip(&HeadObject {
            bucket: "b12".into(),
            key: "k".into(),
        });
        round_trip(&DeleteObject {
            bucket: "b12".into(),
            key: "k".into(),
        });
        round_trip(&ListObjects {
            bucket: "b12".into(),
            prefix: "2024/".into(),
            delimiter: "/".into(),
            marker: "2024/06".into(),
            max_keys: 1000,
        });
        round_trip(&ListPage::default());
        round_trip(&ListPage {
            objects: vec![summary("a".into()), summary("b/c".into())],
            common_prefixes: vec!["d/".into()],
            is_truncated: true,
            next_marker: Some("d/".into()),
        });
        let keys = (0..DELETE_KEYS_MAX).map(|i| "k".repeat(KEY_BYTES_MAX - 4) + &format!("{i:04}"));
        round_trip(&DeleteObjects {
            bucket: "b12".into(),
            keys: keys.collect(),
            quiet: true,
        });
        let results = vec![
            DeleteResult {
                key: "a".into(),
                status: Status::Ok,
            },
            DeleteResult {
                key: "b".into(),
                status: Status::AccessDenied,
            },
        ];
        round_trip(&DeleteObjectsResponse { results });
    }

    #[test]
    fn etag_text() {
        let etag = ETag {
            md5: *b"\x5e\xb6\x3b\xbb\xe0\x1e\xee\xd0\x93\xcb\x22\xbb\x8f\x5a\xcd\xc3",
            suffix: None,
        };
        assert_eq!(etag.to_string(), "5EB63BBBE01EEED093CB22BB8F5ACDC3");
        assert_eq!(
            ETag {
                suffix: Some(3),
                ..etag
            }
            .to_string(),
            "5EB63BBBE01EEED093CB22BB8F5ACDC3-3"
        );
    }

    #[test]
    fn key_errors_map_to_their_statuses() {
        let long = HeadObject {
            bucket: "b12".into(),
            key: "k".repeat(KEY_BYTES_MAX + 1),
        };
        assert_eq!(encode_err(&long).status(), Status::KeyTooLong);
        let empty = HeadObject {
            bucket: "b12".into(),
            key: String::new(),
        };
        assert_eq!(encode_err(&empty).status(), Status::InvalidKey);
        let mut body = BytesMut::new();
        HeadObject {
            bucket: "b12".into(),
            key: "ab".into(),
        }
        .encode(&mut body)
        .unwrap();
        let n = body.len();
        body[n - 1] = 0xFF;
        let err = HeadObject::decode(&body).unwrap_err();
        assert_eq!(err, BodyError::InvalidUtf8 { field: Field::Key });
        assert_eq!(err.status(), Status::InvalidKey);
    }

    #[test]
    fn put_object_limits() {
        let too_big = PutObject {
            content_length: OBJECT_BYTES_MAX + 1,
            ..put()
        };
        assert_eq!(encode_err(&too_big).status(), Status::ObjectTooLarge);
        // User metadata: 8 KiB of names and values in total, checked both ways.
        let meta = vec![
            ("a".into(), "v".repeat(4096)),
            ("b".into(), "v".repeat(4096)),
        ];
        let over = PutObject {
            user_meta: meta,
            ..put()
        };
        assert_eq!(encode_err(&over).status(), Status::MetadataTooLarge);
        let mut body = BytesMut::new();
        let mut w = Writer::new(&mut body);
        w.string(Field::Bucket, "b12").unwrap();
        w.string(Field::Key, "k").unwrap();
        w.string(Field::ContentType, "").unwrap();
        w.u32(2);
        for name in ["a", "b"] {
            w.string(Field::MetaName, name).unwrap();
            w.string(Field::MetaValue, &"v".repeat(4096)).unwrap();
        }
        let err = PutObject::decode(&body).unwrap_err();
        assert!(matches!(
            err,
            BodyError::BadLength {
                field: Field::UserMeta,
                len: 8194,
                ..
            }
        ));
        assert_eq!(err.status(), Status::MetadataTooLarge);
        let long_type = PutObject {
            content_type: "t".repeat(257),
            ..put()
        };
        assert_eq!(encode_err(&long_type).status(), Status::MetadataTooLarge);
    }

    #[test]
    fn range_errors() {
        let bad = GetObject {
            bucket: "b12".into(),
            key: "k".into(),
            range: Some(RangeSpec::FromTo(5, 4)),
        };
        assert_eq!(encode_err(&bad).status(), Status::InvalidRange);
        let mut body = BytesMut::new();
        GetObject { range: None, ..bad }.encode(&mut body).unwrap();
        let n = body.len();
        body[n - 1] = 4;
        assert_eq!(
            GetObject::decode(&body),
            Err(BodyError::InvalidValue {
                field: Field::Tag,
                value: 4
            })
        );
        body[n - 1] = 1;
        body.extend_from_slice(&5u64.to_le_bytes());
        body.extend_from_slice(&4u64.to_le_bytes());
        assert_eq!(
            GetObject::decode(&body).unwrap_err().status(),
            Status::InvalidRange
        );
    }

    #[test]
    fn list_limits() {
        let max = |max_keys| ListObjects {
            bucket: "b12".into(),
            prefix: String::new(),
            delimiter: String::new(),
            marker: String::new(),
            max_keys,
        };
        assert!(matches!(
            encode_err(&max(1001)),
            BodyError::InvalidValue {
                field: Field::MaxKeys,
                ..
            }
        ));
        // Objects plus common prefixes are at most LIST_KEYS_MAX together.
        let page = ListPage {
            objects: (0..600).map(|i| summary(format!("k{i}"))).collect(),
            common_prefixes: (0..401).map(|i| format!("p{i}/")).collect(),
            ..ListPage::default()
        };
        assert!(matches!(
            encode_err(&page),
            BodyError::TooMany { count: 1001, .. }
        ));
        let mut body = BytesMut::new();
        Writer::new(&mut body).u32(1001);
        assert!(matches!(
            ListPage::decode(&body),
            Err(BodyError::TooMany { count: 1001, .. })
        ));
    }

    /// 1000 maximal keys overflow a frame: the encoder refuses, and a page filled up to
    /// `LIST_PAGE_BYTES_MAX` fits with the longest next marker.
    #[test]
    fn list_page_byte_budget() {
        let long_key = |i: usize| format!("{i:04}") + &"k".repeat(KEY_BYTES_MAX - 4);
        let full = ListPage {
            objects: (0..LIST_KEYS_MAX).map(|i| summary(long_key(i))).collect(),
            ..ListPage::default()
        };
        assert!(full.encoded_bytes() > FRAME_BODY_BYTES_MAX);
        assert!(matches!(
            encode_err(&full),
            BodyError::BadLength {
                field: Field::Body,
                ..
            }
        ));
        let mut page = ListPage::default();
        for i in 0.. {
            let entry = summary(long_key(i));
            if page.encoded_bytes() + entry.encoded_bytes() > LIST_PAGE_BYTES_MAX {
                break;
            }
            page.objects.push(entry);
        }
        page.is_truncated = true;
        page.next_marker = Some("m".repeat(MARKER_BYTES_MAX));
        let out = round_trip(&page);
        assert_eq!(out.len(), page.encoded_bytes());
        assert!(out.len() <= FRAME_BODY_BYTES_MAX);
        assert!(page.objects.len() >= 980);
    }

    #[test]
    fn delete_objects_limits() {
        let keys = vec!["k".to_string(); DELETE_KEYS_MAX + 1];
        let too_many = DeleteObjects {
            bucket: "b12".into(),
            keys,
            quiet: false,
        };
        assert!(matches!(
            encode_err(&too_many),
            BodyError::TooMany {
                field: Field::Keys,
                ..
            }
        ));
        let mut body = BytesMut::new();
        let mut w = Writer::new(&mut body);
        w.u32(1);
        w.string(Field::Key, "k").unwrap();
        w.u16(0x0999);
        assert_eq!(
            DeleteObjectsResponse::decode(&body),
            Err(BodyError::InvalidValue {
                field: Field::Status,
                value: 0x0999
            })
        );
    }
}
