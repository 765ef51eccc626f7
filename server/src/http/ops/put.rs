//! PutObject: the body streams from the socket through [`BodyReader`] into the client's
//! upload; user metadata, Content-Type, Content-MD5 (checked by the daemon),
//! `x-oss-forbid-overwrite` / S3 `If-None-Match: *`, and the checksum headers.

use http::{Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use ringstore_client::{Acl, ObjectMeta, PutObject, UserMeta};
use tokio::sync::Semaphore;

use super::{content_md5, declared_length, Call};
use crate::http::auth::Payload;
use crate::http::body::BodyReader;
use crate::http::constants::{OBJECT_BYTES_MAX, UNSIZED_UPLOADS_MAX, UNSIZED_UPLOAD_BYTES_MAX};
use crate::http::error::Failure;
use crate::http::request::{ApiRequest, Dialect};
use crate::http::response::{empty, etag, set, Body};

pub async fn put_object(call: &Call<'_>, body: Incoming) -> Result<Response<Body>, Failure> {
    let req = call.req;
    let dialect = req.dialect;
    let acl = object_acl(req)?;
    let Some(len) = declared_length(req)? else {
        return put_unsized(call, body, acl).await;
    };
    if len > OBJECT_BYTES_MAX {
        return Err(Failure::EntityTooLarge);
    }
    let put = put_request(req, len)?;
    let (mut reader, outcome) = BodyReader::new(req, body, &call.verified.payload, len)?;
    if len == 0 {
        // The upload reads nothing: check the (empty) body's framing and checksums now.
        reader.next_data().await?;
    }
    let stored = call.client.put_object(put, reader.into_async_read()).await;
    let (meta, checksum) = {
        let mut outcome = outcome.lock().expect("not poisoned");
        let meta = match stored {
            Ok(meta) => meta,
            // The body's own failure explains the aborted upload better than the I/O error.
            Err(e) => return Err(outcome.failure.take().unwrap_or_else(|| Failure::from(e))),
        };
        (meta, outcome.checksum.take())
    };
    apply_acl(call, acl).await?;
    let mut response = put_response(dialect, &meta);
    if let Some((algorithm, value)) = checksum {
        set(&mut response, algorithm.header(), &value);
    }
    Ok(response)
}

/// Uploads with a transfer coding but no length (oss2 sends some so): the client library
/// needs the length first, so such a body is collected in memory, up to
/// `UNSIZED_UPLOAD_BYTES_MAX` and `UNSIZED_UPLOADS_MAX` at a time, which bounds the memory
/// they take. Larger ones must say their length.
async fn put_unsized(
    call: &Call<'_>,
    body: Incoming,
    acl: Option<Acl>,
) -> Result<Response<Body>, Failure> {
    static SLOTS: Semaphore = Semaphore::const_new(UNSIZED_UPLOADS_MAX);
    let req = call.req;
    // Signed payloads and aws-chunked bodies always announce their length.
    if !matches!(call.verified.payload, Payload::Unchecked) {
        return Err(Failure::MissingContentLength);
    }
    let _slot = SLOTS.acquire().await.expect("never closed");
    let collected = Limited::new(body, UNSIZED_UPLOAD_BYTES_MAX).collect().await;
    let data = match collected {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => return Err(Failure::MissingContentLength),
        Err(e) => {
            return Err(Failure::IncompleteBody(format!(
                "reading the body failed: {e}"
            )))
        }
    };
    let put = put_request(req, data.len() as u64)?;
    let meta = call.client.put_object_bytes(put, data).await?;
    apply_acl(call, acl).await?;
    Ok(put_response(req.dialect, &meta))
}

pub fn put_request(req: &ApiRequest, len: u64) -> Result<PutObject, Failure> {
    let forbid_overwrite = match req.dialect {
        Dialect::Oss => req
            .header("x-oss-forbid-overwrite")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        Dialect::S3 => req.header("if-none-match").is_some_and(|v| v.trim() == "*"),
    };
    Ok(PutObject {
        bucket: req.bucket.clone(),
        key: req.key.clone(),
        content_type: req.header("content-type").unwrap_or("").to_owned(),
        user_meta: user_meta(req)?,
        content_length: len,
        content_md5: content_md5(req)?,
        forbid_overwrite,
    })
}

fn put_response(dialect: Dialect, meta: &ObjectMeta) -> Response<Body> {
    let mut response = empty(StatusCode::OK);
    set(&mut response, "etag", &etag(dialect, &meta.etag));
    if let Some(crc) = meta.crc64 {
        set(&mut response, "x-oss-hash-crc64ecma", &crc.to_string());
    }
    if let Some(v) = &meta.version_id {
        set(&mut response, &dialect.header("version-id"), v);
    }
    response
}

/// The object ACL an upload asks for (`x-oss-object-acl` / `x-amz-acl`).
pub fn object_acl(req: &ApiRequest) -> Result<Option<Acl>, Failure> {
    let value = match req.dialect {
        Dialect::Oss => req.header("x-oss-object-acl"),
        Dialect::S3 => req.header("x-amz-acl"),
    };
    value.map(super::parse_acl).transpose()
}

/// Sets the ACL an upload asked for, once the object exists (the upload message has no
/// ACL field: between the two steps the object has its bucket's ACL).
pub async fn apply_acl(call: &Call<'_>, acl: Option<Acl>) -> Result<(), Failure> {
    match acl {
        None | Some(Acl::Default) => Ok(()),
        Some(acl) => {
            let req = call.req;
            Ok(call
                .client
                .put_object_acl(&req.bucket, &req.key, None, acl)
                .await?)
        }
    }
}

/// `x-oss-meta-*` / `x-amz-meta-*` headers, names lowercased without the prefix.
fn user_meta(req: &ApiRequest) -> Result<UserMeta, Failure> {
    let prefix = req.dialect.meta_prefix();
    let mut meta = UserMeta::new();
    for (name, value) in &req.headers {
        let Some(short) = name.as_str().strip_prefix(prefix) else {
            continue;
        };
        let value = std::str::from_utf8(value.as_bytes()).map_err(|_| {
            Failure::InvalidArgument(format!("the metadata header {name} is not UTF-8"))
        })?;
        meta.push((short.to_owned(), value.to_owned()));
    }
    Ok(meta)
}
