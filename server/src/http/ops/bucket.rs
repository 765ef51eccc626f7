//! Bucket operations: PutBucket (create), DeleteBucket, HeadBucket, GetBucketLocation,
//! GetBucketInfo (OSS).

use http::{Response, StatusCode};
use hyper::body::Incoming;
use ringstore_client::{Acl, StorageClass};

use super::{acl_name, parse_acl, read_document, Call};
use crate::http::error::Failure;
use crate::http::request::Dialect;
use crate::http::response::{empty, set, xml, Body};
use crate::http::time::iso8601;
use crate::http::xml::{parse, XmlWriter};

pub fn storage_class_name(dialect: Dialect, class: StorageClass) -> &'static str {
    match (dialect, class) {
        (Dialect::Oss, StorageClass::Standard) => "Standard",
        (Dialect::Oss, StorageClass::Ia) => "IA",
        (Dialect::Oss, StorageClass::Archive) => "Archive",
        (Dialect::S3, StorageClass::Standard) => "STANDARD",
        (Dialect::S3, StorageClass::Ia) => "STANDARD_IA",
        (Dialect::S3, StorageClass::Archive) => "GLACIER",
    }
}

fn parse_storage_class(text: &str) -> Result<StorageClass, Failure> {
    match text.trim() {
        "Standard" | "STANDARD" | "" => Ok(StorageClass::Standard),
        "IA" | "STANDARD_IA" => Ok(StorageClass::Ia),
        "Archive" | "GLACIER" => Ok(StorageClass::Archive),
        other => Err(Failure::InvalidArgument(format!(
            "unsupported storage class {other}"
        ))),
    }
}

/// PutBucket: the ACL header and the optional CreateBucketConfiguration document
/// (`StorageClass` for OSS, `LocationConstraint` for S3).
pub async fn create(call: &Call<'_>, body: Incoming) -> Result<Response<Body>, Failure> {
    let acl = match call.req.dialect_header("acl") {
        Some(v) => parse_acl(v)?,
        None => Acl::Private,
    };
    let doc = read_document(call, body).await?;
    let (class, region) = create_configuration(&doc, &call.ctx.region)?;
    let name = &call.req.bucket;
    call.client.create_bucket(name, acl, class, &region).await?;
    let mut response = empty(StatusCode::OK);
    set(&mut response, "location", &format!("/{name}"));
    Ok(response)
}

/// The storage class and region a CreateBucketConfiguration document (maybe empty) asks
/// for; `default_region` when it names none.
pub fn create_configuration(
    doc: &[u8],
    default_region: &str,
) -> Result<(StorageClass, String), Failure> {
    let mut class = StorageClass::Standard;
    let mut region = default_region.to_owned();
    if !doc.iter().all(u8::is_ascii_whitespace) {
        let root = parse(doc)?;
        if root.name != "CreateBucketConfiguration" {
            return Err(Failure::MalformedXml(
                "expected CreateBucketConfiguration".into(),
            ));
        }
        if let Some(c) = root.text_at("StorageClass") {
            class = parse_storage_class(c)?;
        }
        if let Some(l) = root.text_at("LocationConstraint").filter(|l| !l.is_empty()) {
            region = l.strip_prefix("oss-").unwrap_or(l).to_owned();
        }
    }
    Ok((class, region))
}

pub async fn delete(call: &Call<'_>) -> Result<Response<Body>, Failure> {
    call.client.delete_bucket(&call.req.bucket).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn head(call: &Call<'_>) -> Result<Response<Body>, Failure> {
    let info = call.client.head_bucket(&call.req.bucket).await?;
    let mut response = empty(StatusCode::OK);
    match call.dialect() {
        Dialect::S3 => set(&mut response, "x-amz-bucket-region", &info.region),
        Dialect::Oss => set(&mut response, "x-oss-bucket-region", &info.region),
    }
    Ok(response)
}

pub async fn location(call: &Call<'_>) -> Result<Response<Body>, Failure> {
    let info = call.client.head_bucket(&call.req.bucket).await?;
    let mut w = XmlWriter::new();
    match call.dialect() {
        Dialect::Oss => w.elem("LocationConstraint", &format!("oss-{}", info.region)),
        Dialect::S3 => {
            w.open_with(
                "LocationConstraint",
                "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"",
            );
            // S3 writes no constraint for its first region.
            if info.region != "us-east-1" {
                w.elem_text(&info.region);
            }
            w.close("LocationConstraint");
        }
    }
    Ok(xml(w.finish()))
}

/// GetBucketInfo (`?bucketInfo`), with every element oss2 and alibabacloud-oss-v2 read.
pub async fn info(call: &Call<'_>) -> Result<Response<Body>, Failure> {
    let info = super::owned_bucket(call).await?;
    let mut w = XmlWriter::new();
    w.open("BucketInfo");
    w.open("Bucket");
    w.elem("AccessMonitor", "Disabled");
    w.elem("CreationDate", &iso8601(info.created_ms));
    w.elem("CrossRegionReplication", "Disabled");
    w.elem("DataRedundancyType", "LRS");
    w.elem("ExtranetEndpoint", "");
    w.elem("IntranetEndpoint", "");
    w.elem("Location", &format!("oss-{}", info.region));
    w.elem("Name", &info.name);
    w.elem("ResourceGroupId", "");
    w.elem(
        "StorageClass",
        storage_class_name(Dialect::Oss, info.storage_class),
    );
    w.elem("TransferAcceleration", "Disabled");
    w.elem("Versioning", "");
    w.open("Owner");
    w.elem("DisplayName", &info.owner);
    w.elem("ID", &info.owner);
    w.close("Owner");
    w.open("AccessControlList");
    w.elem("Grant", acl_name(info.acl));
    w.close("AccessControlList");
    w.elem("Comment", "");
    w.open("ServerSideEncryptionRule");
    w.elem("SSEAlgorithm", "None");
    w.close("ServerSideEncryptionRule");
    w.open("BucketPolicy");
    w.elem("LogBucket", "");
    w.elem("LogPrefix", "");
    w.close("BucketPolicy");
    w.close("Bucket");
    w.close("BucketInfo");
    Ok(xml(w.finish()))
}
