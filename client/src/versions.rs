//! Versioning operations (opcodes 0x06xx) and object ACLs (0x0207, 0x0208).
//!
//! `version_id` is `None` for the current version, or an id the server returned (`null`
//! for the null version).

use ringstore_proto::{
    Acl, DeleteObjectVersion, DeleteVersionResult, GetBucketVersioning, GetObjectAcl,
    GetObjectVersion, HeadObjectVersion, ListObjectVersions, ObjectMeta, PutBucketVersioning,
    PutObjectAcl, RangeSpec, VersionPage, Versioning,
};

use crate::get::GetObjectStream;
use crate::{Client, Error};

impl Client {
    /// Enables or suspends versioning on a bucket (`Disabled` is refused with
    /// `BadRequest`: a bucket cannot go back). Retried: setting a state twice is harmless.
    pub async fn put_bucket_versioning(
        &self,
        bucket: &str,
        status: Versioning,
    ) -> Result<(), Error> {
        let request = PutBucketVersioning {
            bucket: bucket.to_owned(),
            status,
        };
        self.retried(&request).await.map(drop)
    }

    /// A bucket's versioning state (`Disabled` if it was never enabled).
    pub async fn get_bucket_versioning(&self, bucket: &str) -> Result<Versioning, Error> {
        let bucket = bucket.to_owned();
        Ok(self.retried(&GetBucketVersioning { bucket }).await?.status)
    }

    /// One page of versions (see [`ListObjectVersions`]); continue from `next_key_marker`
    /// and `next_version_id_marker` while `is_truncated`.
    pub async fn list_object_versions(
        &self,
        req: ListObjectVersions,
    ) -> Result<VersionPage, Error> {
        self.retried(&req).await
    }

    /// Starts a download of a version, as [`get_object`](Self::get_object). A delete
    /// marker cannot be read: `MethodNotAllowed` by id, `NoSuchKey` when it is current.
    pub async fn get_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        range: Option<RangeSpec>,
    ) -> Result<GetObjectStream, Error> {
        let request = GetObjectVersion {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: version_id.map(str::to_owned),
            range,
        };
        self.start_download(&request).await
    }

    /// A version's metadata (`NoSuchVersion` if it does not exist).
    pub async fn head_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectMeta, Error> {
        let request = HeadObjectVersion {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: version_id.map(str::to_owned),
        };
        self.retried_on((bucket, key), &request).await
    }

    /// Deletes a version for good, or, without a version id, deletes the object (in a
    /// versioned bucket: adds a delete marker). Retried only with a version id: a retried
    /// delete without one would add a second marker.
    pub async fn delete_object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<DeleteVersionResult, Error> {
        let request = DeleteObjectVersion {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: version_id.map(str::to_owned),
        };
        match version_id {
            Some(_) => self.retried_on((bucket, key), &request).await,
            None => self.once_on((bucket, key), &request).await,
        }
    }

    /// Sets the ACL of an object's current version, or of a version (`Acl::Default`: the
    /// object follows its bucket's ACL). No data is rewritten.
    pub async fn put_object_acl(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        acl: Acl,
    ) -> Result<(), Error> {
        let request = PutObjectAcl {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: version_id.map(str::to_owned),
            acl,
        };
        self.retried(&request).await.map(drop)
    }

    /// The ACL of an object's current version, or of a version (`Acl::Default` when it
    /// follows its bucket's).
    pub async fn get_object_acl(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Acl, Error> {
        let request = GetObjectAcl {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: version_id.map(str::to_owned),
        };
        Ok(self.retried(&request).await?.acl)
    }
}
