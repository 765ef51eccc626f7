//! Authentication: which signature scheme a request uses, whose key signed it, and what
//! the body must then prove.
//!
//! [`authenticate`] picks the scheme from the `Authorization` header or the query
//! (`sigv4`: S3 SigV4, header or presigned; `oss_v1`: OSS V1 HMAC-SHA1 and S3's V2, its
//! twin; `oss_v4`: OSS V4),
//! checks the request time, resolves the access key (`keys`, through the daemon's
//! KeyLookup), verifies the signature with
//! a constant-time comparison, and returns the caller's identity and the [`Payload`] rule
//! the body reader enforces (a SHA-256 to match, or aws-chunked chunk signatures). A
//! request with no signature is anonymous. `sign` holds the shared primitives.

pub mod keys;
pub mod oss_v1;
pub mod oss_v4;
pub mod sign;
pub mod sigv4;

pub use keys::{Identity, KeyResolver};

use super::error::Failure;
use super::request::ApiRequest;
use sign::{hmac_sha256, sha256_hex, EMPTY_SHA256_HEX};

/// What the body must prove once the head's signature verified.
#[derive(Debug, Clone)]
pub enum Payload {
    /// Nothing (`UNSIGNED-PAYLOAD`, OSS V1, anonymous).
    Unchecked,
    /// The body's SHA-256 must equal this (`x-amz-content-sha256: <hex>`).
    Sha256([u8; 32]),
    /// aws-chunked with a signature per chunk, chained from the seed signature.
    StreamingSigned(SeedSignature),
    /// aws-chunked without signatures, with trailing checksums.
    StreamingUnsigned,
}

/// The state of a chain of aws-chunked chunk signatures.
#[derive(Clone)]
pub struct SeedSignature {
    pub key: [u8; 32],
    pub datetime: String,
    pub scope: String,
    /// The previous signature: the seed (the header's), then each chunk's.
    pub signature: String,
    /// Whether a signed trailer follows the last chunk.
    pub trailer: bool,
}

impl std::fmt::Debug for SeedSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedSignature")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl SeedSignature {
    /// The signature the next chunk, whose data hashes to `chunk_sha256_hex`, must carry;
    /// it becomes the previous signature of the chunk after it.
    pub fn next_chunk(&mut self, chunk_sha256_hex: &str) -> String {
        let to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256_HEX}\n{chunk_sha256_hex}",
            self.datetime, self.scope, self.signature
        );
        self.signature = hex::encode(hmac_sha256(&self.key, to_sign.as_bytes()));
        self.signature.clone()
    }

    /// The signature of the trailer whose header lines (`name:value\n` each) are `text`.
    pub fn trailer_signature(&mut self, text: &str) -> String {
        let to_sign = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
            self.datetime,
            self.scope,
            self.signature,
            sha256_hex(text.as_bytes())
        );
        self.signature = hex::encode(hmac_sha256(&self.key, to_sign.as_bytes()));
        self.signature.clone()
    }
}

/// Who sent a request and what its body must prove.
#[derive(Debug, Clone)]
pub struct Verified {
    /// `None` for an anonymous request.
    pub identity: Option<Identity>,
    pub payload: Payload,
}

/// Verifies `req`'s signature, if it has one.
pub async fn authenticate(
    req: &ApiRequest,
    keys: &KeyResolver,
    now_secs: u64,
) -> Result<Verified, Failure> {
    let auth = req.header("authorization").map(str::to_owned);
    match auth.as_deref() {
        Some(value) if value.starts_with("AWS4-HMAC-SHA256 ") => {
            let sig = sigv4::parse_header(req, &value[sigv4::ALGORITHM.len()..])?;
            sigv4::check_time(&sig, now_secs)?;
            let identity = keys.resolve(&sig.access_key_id).await?;
            let payload = sigv4::verify(req, &sig, &identity.secret)?;
            Ok(Verified {
                identity: Some(identity),
                payload,
            })
        }
        Some(value) if value.starts_with("OSS4-HMAC-SHA256 ") => {
            let sig = oss_v4::parse_header(req, &value[oss_v4::ALGORITHM.len()..])?;
            oss_v4_verified(req, keys, sig, now_secs).await
        }
        Some(value) if value.starts_with("OSS ") => {
            let sig = oss_v1::parse_header(value, oss_v1::Flavor::Oss)?;
            oss_v1_verified(req, keys, sig, now_secs).await
        }
        Some(value) if value.starts_with("AWS ") => {
            let sig = oss_v1::parse_header(value, oss_v1::Flavor::S3V2)?;
            oss_v1_verified(req, keys, sig, now_secs).await
        }
        Some(_) => Err(Failure::InvalidArgument(
            "the Authorization header names an unknown signature scheme".into(),
        )),
        None => query_authenticate(req, keys, now_secs).await,
    }
}

async fn query_authenticate(
    req: &ApiRequest,
    keys: &KeyResolver,
    now_secs: u64,
) -> Result<Verified, Failure> {
    if req.has_param("X-Amz-Algorithm") || req.has_param("X-Amz-Signature") {
        let sig = sigv4::parse_query(req)?;
        sigv4::check_time(&sig, now_secs)?;
        let identity = keys.resolve(&sig.access_key_id).await?;
        let payload = sigv4::verify(req, &sig, &identity.secret)?;
        return Ok(Verified {
            identity: Some(identity),
            payload,
        });
    }
    if req.has_param("x-oss-signature") || req.has_param("x-oss-credential") {
        let sig = oss_v4::parse_query(req)?;
        return oss_v4_verified(req, keys, sig, now_secs).await;
    }
    if req.has_param("AWSAccessKeyId") {
        let sig = oss_v1::parse_query(req, oss_v1::Flavor::S3V2)?;
        return oss_v1_verified(req, keys, sig, now_secs).await;
    }
    if req.has_param("OSSAccessKeyId") || req.has_param("Signature") {
        let sig = oss_v1::parse_query(req, oss_v1::Flavor::Oss)?;
        return oss_v1_verified(req, keys, sig, now_secs).await;
    }
    // Anonymous: a streaming body is still framed as aws-chunked.
    let payload = match req.header("x-amz-content-sha256") {
        Some(claimed) => match sigv4::kind(claimed)? {
            sigv4::PayloadKind::Sha256(d) => Payload::Sha256(d),
            sigv4::PayloadKind::StreamingUnsignedTrailer => Payload::StreamingUnsigned,
            sigv4::PayloadKind::Unsigned => Payload::Unchecked,
            sigv4::PayloadKind::StreamingSigned { .. } => {
                return Err(Failure::AccessDenied(
                    "a signed stream needs a signature".into(),
                ))
            }
        },
        None => Payload::Unchecked,
    };
    Ok(Verified {
        identity: None,
        payload,
    })
}

async fn oss_v4_verified(
    req: &ApiRequest,
    keys: &KeyResolver,
    sig: oss_v4::OssV4,
    now_secs: u64,
) -> Result<Verified, Failure> {
    oss_v4::check_time(&sig, now_secs)?;
    let identity = keys.resolve(&sig.access_key_id).await?;
    let payload = oss_v4::verify(req, &sig, &identity.secret)?;
    Ok(Verified {
        identity: Some(identity),
        payload,
    })
}

async fn oss_v1_verified(
    req: &ApiRequest,
    keys: &KeyResolver,
    sig: oss_v1::OssV1,
    now_secs: u64,
) -> Result<Verified, Failure> {
    oss_v1::check_time(req, &sig, now_secs)?;
    let identity = keys.resolve(&sig.access_key_id).await?;
    oss_v1::verify(req, &sig, &identity.secret)?;
    Ok(Verified {
        identity: Some(identity),
        payload: Payload::Unchecked,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A parsed request with these headers, path-style.
    pub fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> ApiRequest {
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let (parts, ()) = builder.body(()).unwrap().into_parts();
        ApiRequest::parse(&parts, &[]).unwrap()
    }
}
