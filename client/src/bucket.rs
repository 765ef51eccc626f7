//! Bucket operations (opcodes 0x01xx).

use ringstore_proto::constants::LIST_BUCKETS_MAX;
use ringstore_proto::{
    Acl, BucketInfo, CreateBucket, DeleteBucket, GetBucketInfo, HeadBucket, ListBuckets,
    PutBucketAcl, StorageClass,
};

use crate::{Client, Error};

impl Client {
    /// Creates a bucket (`BucketAlreadyExists` if it exists). Not retried: a retry after
    /// a lost response would report `BucketAlreadyExists` for the bucket just created.
    pub async fn create_bucket(
        &self,
        name: &str,
        acl: Acl,
        storage_class: StorageClass,
        region: &str,
    ) -> Result<(), Error> {
        let request = CreateBucket {
            name: name.to_owned(),
            region: region.to_owned(),
            acl,
            storage_class,
        };
        self.once(&request).await.map(drop)
    }

    /// Deletes an empty bucket (`BucketNotEmpty` otherwise). Not retried, for the same
    /// reason as [`create_bucket`](Self::create_bucket) (`NoSuchBucket`).
    pub async fn delete_bucket(&self, name: &str) -> Result<(), Error> {
        let name = name.to_owned();
        self.once(&DeleteBucket { name }).await.map(drop)
    }

    /// A bucket's record (`NoSuchBucket` if absent). Allowed to whoever may read the
    /// bucket; `owner` is empty unless the caller owns it or is an administrator.
    pub async fn head_bucket(&self, name: &str) -> Result<BucketInfo, Error> {
        let name = name.to_owned();
        self.retried(&HeadBucket { name }).await
    }

    /// A bucket's full record for its owner (or an administrator), as GetBucketAcl and
    /// GetBucketInfo need it; `AccessDenied` for everyone else.
    pub async fn get_bucket_info(&self, name: &str) -> Result<BucketInfo, Error> {
        let name = name.to_owned();
        self.retried(&GetBucketInfo { name }).await
    }

    /// Every bucket of the caller, in name order, following the pages of ListBuckets.
    pub async fn list_buckets(&self) -> Result<Vec<BucketInfo>, Error> {
        let mut buckets = Vec::new();
        let mut request = ListBuckets {
            prefix: String::new(),
            marker: String::new(),
            max_buckets: LIST_BUCKETS_MAX as u32,
        };
        loop {
            let page = self.retried(&request).await?;
            let last = page.buckets.last().map(|b| b.name.clone());
            buckets.extend(page.buckets);
            if !page.is_truncated {
                return Ok(buckets);
            }
            // The next marker must move forward, or a confused server would loop us.
            let marker = page.next_marker.or(last).unwrap_or_default();
            if marker <= request.marker {
                return Err(Error::Protocol(format!(
                    "ListBuckets page is truncated but its marker {marker:?} does not advance"
                )));
            }
            request.marker = marker;
        }
    }

    /// Replaces a bucket's ACL.
    pub async fn put_bucket_acl(&self, name: &str, acl: Acl) -> Result<(), Error> {
        let name = name.to_owned();
        self.once(&PutBucketAcl { name, acl }).await.map(drop)
    }
}
