//! GetObject, HeadObject and GetObjectMeta: ranges (`bytes=a-b`, `a-`, `-n` → 206, an
//! unsatisfiable one → 416), the four conditional headers, `response-*` overrides, and the
//! body streamed from the client's `GetObjectStream` into the response.

use futures::StreamExt;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use ringstore_client::{ObjectMeta, RangeSpec};

use super::Call;
use crate::http::error::Failure;
use crate::http::request::ApiRequest;
use crate::http::response::{empty, object_headers, set, Body};
use crate::http::time::parse_http_date;

/// `response-*` query parameters and the headers they override.
const OVERRIDES: &[(&str, &str)] = &[
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
];

pub async fn get_object(call: &Call<'_>) -> Result<Response<Body>, Failure> {
    let req = call.req;
    let range = req.header("range").and_then(parse_range);
    let stream = call.client.get_object(&req.bucket, &req.key, range).await?;
    let got = stream.response.clone();
    // On a failed condition the stream is dropped, which abandons the download.
    check_conditions(req, &got.meta)?;
    let status = if range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let body = StreamBody::new(stream.map(|chunk| {
        chunk
            .map(Frame::data)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }));
    let mut response = Response::builder()
        .status(status)
        .body(body.boxed_unsync())
        .expect("valid response");
    object_headers(&mut response, req.dialect, &got.meta);
    set(&mut response, "content-length", &got.range_len.to_string());
    if range.is_some() {
        let end = (got.range_start + got.range_len).saturating_sub(1);
        let value = format!("bytes {}-{end}/{}", got.range_start, got.meta.size);
        set(&mut response, "content-range", &value);
    }
    for (param, header) in OVERRIDES {
        if let Some(value) = req.param(param) {
            set(&mut response, header, value);
        }
    }
    Ok(response)
}

pub async fn head_object(call: &Call<'_>) -> Result<Response<Body>, Failure> {
    let req = call.req;
    let meta = call.client.head_object(&req.bucket, &req.key).await?;
    check_conditions(req, &meta)?;
    let mut response = empty(StatusCode::OK);
    object_headers(&mut response, req.dialect, &meta);
    set(&mut response, "content-length", &meta.size.to_string());
    Ok(response)
}

/// GetObjectMeta (`?objectMeta`): the few headers OSS answers it with, no body.
pub async fn object_meta(call: &Call<'_>) -> Result<Response<Body>, Failure> {
    let req = call.req;
    let meta = call.client.head_object(&req.bucket, &req.key).await?;
    let mut response = empty(StatusCode::OK);
    set(
        &mut response,
        "etag",
        &crate::http::response::etag(req.dialect, &meta.etag),
    );
    set(&mut response, "content-length", &meta.size.to_string());
    set(
        &mut response,
        "last-modified",
        &crate::http::time::http_date(meta.last_modified_ms),
    );
    if let Some(crc) = meta.crc64 {
        set(&mut response, "x-oss-hash-crc64ecma", &crc.to_string());
    }
    Ok(response)
}

/// A single `bytes=` range; anything else (several ranges, bad syntax, `a-b` with
/// `b < a`) is ignored and the whole object served, as both services do.
pub fn parse_range(value: &str) -> Option<RangeSpec> {
    let spec = value.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let num = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, true) => None,
        (true, false) => Some(RangeSpec::Suffix(num(last)?)),
        (false, true) => Some(RangeSpec::From(num(first)?)),
        (false, false) => {
            let (a, b) = (num(first)?, num(last)?);
            (a <= b).then_some(RangeSpec::FromTo(a, b))
        }
    }
}

/// Whether an `If-Match` / `If-None-Match` list names this ETag (or is `*`).
fn etag_matches(list: &str, meta: &ObjectMeta) -> bool {
    let ours = meta.etag.to_string();
    list.split(',').any(|tag| {
        let tag = tag.trim().trim_start_matches("W/").trim_matches('"');
        tag == "*" || tag.eq_ignore_ascii_case(&ours)
    })
}

/// RFC 7232 order: If-Match, else If-Unmodified-Since (412); then If-None-Match, else
/// If-Modified-Since (304).
fn check_conditions(req: &ApiRequest, meta: &ObjectMeta) -> Result<(), Failure> {
    let modified_secs = meta.last_modified_ms / 1000;
    if let Some(list) = req.header("if-match") {
        if !etag_matches(list, meta) {
            return Err(Failure::PreconditionFailed);
        }
    } else if let Some(since) = req.header("if-unmodified-since").and_then(parse_http_date) {
        if modified_secs > since {
            return Err(Failure::PreconditionFailed);
        }
    }
    if let Some(list) = req.header("if-none-match") {
        if etag_matches(list, meta) {
            return Err(Failure::NotModified);
        }
    } else if let Some(since) = req.header("if-modified-since").and_then(parse_http_date) {
        if modified_secs <= since {
            return Err(Failure::NotModified);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9"), Some(RangeSpec::FromTo(0, 9)));
        assert_eq!(parse_range("bytes=5-"), Some(RangeSpec::From(5)));
        assert_eq!(parse_range("bytes=-3"), Some(RangeSpec::Suffix(3)));
        for ignored in [
            "bytes=9-5",
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=+1-2",
        ] {
            assert_eq!(parse_range(ignored), None, "{ignored}");
        }
    }
}
