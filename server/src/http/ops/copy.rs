//! CopyObject: `PUT` with `x-oss-copy-source` / `x-amz-copy-source: /bucket/key`. The
//! source streams from a download into an upload through the client (never whole in
//! memory); `metadata-directive: COPY` (the default) keeps the source's type and metadata,
//! `REPLACE` takes the request's.

use http::Response;

use super::{put, Call};
use crate::http::error::Failure;
use crate::http::request::{decode, Dialect};
use crate::http::response::{etag, set, xml, Body};
use crate::http::time::iso8601;
use crate::http::xml::XmlWriter;

pub async fn copy_object(call: &Call<'_>) -> Result<Response<Body>, Failure> {
    let req = call.req;
    let source = req.dialect_header("copy-source").unwrap_or("");
    let (src_bucket, src_key) = parse_source(source)?;
    let replace = match req.dialect_header("metadata-directive").map(str::trim) {
        None | Some("COPY") => false,
        Some("REPLACE") => true,
        Some(other) => {
            return Err(Failure::InvalidArgument(format!(
                "Unknown metadata directive {other}"
            )))
        }
    };
    let acl = put::object_acl(req)?;
    let stream = call.client.get_object(&src_bucket, &src_key, None).await?;
    let src = stream.response.meta.clone();
    let mut request = put::put_request(req, stream.response.range_len)?;
    if !replace {
        request.content_type = src.content_type.clone();
        request.user_meta = src.user_meta.clone();
    }
    // A single upload's ETag is the MD5 of the content: the daemon checks the copy by it.
    request.content_md5 = src.etag.suffix.is_none().then_some(src.etag.md5);
    let stored = call
        .client
        .put_object(request, stream.into_async_read())
        .await?;
    put::apply_acl(call, acl).await?;
    let mut w = XmlWriter::new();
    match req.dialect {
        Dialect::Oss => w.open("CopyObjectResult"),
        Dialect::S3 => w.open_with(
            "CopyObjectResult",
            "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"",
        ),
    }
    w.elem("ETag", &etag(req.dialect, &stored.etag));
    w.elem("LastModified", &iso8601(stored.last_modified_ms));
    w.close("CopyObjectResult");
    let mut response = xml(w.finish());
    // oss2 reads the new ETag from the header.
    set(&mut response, "etag", &etag(req.dialect, &stored.etag));
    if let Some(crc) = stored.crc64 {
        set(&mut response, "x-oss-hash-crc64ecma", &crc.to_string());
    }
    Ok(response)
}

/// `/bucket/key` or `bucket/key`, percent-encoded, maybe with `?versionId=`.
pub fn parse_source(source: &str) -> Result<(String, String), Failure> {
    let source = source.split('?').next().unwrap_or("");
    let decoded = decode(source)?;
    let trimmed = decoded.strip_prefix('/').unwrap_or(&decoded);
    match trimmed.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b.to_owned(), k.to_owned())),
        _ => Err(Failure::InvalidArgument(
            "the copy source must be /bucket/key".into(),
        )),
    }
}
