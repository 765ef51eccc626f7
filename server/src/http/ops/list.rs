//! ListObjects v1 (`marker`) and v2 (`list-type=2`: `continuation-token`, `start-after`,
//! `KeyCount`), with `prefix`, `delimiter`, `max-keys` and `encoding-type=url`.

use http::Response;
use ringstore_client::proto::constants::LIST_KEYS_MAX;
use ringstore_client::{ListObjects, ListPage};

use super::Call;
use crate::http::auth::sign::uri_encode;
use crate::http::error::Failure;
use crate::http::request::Dialect;
use crate::http::response::{etag, object_type_name, xml, Body};
use crate::http::time::{iso8601, iso8601_ms};
use crate::http::xml::XmlWriter;

/// The options both versions share.
struct Listing {
    prefix: String,
    delimiter: String,
    max_keys: u32,
    url_encoded: bool,
}

fn listing(call: &Call<'_>) -> Result<Listing, Failure> {
    let max_keys = match call.req.param("max-keys").filter(|v| !v.is_empty()) {
        None => LIST_KEYS_MAX as u32,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                Failure::InvalidArgument("max-keys must be a non-negative integer".into())
            })?
            .min(LIST_KEYS_MAX as i64) as u32,
    };
    let url_encoded = match call.req.param("encoding-type") {
        None | Some("") => false,
        Some(v) if v.eq_ignore_ascii_case("url") => true,
        Some(_) => {
            return Err(Failure::InvalidArgument(
                "Invalid Encoding Method specified in Request".into(),
            ))
        }
    };
    Ok(Listing {
        prefix: call.req.param("prefix").unwrap_or("").to_owned(),
        delimiter: call.req.param("delimiter").unwrap_or("").to_owned(),
        max_keys,
        url_encoded,
    })
}

async fn page(call: &Call<'_>, l: &Listing, marker: &str) -> Result<ListPage, Failure> {
    if l.max_keys == 0 {
        return Ok(ListPage {
            objects: vec![],
            common_prefixes: vec![],
            is_truncated: false,
            next_marker: None,
        });
    }
    let req = ListObjects {
        bucket: call.req.bucket.clone(),
        prefix: l.prefix.clone(),
        delimiter: l.delimiter.clone(),
        marker: marker.to_owned(),
        max_keys: l.max_keys,
    };
    Ok(call.client.list_objects(req).await?)
}

/// Where the next page starts: the server's marker, else the last entry.
fn next_marker(p: &ListPage) -> Option<String> {
    if !p.is_truncated {
        return None;
    }
    let last_key = p.objects.last().map(|o| o.key.clone());
    let last_prefix = p.common_prefixes.last().cloned();
    p.next_marker.clone().or(last_key.max(last_prefix))
}

fn open_result(w: &mut XmlWriter, dialect: Dialect) {
    match dialect {
        Dialect::Oss => w.open("ListBucketResult"),
        Dialect::S3 => w.open_with(
            "ListBucketResult",
            "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"",
        ),
    }
}

fn text(l: &Listing, value: &str) -> String {
    if l.url_encoded {
        uri_encode(value, true)
    } else {
        value.to_owned()
    }
}

/// The Contents and CommonPrefixes of a page.
fn entries(
    w: &mut XmlWriter,
    call: &Call<'_>,
    l: &Listing,
    p: &ListPage,
    with_owner: bool,
    owner: &str,
) {
    let dialect = call.dialect();
    for o in &p.objects {
        w.open("Contents");
        w.elem("Key", &text(l, &o.key));
        let modified = match dialect {
            // oss2 accepts no fraction but `.000`.
            Dialect::Oss => iso8601(o.last_modified_ms),
            Dialect::S3 => iso8601_ms(o.last_modified_ms),
        };
        w.elem("LastModified", &modified);
        w.elem("ETag", &etag(dialect, &o.etag));
        if dialect == Dialect::Oss {
            w.elem("Type", object_type_name(o.object_type));
        }
        w.elem("Size", &o.size.to_string());
        w.elem(
            "StorageClass",
            if dialect == Dialect::Oss {
                "Standard"
            } else {
                "STANDARD"
            },
        );
        if with_owner {
            w.open("Owner");
            w.elem("ID", owner);
            w.elem("DisplayName", owner);
            w.close("Owner");
        }
        w.close("Contents");
    }
    for prefix in &p.common_prefixes {
        w.open("CommonPrefixes");
        w.elem("Prefix", &text(l, prefix));
        w.close("CommonPrefixes");
    }
}

async fn owner(call: &Call<'_>) -> Result<String, Failure> {
    Ok(call.client.head_bucket(&call.req.bucket).await?.owner)
}

pub async fn list_v1(call: &Call<'_>) -> Result<Response<Body>, Failure> {
    let l = listing(call)?;
    let marker = call.req.param("marker").unwrap_or("").to_owned();
    let p = page(call, &l, &marker).await?;
    let owner = owner(call).await?;
    let mut w = XmlWriter::new();
    open_result(&mut w, call.dialect());
    w.elem("Name", &call.req.bucket);
    w.elem("Prefix", &text(&l, &l.prefix));
    w.elem("Marker", &text(&l, &marker));
    w.elem("MaxKeys", &l.max_keys.to_string());
    if !l.delimiter.is_empty() {
        w.elem("Delimiter", &text(&l, &l.delimiter));
    }
    if l.url_encoded {
        w.elem("EncodingType", "url");
    }
    w.elem("IsTruncated", if p.is_truncated { "true" } else { "false" });
    if let Some(next) = next_marker(&p) {
        w.elem("NextMarker", &text(&l, &next));
    }
    entries(&mut w, call, &l, &p, true, &owner);
    w.close("ListBucketResult");
    Ok(xml(w.finish()))
}

pub async fn list_v2(call: &Call<'_>) -> Result<Response<Body>, Failure> {
    let l = listing(call)?;
    let token = call
        .req
        .param("continuation-token")
        .filter(|t| !t.is_empty());
    let start_after = call.req.param("start-after").unwrap_or("");
    let marker = match token {
        Some(t) => decode_token(t)?,
        None => start_after.to_owned(),
    };
    let p = page(call, &l, &marker).await?;
    let fetch_owner = call.req.param("fetch-owner") == Some("true");
    let owner = if fetch_owner {
        owner(call).await?
    } else {
        String::new()
    };
    let mut w = XmlWriter::new();
    open_result(&mut w, call.dialect());
    w.elem("Name", &call.req.bucket);
    w.elem("Prefix", &text(&l, &l.prefix));
    if let Some(t) = token {
        w.elem("ContinuationToken", t);
    }
    if !start_after.is_empty() {
        w.elem("StartAfter", &text(&l, start_after));
    }
    w.elem("MaxKeys", &l.max_keys.to_string());
    if !l.delimiter.is_empty() {
        w.elem("Delimiter", &text(&l, &l.delimiter));
    }
    if l.url_encoded {
        w.elem("EncodingType", "url");
    }
    w.elem("IsTruncated", if p.is_truncated { "true" } else { "false" });
    let count = p.objects.len() + p.common_prefixes.len();
    w.elem("KeyCount", &count.to_string());
    if let Some(next) = next_marker(&p) {
        w.elem("NextContinuationToken", &hex::encode(next.as_bytes()));
    }
    entries(&mut w, call, &l, &p, fetch_owner, &owner);
    w.close("ListBucketResult");
    Ok(xml(w.finish()))
}

/// A continuation token is the hex of the key to continue after.
fn decode_token(token: &str) -> Result<String, Failure> {
    let invalid =
        || Failure::InvalidArgument("The continuation token provided is incorrect".into());
    let bytes = hex::decode(token).map_err(|_| invalid())?;
    String::from_utf8(bytes).map_err(|_| invalid())
}
