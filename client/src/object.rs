//! Object operations (opcodes 0x02xx).

use bytes::Bytes;
use ringstore_proto::{
    DeleteObject, DeleteObjects, DeleteObjectsResponse, GetObject, GetObjectResponse, HeadObject,
    ListObjects, ListPage, ObjectMeta, PutObject, RangeSpec, Request,
};
use tokio::io::AsyncRead;

use crate::get::{self, GetObjectStream};
use crate::{put, Client, Error};

impl Client {
    /// Uploads an object, streaming exactly `req.content_length` bytes from `body` in
    /// chunk frames; a body that ends early fails with an `UnexpectedEof` I/O error and
    /// stores nothing. Never retried (the body cannot be replayed). Returns the stored
    /// object's metadata (ETag, size, CRC-64).
    pub async fn put_object(
        &self,
        req: PutObject,
        body: impl AsyncRead + Send + Unpin,
    ) -> Result<ObjectMeta, Error> {
        let conn = self.pool.get_for(Some((&req.bucket, &req.key))).await?;
        put::put_object(&conn, &req, self.principal(), body, self.timeout()).await
    }

    /// Uploads an object from memory; sets `req.content_length` to `data.len()`.
    pub async fn put_object_bytes(
        &self,
        mut req: PutObject,
        data: Bytes,
    ) -> Result<ObjectMeta, Error> {
        req.content_length = data.len() as u64;
        if put::small_body(req.content_length) {
            let conn = self.pool.get_for(Some((&req.bucket, &req.key))).await?;
            let timeout = self.timeout();
            return put::put_small_bytes(&conn, &req, self.principal(), data, timeout).await;
        }
        self.put_object(req, &data[..]).await
    }

    /// Starts a download: returns once the response message (metadata and range) has
    /// arrived, retrying until then; the body then streams from the returned
    /// [`GetObjectStream`] and is not retried.
    pub async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<RangeSpec>,
    ) -> Result<GetObjectStream, Error> {
        let request = GetObject {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            range,
        };
        let object = Some((bucket, key));
        let (timeout, principal) = (self.timeout(), self.principal());
        self.idempotent_on(object, |conn| {
            get::get_object(conn, &request, principal, timeout)
        })
        .await
    }

    /// Sends a GetObject or GetObjectVersion, retrying until its response message has
    /// arrived (a version's download works as the current object's).
    pub(crate) async fn start_download<R>(&self, request: &R) -> Result<GetObjectStream, Error>
    where
        R: Request<Response = GetObjectResponse> + Sync,
    {
        let timeout = self.timeout();
        let principal = self.principal();
        self.idempotent(|conn| get::get_object(conn, request, principal, timeout))
            .await
    }

    /// Downloads an object (or a range of it) into memory.
    pub async fn get_object_bytes(
        &self,
        bucket: &str,
        key: &str,
        range: Option<RangeSpec>,
    ) -> Result<(GetObjectResponse, Bytes), Error> {
        let stream = self.get_object(bucket, key, range).await?;
        let response = stream.response.clone();
        Ok((response, stream.collect_bytes().await?))
    }

    /// An object's metadata (`NoSuchKey` if absent).
    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectMeta, Error> {
        let request = HeadObject {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        };
        self.retried_on((bucket, key), &request).await
    }

    /// Deletes an object; succeeds also when it did not exist, so it is retried.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), Error> {
        let request = DeleteObject {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        };
        self.retried_on((bucket, key), &request).await.map(drop)
    }

    /// Deletes up to `DELETE_KEYS_MAX` (1000) keys of one bucket. One result per key in
    /// request order, or with `quiet` only the keys that failed. Retried, since deleting an
    /// absent key succeeds.
    pub async fn delete_objects(
        &self,
        bucket: &str,
        keys: Vec<String>,
        quiet: bool,
    ) -> Result<DeleteObjectsResponse, Error> {
        let request = DeleteObjects {
            bucket: bucket.to_owned(),
            keys,
            quiet,
        };
        self.retried(&request).await
    }

    /// One page of keys (see [`ListObjects`]); continue from `next_marker` while
    /// `is_truncated`. A page may hold fewer than `max_keys` entries.
    pub async fn list_objects(&self, req: ListObjects) -> Result<ListPage, Error> {
        self.retried(&req).await
    }
}
