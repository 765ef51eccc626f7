//! ListBuckets (OSS GetService): `GET /`.

use http::Response;

use super::Call;
use crate::http::error::Failure;
use crate::http::request::Dialect;
use crate::http::response::{xml, Body};
use crate::http::time::iso8601;
use crate::http::xml::XmlWriter;

pub async fn list_buckets(call: &Call<'_>) -> Result<Response<Body>, Failure> {
    let mut buckets = call.client.list_buckets().await?;
    if let Some(prefix) = call.req.param("prefix") {
        buckets.retain(|b| b.name.starts_with(prefix));
    }
    let (id, name) = match &call.verified.identity {
        Some(i) => (i.user_id.clone(), i.display_name.clone()),
        None => ("anonymous".to_owned(), "anonymous".to_owned()),
    };
    let mut w = XmlWriter::new();
    match call.dialect() {
        Dialect::Oss => w.open("ListAllMyBucketsResult"),
        Dialect::S3 => w.open_with(
            "ListAllMyBucketsResult",
            "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"",
        ),
    }
    w.open("Owner");
    w.elem("ID", &id);
    w.elem("DisplayName", &name);
    w.close("Owner");
    w.open("Buckets");
    for b in &buckets {
        w.open("Bucket");
        w.elem("Name", &b.name);
        w.elem("CreationDate", &iso8601(b.created_ms));
        if call.dialect() == Dialect::Oss {
            w.elem("Location", &format!("oss-{}", b.region));
            w.elem("Region", &b.region);
            w.elem("ExtranetEndpoint", "");
            w.elem("IntranetEndpoint", "");
            w.elem(
                "StorageClass",
                super::bucket::storage_class_name(call.dialect(), b.storage_class),
            );
        }
        w.close("Bucket");
    }
    w.close("Buckets");
    w.close("ListAllMyBucketsResult");
    Ok(xml(w.finish()))
}
