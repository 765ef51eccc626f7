//! ListBuckets (OSS GetService): `GET /`, with OSS's `prefix`, `marker` and `max-keys`
//! paging.

use http::Response;
use ringstore_client::proto::constants::LIST_BUCKETS_MAX;

use super::Call;
use crate::http::error::Failure;
use crate::http::request::Dialect;
use crate::http::response::{xml, Body};
use crate::http::time::iso8601;
use crate::http::xml::XmlWriter;

pub async fn list_buckets(call: &Call<'_>) -> Result<Response<Body>, Failure> {
    let mut buckets = call.client.list_buckets().await?;
    let prefix = call.req.param("prefix").unwrap_or("");
    let marker = call.req.param("marker").unwrap_or("");
    buckets.retain(|b| b.name.starts_with(prefix) && b.name.as_str() > marker);
    let max = match call.req.param("max-keys").filter(|m| !m.is_empty()) {
        None => LIST_BUCKETS_MAX,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|m| (1..=LIST_BUCKETS_MAX).contains(m))
            .ok_or_else(|| Failure::InvalidArgument("max-keys must be 1 to 1000".into()))?,
    };
    let truncated = buckets.len() > max;
    buckets.truncate(max);
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
    let paged =
        call.req.has_param("max-keys") || call.req.has_param("marker") || !prefix.is_empty();
    if call.dialect() == Dialect::Oss && paged {
        w.elem("Prefix", prefix);
        w.elem("Marker", marker);
        w.elem("MaxKeys", &max.to_string());
        w.elem("IsTruncated", if truncated { "true" } else { "false" });
        if truncated {
            w.elem(
                "NextMarker",
                &buckets.last().map_or(String::new(), |b| b.name.clone()),
            );
        }
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
