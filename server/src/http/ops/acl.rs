//! Get/PutBucketAcl and Get/PutObjectAcl (`?acl`): canned ACLs in the header (an object's
//! `x-oss-object-acl` / `x-amz-acl`), or for S3 an AccessControlPolicy document whose
//! AllUsers grants map back to a canned ACL. An object's `default` ACL inherits the
//! bucket's; the daemon enforces both.

use http::{Response, StatusCode};
use hyper::body::Incoming;
use ringstore_client::Acl;

use super::{acl_name, parse_acl, read_document, Call};
use crate::http::error::Failure;
use crate::http::request::Dialect;
use crate::http::response::{empty, xml, Body};
use crate::http::xml::{parse, Element, XmlWriter};

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";

pub async fn get_bucket(call: &Call<'_>) -> Result<Response<Body>, Failure> {
    let info = super::owned_bucket(call).await?;
    Ok(xml(policy(call, &info.owner, info.acl)))
}

pub async fn get_object(call: &Call<'_>) -> Result<Response<Body>, Failure> {
    let req = call.req;
    let acl = call
        .client
        .get_object_acl(&req.bucket, &req.key, req.param("versionId"))
        .await?;
    // The owner of an object is its bucket's owner; a caller allowed to read the ACL but
    // not the bucket's record sees no owner id.
    let owner = match call.client.get_bucket_info(&req.bucket).await {
        Ok(info) => info.owner,
        Err(_) => String::new(),
    };
    Ok(xml(policy(call, &owner, acl)))
}

pub async fn put_object(call: &Call<'_>, body: Incoming) -> Result<Response<Body>, Failure> {
    let acl = requested_acl(call, body, "object-acl", "acl").await?;
    let req = call.req;
    call.client
        .put_object_acl(&req.bucket, &req.key, req.param("versionId"), acl)
        .await?;
    Ok(empty(StatusCode::OK))
}

/// The AccessControlPolicy document of `acl`.
fn policy(call: &Call<'_>, owner_id: &str, acl: Acl) -> String {
    let info_acl = acl;
    let mut w = XmlWriter::new();
    match call.dialect() {
        Dialect::Oss => {
            w.open("AccessControlPolicy");
            owner(&mut w, owner_id);
            w.open("AccessControlList");
            w.elem("Grant", acl_name(info_acl));
            w.close("AccessControlList");
        }
        Dialect::S3 => {
            w.open_with(
                "AccessControlPolicy",
                "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"",
            );
            owner(&mut w, owner_id);
            w.open("AccessControlList");
            grant_user(&mut w, owner_id);
            match info_acl {
                Acl::PublicRead => grant_all(&mut w, "READ"),
                Acl::PublicReadWrite => {
                    grant_all(&mut w, "READ");
                    grant_all(&mut w, "WRITE");
                }
                Acl::Private | Acl::Default => {}
            }
            w.close("AccessControlList");
        }
    }
    w.close("AccessControlPolicy");
    w.finish()
}

fn owner(w: &mut XmlWriter, id: &str) {
    w.open("Owner");
    w.elem("ID", id);
    w.elem("DisplayName", id);
    w.close("Owner");
}

fn grant_user(w: &mut XmlWriter, id: &str) {
    w.open("Grant");
    w.open_with(
        "Grantee",
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"",
    );
    w.elem("ID", id);
    w.elem("DisplayName", id);
    w.close("Grantee");
    w.elem("Permission", "FULL_CONTROL");
    w.close("Grant");
}

fn grant_all(w: &mut XmlWriter, permission: &str) {
    w.open("Grant");
    w.open_with(
        "Grantee",
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\"",
    );
    w.elem("URI", ALL_USERS);
    w.close("Grantee");
    w.elem("Permission", permission);
    w.close("Grant");
}

/// The ACL a Put*Acl request asks for: the OSS header (`x-oss-{oss}`), the S3 header
/// (`x-amz-{s3}`), or an AccessControlPolicy document.
async fn requested_acl(
    call: &Call<'_>,
    body: Incoming,
    oss: &str,
    s3: &str,
) -> Result<Acl, Failure> {
    let header = match call.dialect() {
        Dialect::Oss => call.req.dialect_header(oss),
        Dialect::S3 => call.req.dialect_header(s3),
    };
    if let Some(v) = header {
        return parse_acl(v);
    }
    let doc = read_document(call, body).await?;
    if doc.is_empty() {
        return Err(Failure::MissingArgument(
            "an ACL header or an AccessControlPolicy document is required".into(),
        ));
    }
    acl_of_policy(&parse(&doc)?)
}

pub async fn put_bucket(call: &Call<'_>, body: Incoming) -> Result<Response<Body>, Failure> {
    let acl = requested_acl(call, body, "acl", "acl").await?;
    if acl == Acl::Default {
        return Err(Failure::InvalidArgument(
            "a bucket ACL cannot be default".into(),
        ));
    }
    call.client.put_bucket_acl(&call.req.bucket, acl).await?;
    Ok(empty(StatusCode::OK))
}

/// The canned ACL an AccessControlPolicy document amounts to.
pub fn acl_of_policy(root: &Element) -> Result<Acl, Failure> {
    if root.name != "AccessControlPolicy" {
        return Err(Failure::MalformedXml("expected AccessControlPolicy".into()));
    }
    let list = root
        .child("AccessControlList")
        .ok_or_else(|| Failure::MalformedXml("AccessControlList is missing".into()))?;
    // OSS's own form: <Grant>public-read</Grant>.
    if let Some(text) = list.text_at("Grant").filter(|t| !t.trim().is_empty()) {
        return parse_acl(text);
    }
    let (mut read, mut write) = (false, false);
    for grant in list.children_named("Grant") {
        let everyone = grant.text_at("Grantee/URI") == Some(ALL_USERS);
        match grant.text_at("Permission") {
            Some("READ") if everyone => read = true,
            Some("WRITE") if everyone => write = true,
            Some("FULL_CONTROL") if everyone => (read, write) = (true, true),
            _ => {}
        }
    }
    Ok(match (read, write) {
        (true, true) => Acl::PublicReadWrite,
        (true, false) => Acl::PublicRead,
        (false, true) => {
            return Err(Failure::NotImplemented(
                "a write-only grant to AllUsers".into(),
            ))
        }
        (false, false) => Acl::Private,
    })
}
