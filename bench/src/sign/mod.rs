//! Request signing for the HTTP target: AWS SigV4 (`s3v4`), OSS signature V1 (`oss1`) and
//! OSS signature V4 (`oss4`). Bodies are not hashed: SigV4 and OSS V4 sign
//! `UNSIGNED-PAYLOAD`, which both services accept.
//!
//! - `s3v4`: AWS4-HMAC-SHA256 over the canonical request.
//! - `oss1`: `OSS AK:base64(HMAC-SHA1(...))` over verb, Content-MD5, Content-Type, Date,
//!   the `x-oss-*` headers and the resource with its signed sub-resources.
//! - `oss4`: OSS4-HMAC-SHA256, the OSS variant of SigV4 (as the oss2 SDK computes it).
//! - `clock`: the UTC date formats the signatures need.

mod clock;
mod oss1;
mod oss4;
mod s3v4;

use std::time::SystemTime;

use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

pub use clock::{amz_date, http_date};

/// Which signature an HTTP target uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scheme {
    /// AWS Signature Version 4 (S3 dialect).
    S3v4,
    /// OSS signature V1 (OSS dialect).
    Oss1,
    /// OSS signature V4 (OSS dialect).
    Oss4,
}

impl Scheme {
    /// Whether the target speaks the OSS dialect (append, `x-oss-*` headers).
    pub fn is_oss(self) -> bool {
        matches!(self, Scheme::Oss1 | Scheme::Oss4)
    }
}

/// Credentials and region of a signer.
#[derive(Debug, Clone)]
pub struct Signer {
    pub scheme: Scheme,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
}

/// A request to sign: the decoded bucket and key, the query parameters (a `None` value is a
/// bare sub-resource such as `?uploads`), and the headers with lowercase names. Signing
/// adds the date and authorization headers.
#[derive(Debug, Clone)]
pub struct Unsigned {
    pub method: &'static str,
    pub host: String,
    pub bucket: String,
    pub key: String,
    pub query: Vec<(String, Option<String>)>,
    pub headers: Vec<(String, String)>,
}

/// RFC 3986 unreserved characters stay; everything else is percent-encoded (AWS and OSS
/// canonical encoding).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes one query name or value, or one path segment.
pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, UNRESERVED).to_string()
}

/// The path `/bucket` or `/bucket/key`, each key segment encoded, slashes kept.
pub fn encode_path(bucket: &str, key: &str) -> String {
    let mut path = format!("/{}", encode(bucket));
    if !key.is_empty() {
        let segments: Vec<String> = key.split('/').map(encode).collect();
        path.push('/');
        path.push_str(&segments.join("/"));
    }
    path
}

impl Unsigned {
    /// The request target: encoded path and query string.
    pub fn path_and_query(&self) -> String {
        let mut target = encode_path(&self.bucket, &self.key);
        for (i, (name, value)) in self.query.iter().enumerate() {
            target.push(if i == 0 { '?' } else { '&' });
            target.push_str(&encode(name));
            if let Some(v) = value {
                target.push('=');
                target.push_str(&encode(v));
            }
        }
        target
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

impl Signer {
    /// Adds the date and `authorization` headers for time `now`.
    pub fn sign(&self, req: &mut Unsigned, now: SystemTime) {
        match self.scheme {
            Scheme::S3v4 => s3v4::sign(self, req, now),
            Scheme::Oss1 => oss1::sign(self, req, now),
            Scheme::Oss4 => oss4::sign(self, req, now),
        }
    }
}

/// The `name:value\n` lines of the headers `keep` selects, sorted, values trimmed: the
/// canonical header block of all three schemes.
fn canonical_headers(req: &Unsigned, keep: impl Fn(&str) -> bool) -> String {
    let mut headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .filter(|(n, _)| keep(n))
        .map(|(n, v)| (n.as_str(), v.trim()))
        .collect();
    headers.sort();
    headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect()
}

/// The query parameters encoded and sorted, a bare sub-resource with an empty value (both
/// V4 schemes; they differ only in how they print a bare name).
fn sorted_encoded_query(req: &Unsigned) -> Vec<(String, String)> {
    let mut query: Vec<(String, String)> = req
        .query
        .iter()
        .map(|(n, v)| (encode(n), encode(v.as_deref().unwrap_or(""))))
        .collect();
    query.sort();
    query
}

/// `hex(HMAC(signing key, string_to_sign))`, the signing key being the HMAC chain of
/// `secret` (already prefixed, `AWS4…` or `aliyun_v4…`) over the date of `date_time` and
/// then each scope part (region, service, request type).
fn v4_signature(secret: &str, date_time: &str, scope: [&str; 3], string_to_sign: &str) -> String {
    let mut key = hmac_sha256(secret.as_bytes(), &date_time.as_bytes()[..8]);
    for part in scope {
        key = hmac_sha256(&key, part.as_bytes());
    }
    hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The payload hash both V4 schemes sign instead of hashing the body.
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// What the signature tests share: the signed `authorization` header, and the request
/// both OSS vectors were computed for.
#[cfg(test)]
mod test_support {
    use super::{Scheme, Signer, Unsigned};

    pub fn authorization(req: &Unsigned) -> &str {
        &req.headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .expect("signing adds authorization")
            .1
    }

    pub fn oss_signer(scheme: Scheme) -> Signer {
        Signer {
            scheme,
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "secret-example-0123456789".into(),
            region: "cn-hangzhou".into(),
        }
    }

    /// An append at position 0 with a content type and one user-metadata header.
    pub fn oss_request() -> Unsigned {
        Unsigned {
            method: "POST",
            host: "127.0.0.1:9000".into(),
            bucket: "bkt".into(),
            key: "dir/a b.txt".into(),
            query: vec![
                ("append".into(), None),
                ("position".into(), Some("0".into())),
            ],
            headers: vec![
                ("content-type".into(), "application/octet-stream".into()),
                ("x-oss-meta-a".into(), "1".into()),
            ],
        }
    }
}
