//! Building responses: the body type, ETag and date headers in each dialect's form.

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use ringstore_client::{ETag, ObjectMeta};

use super::request::Dialect;
use super::time;

/// Every response body: whole (XML, empty) or streamed (object data).
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// A body held in memory.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|e: Infallible| match e {})
        .boxed_unsync()
}

/// An ETag header value: quoted, uppercase hex for OSS, lowercase for S3 (s3cmd compares
/// it with its own lowercase MD5).
pub fn etag(dialect: Dialect, tag: &ETag) -> String {
    let text = tag.to_string();
    match dialect {
        Dialect::Oss => format!("\"{text}\""),
        Dialect::S3 => format!("\"{}\"", text.to_ascii_lowercase()),
    }
}

/// A 200 with an XML document.
pub fn xml(doc: String) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "application/xml")
        .body(full(doc))
        .expect("valid response")
}

/// An empty response with `status`.
pub fn empty(status: StatusCode) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(full(Bytes::new()))
        .expect("valid response")
}

/// Sets a header whose value may come from stored data; a value that is not a valid
/// header value is skipped rather than failing the response.
pub fn set(response: &mut Response<Body>, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (
        http::HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        response.headers_mut().insert(name, value);
    }
}

/// The headers HEAD and GET share: type, ETag, date, object type, CRC-64, user metadata.
pub fn object_headers(response: &mut Response<Body>, dialect: Dialect, meta: &ObjectMeta) {
    let content_type = if meta.content_type.is_empty() {
        "application/octet-stream"
    } else {
        &meta.content_type
    };
    set(response, "content-type", content_type);
    set(response, "etag", &etag(dialect, &meta.etag));
    set(
        response,
        "last-modified",
        &time::http_date(meta.last_modified_ms),
    );
    set(response, "accept-ranges", "bytes");
    if dialect == Dialect::Oss {
        set(response, "x-oss-object-type", object_type(meta));
        set(response, "x-oss-storage-class", "Standard");
        if let Some(crc) = meta.crc64 {
            set(response, "x-oss-hash-crc64ecma", &crc.to_string());
        }
    }
    if let Some(v) = &meta.version_id {
        set(response, &dialect.header("version-id"), v);
    }
    for (name, value) in &meta.user_meta {
        set(response, &format!("{}{name}", dialect.meta_prefix()), value);
    }
}

/// OSS's name of an object's type.
pub fn object_type(meta: &ObjectMeta) -> &'static str {
    object_type_name(meta.object_type)
}

pub fn object_type_name(t: ringstore_client::ObjectType) -> &'static str {
    match t {
        ringstore_client::ObjectType::Normal => "Normal",
        ringstore_client::ObjectType::Multipart => "Multipart",
        ringstore_client::ObjectType::Appendable => "Appendable",
    }
}
