//! The engine's public types: what the server, the client and the tests speak in.

use crate::constants::{
    BUCKET_NAME_BYTES_MAX, BUCKET_NAME_BYTES_MIN, CONTENT_TYPE_BYTES_MAX, KEY_BYTES_MAX,
    USER_META_BYTES_MAX,
};
use crate::error::Error;

/// Bucket and object access control (OSS canned ACLs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Acl {
    #[default]
    Private = 0,
    PublicRead = 1,
    PublicReadWrite = 2,
}

impl Acl {
    pub fn from_u8(v: u8) -> Option<Acl> {
        [Acl::Private, Acl::PublicRead, Acl::PublicReadWrite]
            .get(v as usize)
            .copied()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum StorageClass {
    #[default]
    Standard = 0,
    InfrequentAccess = 1,
    Archive = 2,
}

impl StorageClass {
    pub fn from_u8(v: u8) -> Option<StorageClass> {
        [
            StorageClass::Standard,
            StorageClass::InfrequentAccess,
            StorageClass::Archive,
        ]
        .get(v as usize)
        .copied()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum ObjectType {
    #[default]
    Normal = 0,
    Multipart = 1,
    Appendable = 2,
}

impl ObjectType {
    pub fn from_u8(v: u8) -> Option<ObjectType> {
        [
            ObjectType::Normal,
            ObjectType::Multipart,
            ObjectType::Appendable,
        ]
        .get(v as usize)
        .copied()
    }
}

/// A bucket's versioning state, as OSS and S3: a bucket starts `Disabled`; once
/// `Enabled` it can only be `Suspended` (and enabled again), never disabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Versioning {
    /// Never enabled: a key has one version, the "null" version; a put replaces it.
    #[default]
    Disabled = 0,
    /// Every put adds a version with a new id; a delete adds a delete marker.
    Enabled = 1,
    /// Puts and deletes replace the "null" version; older versions are kept.
    Suspended = 2,
}

impl Versioning {
    pub fn from_u8(v: u8) -> Option<Versioning> {
        [
            Versioning::Disabled,
            Versioning::Enabled,
            Versioning::Suspended,
        ]
        .get(v as usize)
        .copied()
    }
}

/// An object's own ACL. `Default` means the object follows its bucket's ACL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum ObjectAcl {
    #[default]
    Default = 0,
    Private = 1,
    PublicRead = 2,
    PublicReadWrite = 3,
}

impl ObjectAcl {
    pub fn from_u8(v: u8) -> Option<ObjectAcl> {
        [
            ObjectAcl::Default,
            ObjectAcl::Private,
            ObjectAcl::PublicRead,
            ObjectAcl::PublicReadWrite,
        ]
        .get(v as usize)
        .copied()
    }
}

/// The version id of the "null" version (written while versioning is disabled or
/// suspended). Its text form is `null`.
pub const NULL_VERSION: u64 = 0;

/// The text form of a version id: `null`, or 16 lowercase hex digits. Ids of one key
/// sort, as numbers and as text, in the order their versions were written.
pub fn version_id_string(version: u64) -> String {
    if version == NULL_VERSION {
        "null".to_string()
    } else {
        format!("{version:016x}")
    }
}

/// Parses the text form of a version id (`InvalidArgument` for anything else).
pub fn parse_version_id(text: &str) -> Result<u64, Error> {
    let bad = || Error::InvalidArgument(format!("invalid version id {text:?}"));
    if text == "null" {
        return Ok(NULL_VERSION);
    }
    if text.len() != 16
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(bad());
    }
    match u64::from_str_radix(text, 16) {
        Ok(v) if v != NULL_VERSION => Ok(v),
        _ => Err(bad()),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketInfo {
    pub name: String,
    /// Fixed at creation.
    pub region: String,
    pub acl: Acl,
    pub storage_class: StorageClass,
    pub owner: String,
    pub created_ms: u64,
    pub versioning: Versioning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    /// MD5 of the content for simple uploads.
    pub etag: [u8; 16],
    /// For multipart objects: the part count (the ETag is then `hex-N`).
    pub etag_parts: Option<u32>,
    pub content_type: String,
    pub user_meta: Vec<(String, String)>,
    pub last_modified_ms: u64,
    pub object_type: ObjectType,
    /// The version's id (`null` for the null version); `None` in a bucket whose
    /// versioning was never enabled.
    pub version_id: Option<String>,
    /// CRC-64/XZ (what OSS calls crc64ecma) of the content.
    pub crc64: u64,
    pub acl: ObjectAcl,
    /// The version is a delete marker (only version-addressed HEAD and listings show one).
    pub delete_marker: bool,
}

impl ObjectMeta {
    /// The ETag as the HTTP dialects print it (without quotes), upper-case hex as OSS does.
    pub fn etag_hex(&self) -> String {
        let hex = hex::encode_upper(self.etag);
        match self.etag_parts {
            Some(n) => format!("{hex}-{n}"),
            None => hex,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PutOptions {
    pub content_type: String,
    pub user_meta: Vec<(String, String)>,
    /// The exact body length; the body must deliver exactly this many bytes.
    pub content_length: u64,
    /// When set, the body's MD5 must match or the put fails with `BadDigest`.
    pub content_md5: Option<[u8; 16]>,
    /// Refuse to replace an existing object (`FileAlreadyExists`); in a versioned bucket:
    /// refuse when the key has a current version that is not a delete marker.
    pub forbid_overwrite: bool,
    pub acl: ObjectAcl,
}

/// A byte range as HTTP Range headers express them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeSpec {
    /// `bytes=first-last`, inclusive.
    FromTo(u64, u64),
    /// `bytes=first-`
    From(u64),
    /// `bytes=-n`: the last n bytes.
    Suffix(u64),
}

impl RangeSpec {
    /// Resolves against an object size to `(start, len)`; `InvalidRange` when unsatisfiable.
    pub fn resolve(self, size: u64) -> Result<(u64, u64), Error> {
        let bad = || Error::InvalidRange { size };
        match self {
            RangeSpec::FromTo(a, b) if a <= b && a < size => Ok((a, b.min(size - 1) - a + 1)),
            RangeSpec::From(a) if a < size => Ok((a, size - a)),
            RangeSpec::Suffix(n) if n > 0 && size > 0 => Ok((size - n.min(size), n.min(size))),
            _ => Err(bad()),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListParams {
    pub prefix: String,
    pub delimiter: String,
    /// List keys strictly after this one.
    pub marker: String,
    /// 1..=1000 (the engine clamps it); protocol defaults are resolved by the caller.
    pub max_keys: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectSummary {
    pub key: String,
    pub size: u64,
    pub etag: [u8; 16],
    pub etag_parts: Option<u32>,
    pub last_modified_ms: u64,
    pub object_type: ObjectType,
}

/// Parameters of a version listing (ListObjectVersions).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListVersionsParams {
    pub prefix: String,
    pub delimiter: String,
    /// Start after this key, or, with `version_id_marker`, after that version of it.
    pub key_marker: String,
    pub version_id_marker: String,
    /// 1..=1000 (the engine clamps it).
    pub max_keys: usize,
}

/// One version of a key in a version listing or a snapshot scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionSummary {
    pub key: String,
    /// `null` or 16 hex digits (see `version_id_string`).
    pub version_id: String,
    /// The key's current version.
    pub is_latest: bool,
    pub delete_marker: bool,
    pub size: u64,
    pub etag: [u8; 16],
    pub etag_parts: Option<u32>,
    pub last_modified_ms: u64,
    pub object_type: ObjectType,
    pub crc64: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListVersionsPage {
    /// Keys in byte order, each key's versions newest first.
    pub versions: Vec<VersionSummary>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_version_id_marker: Option<String>,
}

/// What a delete did: the version it created (a delete marker) or removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteOutcome {
    pub version_id: Option<String>,
    /// A delete marker was created, or the version removed was one.
    pub delete_marker: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ObjectSummary>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// The marker to pass for the next page (the last key or common prefix returned).
    pub next_marker: Option<String>,
}

/// Checks a bucket name against the OSS rules: 3–63 bytes of lowercase letters, digits and
/// hyphens, starting and ending with a letter or digit.
pub fn validate_bucket_name(name: &str) -> Result<(), Error> {
    let bad = |why: &str| Err(Error::InvalidBucketName(format!("{name:?}: {why}")));
    if name.len() < BUCKET_NAME_BYTES_MIN || name.len() > BUCKET_NAME_BYTES_MAX {
        return bad("must be 3 to 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return bad("may contain only lowercase letters, digits and hyphens");
    }
    let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !edge(name.as_bytes()[0]) || !edge(name.as_bytes()[name.len() - 1]) {
        return bad("must start and end with a lowercase letter or a digit");
    }
    Ok(())
}

/// Checks an object key: UTF-8 (guaranteed by `&str`), 1–1023 bytes, not starting with
/// `/` or `\`, no NUL.
pub fn validate_key(key: &str) -> Result<(), Error> {
    if key.is_empty() {
        return Err(Error::InvalidKey("object key must not be empty".into()));
    }
    if key.len() > KEY_BYTES_MAX {
        return Err(Error::KeyTooLong(key.len()));
    }
    if key.starts_with('/') || key.starts_with('\\') {
        return Err(Error::InvalidKey(format!(
            "object key {key:?} must not start with '/' or '\\'"
        )));
    }
    if key.contains('\0') {
        return Err(Error::InvalidKey("object key must not contain NUL".into()));
    }
    Ok(())
}

/// Checks content type and user metadata sizes.
pub fn validate_put_options(o: &PutOptions) -> Result<(), Error> {
    if o.content_type.len() > CONTENT_TYPE_BYTES_MAX {
        return Err(Error::InvalidArgument(format!(
            "content type is {} bytes, more than {CONTENT_TYPE_BYTES_MAX}",
            o.content_type.len()
        )));
    }
    let meta: usize = o.user_meta.iter().map(|(k, v)| k.len() + v.len()).sum();
    if meta > USER_META_BYTES_MAX {
        return Err(Error::MetadataTooLarge(meta));
    }
    if o.content_length > crate::constants::OBJECT_BYTES_MAX {
        return Err(Error::ObjectTooLarge(o.content_length));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "a-b-c", "0bucket9", &"a".repeat(63)] {
            validate_bucket_name(ok).unwrap();
        }
        for bad in [
            "ab",
            "-abc",
            "abc-",
            "ABC",
            "a_b",
            "a.b",
            &"a".repeat(64),
            "ab c",
        ] {
            assert!(
                matches!(validate_bucket_name(bad), Err(Error::InvalidBucketName(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn keys_and_ranges() {
        validate_key("a").unwrap();
        validate_key(&"k".repeat(1023)).unwrap();
        assert!(matches!(
            validate_key(&"k".repeat(1024)),
            Err(Error::KeyTooLong(1024))
        ));
        assert!(
            validate_key("/a").is_err()
                && validate_key("\\a").is_err()
                && validate_key("").is_err()
        );
        assert_eq!(RangeSpec::FromTo(0, 9).resolve(5).unwrap(), (0, 5));
        assert_eq!(RangeSpec::From(3).resolve(5).unwrap(), (3, 2));
        assert_eq!(RangeSpec::Suffix(10).resolve(5).unwrap(), (0, 5));
        assert!(RangeSpec::From(5).resolve(5).is_err());
        assert!(RangeSpec::Suffix(1).resolve(0).is_err());
        assert!(RangeSpec::FromTo(3, 2).resolve(5).is_err());
    }
}
