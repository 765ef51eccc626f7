//! S3 Signature Version 4: `Authorization: AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/s3/
//! aws4_request, SignedHeaders=a;b, Signature=hex` or the same fields as `X-Amz-*` query
//! parameters of a presigned URL.
//!
//! The canonical request is `METHOD\nURI\nQUERY\nHEADERS\n\nSIGNED\nPAYLOAD`: the decoded
//! path encoded once (S3 does not double-encode), the query sorted by encoded name and
//! value, the signed headers trimmed, and the payload hash the client announced
//! (`x-amz-content-sha256`; `UNSIGNED-PAYLOAD` for presigned URLs).

use super::sign::{derive_key, hmac_sha256, same, sha256_hex, trim_collapse, uri_encode};
use super::{Payload, SeedSignature};
use crate::http::constants::{CLOCK_SKEW_SECS_MAX, PRESIGN_EXPIRES_SECS_MAX};
use crate::http::error::Failure;
use crate::http::request::ApiRequest;
use crate::http::time::{parse_compact, parse_http_date};

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The fields of a SigV4 signature, from the header or the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4 {
    pub access_key_id: String,
    /// `YYYYMMDD` of the scope.
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
    /// `YYYYMMDDTHHMMSSZ` of the request.
    pub datetime: String,
    /// `X-Amz-Expires` of a presigned URL.
    pub expires_secs: Option<u64>,
}

impl SigV4 {
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }

    fn presigned(&self) -> bool {
        self.expires_secs.is_some()
    }
}

fn malformed(what: &str) -> Failure {
    Failure::AuthorizationMalformed(format!("The authorization header is malformed: {what}"))
}

/// Splits `AK/DATE/REGION/SERVICE/aws4_request`.
pub fn parse_credential(
    credential: &str,
    terminator: &str,
) -> Result<(String, String, String, String), Failure> {
    let parts: Vec<&str> = credential.split('/').collect();
    if parts.len() != 5 || parts[4] != terminator || parts[1].len() != 8 {
        return Err(malformed(
            "the Credential is not AK/DATE/REGION/SERVICE/terminator",
        ));
    }
    Ok((
        parts[0].into(),
        parts[1].into(),
        parts[2].into(),
        parts[3].into(),
    ))
}

/// Parses the `Authorization` header value (after the algorithm name).
pub fn parse_header(req: &ApiRequest, fields: &str) -> Result<SigV4, Failure> {
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in fields.split(',') {
        let part = part.trim();
        match part.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ if part.is_empty() => {}
            _ => return Err(malformed("an unknown field")),
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(malformed(
            "Credential, SignedHeaders and Signature are required",
        ));
    };
    let (access_key_id, date, region, service) = parse_credential(credential, "aws4_request")?;
    let datetime = match req.header("x-amz-date") {
        Some(d) => d.to_owned(),
        None => {
            let date = req.header("date").and_then(parse_http_date);
            let date = date.ok_or_else(|| {
                Failure::AccessDenied(
                    "AWS authentication requires a valid Date or x-amz-date header".into(),
                )
            })?;
            compact(date)
        }
    };
    Ok(SigV4 {
        access_key_id,
        date,
        region,
        service,
        signed_headers: signed.split(';').map(str::to_owned).collect(),
        signature: signature.to_owned(),
        datetime,
        expires_secs: None,
    })
}

/// Parses the `X-Amz-*` query parameters of a presigned URL.
pub fn parse_query(req: &ApiRequest) -> Result<SigV4, Failure> {
    let need = |name: &str| {
        req.param(name).ok_or_else(|| {
            Failure::AccessDenied(format!("Query-string authentication requires {name}"))
        })
    };
    if need("X-Amz-Algorithm")? != ALGORITHM {
        return Err(Failure::InvalidArgument(
            "X-Amz-Algorithm must be AWS4-HMAC-SHA256".into(),
        ));
    }
    let (access_key_id, date, region, service) =
        parse_credential(need("X-Amz-Credential")?, "aws4_request")?;
    let expires = need("X-Amz-Expires")?
        .parse::<u64>()
        .map_err(|_| Failure::InvalidArgument("X-Amz-Expires must be a number".into()))?;
    if expires > PRESIGN_EXPIRES_SECS_MAX {
        return Err(Failure::InvalidArgument(
            "X-Amz-Expires must be less than a week (in seconds); that is, the given \
             X-Amz-Expires must be less than 604800 seconds"
                .into(),
        ));
    }
    Ok(SigV4 {
        access_key_id,
        date,
        region,
        service,
        signed_headers: need("X-Amz-SignedHeaders")?
            .split(';')
            .map(str::to_owned)
            .collect(),
        signature: need("X-Amz-Signature")?.to_owned(),
        datetime: need("X-Amz-Date")?.to_owned(),
        expires_secs: Some(expires),
    })
}

/// `YYYYMMDDTHHMMSSZ` of a Unix time.
fn compact(secs: u64) -> String {
    let iso = crate::http::time::iso8601(secs * 1000);
    // 2013-05-24T00:00:00.000Z → 20130524T000000Z
    let digits: String = iso[..19]
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    format!("{digits}Z")
}

/// Checks the request time: skew for header signatures, expiry for presigned URLs.
pub fn check_time(sig: &SigV4, now_secs: u64) -> Result<(), Failure> {
    let at = parse_compact(&sig.datetime)
        .ok_or_else(|| Failure::AccessDenied("X-Amz-Date is not YYYYMMDDTHHMMSSZ".into()))?;
    if !sig.datetime.starts_with(&sig.date) {
        return Err(malformed(
            "the Credential date does not match the request date",
        ));
    }
    match sig.expires_secs {
        Some(expires) => {
            if now_secs > at + expires {
                return Err(Failure::AccessDenied("Request has expired".into()));
            }
            if at > now_secs + CLOCK_SKEW_SECS_MAX {
                return Err(Failure::AccessDenied("Request is not valid yet".into()));
            }
        }
        None if at.abs_diff(now_secs) > CLOCK_SKEW_SECS_MAX => {
            return Err(Failure::RequestTimeTooSkewed)
        }
        None => {}
    }
    Ok(())
}

/// The payload hash the signature covers, and how the body must be checked.
pub fn payload(req: &ApiRequest, sig: &SigV4) -> Result<(String, PayloadKind), Failure> {
    if sig.presigned() {
        let claimed = req
            .header("x-amz-content-sha256")
            .unwrap_or("UNSIGNED-PAYLOAD");
        return Ok((claimed.to_owned(), kind(claimed)?));
    }
    let claimed = req.header("x-amz-content-sha256").ok_or_else(|| {
        Failure::InvalidRequest(
            "Missing required header for this request: x-amz-content-sha256".into(),
        )
    })?;
    Ok((claimed.to_owned(), kind(claimed)?))
}

/// What an `x-amz-content-sha256` value asks of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    Unsigned,
    Sha256([u8; 32]),
    StreamingSigned { trailer: bool },
    StreamingUnsignedTrailer,
}

pub fn kind(claimed: &str) -> Result<PayloadKind, Failure> {
    Ok(match claimed {
        "UNSIGNED-PAYLOAD" => PayloadKind::Unsigned,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => PayloadKind::StreamingSigned { trailer: false },
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => {
            PayloadKind::StreamingSigned { trailer: true }
        }
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => PayloadKind::StreamingUnsignedTrailer,
        hash => {
            let mut digest = [0u8; 32];
            hex::decode_to_slice(hash, &mut digest).map_err(|_| {
                Failure::InvalidArgument(
                    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* value, or \
                     a valid sha256 value"
                        .into(),
                )
            })?;
            PayloadKind::Sha256(digest)
        }
    })
}

/// The canonical request of `req` under `sig`.
pub fn canonical_request(req: &ApiRequest, sig: &SigV4, payload_hash: &str) -> String {
    let mut query: Vec<(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| !(sig.presigned() && k == "X-Amz-Signature"))
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    query.sort();
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut headers = String::new();
    for name in &sig.signed_headers {
        let values: Vec<String> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| trim_collapse(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method.as_str(),
        uri_encode(&req.path, true),
        query.join("&"),
        headers,
        sig.signed_headers.join(";"),
        payload_hash
    )
}

pub fn string_to_sign(sig: &SigV4, canonical: &str) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        sig.datetime,
        sig.scope(),
        sha256_hex(canonical.as_bytes())
    )
}

pub fn signing_key(secret: &str, sig: &SigV4) -> [u8; 32] {
    derive_key(
        "AWS4",
        secret,
        &sig.date,
        &sig.region,
        &sig.service,
        "aws4_request",
    )
}

/// Verifies `sig` over `req` with `secret`; returns how the body must then be checked.
pub fn verify(req: &ApiRequest, sig: &SigV4, secret: &str) -> Result<Payload, Failure> {
    if !sig.signed_headers.iter().any(|h| h == "host") {
        return Err(malformed("SignedHeaders must include host"));
    }
    let (claimed, kind) = payload(req, sig)?;
    let canonical = canonical_request(req, sig, &claimed);
    let to_sign = string_to_sign(sig, &canonical);
    let key = signing_key(secret, sig);
    let expected = hex::encode(hmac_sha256(&key, to_sign.as_bytes()));
    if !same(&expected, &sig.signature) {
        tracing::debug!(%canonical, "SigV4 mismatch");
        return Err(Failure::SignatureDoesNotMatch {
            string_to_sign: to_sign,
        });
    }
    Ok(match kind {
        PayloadKind::Unsigned => Payload::Unchecked,
        PayloadKind::Sha256(d) => Payload::Sha256(d),
        PayloadKind::StreamingUnsignedTrailer => Payload::StreamingUnsigned,
        PayloadKind::StreamingSigned { trailer } => Payload::StreamingSigned(SeedSignature {
            key,
            datetime: sig.datetime.clone(),
            scope: sig.scope(),
            signature: sig.signature.clone(),
            trailer,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::auth::tests::request;

    // AWS's published examples ("Signature Calculations for the Authorization Header",
    // "Authenticating Requests: Using Query Parameters").
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn aws_get_object_example() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
        let req = request(
            "GET",
            "/test.txt",
            &[
                ("host", "examplebucket.s3.amazonaws.com"),
                ("range", "bytes=0-9"),
                ("x-amz-content-sha256", super::super::sign::EMPTY_SHA256_HEX),
                ("x-amz-date", "20130524T000000Z"),
                ("authorization", auth),
            ],
        );
        let sig = parse_header(&req, auth.strip_prefix(ALGORITHM).unwrap()).unwrap();
        assert_eq!(sig.access_key_id, "AKIAIOSFODNN7EXAMPLE");
        assert!(verify(&req, &sig, SECRET).is_ok());
        check_time(&sig, 1_369_353_600 + 60).unwrap();
        assert!(matches!(
            check_time(&sig, 1_369_353_600 + 16 * 60),
            Err(Failure::RequestTimeTooSkewed)
        ));
        assert!(matches!(
            verify(&req, &sig, "wrong"),
            Err(Failure::SignatureDoesNotMatch { .. })
        ));
    }

    #[test]
    fn aws_presigned_example() {
        let uri = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
        let req = request("GET", uri, &[("host", "examplebucket.s3.amazonaws.com")]);
        let sig = parse_query(&req).unwrap();
        assert!(verify(&req, &sig, SECRET).is_ok());
        check_time(&sig, 1_369_353_600 + 86_000).unwrap();
        assert!(matches!(
            check_time(&sig, 1_369_353_600 + 86_401),
            Err(Failure::AccessDenied(_))
        ));
    }

    #[test]
    fn aws_streaming_seed_example() {
        let auth = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
        let req = request(
            "PUT",
            "/examplebucket/chunkObject.txt",
            &[
                ("host", "s3.amazonaws.com"),
                ("x-amz-date", "20130524T000000Z"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                ("authorization", auth),
                ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
                ("content-encoding", "aws-chunked"),
                ("x-amz-decoded-content-length", "66560"),
                ("content-length", "66824"),
            ],
        );
        let sig = parse_header(&req, auth.strip_prefix(ALGORITHM).unwrap()).unwrap();
        let Ok(Payload::StreamingSigned(mut seed)) = verify(&req, &sig, SECRET) else {
            panic!("streaming payload expected");
        };
        let chunk1 = super::super::sign::sha256_hex(&vec![b'a'; 65536]);
        assert_eq!(
            seed.next_chunk(&chunk1),
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
        );
        let chunk2 = super::super::sign::sha256_hex(&[b'a'; 1024]);
        assert_eq!(
            seed.next_chunk(&chunk2),
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
        );
        let last = super::super::sign::EMPTY_SHA256_HEX;
        assert_eq!(
            seed.next_chunk(last),
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
        );
    }
}
