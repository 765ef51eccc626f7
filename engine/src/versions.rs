//! Version-addressed operations: the `Handle` calls (bucket versioning, get/head/delete by
//! version id, object ACLs, ListObjectVersions merged across partitions) and, on the
//! owning partition, its share of a version listing and ACL changes.
//!
//! Put, get, head and delete honour versioning in `object_io`; the index keeps each key's
//! versions as a chain, current first (`state::Versions`).

use std::ops::Bound;

use crate::api::{
    parse_version_id, validate_key, version_id_string, DeleteOutcome, ListVersionsPage,
    ListVersionsParams, ObjectAcl, ObjectMeta, RangeSpec, VersionSummary, Versioning,
};
use crate::constants::LIST_KEYS_MAX;
use crate::error::Error;
use crate::object_io::past_prefix;
use crate::partition::Partition;
use crate::record::{ObjectEntry, Record};
use crate::runtime::{GetReply, Handle, Request};
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

impl Handle {
    /// Gets version `version_id` of an object (`None`: the current version). A delete
    /// marker cannot be got: `NoSuchKey` when it is current, `MethodNotAllowed` by id.
    pub async fn get_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        range: Option<RangeSpec>,
    ) -> Result<GetReply, Error> {
        let version = version_id.map(parse_version_id).transpose()?;
        let (bucket, key) = (bucket.to_string(), key.to_string());
        let p = self.owner(&bucket, &key);
        self.call(p, |reply| Request::Get {
            bucket,
            key,
            version,
            range,
            reply,
        })
        .await
    }

    /// The metadata of version `version_id` (`None`: the current version).
    pub async fn head_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectMeta, Error> {
        validate_key(key)?;
        let version = version_id.map(parse_version_id).transpose()?;
        let (bucket, key) = (bucket.to_string(), key.to_string());
        let p = self.owner(&bucket, &key);
        self.call(p, |reply| Request::Head {
            bucket,
            key,
            version,
            reply,
        })
        .await
    }

    /// Deletes version `version_id` of an object for good, or, with `None`, deletes the
    /// object: removes it in a bucket whose versioning was never enabled, adds a delete
    /// marker otherwise (a null one, replacing the null version, when suspended).
    pub async fn delete_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<DeleteOutcome, Error> {
        let version = version_id.map(parse_version_id).transpose()?;
        let (bucket, key) = (bucket.to_string(), key.to_string());
        let p = self.owner(&bucket, &key);
        self.call(p, |reply| Request::Delete {
            bucket,
            key,
            version,
            reply,
        })
        .await
    }

    /// Sets the ACL of an object's current version (or of version `version_id`).
    pub async fn put_object_acl(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        acl: ObjectAcl,
    ) -> Result<(), Error> {
        validate_key(key)?;
        let version = version_id.map(parse_version_id).transpose()?;
        let (bucket, key) = (bucket.to_string(), key.to_string());
        let p = self.owner(&bucket, &key);
        self.call(p, |reply| Request::PutAcl {
            bucket,
            key,
            version,
            acl,
            reply,
        })
        .await
    }

    /// The ACL of an object's current version (or of version `version_id`).
    pub async fn get_object_acl(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectAcl, Error> {
        Ok(self.head_object_version(bucket, key, version_id).await?.acl)
    }

    /// One page of a version listing, merged from every partition like `list_objects`.
    pub async fn list_object_versions(
        &self,
        bucket: &str,
        params: &ListVersionsParams,
    ) -> Result<ListVersionsPage, Error> {
        if self.shared.bucket(bucket).is_none() {
            return Err(Error::NoSuchBucket(bucket.to_string()));
        }
        if !params.version_id_marker.is_empty() {
            parse_version_id(&params.version_id_marker)?;
        }
        let max = params.max_keys.clamp(1, LIST_KEYS_MAX);
        let shares = self
            .call_all(|reply| Request::ListVersions {
                bucket: bucket.to_string(),
                params: params.clone(),
                limit: max + 1,
                reply,
            })
            .await?;
        Ok(version_page(crate::listing::merge(shares, max)))
    }

    /// A bucket's versioning state.
    pub fn get_bucket_versioning(&self, name: &str) -> Result<Versioning, Error> {
        Ok(self.head_bucket(name)?.versioning)
    }

    /// Enables or suspends versioning (a bucket cannot go back to `Disabled`).
    pub async fn put_bucket_versioning(&self, name: &str, state: Versioning) -> Result<(), Error> {
        let mut info = self.head_bucket(name)?;
        if state == Versioning::Disabled {
            return Err(Error::InvalidArgument(
                "versioning can be enabled or suspended, not disabled".into(),
            ));
        }
        info.versioning = state;
        self.call(0, |reply| Request::BucketRecord {
            record: Record::BucketPut(info),
            reply,
        })
        .await
    }
}

/// A merged version listing as its page: the markers name the last item taken.
fn version_page(merged: crate::listing::Merged<VersionItem>) -> ListVersionsPage {
    let mut page = ListVersionsPage {
        is_truncated: merged.is_truncated,
        ..ListVersionsPage::default()
    };
    if merged.is_truncated {
        match merged.items.last() {
            Some(VersionItem::Version(v)) => {
                page.next_key_marker = Some(v.key.clone());
                page.next_version_id_marker = Some(v.version_id.clone());
            }
            Some(VersionItem::Prefix(p)) => page.next_key_marker = Some(p.clone()),
            None => {}
        }
    }
    for item in merged.items {
        match item {
            VersionItem::Version(v) => page.versions.push(v),
            VersionItem::Prefix(p) => page.common_prefixes.push(p),
        }
    }
    page
}
