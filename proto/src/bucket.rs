//! Bucket messages (opcodes 0x01xx) and the bucket types they carry.

use crate::codec::{write_vec, Body, BodyError, Empty, Field, Reader, Request, Writer};
use crate::Opcode;

/// Declares a `#[repr(u8)]` enum with `TryFrom<u8>` and Reader/Writer helpers.
macro_rules! u8_enum {
    ($(#[$doc:meta])* $name:ident, $field:expr, { $( $(#[$vdoc:meta])* $v:ident = $n:literal, )* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name { $( $(#[$vdoc])* $v = $n, )* }

        impl TryFrom<u8> for $name {
            type Error = u8;
            fn try_from(v: u8) -> Result<Self, u8> {
                match v { $($n => Ok($name::$v),)* other => Err(other) }
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v,)*];
            pub(crate) fn write(self, w: &mut Writer<'_>) {
                w.u8(self as u8);
            }
            pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
                let v = r.u8()?;
                $name::try_from(v)
                    .map_err(|v| BodyError::InvalidValue { field: $field, value: v.into() })
            }
        }
    };
}
pub(crate) use u8_enum;

u8_enum!(
    /// Access control, as OSS canned ACLs.
    Acl, Field::Acl, {
        Private = 0,
        PublicRead = 1,
        PublicReadWrite = 2,
        /// Unspecified: an object follows its bucket's ACL (PutObjectAcl, GetObjectAcl); for a
        /// bucket it means private.
        Default = 255,
    }
);

u8_enum!(
    /// Storage class, as OSS (it may choose the erasure-coding scheme).
    StorageClass, Field::StorageClass, {
        Standard = 0,
        /// Infrequent access.
        Ia = 1,
        Archive = 2,
    }
);

/// A bucket's record, as returned by HeadBucket and ListBuckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    pub name: String,
    pub region: String,
    pub acl: Acl,
    pub storage_class: StorageClass,
    pub owner: String,
    pub created_ms: u64,
}

impl Body for BucketInfo {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::Bucket, &self.name)?;
        w.string(Field::Region, &self.region)?;
        self.acl.write(w);
        self.storage_class.write(w);
        w.string(Field::Owner, &self.owner)?;
        w.u64(self.created_ms);
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(BucketInfo {
            name: r.string(Field::Bucket)?,
            region: r.string(Field::Region)?,
            acl: Acl::read(r)?,
            storage_class: StorageClass::read(r)?,
            owner: r.string(Field::Owner)?,
            created_ms: r.u64()?,
        })
    }
}

/// CreateBucket (0x0101). Response: [`Empty`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateBucket {
    pub name: String,
    pub region: String,
    pub acl: Acl,
    pub storage_class: StorageClass,
}

impl Body for CreateBucket {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::Bucket, &self.name)?;
        w.string(Field::Region, &self.region)?;
        self.acl.write(w);
        self.storage_class.write(w);
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(CreateBucket {
            name: r.string(Field::Bucket)?,
            region: r.string(Field::Region)?,
            acl: Acl::read(r)?,
            storage_class: StorageClass::read(r)?,
        })
    }
}

string_request!(
    /// DeleteBucket (0x0102): delete an empty bucket. Response: [`Empty`].
    DeleteBucket { name: String = Bucket },
    Opcode::DeleteBucket, Empty
);
string_request!(
    /// HeadBucket (0x0103). Response: [`BucketInfo`]; `owner` is empty unless the caller
    /// owns the bucket or is an administrator.
    HeadBucket { name: String = Bucket },
    Opcode::HeadBucket, BucketInfo
);
string_request!(
    /// GetBucketInfo (0x0106): the owner's view, for GetBucketAcl and GetBucketInfo.
    /// Response: [`BucketInfo`].
    GetBucketInfo { name: String = Bucket },
    Opcode::GetBucketInfo, BucketInfo
);

/// ListBuckets (0x0104): one page of the caller's buckets in name order, as OSS
/// (`prefix`, `marker`, `max-keys`). Response: [`BucketList`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListBuckets {
    pub prefix: String,
    /// Start after this name; empty for the first page.
    pub marker: String,
    /// 0..=LIST_BUCKETS_MAX; 0 means the server's default (100).
    pub max_buckets: u32,
}

impl Body for ListBuckets {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::Prefix, &self.prefix)?;
        w.string(Field::Marker, &self.marker)?;
        write_max(w, self.max_buckets, crate::constants::LIST_BUCKETS_MAX)
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(ListBuckets {
            prefix: r.string(Field::Prefix)?,
            marker: r.string(Field::Marker)?,
            max_buckets: read_max(r, crate::constants::LIST_BUCKETS_MAX)?,
        })
    }
}

/// Writes a page size, checked against its limit.
pub(crate) fn write_max(w: &mut Writer<'_>, value: u32, max: usize) -> Result<(), BodyError> {
    if value as usize > max {
        return Err(BodyError::InvalidValue {
            field: Field::MaxKeys,
            value: value.into(),
        });
    }
    w.u32(value);
    Ok(())
}

/// Reads a page size, checked against its limit.
pub(crate) fn read_max(r: &mut Reader<'_>, max: usize) -> Result<u32, BodyError> {
    let value = r.u32()?;
    if value as usize > max {
        return Err(BodyError::InvalidValue {
            field: Field::MaxKeys,
            value: value.into(),
        });
    }
    Ok(value)
}

/// The response to ListBuckets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BucketList {
    pub buckets: Vec<BucketInfo>,
    pub is_truncated: bool,
    /// The marker for the next page, when truncated.
    pub next_marker: Option<String>,
}

impl Body for BucketList {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        write_vec(w, Field::Buckets, &self.buckets, |w, b| b.write(w))?;
        w.bool(self.is_truncated);
        w.opt_string(Field::Marker, self.next_marker.as_deref())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(BucketList {
            buckets: r.vec(Field::Buckets, BucketInfo::read)?,
            is_truncated: r.bool()?,
            next_marker: r.opt_string(Field::Marker)?,
        })
    }
}

/// PutBucketAcl (0x0105). Response: [`Empty`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutBucketAcl {
    pub name: String,
    pub acl: Acl,
}

impl Body for PutBucketAcl {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), BodyError> {
        w.string(Field::Bucket, &self.name)?;
        self.acl.write(w);
        Ok(())
    }
    fn read(r: &mut Reader<'_>) -> Result<Self, BodyError> {
        Ok(PutBucketAcl {
            name: r.string(Field::Bucket)?,
            acl: Acl::read(r)?,
        })
    }
}

impl Request for CreateBucket {
    const OPCODE: Opcode = Opcode::CreateBucket;
    type Response = Empty;
}
impl Request for ListBuckets {
    const OPCODE: Opcode = Opcode::ListBuckets;
    type Response = BucketList;
}
impl Request for PutBucketAcl {
    const OPCODE: Opcode = Opcode::PutBucketAcl;
    type Response = Empty;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constants::LIST_BUCKETS_MAX;
    use crate::status::Status;
    use crate::test_support::round_trip;
    use bytes::BytesMut;

    fn info(name: &str) -> BucketInfo {
        BucketInfo {
            name: name.into(),
            region: "local".into(),
            acl: Acl::PublicRead,
            storage_class: StorageClass::Ia,
            owner: "1234567890".into(),
            created_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn round_trips() {
        round_trip(&CreateBucket {
            name: "photos".into(),
            region: "local".into(),
            acl: Acl::Private,
            storage_class: StorageClass::Archive,
        });
        round_trip(&DeleteBucket {
            name: "photos".into(),
        });
        round_trip(&HeadBucket {
            name: "photos".into(),
        });
        round_trip(&info("photos"));
        round_trip(&ListBuckets {
            prefix: "ph".into(),
            marker: "pa".into(),
            max_buckets: 100,
        });
        round_trip(&BucketList::default());
        round_trip(&BucketList {
            buckets: (0..LIST_BUCKETS_MAX)
                .map(|i| info(&format!("bucket-{i:04}")))
                .collect(),
            is_truncated: true,
            next_marker: Some("bucket-0999".into()),
        });
        round_trip(&PutBucketAcl {
            name: "photos".into(),
            acl: Acl::PublicReadWrite,
        });
    }

    #[test]
    fn enums() {
        for acl in Acl::ALL {
            assert_eq!(Acl::try_from(*acl as u8), Ok(*acl));
        }
        assert_eq!(Acl::Default as u8, 255);
        assert_eq!(Acl::try_from(3), Err(3));
        assert_eq!(StorageClass::try_from(2), Ok(StorageClass::Archive));
        let mut body = BytesMut::new();
        PutBucketAcl {
            name: "photos".into(),
            acl: Acl::Private,
        }
        .encode(&mut body)
        .unwrap();
        *body.last_mut().unwrap() = 9;
        assert_eq!(
            PutBucketAcl::decode(&body),
            Err(BodyError::InvalidValue {
                field: Field::Acl,
                value: 9
            })
        );
    }

    #[test]
    fn limits() {
        let mut out = BytesMut::new();
        let long = DeleteBucket {
            name: "b".repeat(64),
        };
        let err = long.encode(&mut out).unwrap_err();
        assert_eq!(err.status(), Status::InvalidBucketName);
        // Decoding enforces the same bound on a hand-made body.
        let mut body = vec![2, 0];
        body.extend_from_slice(b"ab");
        assert_eq!(
            DeleteBucket::decode(&body).unwrap_err().status(),
            Status::InvalidBucketName
        );
        let too_many = ListBuckets {
            prefix: "".into(),
            marker: "".into(),
            max_buckets: 1001,
        };
        assert!(too_many.encode(&mut out).is_err());
        let mut body = vec![0, 0, 0, 0];
        body.extend_from_slice(&1001u32.to_le_bytes());
        assert_eq!(
            ListBuckets::decode(&body),
            Err(BodyError::InvalidValue {
                field: Field::MaxKeys,
                value: 1001
            })
        );
        let mut body = (LIST_BUCKETS_MAX as u32 + 1).to_le_bytes().to_vec();
        body.push(0);
        assert!(matches!(
            BucketList::decode(&body),
            Err(BodyError::TooMany {
                field: Field::Buckets,
                count: 1001,
                ..
            })
        ));
    }
}
