//! Engine types ↔ protocol types. The two crates are independent, so the mapping lives
//! here.

use ringstore_engine as engine;
use ringstore_proto as proto;

pub fn acl_from_proto(acl: proto::Acl) -> engine::Acl {
    match acl {
        // A bucket has no parent to inherit from: "default" is private, as OSS.
        proto::Acl::Private | proto::Acl::Default => engine::Acl::Private,
        proto::Acl::PublicRead => engine::Acl::PublicRead,
        proto::Acl::PublicReadWrite => engine::Acl::PublicReadWrite,
    }
}

pub fn acl_to_proto(acl: engine::Acl) -> proto::Acl {
    match acl {
        engine::Acl::Private => proto::Acl::Private,
        engine::Acl::PublicRead => proto::Acl::PublicRead,
        engine::Acl::PublicReadWrite => proto::Acl::PublicReadWrite,
    }
}

pub fn storage_class_from_proto(class: proto::StorageClass) -> engine::StorageClass {
    match class {
        proto::StorageClass::Standard => engine::StorageClass::Standard,
        proto::StorageClass::Ia => engine::StorageClass::InfrequentAccess,
        proto::StorageClass::Archive => engine::StorageClass::Archive,
    }
}

pub fn storage_class_to_proto(class: engine::StorageClass) -> proto::StorageClass {
    match class {
        engine::StorageClass::Standard => proto::StorageClass::Standard,
        engine::StorageClass::InfrequentAccess => proto::StorageClass::Ia,
        engine::StorageClass::Archive => proto::StorageClass::Archive,
    }
}

pub fn object_type_to_proto(t: engine::ObjectType) -> proto::ObjectType {
    match t {
        engine::ObjectType::Normal => proto::ObjectType::Normal,
        engine::ObjectType::Multipart => proto::ObjectType::Multipart,
        engine::ObjectType::Appendable => proto::ObjectType::Appendable,
    }
}

pub fn range_from_proto(range: proto::RangeSpec) -> engine::RangeSpec {
    match range {
        proto::RangeSpec::FromTo(first, last) => engine::RangeSpec::FromTo(first, last),
        proto::RangeSpec::From(first) => engine::RangeSpec::From(first),
        proto::RangeSpec::Suffix(n) => engine::RangeSpec::Suffix(n),
    }
}

pub fn bucket_to_proto(b: engine::BucketInfo) -> proto::BucketInfo {
    proto::BucketInfo {
        name: b.name,
        region: b.region,
        acl: acl_to_proto(b.acl),
        storage_class: storage_class_to_proto(b.storage_class),
        owner: b.owner,
        created_ms: b.created_ms,
    }
}

pub fn meta_to_proto(m: engine::ObjectMeta) -> proto::ObjectMeta {
    proto::ObjectMeta {
        bucket: m.bucket,
        key: m.key,
        size: m.size,
        etag: proto::ETag {
            md5: m.etag,
            suffix: m.etag_parts,
        },
        content_type: m.content_type,
        user_meta: m.user_meta,
        last_modified_ms: m.last_modified_ms,
        object_type: object_type_to_proto(m.object_type),
        version_id: m.version_id,
        crc64: Some(m.crc64),
    }
}

pub fn summary_to_proto(o: engine::ObjectSummary) -> proto::ObjectSummary {
    proto::ObjectSummary {
        key: o.key,
        size: o.size,
        etag: proto::ETag {
            md5: o.etag,
            suffix: o.etag_parts,
        },
        last_modified_ms: o.last_modified_ms,
        object_type: object_type_to_proto(o.object_type),
    }
}

pub fn put_options_from_proto(p: &proto::PutObject) -> engine::PutOptions {
    engine::PutOptions {
        content_type: p.content_type.clone(),
        user_meta: p.user_meta.clone(),
        content_length: p.content_length,
        content_md5: p.content_md5,
        forbid_overwrite: p.forbid_overwrite,
        acl: engine::ObjectAcl::Default,
    }
}

/// An object's ACL: the protocol's `Default` is the engine's (follow the bucket).
pub fn object_acl_from_proto(acl: proto::Acl) -> engine::ObjectAcl {
    match acl {
        proto::Acl::Default => engine::ObjectAcl::Default,
        proto::Acl::Private => engine::ObjectAcl::Private,
        proto::Acl::PublicRead => engine::ObjectAcl::PublicRead,
        proto::Acl::PublicReadWrite => engine::ObjectAcl::PublicReadWrite,
    }
}

pub fn object_acl_to_proto(acl: engine::ObjectAcl) -> proto::Acl {
    match acl {
        engine::ObjectAcl::Default => proto::Acl::Default,
        engine::ObjectAcl::Private => proto::Acl::Private,
        engine::ObjectAcl::PublicRead => proto::Acl::PublicRead,
        engine::ObjectAcl::PublicReadWrite => proto::Acl::PublicReadWrite,
    }
}

pub fn versioning_from_proto(v: proto::Versioning) -> engine::Versioning {
    match v {
        proto::Versioning::Disabled => engine::Versioning::Disabled,
        proto::Versioning::Enabled => engine::Versioning::Enabled,
        proto::Versioning::Suspended => engine::Versioning::Suspended,
    }
}

pub fn versioning_to_proto(v: engine::Versioning) -> proto::Versioning {
    match v {
        engine::Versioning::Disabled => proto::Versioning::Disabled,
        engine::Versioning::Enabled => proto::Versioning::Enabled,
        engine::Versioning::Suspended => proto::Versioning::Suspended,
    }
}

pub fn version_to_proto(v: engine::VersionSummary) -> proto::VersionEntry {
    proto::VersionEntry {
        key: v.key,
        version_id: v.version_id,
        is_latest: v.is_latest,
        delete_marker: v.delete_marker,
        size: v.size,
        etag: proto::ETag {
            md5: v.etag,
            suffix: v.etag_parts,
        },
        last_modified_ms: v.last_modified_ms,
        object_type: object_type_to_proto(v.object_type),
        crc64: v.crc64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip() {
        for acl in [
            engine::Acl::Private,
            engine::Acl::PublicRead,
            engine::Acl::PublicReadWrite,
        ] {
            assert_eq!(acl_from_proto(acl_to_proto(acl)), acl);
        }
        for class in [
            engine::StorageClass::Standard,
            engine::StorageClass::InfrequentAccess,
            engine::StorageClass::Archive,
        ] {
            assert_eq!(
                storage_class_from_proto(storage_class_to_proto(class)),
                class
            );
        }
        assert_eq!(acl_from_proto(proto::Acl::Default), engine::Acl::Private);
        for acl in proto::Acl::ALL {
            assert_eq!(object_acl_to_proto(object_acl_from_proto(*acl)), *acl);
        }
        for v in proto::Versioning::ALL {
            assert_eq!(versioning_to_proto(versioning_from_proto(*v)), *v);
        }
    }
}
