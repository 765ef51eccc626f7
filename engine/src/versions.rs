//! Version-addressed operations on the owning partition: one partition's share of a
//! version listing (ListObjectVersions) and object ACL changes.
//!
//! Put, get, head and delete honour versioning in `object_io`; the index keeps each key's
//! versions as a chain, current first (`state::Versions`).

use std::ops::Bound;

use crate::api::{
    parse_version_id, version_id_string, ListVersionsParams, ObjectAcl, VersionSummary,
};
use crate::error::Error;
use crate::object_io::past_prefix;
use crate::partition::Partition;
use crate::record::{ObjectEntry, Record};
use crate::state::Versions;

/// One entry of a partition's version listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionItem {
    Version(VersionSummary),
    Prefix(String),
}

impl VersionItem {
    pub fn name(&self) -> &str {
        match self {
            VersionItem::Version(v) => &v.key,
            VersionItem::Prefix(p) => p,
        }
    }
}

/// A version as listings show it.
pub fn version_summary(key: &str, e: &ObjectEntry, is_latest: bool) -> VersionSummary {
    VersionSummary {
        key: key.to_string(),
        version_id: version_id_string(e.version),
        is_latest,
        delete_marker: e.is_delete_marker(),
        size: e.size,
        etag: e.etag,
        etag_parts: (e.etag_parts > 0).then_some(e.etag_parts),
        last_modified_ms: e.last_modified_ms,
        object_type: e.object_type,
        crc64: e.crc64,
    }
}

/// Every version of a key, newest first.
pub fn summaries<'a>(key: &str, chain: &'a Versions) -> impl Iterator<Item = VersionSummary> + 'a {
    let key = key.to_string();
    chain
        .as_slice()
        .iter()
        .enumerate()
        .map(move |(i, e)| version_summary(&key, e, i == 0))
}

impl Partition {
    /// This partition's sorted share of a version listing: at most `limit` items, keys in
    /// byte order, each key's versions newest first.
    pub fn list_versions(
        &self,
        bucket: &str,
        p: &ListVersionsParams,
        limit: usize,
    ) -> Result<Vec<VersionItem>, Error> {
        self.versioning(bucket)?;
        let after_version = match p.version_id_marker.as_str() {
            "" => None,
            v => Some(parse_version_id(v)?),
        };
        let st = self.st.borrow();
        let Some(map) = st.objects.get(bucket) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        // The rest of the marker key's versions, after the marker version.
        if let (Some(after), Some(chain)) = (after_version, map.get(&p.key_marker)) {
            let rolled_up = !p.delimiter.is_empty()
                && p.key_marker.starts_with(&p.prefix)
                && p.key_marker[p.prefix.len()..].contains(&p.delimiter);
            if p.key_marker.starts_with(&p.prefix) && !rolled_up {
                let rest = chain.as_slice().iter().enumerate();
                let rest = rest.skip_while(|(_, e)| e.version != after).skip(1);
                for (i, e) in rest.take(limit) {
                    out.push(VersionItem::Version(version_summary(
                        &p.key_marker,
                        e,
                        i == 0,
                    )));
                }
            }
        }
        let mut lower = if p.key_marker.as_str() >= p.prefix.as_str() {
            Bound::Excluded(p.key_marker.clone())
        } else {
            Bound::Included(p.prefix.clone())
        };
        'scan: while out.len() < limit {
            let range = map.range::<String, _>((lower.clone(), Bound::Unbounded));
            for (key, chain) in range {
                if !key.starts_with(&p.prefix) {
                    break 'scan;
                }
                if !p.delimiter.is_empty() {
                    if let Some(i) = key[p.prefix.len()..].find(&p.delimiter) {
                        let cp = &key[..p.prefix.len() + i + p.delimiter.len()];
                        if cp > p.key_marker.as_str() {
                            out.push(VersionItem::Prefix(cp.to_string()));
                        }
                        lower = Bound::Excluded(past_prefix(cp));
                        continue 'scan;
                    }
                }
                for v in summaries(key, chain) {
                    if out.len() >= limit {
                        break 'scan;
                    }
                    out.push(VersionItem::Version(v));
                }
            }
            break;
        }
        Ok(out)
    }

    /// Sets the ACL of `key`'s current version, or of version `version`.
    pub async fn put_acl(
        &self,
        bucket: String,
        key: String,
        version: Option<u64>,
        acl: ObjectAcl,
    ) -> Result<(), Error> {
        self.versioning(&bucket)?;
        let version = self.find(&bucket, &key, version)?.version;
        let rec = Record::ObjectAclPut {
            bucket,
            key,
            version,
            acl,
        };
        self.commit(rec, None, false).await?;
        Ok(())
    }
}
