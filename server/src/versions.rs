//! Versioning and object ACL operations: opcode → engine call, one function each (the
//! arms are in `dispatch::serve`).

use ringstore_engine::{GetReply, Handle, ListVersionsParams};
use ringstore_proto::constants::LIST_KEYS_MAX;
use ringstore_proto::versioning::VERSION_PAGE_BYTES_MAX;
use ringstore_proto::{
    Body, BucketVersioning, DeleteObjectVersion, DeleteVersionResult, Empty, GetBucketVersioning,
    GetObjectAcl, GetObjectVersion, HeadObjectVersion, ListObjectVersions, ObjectAclResponse,
    ObjectMeta, PutBucketVersioning, PutObjectAcl, VersionPage,
};

use crate::connection::FrameSink;
use crate::convert::{
    meta_to_proto, object_acl_from_proto, object_acl_to_proto, range_from_proto, version_to_proto,
    versioning_from_proto, versioning_to_proto,
};
use crate::dispatch::{send_get, Failure};

/// `max_keys` of 0 means this many, as OSS.
const LIST_DEFAULT: usize = 100;

pub async fn put_versioning(h: &Handle, body: &[u8]) -> Result<Empty, Failure> {
    let m = PutBucketVersioning::decode(body)?;
    h.put_bucket_versioning(&m.bucket, versioning_from_proto(m.status))
        .await?;
    Ok(Empty)
}

pub fn get_versioning(h: &Handle, body: &[u8]) -> Result<BucketVersioning, Failure> {
    let m = GetBucketVersioning::decode(body)?;
    let status = versioning_to_proto(h.get_bucket_versioning(&m.bucket)?);
    Ok(BucketVersioning { status })
}

pub async fn put_object_acl(h: &Handle, body: &[u8]) -> Result<Empty, Failure> {
    let m = PutObjectAcl::decode(body)?;
    let acl = object_acl_from_proto(m.acl);
    h.put_object_acl(&m.bucket, &m.key, m.version_id.as_deref(), acl)
        .await?;
    Ok(Empty)
}

pub async fn get_object_acl(h: &Handle, body: &[u8]) -> Result<ObjectAclResponse, Failure> {
    let m = GetObjectAcl::decode(body)?;
    let acl = h
        .get_object_acl(&m.bucket, &m.key, m.version_id.as_deref())
        .await?;
    Ok(ObjectAclResponse {
        acl: object_acl_to_proto(acl),
    })
}

pub async fn head_object(h: &Handle, body: &[u8]) -> Result<ObjectMeta, Failure> {
    let m = HeadObjectVersion::decode(body)?;
    let meta = h
        .head_object_version(&m.bucket, &m.key, m.version_id.as_deref())
        .await?;
    Ok(meta_to_proto(meta))
}

pub async fn delete_object(h: &Handle, body: &[u8]) -> Result<DeleteVersionResult, Failure> {
    let m = DeleteObjectVersion::decode(body)?;
    let outcome = h
        .delete_object_version(&m.bucket, &m.key, m.version_id.as_deref())
        .await?;
    Ok(DeleteVersionResult {
        version_id: outcome.version_id,
        delete_marker: outcome.delete_marker,
    })
}

/// Sends the GetObjectResponse, then the body in chunk frames, as GetObject.
pub async fn get_object(h: &Handle, sink: &mut FrameSink, op: u16, id: u64, body: &[u8]) {
    send_get(sink, op, id, start_get(h, body).await).await
}

async fn start_get(h: &Handle, body: &[u8]) -> Result<GetReply, Failure> {
    let m = GetObjectVersion::decode(body)?;
    let range = m.range.map(range_from_proto);
    Ok(
        h.get_object_version(&m.bucket, &m.key, m.version_id.as_deref(), range)
            .await?,
    )
}

pub async fn list(h: &Handle, body: &[u8]) -> Result<VersionPage, Failure> {
    let m = ListObjectVersions::decode(body)?;
    let params = ListVersionsParams {
        prefix: m.prefix,
        delimiter: m.delimiter,
        key_marker: m.key_marker,
        version_id_marker: m.version_id_marker.unwrap_or_default(),
        max_keys: match m.max_keys as usize {
            0 => LIST_DEFAULT,
            n => n.min(LIST_KEYS_MAX),
        },
    };
    Ok(fit_versions(
        h.list_object_versions(&m.bucket, &params).await?,
    ))
}

/// Converts an engine page, closing it early (truncated) before its encoding would pass
/// `VERSION_PAGE_BYTES_MAX`; entries are taken in name order so the markers resume exactly
/// after the last one kept.
pub fn fit_versions(page: ringstore_engine::ListVersionsPage) -> VersionPage {
    let mut versions = page.versions.into_iter().map(version_to_proto).peekable();
    let mut prefixes = page.common_prefixes.into_iter().peekable();
    let mut out = VersionPage::default();
    let mut bytes = out.encoded_bytes();
    loop {
        let take_version = match (versions.peek(), prefixes.peek()) {
            (Some(v), Some(p)) => v.key.as_str() < p.as_str(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let cost = match take_version {
            true => versions.peek().map_or(0, |v| v.encoded_bytes()),
            false => prefixes.peek().map_or(0, |p| 2 + p.len()),
        };
        if bytes + cost > VERSION_PAGE_BYTES_MAX {
            out.is_truncated = true;
            return out;
        }
        bytes += cost;
        if take_version {
            let v = versions.next().expect("peeked");
            out.next_key_marker = Some(v.key.clone());
            out.next_version_id_marker = Some(v.version_id.clone());
            out.versions.push(v);
        } else {
            let p = prefixes.next().expect("peeked");
            out.next_key_marker = Some(p.clone());
            out.next_version_id_marker = None;
            out.common_prefixes.push(p);
        }
    }
    out.is_truncated = page.is_truncated;
    if !out.is_truncated {
        out.next_key_marker = None;
        out.next_version_id_marker = None;
    } else {
        out.next_key_marker = page.next_key_marker;
        out.next_version_id_marker = page.next_version_id_marker;
    }
    out
}
