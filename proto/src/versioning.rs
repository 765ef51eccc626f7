//! Versioning messages (opcodes 0x06xx) and object ACL messages (0x0207, 0x0208).
//!
//! Version ids are opaque strings (`null`, or what the server printed); the server checks
//! them. A request with `version_id` absent addresses the current version.

use crate::bucket::{read_max, u8_enum, write_max, Acl};
use crate::codec::{write_vec, Body, BodyError, Empty, Field, Reader, Request, Writer};
use crate::constants::{
    FRAME_BODY_BYTES_MAX, LIST_KEYS_MAX, MARKER_BYTES_MAX, VERSION_ID_BYTES_MAX,
};
use crate::object::{
    read_range, write_range, ETag, GetObjectResponse, ObjectMeta, ObjectType, RangeSpec,
};
use crate::Opcode;

u8_enum!(
    /// A bucket's versioning state, as OSS and S3.
    Versioning, Field::Versioning, {
        /// Never enabled (GetBucketVersioning only; PutBucketVersioning refuses it).
        Disabled = 0,
        Enabled = 1,
        Suspended = 2,
    }
);

/// PutBucketVersioning (0x0601). Response: [`Empty`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutBucketVersioning {
    pub bucket: String,
    pub status: Versioning,
}

impl Body for PutBucketVersioning {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::Bucket, &self.bucket)?;
        self.status.write(w);
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(PutBucketVersioning {
            bucket: r.string(Field::Bucket)?,
            status: Versioning::read(r)?,
        })
    }
}

impl Request for PutBucketVersioning {
    const OPCODE: Opcode = Opcode::PutBucketVersioning;
    type Response = Empty;
}

/// GetBucketVersioning (0x0602). Response: [`BucketVersioning`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetBucketVersioning {
    pub bucket: String,
}

impl Body for GetBucketVersioning {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::Bucket, &self.bucket)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(GetBucketVersioning {
            bucket: r.string(Field::Bucket)?,
        })
    }
}

impl Request for GetBucketVersioning {
    const OPCODE: Opcode = Opcode::GetBucketVersioning;
    type Response = BucketVersioning;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketVersioning {
    pub status: Versioning,
}

impl Body for BucketVersioning {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        self.status.write(w);
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(BucketVersioning {
            status: Versioning::read(r)?,
        })
    }
}

/// ListObjectVersions (0x0603): one page of versions, keys in byte order, each key's
/// versions newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListObjectVersions {
    pub bucket: String,
    pub prefix: String,
    pub delimiter: String,
    /// Start after this key (or after `version_id_marker` of it); empty for the first page.
    pub key_marker: String,
    pub version_id_marker: Option<String>,
    /// 0..=LIST_KEYS_MAX; 0 means the server's default (100).
    pub max_keys: u32,
}

impl Body for ListObjectVersions {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::Bucket, &self.bucket)?;
        w.string(Field::Prefix, &self.prefix)?;
        w.string(Field::Delimiter, &self.delimiter)?;
        w.string(Field::Marker, &self.key_marker)?;
        w.opt_string(Field::VersionId, self.version_id_marker.as_deref())?;
        write_max(w, self.max_keys, LIST_KEYS_MAX)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(ListObjectVersions {
            bucket: r.string(Field::Bucket)?,
            prefix: r.string(Field::Prefix)?,
            delimiter: r.string(Field::Delimiter)?,
            key_marker: r.string(Field::Marker)?,
            version_id_marker: r.opt_string(Field::VersionId)?,
            max_keys: read_max(r, LIST_KEYS_MAX)?,
        })
    }
}

impl Request for ListObjectVersions {
    const OPCODE: Opcode = Opcode::ListObjectVersions;
    type Response = VersionPage;
}

/// One version of a [`VersionPage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionEntry {
    pub key: String,
    pub version_id: String,
    pub is_latest: bool,
    pub delete_marker: bool,
    pub size: u64,
    pub etag: ETag,
    pub last_modified_ms: u64,
    pub object_type: ObjectType,
    pub crc64: u64,
}

impl VersionEntry {
    /// Bytes this entry adds to an encoded [`VersionPage`].
    pub fn encoded_bytes(&self) -> usize {
        2 + self.key.len()
            + 2
            + self.version_id.len()
            + 1
            + 1
            + 8
            + self.etag.encoded_bytes()
            + 8
            + 1
            + 8
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::Key, &self.key)?;
        w.string(Field::VersionId, &self.version_id)?;
        w.bool(self.is_latest);
        w.bool(self.delete_marker);
        w.u64(self.size);
        self.etag.write(w);
        w.u64(self.last_modified_ms);
        self.object_type.write(w);
        w.u64(self.crc64);
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(VersionEntry {
            key: r.string(Field::Key)?,
            version_id: r.string(Field::VersionId)?,
            is_latest: r.bool()?,
            delete_marker: r.bool()?,
            size: r.u64()?,
            etag: ETag::read(r)?,
            last_modified_ms: r.u64()?,
            object_type: ObjectType::read(r)?,
            crc64: r.u64()?,
        })
    }
}

/// The budget of a [`VersionPage`] without its next markers (as `LIST_PAGE_BYTES_MAX`).
pub const VERSION_PAGE_BYTES_MAX: usize =
    FRAME_BODY_BYTES_MAX - (2 + MARKER_BYTES_MAX) - (2 + VERSION_ID_BYTES_MAX);

/// The response to ListObjectVersions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionPage {
    pub versions: Vec<VersionEntry>,
    /// With `versions`, at most `max_keys` entries.
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_version_id_marker: Option<String>,
}

impl VersionPage {
    /// Bytes of the encoded page.
    pub fn encoded_bytes(&self) -> usize {
        let versions: usize = self.versions.iter().map(VersionEntry::encoded_bytes).sum();
        let prefixes: usize = self.common_prefixes.iter().map(|p| 2 + p.len()).sum();
        let opt = |m: &Option<String>| 1 + m.as_ref().map_or(0, |m| 2 + m.len());
        4 + versions
            + 4
            + prefixes
            + 1
            + opt(&self.next_key_marker)
            + opt(&self.next_version_id_marker)
    }
}

impl Body for VersionPage {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        if self.versions.len() + self.common_prefixes.len() > LIST_KEYS_MAX {
            return Err(BodyError::TooMany {
                field: Field::Versions,
                count: self.versions.len() + self.common_prefixes.len(),
                max: LIST_KEYS_MAX,
            });
        }
        write_vec(w, Field::Versions, &self.versions, |w, v| v.write(w))?;
        write_vec(w, Field::CommonPrefixes, &self.common_prefixes, |w, p| {
            w.string(Field::Prefix, p)
        })?;
        w.bool(self.is_truncated);
        w.opt_string(Field::Marker, self.next_key_marker.as_deref())?;
        w.opt_string(Field::VersionId, self.next_version_id_marker.as_deref())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        let versions = r.vec(Field::Versions, VersionEntry::read)?;
        let common_prefixes = r.vec(Field::CommonPrefixes, |r| r.string(Field::Prefix))?;
        if versions.len() + common_prefixes.len() > LIST_KEYS_MAX {
            return Err(BodyError::TooMany {
                field: Field::Versions,
                count: versions.len() + common_prefixes.len(),
                max: LIST_KEYS_MAX,
            });
        }
        Ok(VersionPage {
            versions,
            common_prefixes,
            is_truncated: r.bool()?,
            next_key_marker: r.opt_string(Field::Marker)?,
            next_version_id_marker: r.opt_string(Field::VersionId)?,
        })
    }
}

/// GetObjectVersion (0x0604): GetObject addressed by version. Response:
/// [`GetObjectResponse`], then the data in CHUNK frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetObjectVersion {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub range: Option<RangeSpec>,
}

impl Body for GetObjectVersion {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::Bucket, &self.bucket)?;
        w.string(Field::Key, &self.key)?;
        w.opt_string(Field::VersionId, self.version_id.as_deref())?;
        write_range(w, self.range)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(GetObjectVersion {
            bucket: r.string(Field::Bucket)?,
            key: r.string(Field::Key)?,
            version_id: r.opt_string(Field::VersionId)?,
            range: read_range(r)?,
        })
    }
}

impl Request for GetObjectVersion {
    const OPCODE: Opcode = Opcode::GetObjectVersion;
    type Response = GetObjectResponse;
}

string_request!(
    /// HeadObjectVersion (0x0605). Response: [`ObjectMeta`].
    HeadObjectVersion {
        bucket: String = Bucket,
        key: String = Key,
        version_id: Option<String> = VersionId,
    },
    Opcode::HeadObjectVersion, ObjectMeta
);
string_request!(
    /// DeleteObjectVersion (0x0606). Response: [`DeleteVersionResult`].
    DeleteObjectVersion {
        bucket: String = Bucket,
        key: String = Key,
        version_id: Option<String> = VersionId,
    },
    Opcode::DeleteObjectVersion, DeleteVersionResult
);
string_request!(
    /// GetObjectAcl (0x0208). Response: [`ObjectAclResponse`].
    GetObjectAcl {
        bucket: String = Bucket,
        key: String = Key,
        version_id: Option<String> = VersionId,
    },
    Opcode::GetObjectAcl, ObjectAclResponse
);

/// What DeleteObjectVersion did: the delete marker it created, or the version it removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteVersionResult {
    pub version_id: Option<String>,
    pub delete_marker: bool,
}

impl Body for DeleteVersionResult {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.opt_string(Field::VersionId, self.version_id.as_deref())?;
        w.bool(self.delete_marker);
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(DeleteVersionResult {
            version_id: r.opt_string(Field::VersionId)?,
            delete_marker: r.bool()?,
        })
    }
}

/// PutObjectAcl (0x0207): sets the ACL of a version (`Default`: follow the bucket's).
/// Response: [`Empty`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutObjectAcl {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub acl: Acl,
}

impl Body for PutObjectAcl {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::Bucket, &self.bucket)?;
        w.string(Field::Key, &self.key)?;
        w.opt_string(Field::VersionId, self.version_id.as_deref())?;
        self.acl.write(w);
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(PutObjectAcl {
            bucket: r.string(Field::Bucket)?,
            key: r.string(Field::Key)?,
            version_id: r.opt_string(Field::VersionId)?,
            acl: Acl::read(r)?,
        })
    }
}

impl Request for PutObjectAcl {
    const OPCODE: Opcode = Opcode::PutObjectAcl;
    type Response = Empty;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectAclResponse {
    /// `Default` when the object follows its bucket's ACL.
    pub acl: Acl,
}

impl Body for ObjectAclResponse {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        self.acl.write(w);
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(ObjectAclResponse { acl: Acl::read(r)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Body + PartialEq + std::fmt::Debug>(m: T) {
        let mut buf = bytes::BytesMut::new();
        m.encode(&mut buf).unwrap();
        assert_eq!(T::decode(&buf).unwrap(), m);
        // Every strict prefix is truncated, never a panic or a wrong message.
        for n in 0..buf.len() {
            assert!(T::decode(&buf[..n]).is_err(), "prefix of {n} bytes");
        }
    }

    #[test]
    fn messages_round_trip() {
        round_trip(PutBucketVersioning {
            bucket: "bkt".into(),
            status: Versioning::Suspended,
        });
        round_trip(BucketVersioning {
            status: Versioning::Enabled,
        });
        round_trip(ListObjectVersions {
            bucket: "bkt".into(),
            prefix: "p/".into(),
            delimiter: "/".into(),
            key_marker: "p/a".into(),
            version_id_marker: Some("null".into()),
            max_keys: 10,
        });
        let entry = VersionEntry {
            key: "k".into(),
            version_id: "00000000000000ff".into(),
            is_latest: true,
            delete_marker: false,
            size: 3,
            etag: ETag::default(),
            last_modified_ms: 4,
            object_type: ObjectType::Normal,
            crc64: 5,
        };
        let page = VersionPage {
            versions: vec![entry],
            common_prefixes: vec!["p/".into()],
            is_truncated: true,
            next_key_marker: Some("k".into()),
            next_version_id_marker: Some("00000000000000ff".into()),
        };
        let mut buf = bytes::BytesMut::new();
        page.encode(&mut buf).unwrap();
        assert_eq!(buf.len(), page.encoded_bytes());
        round_trip(page);
        round_trip(GetObjectVersion {
            bucket: "bkt".into(),
            key: "k".into(),
            version_id: None,
            range: Some(RangeSpec::Suffix(3)),
        });
        round_trip(DeleteObjectVersion {
            bucket: "bkt".into(),
            key: "k".into(),
            version_id: Some("null".into()),
        });
        round_trip(DeleteVersionResult {
            version_id: Some("null".into()),
            delete_marker: true,
        });
        round_trip(PutObjectAcl {
            bucket: "bkt".into(),
            key: "k".into(),
            version_id: None,
            acl: Acl::Default,
        });
        round_trip(ObjectAclResponse {
            acl: Acl::PublicRead,
        });
        assert!(Versioning::try_from(3).is_err());
    }
}
