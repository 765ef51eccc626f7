//! DeleteObject and DeleteMultipleObjects (`POST ?delete`, quiet or verbose; the document
//! must carry a Content-MD5, or for S3 an `x-amz-checksum-*`; OSS's `encoding-type=url`
//! encodes the keys of the answer).

use http::{Response, StatusCode};
use hyper::body::Incoming;
use ringstore_client::{DeleteObjectsResponse, Status};

use super::{read_document, Call};
use crate::http::auth::sign::uri_encode;
use crate::http::constants::DELETE_KEYS_MAX;
use crate::http::error::{oss_code, s3_code, Failure};
use crate::http::request::Dialect;
use crate::http::response::{empty, xml, Body};
use crate::http::xml::{parse, XmlWriter};

pub async fn delete_object(call: &Call<'_>) -> Result<Response<Body>, Failure> {
    call.client
        .delete_object(&call.req.bucket, &call.req.key)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn delete_objects(call: &Call<'_>, body: Incoming) -> Result<Response<Body>, Failure> {
    let req = call.req;
    let has_checksum = req
        .headers
        .keys()
        .any(|k| k.as_str().starts_with("x-amz-checksum-"));
    if req.header("content-md5").is_none() && !(req.dialect == Dialect::S3 && has_checksum) {
        return Err(Failure::MissingArgument(
            "Missing required header for this request: Content-MD5".into(),
        ));
    }
    let url_encoded = req
        .param("encoding-type")
        .is_some_and(|v| v.eq_ignore_ascii_case("url"));
    let (keys, quiet) = delete_document(&read_document(call, body).await?)?;
    let results = call.client.delete_objects(&req.bucket, keys, quiet).await?;
    Ok(xml(delete_result(
        req.dialect,
        &results,
        quiet,
        url_encoded,
    )))
}

/// The keys a Delete document names (1 to `DELETE_KEYS_MAX`) and whether it is quiet.
pub fn delete_document(doc: &[u8]) -> Result<(Vec<String>, bool), Failure> {
    let doc = parse(doc)?;
    if doc.name != "Delete" {
        return Err(Failure::MalformedXml("expected a Delete document".into()));
    }
    let quiet = doc
        .text_at("Quiet")
        .is_some_and(|q| q.trim().eq_ignore_ascii_case("true"));
    let mut keys = Vec::new();
    for object in doc.children_named("Object") {
        let key = object
            .text_at("Key")
            .ok_or_else(|| Failure::MalformedXml("an Object without a Key".into()))?;
        // `encoding-type=url` encodes the answer's keys only: oss2 sends them as they are.
        keys.push(key.to_owned());
    }
    if keys.is_empty() || keys.len() > DELETE_KEYS_MAX {
        return Err(Failure::MalformedXml(format!(
            "a Delete names 1 to {DELETE_KEYS_MAX} objects"
        )));
    }
    Ok((keys, quiet))
}

/// The DeleteResult document: `Deleted` per key (unless quiet), `Error` per failure.
fn delete_result(
    dialect: Dialect,
    results: &DeleteObjectsResponse,
    quiet: bool,
    url_encoded: bool,
) -> String {
    let text = |k: &str| {
        if url_encoded {
            uri_encode(k, true)
        } else {
            k.to_owned()
        }
    };
    let mut w = XmlWriter::new();
    match dialect {
        Dialect::Oss => w.open("DeleteResult"),
        Dialect::S3 => w.open_with(
            "DeleteResult",
            "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"",
        ),
    }
    if url_encoded {
        w.elem("EncodingType", "url");
    }
    for r in &results.results {
        if r.status == Status::Ok {
            if !quiet {
                w.open("Deleted");
                w.elem("Key", &text(&r.key));
                w.close("Deleted");
            }
            continue;
        }
        let failure = Failure::Engine(r.status, String::new());
        let (_, code) = match dialect {
            Dialect::Oss => oss_code(&failure),
            Dialect::S3 => s3_code(&failure),
        };
        w.open("Error");
        w.elem("Key", &text(&r.key));
        w.elem("Code", code);
        w.elem("Message", &failure.message());
        w.close("Error");
    }
    w.close("DeleteResult");
    w.finish()
}
