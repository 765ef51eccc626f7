//! The signature canonicalizers of the HTTP adapter (S3 SigV4, OSS V1, S3 V2, OSS V4) over
//! arbitrary methods, paths, queries and headers, and their Authorization / presigned
//! parsers over arbitrary text. Never a panic; the string to sign is deterministic and
//! the same for every percent-encoding of the same request; a signature computed over it
//! with the secret verifies, and with another secret never does.
//!
//! Input: lines `METHOD`, `TARGET`, `AUTHORIZATION`, then `name: value` header lines.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use ringstore_server::http::fuzz_api::{oss_v1, oss_v4, sigv4, ApiRequest, Failure};

const SECRET: &str = "fuzz-secret-0123456789";
/// 2026-12-01T18:56:04Z, the time the signatures below claim.
const NOW_SECS: u64 = 1_796_151_364;

/// Arbitrary Authorization values and presigned queries: parsed, checked, verified.
fn parsers(req: &ApiRequest, auth: &str) {
    for flavor in [oss_v1::Flavor::Oss, oss_v1::Flavor::S3V2] {
        if let Ok(sig) = oss_v1::parse_header(auth, flavor) {
            let _ = oss_v1::check_time(req, &sig, NOW_SECS);
            assert!(oss_v1::verify(req, &sig, SECRET).is_err(), "forged: {auth}");
        }
        if let Ok(sig) = oss_v1::parse_query(req, flavor) {
            let _ = oss_v1::check_time(req, &sig, NOW_SECS);
            assert!(
                oss_v1::verify(req, &sig, SECRET).is_err(),
                "forged presigned URL"
            );
        }
    }
    let fields = auth.split_once(' ').map_or(auth, |(_, f)| f);
    for sig in [sigv4::parse_header(req, fields), sigv4::parse_query(req)]
        .into_iter()
        .flatten()
    {
        let _ = sigv4::check_time(&sig, NOW_SECS);
        assert!(sigv4::verify(req, &sig, SECRET).is_err(), "forged: {auth}");
    }
    for sig in [oss_v4::parse_header(req, fields), oss_v4::parse_query(req)]
        .into_iter()
        .flatten()
    {
        let _ = oss_v4::check_time(&sig, NOW_SECS);
        assert!(oss_v4::verify(req, &sig, SECRET).is_err(), "forged: {auth}");
    }
}

fn signed_names(req: &ApiRequest) -> Vec<String> {
    let mut names: Vec<String> = req.headers.keys().map(|k| k.as_str().to_owned()).collect();
    names.push("host".into());
    names.sort();
    names.dedup();
    names
}

/// SigV4 over `req` and its re-encoded twin `twin`, header-signed and presigned.
fn sigv4_round(req: &ApiRequest, twin: &ApiRequest) {
    for expires_secs in [None, Some(3600)] {
        let mut sig = sigv4::SigV4 {
            access_key_id: "AK".into(),
            date: "20261201".into(),
            region: "us-east-1".into(),
            service: "s3".into(),
            signed_headers: signed_names(req),
            signature: String::new(),
            datetime: "20261201T185604Z".into(),
            expires_secs,
        };
        let Ok((claimed, _)) = sigv4::payload(req, &sig) else {
            continue;
        };
        let canonical = sigv4::canonical_request(req, &sig, &claimed);
        assert_eq!(canonical, sigv4::canonical_request(req, &sig, &claimed));
        assert_eq!(canonical, sigv4::canonical_request(twin, &sig, &claimed));
        let to_sign = sigv4::string_to_sign(&sig, &canonical);
        let key = sigv4::signing_key(SECRET, &sig);
        sig.signature = hex::encode(hmac_sha256(&key, to_sign.as_bytes()));
        for r in [req, twin] {
            match sigv4::verify(r, &sig, SECRET) {
                Ok(_) => {}
                Err(Failure::SignatureDoesNotMatch { .. }) => panic!("{canonical}"),
                // A bad x-amz-content-sha256 value is refused after the signature.
                Err(Failure::InvalidArgument(_)) => {}
                Err(e) => panic!("{e}"),
            }
            assert!(sigv4::verify(r, &sig, "another-secret").is_err());
        }
        sigv4::check_time(&sig, NOW_SECS).expect("a signature of now is current");
    }
}

fn oss_v1_round(req: &ApiRequest, twin: &ApiRequest) {
    for flavor in [oss_v1::Flavor::Oss, oss_v1::Flavor::S3V2] {
        for expires_secs in [None, Some(NOW_SECS + 60)] {
            let mut sig = oss_v1::OssV1 {
                flavor,
                access_key_id: "AK".into(),
                signature: String::new(),
                expires_secs,
            };
            let to_sign = oss_v1::string_to_sign(req, &sig);
            assert_eq!(to_sign, oss_v1::string_to_sign(req, &sig));
            sig.signature = oss_v1::sign(SECRET, &to_sign);
            oss_v1::verify(req, &sig, SECRET).expect("signed with the secret");
            assert!(oss_v1::verify(req, &sig, "another-secret").is_err());
            // S3 V2 signs the path as sent, so only OSS V1 is the same for every encoding.
            if flavor == oss_v1::Flavor::Oss {
                assert_eq!(to_sign, oss_v1::string_to_sign(twin, &sig));
            }
        }
    }
}

fn oss_v4_round(req: &ApiRequest, twin: &ApiRequest) {
    for expires_secs in [None, Some(3600)] {
        let mut sig = oss_v4::OssV4 {
            access_key_id: "AK".into(),
            date: "20261201".into(),
            region: "cn-hangzhou".into(),
            product: "oss".into(),
            additional_headers: signed_names(req)
                .into_iter()
                .filter(|n| !n.starts_with("x-oss-"))
                .collect(),
            signature: String::new(),
            datetime: "20261201T185604Z".into(),
            expires_secs,
        };
        let canonical = oss_v4::canonical_request(req, &sig);
        assert_eq!(canonical, oss_v4::canonical_request(twin, &sig));
        let to_sign = oss_v4::string_to_sign(&sig, &canonical);
        sig.signature = oss_v4::signature(SECRET, &sig, &to_sign);
        for r in [req, twin] {
            match oss_v4::verify(r, &sig, SECRET) {
                Ok(_) | Err(Failure::InvalidArgument(_)) => {}
                Err(e) => panic!("{e}: {canonical}"),
            }
            assert!(oss_v4::verify(r, &sig, "another-secret").is_err());
        }
        oss_v4::check_time(&sig, NOW_SECS).expect("a signature of now is current");
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let method = lines.next().unwrap_or("GET");
    let target = lines.next().unwrap_or("/");
    let auth = lines.next().unwrap_or("");
    let mut headers: Vec<(&str, &str)> = vec![("host", "127.0.0.1:9000")];
    headers.extend(lines.filter_map(|l| l.split_once(": ")).take(32));
    let Some(parts) = common::head(method, target, &headers) else {
        return;
    };
    let Ok(req) = ApiRequest::parse(&parts, &[]) else {
        return;
    };
    parsers(&req, auth);
    let Some((_, twin_parts)) = common::reencoded(&parts, &req) else {
        return;
    };
    let Ok(twin) = ApiRequest::parse(&twin_parts, &[]) else {
        return;
    };
    sigv4_round(&req, &twin);
    oss_v1_round(&req, &twin);
    oss_v4_round(&req, &twin);
});
