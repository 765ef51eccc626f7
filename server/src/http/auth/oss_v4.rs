//! OSS signature V4: `Authorization: OSS4-HMAC-SHA256 Credential=AK/DATE/REGION/oss/
//! aliyun_v4_request, AdditionalHeaders=a;b, Signature=hex` (oss2 separates the fields
//! with `, `, alibabacloud-oss-v2 with `,`: both are accepted), with `x-oss-date` and
//! `x-oss-content-sha256`. Presigned URLs carry the same fields as `x-oss-*` parameters.
//!
//! Canonical request: `VERB\n` + `/bucket/key` (decoded, then encoded with `/` kept) +
//! `\n` + every query parameter encoded and sorted (`k=v`, or `k` when empty) + `\n` +
//! the signed headers (`x-oss-*`, `content-type`, `content-md5` and the additional ones)
//! as `name:value\n` + `\n` + the additional header names + `\n` + the payload hash.

use super::sign::{derive_key, hmac_sha256, same, sha256_hex, uri_encode};
use super::sigv4::parse_credential;
use super::Payload;
use crate::http::constants::{CLOCK_SKEW_SECS_MAX, PRESIGN_EXPIRES_SECS_MAX};
use crate::http::error::Failure;
use crate::http::request::ApiRequest;
use crate::http::time::parse_compact;

pub const ALGORITHM: &str = "OSS4-HMAC-SHA256";
const TERMINATOR: &str = "aliyun_v4_request";

#[derive(Debug, Clone)]
pub struct OssV4 {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub product: String,
    pub additional_headers: Vec<String>,
    pub signature: String,
    pub datetime: String,
    pub expires_secs: Option<u64>,
}

impl OssV4 {
    fn scope(&self) -> String {
        format!(
            "{}/{}/{}/{TERMINATOR}",
            self.date, self.region, self.product
        )
    }
}

fn malformed(what: &str) -> Failure {
    Failure::AuthorizationMalformed(format!("Authorization header is invalid: {what}"))
}

fn header_list(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .split(';')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    names.sort();
    names
}

/// Parses the header value after `OSS4-HMAC-SHA256`.
pub fn parse_header(req: &ApiRequest, fields: &str) -> Result<OssV4, Failure> {
    let (mut credential, mut additional, mut signature) = (None, "", None);
    for part in fields.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("AdditionalHeaders", v)) => additional = v,
            Some(("Signature", v)) => signature = Some(v),
            _ if part.trim().is_empty() => {}
            _ => return Err(malformed("an unknown field")),
        }
    }
    let (Some(credential), Some(signature)) = (credential, signature) else {
        return Err(malformed("Credential and Signature are required"));
    };
    let (access_key_id, date, region, product) = parse_credential(credential, TERMINATOR)?;
    let datetime = req
        .header("x-oss-date")
        .ok_or_else(|| Failure::AccessDenied("OSS V4 requires x-oss-date".into()))?;
    Ok(OssV4 {
        access_key_id,
        date,
        region,
        product,
        additional_headers: header_list(additional),
        signature: signature.to_owned(),
        datetime: datetime.to_owned(),
        expires_secs: None,
    })
}

pub fn parse_query(req: &ApiRequest) -> Result<OssV4, Failure> {
    let need = |name: &str| {
        req.param(name)
            .ok_or_else(|| Failure::AccessDenied(format!("presigned URL without {name}")))
    };
    let (access_key_id, date, region, product) =
        parse_credential(need("x-oss-credential")?, TERMINATOR)?;
    let expires: u64 = need("x-oss-expires")?
        .parse()
        .map_err(|_| Failure::InvalidArgument("x-oss-expires must be a number".into()))?;
    if expires > PRESIGN_EXPIRES_SECS_MAX {
        return Err(Failure::InvalidArgument(
            "x-oss-expires is over 7 days".into(),
        ));
    }
    Ok(OssV4 {
        access_key_id,
        date,
        region,
        product,
        additional_headers: header_list(req.param("x-oss-additional-headers").unwrap_or("")),
        signature: need("x-oss-signature")?.to_owned(),
        datetime: need("x-oss-date")?.to_owned(),
        expires_secs: Some(expires),
    })
}

pub fn check_time(sig: &OssV4, now_secs: u64) -> Result<(), Failure> {
    let at = parse_compact(&sig.datetime)
        .ok_or_else(|| Failure::AccessDenied("x-oss-date is not YYYYMMDDTHHMMSSZ".into()))?;
    if !sig.datetime.starts_with(&sig.date) {
        return Err(malformed("the Credential date does not match x-oss-date"));
    }
    match sig.expires_secs {
        Some(expires) if now_secs > at + expires => {
            Err(Failure::AccessDenied("Request has expired.".into()))
        }
        Some(_) => Ok(()),
        None if at.abs_diff(now_secs) > CLOCK_SKEW_SECS_MAX => Err(Failure::RequestTimeTooSkewed),
        None => Ok(()),
    }
}

pub fn canonical_request(req: &ApiRequest, sig: &OssV4) -> String {
    let uri = if req.bucket.is_empty() {
        "/".to_owned()
    } else {
        format!("/{}/{}", req.bucket, req.key)
    };
    let mut query: Vec<(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| !(sig.expires_secs.is_some() && k == "x-oss-signature"))
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    query.sort();
    let query: Vec<String> = query
        .into_iter()
        .map(|(k, v)| if v.is_empty() { k } else { format!("{k}={v}") })
        .collect();
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .filter(|(k, _)| {
            k.starts_with("x-oss-")
                || *k == "content-type"
                || *k == "content-md5"
                || sig.additional_headers.iter().any(|h| h == k)
        })
        .map(|(k, v)| {
            (
                k.to_owned(),
                String::from_utf8_lossy(v.as_bytes()).trim().to_owned(),
            )
        })
        .collect();
    headers.sort();
    let headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let payload = match sig.expires_secs {
        Some(_) => "UNSIGNED-PAYLOAD",
        None => req
            .header("x-oss-content-sha256")
            .unwrap_or("UNSIGNED-PAYLOAD"),
    };
    format!(
        "{}\n{}\n{}\n{headers}\n{}\n{payload}",
        req.method.as_str(),
        uri_encode(&uri, true),
        query.join("&"),
        sig.additional_headers.join(";"),
    )
}

pub fn string_to_sign(sig: &OssV4, canonical: &str) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        sig.datetime,
        sig.scope(),
        sha256_hex(canonical.as_bytes())
    )
}

pub fn signature(secret: &str, sig: &OssV4, to_sign: &str) -> String {
    let key = derive_key(
        "aliyun_v4",
        secret,
        &sig.date,
        &sig.region,
        &sig.product,
        TERMINATOR,
    );
    hex::encode(hmac_sha256(&key, to_sign.as_bytes()))
}

pub fn verify(req: &ApiRequest, sig: &OssV4, secret: &str) -> Result<Payload, Failure> {
    let canonical = canonical_request(req, sig);
    let to_sign = string_to_sign(sig, &canonical);
    if !same(&signature(secret, sig, &to_sign), &sig.signature) {
        tracing::debug!(%canonical, "OSS V4 mismatch");
        return Err(Failure::SignatureDoesNotMatch {
            string_to_sign: to_sign,
        });
    }
    let claimed = req
        .header("x-oss-content-sha256")
        .unwrap_or("UNSIGNED-PAYLOAD");
    Ok(match claimed {
        "UNSIGNED-PAYLOAD" => Payload::Unchecked,
        hash => {
            let mut digest = [0u8; 32];
            hex::decode_to_slice(hash, &mut digest).map_err(|_| {
                Failure::InvalidArgument(
                    "x-oss-content-sha256 must be UNSIGNED-PAYLOAD or a sha256".into(),
                )
            })?;
            Payload::Sha256(digest)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::auth::tests::request;

    fn signed_request(separator: &str, path: &str) -> (ApiRequest, OssV4) {
        let date = "20261201T185604Z";
        let base = request(
            "PUT",
            path,
            &[
                ("host", "127.0.0.1:9000"),
                ("x-oss-date", date),
                ("x-oss-content-sha256", "UNSIGNED-PAYLOAD"),
                ("content-type", "text/plain"),
                ("x-oss-meta-a", "1"),
            ],
        );
        let mut sig = OssV4 {
            access_key_id: "AK".into(),
            date: "20261201".into(),
            region: "cn-hangzhou".into(),
            product: "oss".into(),
            additional_headers: vec!["host".into()],
            signature: String::new(),
            datetime: date.into(),
            expires_secs: None,
        };
        sig.signature = signature(
            "secret",
            &sig,
            &string_to_sign(&sig, &canonical_request(&base, &sig)),
        );
        let auth = format!(
            "OSS4-HMAC-SHA256 Credential=AK/20261201/cn-hangzhou/oss/aliyun_v4_request{separator}\
             AdditionalHeaders=host{separator}Signature={}",
            sig.signature
        );
        let mut req = base;
        req.headers.insert("authorization", auth.parse().unwrap());
        (req, sig)
    }

    #[test]
    fn canonical_request_per_the_algorithm() {
        let (req, sig) = signed_request(",", "/bkt/dir/a%20b.txt?acl&max-keys=10&prefix=a%2Fb");
        assert_eq!(
            canonical_request(&req, &sig),
            "PUT\n/bkt/dir/a%20b.txt\nacl&max-keys=10&prefix=a%2Fb\n\
             content-type:text/plain\nhost:127.0.0.1:9000\n\
             x-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20261201T185604Z\n\
             x-oss-meta-a:1\n\nhost\nUNSIGNED-PAYLOAD"
        );
    }

    #[test]
    fn both_separators_and_both_key_encodings_verify() {
        for (sep, path) in [(", ", "/bkt/dir%2Fa.txt"), (",", "/bkt/dir/a.txt")] {
            let (req, expected) = signed_request(sep, path);
            let value = req.header("authorization").unwrap().to_owned();
            let sig = parse_header(&req, value.strip_prefix(ALGORITHM).unwrap()).unwrap();
            assert_eq!(sig.signature, expected.signature);
            verify(&req, &sig, "secret").unwrap();
            assert!(verify(&req, &sig, "wrong").is_err());
            check_time(&sig, 1_796_151_364).unwrap();
            assert!(check_time(&sig, 1_796_151_364 + 901).is_err());
        }
        // The encodings of the key sign the same.
        let (_, a) = signed_request(",", "/bkt/dir%2Fa.txt");
        let (_, b) = signed_request(",", "/bkt/dir/a.txt");
        assert_eq!(a.signature, b.signature);
    }

    #[test]
    fn presigned_urls_sign_every_parameter_but_the_signature() {
        let uri = |sig: &str| {
            format!(
                "/bkt/k?x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-credential=\
                 AK%2F20261201%2Fcn-hangzhou%2Foss%2Faliyun_v4_request&x-oss-date=\
                 20261201T185604Z&x-oss-expires=60&x-oss-signature={sig}"
            )
        };
        let probe = request("GET", &uri("x"), &[("host", "h")]);
        let sig = parse_query(&probe).unwrap();
        let canonical = canonical_request(&probe, &sig);
        assert!(!canonical.contains("x-oss-signature="), "{canonical}");
        assert!(canonical.ends_with("\nUNSIGNED-PAYLOAD"));
        let good = signature("secret", &sig, &string_to_sign(&sig, &canonical));
        let req = request("GET", &uri(&good), &[("host", "h")]);
        let sig = parse_query(&req).unwrap();
        verify(&req, &sig, "secret").unwrap();
        check_time(&sig, 1_796_151_364 + 59).unwrap();
        assert!(matches!(
            check_time(&sig, 1_796_151_364 + 61),
            Err(Failure::AccessDenied(_))
        ));
    }
}
