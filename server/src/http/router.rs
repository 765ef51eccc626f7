//! Which operation a request names: its method, whether it has a bucket and a key, and
//! its sub-resource (`?acl`, `?location`, `?delete`, ...). One table for both dialects;
//! a sub-resource this server does not serve is `NotImplemented`, never a fake success.

use http::Method;

use super::error::Failure;
use super::request::ApiRequest;

/// Every operation the adapter serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    ListBuckets,
    CreateBucket,
    DeleteBucket,
    HeadBucket,
    GetBucketAcl,
    PutBucketAcl,
    GetBucketLocation,
    GetBucketInfo,
    ListObjects,
    ListObjectsV2,
    DeleteObjects,
    PutObject,
    CopyObject,
    GetObject,
    HeadObject,
    GetObjectMeta,
    DeleteObject,
    GetObjectAcl,
    PutObjectAcl,
}

/// Query parameters that select nothing: list and response options, signatures.
const OPTIONS: &[&str] = &[
    "prefix",
    "delimiter",
    "marker",
    "max-keys",
    "encoding-type",
    "list-type",
    "continuation-token",
    "start-after",
    "fetch-owner",
    "x-id",
    "response-content-type",
    "response-content-language",
    "response-expires",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "OSSAccessKeyId",
    "Expires",
    "Signature",
    "security-token",
    "AWSAccessKeyId",
    "x-oss-signature-version",
    "x-oss-credential",
    "x-oss-date",
    "x-oss-expires",
    "x-oss-signature",
    "x-oss-additional-headers",
];

fn is_option(name: &str) -> bool {
    OPTIONS.contains(&name) || name.starts_with("X-Amz-") || name.starts_with("x-amz-")
}

/// The operation of `req`.
pub fn route(req: &ApiRequest) -> Result<Op, Failure> {
    let subs: Vec<&str> = req
        .query
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !is_option(k))
        .collect();
    let sub = match subs.as_slice() {
        [] => None,
        [one] => Some(*one),
        [first, ..] => {
            return Err(Failure::NotImplemented(format!(
                "the sub-resource ?{first}"
            )))
        }
    };
    let unsupported = |what: &str| Failure::NotImplemented(what.to_owned());
    if req.bucket.is_empty() {
        return match (&req.method, sub) {
            (&Method::GET, None) => Ok(Op::ListBuckets),
            (_, Some(s)) => Err(unsupported(&format!("the service sub-resource ?{s}"))),
            _ => Err(Failure::MethodNotAllowed),
        };
    }
    if req.key.is_empty() {
        return bucket_op(&req.method, sub, req);
    }
    let copy = req.dialect_header("copy-source").is_some();
    match (&req.method, sub) {
        (&Method::GET, None) => Ok(Op::GetObject),
        (&Method::HEAD, None) => Ok(Op::HeadObject),
        (&Method::PUT, None) if copy => Ok(Op::CopyObject),
        (&Method::PUT, None) => Ok(Op::PutObject),
        (&Method::DELETE, None) => Ok(Op::DeleteObject),
        (&Method::GET | &Method::HEAD, Some("objectMeta")) => Ok(Op::GetObjectMeta),
        (&Method::GET, Some("acl")) => Ok(Op::GetObjectAcl),
        (&Method::PUT, Some("acl")) => Ok(Op::PutObjectAcl),
        (&Method::POST, Some("uploads")) | (&Method::PUT, Some("partNumber" | "uploadId")) => {
            Err(unsupported("multipart upload"))
        }
        (&Method::POST, Some("append" | "position")) => Err(unsupported("AppendObject")),
        (&Method::POST, None) => Err(unsupported("PostObject")),
        (_, Some(s)) => Err(unsupported(&format!("the object sub-resource ?{s}"))),
        _ => Err(Failure::MethodNotAllowed),
    }
}

fn bucket_op(method: &Method, sub: Option<&str>, req: &ApiRequest) -> Result<Op, Failure> {
    let unsupported = |what: &str| Failure::NotImplemented(what.to_owned());
    match (method, sub) {
        (&Method::GET, None) if req.param("list-type") == Some("2") => Ok(Op::ListObjectsV2),
        (&Method::GET, None) => Ok(Op::ListObjects),
        (&Method::PUT, None) => Ok(Op::CreateBucket),
        (&Method::DELETE, None) => Ok(Op::DeleteBucket),
        (&Method::HEAD, None) => Ok(Op::HeadBucket),
        (&Method::GET, Some("acl")) => Ok(Op::GetBucketAcl),
        (&Method::PUT, Some("acl")) => Ok(Op::PutBucketAcl),
        (&Method::GET, Some("location")) => Ok(Op::GetBucketLocation),
        (&Method::GET, Some("bucketInfo")) => Ok(Op::GetBucketInfo),
        (&Method::POST, Some("delete")) => Ok(Op::DeleteObjects),
        (_, Some(s)) => Err(unsupported(&format!("the bucket sub-resource ?{s}"))),
        _ => Err(Failure::MethodNotAllowed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::auth::tests::request;

    #[test]
    fn routes() {
        let op = |m: &str, uri: &str| route(&request(m, uri, &[("host", "h")]));
        assert_eq!(op("GET", "/").unwrap(), Op::ListBuckets);
        assert_eq!(
            op("GET", "/b?list-type=2&prefix=a").unwrap(),
            Op::ListObjectsV2
        );
        assert_eq!(
            op("GET", "/b?encoding-type=url&max-keys=100&marker=").unwrap(),
            Op::ListObjects
        );
        assert_eq!(op("POST", "/b?delete").unwrap(), Op::DeleteObjects);
        assert_eq!(
            op("GET", "/b/k?response-content-type=a%2Fb").unwrap(),
            Op::GetObject
        );
        assert_eq!(op("HEAD", "/b/k?objectMeta").unwrap(), Op::GetObjectMeta);
        assert_eq!(op("GET", "/b/k?x-id=GetObject").unwrap(), Op::GetObject);
        for (m, uri) in [
            ("GET", "/b?versioning"),
            ("POST", "/b/k?uploads"),
            ("GET", "/b?lifecycle"),
        ] {
            assert!(
                matches!(op(m, uri), Err(Failure::NotImplemented(_))),
                "{m} {uri}"
            );
        }
        assert!(matches!(
            op("PATCH", "/b/k"),
            Err(Failure::MethodNotAllowed)
        ));
    }
}
