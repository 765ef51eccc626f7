//! The operations, one file per family; each handler takes a [`Call`] and answers with a
//! response or a [`Failure`].

// `pub(super)` for the parsers `fuzz_api` exposes.
pub(super) mod acl;
pub(super) mod bucket;
pub(super) mod copy;
pub(super) mod delete;
pub(super) mod get;
mod list;
mod put;
mod service;

use http::Response;
use hyper::body::Incoming;
use ringstore_client::{Acl, Client};

use super::auth::Verified;
use super::error::Failure;
use super::request::{ApiRequest, Dialect};
use super::response::Body;
use super::router::Op;
use super::serve::Ctx;

/// One request on its way through a handler.
pub struct Call<'a> {
    pub ctx: &'a Ctx,
    pub req: &'a ApiRequest,
    /// The client acting for the request's principal.
    pub client: Client,
    pub verified: Verified,
}

impl Call<'_> {
    pub fn dialect(&self) -> Dialect {
        self.req.dialect
    }
}

pub async fn dispatch(call: &Call<'_>, op: Op, body: Incoming) -> Result<Response<Body>, Failure> {
    match op {
        Op::ListBuckets => service::list_buckets(call).await,
        Op::CreateBucket => bucket::create(call, body).await,
        Op::DeleteBucket => bucket::delete(call).await,
        Op::HeadBucket => bucket::head(call).await,
        Op::GetBucketLocation => bucket::location(call).await,
        Op::GetBucketInfo => bucket::info(call).await,
        Op::GetBucketAcl => acl::get_bucket(call).await,
        Op::PutBucketAcl => acl::put_bucket(call, body).await,
        Op::GetObjectAcl => acl::get_object(call).await,
        Op::PutObjectAcl => acl::put_object(call, body).await,
        Op::ListObjects => list::list_v1(call).await,
        Op::ListObjectsV2 => list::list_v2(call).await,
        Op::PutObject => put::put_object(call, body).await,
        Op::CopyObject => copy::copy_object(call).await,
        Op::GetObject => get::get_object(call).await,
        Op::HeadObject => get::head_object(call).await,
        Op::GetObjectMeta => get::object_meta(call).await,
        Op::DeleteObject => delete::delete_object(call).await,
        Op::DeleteObjects => delete::delete_objects(call, body).await,
    }
}

/// The bucket's whole record (owner and ACL), which the daemon gives its owner and the
/// administrators only (GetBucketInfo); others get `AccessDenied`.
pub async fn owned_bucket(call: &Call<'_>) -> Result<ringstore_client::BucketInfo, Failure> {
    Ok(call.client.get_bucket_info(&call.req.bucket).await?)
}

/// The canned ACL of an `x-oss-acl` / `x-amz-acl` value.
pub fn parse_acl(value: &str) -> Result<Acl, Failure> {
    match value.trim() {
        "private" => Ok(Acl::Private),
        "public-read" => Ok(Acl::PublicRead),
        "public-read-write" => Ok(Acl::PublicReadWrite),
        "default" => Ok(Acl::Default),
        other => Err(Failure::InvalidArgument(format!("no such ACL: {other}"))),
    }
}

pub fn acl_name(acl: Acl) -> &'static str {
    match acl {
        Acl::Private => "private",
        Acl::PublicRead => "public-read",
        Acl::PublicReadWrite => "public-read-write",
        Acl::Default => "default",
    }
}

/// Reads a small request document (XML), bounded, with its Content-MD5 checked.
pub async fn read_document(call: &Call<'_>, body: Incoming) -> Result<bytes::Bytes, Failure> {
    use super::constants::XML_BODY_BYTES_MAX;
    let len = declared_length(call.req)?.unwrap_or(0);
    if len > XML_BODY_BYTES_MAX as u64 {
        return Err(Failure::MalformedXml(format!(
            "request documents are limited to {XML_BODY_BYTES_MAX} bytes"
        )));
    }
    let (mut reader, _) =
        super::body::BodyReader::new(call.req, body, &call.verified.payload, len)?;
    let data = reader.read_all().await?;
    if let Some(md5) = content_md5(call.req)? {
        use md5::Digest;
        if md5::Md5::digest(&data)[..] != md5[..] {
            return Err(Failure::BadDigest);
        }
    }
    Ok(data)
}

/// The decoded body length: `x-amz-decoded-content-length` for aws-chunked bodies, else
/// `Content-Length`; `None` when the request has neither.
pub fn declared_length(req: &ApiRequest) -> Result<Option<u64>, Failure> {
    let name = if req.header("x-amz-decoded-content-length").is_some() {
        "x-amz-decoded-content-length"
    } else {
        "content-length"
    };
    match req.header(name) {
        // HTTP/1.1: a request with neither length nor transfer coding has no body.
        None if req.header("transfer-encoding").is_none() => Ok(Some(0)),
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| Failure::InvalidArgument(format!("{name} is not a number"))),
    }
}

/// The `Content-MD5` header, decoded; `InvalidDigest` if it is not base64 of 16 bytes.
pub fn content_md5(req: &ApiRequest) -> Result<Option<[u8; 16]>, Failure> {
    use base64::Engine as _;
    let Some(value) = req.header("content-md5") else {
        return Ok(None);
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| Failure::InvalidDigest)?;
    bytes
        .try_into()
        .map(Some)
        .map_err(|_| Failure::InvalidDigest)
}
