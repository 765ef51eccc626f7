//! OSS signature V1: `Authorization: OSS AK:base64(HMAC-SHA1(secret, string))` where the
//! string is `VERB\nContent-MD5\nContent-Type\nDate\n` + the sorted lowercase `x-oss-*`
//! headers (`name:value\n`) + `/bucket/key` (decoded) + the sorted signed sub-resources.
//! Presigned URLs carry `OSSAccessKeyId`, `Expires` (which takes the Date's place) and
//! `Signature`.
//!
//! S3's signature version 2 is the same scheme with `x-amz-*` headers, `AWS AK:sig`,
//! `AWSAccessKeyId`, its own sub-resource list, and the path as sent (still encoded): boto3
//! presigns URLs with it unless told otherwise, so it is served too ([`Flavor::S3V2`]).

use base64::Engine as _;

use super::sign::{hmac_sha1, same};
use crate::http::constants::CLOCK_SKEW_SECS_MAX;
use crate::http::error::Failure;
use crate::http::request::ApiRequest;
use crate::http::time::parse_http_date;

/// The query parameters V1 signs (oss2's `_subresource_key_set`).
const SUBRESOURCES: &[&str] = &[
    "acl",
    "append",
    "asyncFetch",
    "bucketInfo",
    "callback",
    "callback-var",
    "cname",
    "comp",
    "continuation-token",
    "cors",
    "delete",
    "encryption",
    "endTime",
    "group",
    "inventory",
    "inventoryId",
    "lifecycle",
    "link",
    "live",
    "location",
    "logging",
    "metaQuery",
    "objectInfo",
    "objectMeta",
    "partNumber",
    "policy",
    "position",
    "qos",
    "qosInfo",
    "referer",
    "replication",
    "replicationLocation",
    "replicationProgress",
    "requestPayment",
    "resourceGroup",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "security-token",
    "sequential",
    "startTime",
    "stat",
    "status",
    "symlink",
    "tagging",
    "transferAcceleration",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "vod",
    "website",
    "worm",
    "wormExtend",
    "wormId",
    "x-oss-process",
    "x-oss-request-payer",
    "x-oss-traffic-limit",
];

/// The query parameters S3 V2 signs (botocore's `HmacV1Auth` list).
const S3_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "partNumber",
    "policy",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "retention",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// Which service's HMAC-SHA1 scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Oss,
    S3V2,
}

impl Flavor {
    fn header_prefix(self) -> &'static str {
        match self {
            Flavor::Oss => "x-oss-",
            Flavor::S3V2 => "x-amz-",
        }
    }

    fn subresources(self) -> &'static [&'static str] {
        match self {
            Flavor::Oss => SUBRESOURCES,
            Flavor::S3V2 => S3_SUBRESOURCES,
        }
    }

    fn key_id_param(self) -> &'static str {
        match self {
            Flavor::Oss => "OSSAccessKeyId",
            Flavor::S3V2 => "AWSAccessKeyId",
        }
    }
}

/// A V1 signature, from the header or a presigned URL.
#[derive(Debug, Clone)]
pub struct OssV1 {
    pub flavor: Flavor,
    pub access_key_id: String,
    pub signature: String,
    /// The presigned URL's `Expires` (Unix seconds).
    pub expires_secs: Option<u64>,
}

pub fn parse_header(value: &str, flavor: Flavor) -> Result<OssV1, Failure> {
    let rest = value
        .strip_prefix("OSS ")
        .or_else(|| value.strip_prefix("AWS "))
        .unwrap_or(value);
    let (id, sig) = rest.split_once(':').ok_or_else(|| {
        Failure::InvalidArgument(
            "Authorization header is invalid: expected OSS AK:SIGNATURE".into(),
        )
    })?;
    Ok(OssV1 {
        flavor,
        access_key_id: id.trim().to_owned(),
        signature: sig.trim().to_owned(),
        expires_secs: None,
    })
}

pub fn parse_query(req: &ApiRequest, flavor: Flavor) -> Result<OssV1, Failure> {
    let need = |name: &str| {
        req.param(name)
            .ok_or_else(|| Failure::AccessDenied(format!("presigned URL without {name}")))
    };
    let expires = need("Expires")?
        .parse()
        .map_err(|_| Failure::InvalidArgument("Expires must be a Unix time".into()))?;
    Ok(OssV1 {
        flavor,
        access_key_id: need(flavor.key_id_param())?.to_owned(),
        signature: need("Signature")?.to_owned(),
        expires_secs: Some(expires),
    })
}

/// Checks the Date (or x-oss-date) skew, or a presigned URL's expiry.
pub fn check_time(req: &ApiRequest, sig: &OssV1, now_secs: u64) -> Result<(), Failure> {
    if let Some(expires) = sig.expires_secs {
        if now_secs > expires {
            return Err(Failure::AccessDenied("Request has expired.".into()));
        }
        return Ok(());
    }
    let date = match sig.flavor {
        Flavor::Oss => req.header("x-oss-date").or_else(|| req.header("date")),
        Flavor::S3V2 => req.header("x-amz-date").or_else(|| req.header("date")),
    };
    let at = date
        .and_then(parse_http_date)
        .ok_or_else(|| Failure::AccessDenied("OSS authentication requires a valid Date.".into()))?;
    if at.abs_diff(now_secs) > CLOCK_SKEW_SECS_MAX {
        return Err(Failure::RequestTimeTooSkewed);
    }
    Ok(())
}

pub fn string_to_sign(req: &ApiRequest, sig: &OssV1) -> String {
    let h = |name: &str| req.header(name).unwrap_or("").to_owned();
    let date = match sig.expires_secs {
        Some(expires) => expires.to_string(),
        None if sig.flavor == Flavor::Oss => req
            .header("x-oss-date")
            .map_or_else(|| h("date"), str::to_owned),
        // S3 signs x-amz-date among the x-amz-* headers and an empty Date line then.
        None if req.header("x-amz-date").is_some() => String::new(),
        None => h("date"),
    };
    let prefix = sig.flavor.header_prefix();
    let mut oss_headers: Vec<(String, String)> = req
        .headers
        .iter()
        .filter(|(k, _)| k.as_str().starts_with(prefix))
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    oss_headers.sort();
    let mut canonical = String::new();
    for (k, v) in &oss_headers {
        canonical.push_str(&format!("{k}:{v}\n"));
    }
    let resource = match sig.flavor {
        Flavor::Oss if req.bucket.is_empty() => "/".to_owned(),
        Flavor::Oss => format!("/{}/{}", req.bucket, req.key),
        Flavor::S3V2 => s3_v2_resource(req),
    };
    let names = sig.flavor.subresources();
    let mut subs: Vec<&(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| names.contains(&k.as_str()))
        .collect();
    subs.sort();
    let subs: Vec<String> = subs
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.clone()
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    let subresource = if subs.is_empty() {
        String::new()
    } else {
        format!("?{}", subs.join("&"))
    };
    format!(
        "{}\n{}\n{}\n{date}\n{canonical}{resource}{subresource}",
        req.method.as_str(),
        h("content-md5"),
        h("content-type"),
    )
}

/// S3 V2's CanonicalizedResource: `/bucket` (from the Host, with virtual hosting) and the
/// path as sent. A bucket is always the resource `/bucket/`: SDKs sign a path-style
/// `/bucket` request as `/bucket/` (botocore's `auth_path`), as S3 itself computes it.
fn s3_v2_resource(req: &ApiRequest) -> String {
    if req.bucket.is_empty() {
        return req.raw_path.clone();
    }
    if req.virtual_host {
        return format!("/{}{}", req.bucket, req.raw_path);
    }
    if req.key.is_empty() && !req.raw_path.ends_with('/') {
        return format!("{}/", req.raw_path);
    }
    req.raw_path.clone()
}

pub fn sign(secret: &str, string_to_sign: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(hmac_sha1(secret.as_bytes(), string_to_sign.as_bytes()))
}

pub fn verify(req: &ApiRequest, sig: &OssV1, secret: &str) -> Result<(), Failure> {
    let to_sign = string_to_sign(req, sig);
    if same(&sign(secret, &to_sign), &sig.signature) {
        Ok(())
    } else {
        Err(Failure::SignatureDoesNotMatch {
            string_to_sign: to_sign,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::auth::tests::request;

    #[test]
    fn string_to_sign_per_the_algorithm() {
        let req = request(
            "PUT",
            "/bkt/dir%2Fa.txt?acl&uploads=&x-unsigned=1&partNumber=2",
            &[
                ("host", "127.0.0.1:9000"),
                ("date", "Tue, 01 Dec 2026 18:56:04 GMT"),
                ("content-type", "text/plain"),
                ("content-md5", "XrY7u+Ae7tCTyyK7j1rNww=="),
                ("x-oss-meta-b", "2"),
                ("x-oss-meta-a", "1"),
            ],
        );
        let sig = OssV1 {
            flavor: Flavor::Oss,
            access_key_id: "AK".into(),
            signature: String::new(),
            expires_secs: None,
        };
        assert_eq!(
            string_to_sign(&req, &sig),
            "PUT\nXrY7u+Ae7tCTyyK7j1rNww==\ntext/plain\nTue, 01 Dec 2026 18:56:04 GMT\n\
             x-oss-meta-a:1\nx-oss-meta-b:2\n/bkt/dir/a.txt?acl&partNumber=2&uploads"
        );
        // HMAC-SHA1 known answer (RFC 2202 test case 2).
        assert_eq!(
            hex::encode(hmac_sha1(b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        let signed = OssV1 {
            signature: sign("secret", &string_to_sign(&req, &sig)),
            ..sig
        };
        verify(&req, &signed, "secret").unwrap();
        assert!(verify(&req, &signed, "other").is_err());
        let now = 1_796_151_364; // 2026-12-01T18:56:04Z
        check_time(&req, &signed, now + 60).unwrap();
        assert!(matches!(
            check_time(&req, &signed, now + 3600),
            Err(Failure::RequestTimeTooSkewed)
        ));
    }

    #[test]
    fn presigned_expires_replaces_the_date() {
        let req = request(
            "GET",
            "/bkt/k?OSSAccessKeyId=AK&Expires=1000&Signature=x",
            &[("host", "h")],
        );
        let sig = parse_query(&req, Flavor::Oss).unwrap();
        assert!(string_to_sign(&req, &sig).starts_with("GET\n\n\n1000\n/bkt/k"));
        assert!(matches!(
            check_time(&req, &sig, 1001),
            Err(Failure::AccessDenied(_))
        ));
        check_time(&req, &sig, 999).unwrap();
    }

    #[test]
    fn s3_v2_signs_a_bucket_as_bucket_slash_in_both_addressings() {
        let sig = |req: &ApiRequest| parse_query(req, Flavor::S3V2).unwrap();
        let q = "?AWSAccessKeyId=AK&Signature=x&Expires=1000";
        for (uri, host, resource) in [
            ("/bkt", "h", "/bkt/"),
            ("/bkt/", "h", "/bkt/"),
            ("/bkt/a%20b", "h", "/bkt/a%20b"),
            ("/", "bkt.localhost", "/bkt/"),
            ("/a%20b", "bkt.localhost", "/bkt/a%20b"),
            ("/", "h", "/"),
        ] {
            let mut builder = http::Request::builder()
                .method("GET")
                .uri(format!("{uri}{q}"));
            builder = builder.header("host", host);
            let (parts, ()) = builder.body(()).unwrap().into_parts();
            let req = ApiRequest::parse(&parts, &["localhost".to_owned()]).unwrap();
            let text = string_to_sign(&req, &sig(&req));
            assert_eq!(
                text,
                format!("GET\n\n\n1000\n{resource}"),
                "{uri} on {host}"
            );
        }
    }

    #[test]
    fn s3_v2_signs_the_path_as_sent() {
        let req = request(
            "GET",
            "/pre/a%20b?AWSAccessKeyId=AK&Signature=x&Expires=1000&acl",
            &[("host", "h"), ("x-amz-meta-a", "1")],
        );
        let sig = parse_query(&req, Flavor::S3V2).unwrap();
        assert_eq!(
            string_to_sign(&req, &sig),
            "GET\n\n\n1000\nx-amz-meta-a:1\n/pre/a%20b?acl"
        );
    }
}
