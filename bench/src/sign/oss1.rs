//! OSS signature V1:
//!
//! ```text
//! Authorization: OSS AK:base64(HMAC-SHA1(secret,
//!     VERB \n Content-MD5 \n Content-Type \n Date \n
//!     x-oss-name:value \n ...  (lowercase names, sorted)
//!     /bucket/key?sub&sub=value (raw key; only signed sub-resources, sorted)))
//! ```

use std::time::SystemTime;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::{canonical_headers, http_date, Signer, Unsigned};

/// The query parameters OSS V1 signs, of those ringbench sends (oss2's list is longer).
const SIGNED_SUBRESOURCES: [&str; 6] = [
    "append",
    "delete",
    "partNumber",
    "position",
    "uploadId",
    "uploads",
];

pub(super) fn sign(signer: &Signer, req: &mut Unsigned, now: SystemTime) {
    req.headers.push(("date".into(), http_date(now)));
    let mut mac = Hmac::<Sha1>::new_from_slice(signer.secret_access_key.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(string_to_sign(req).as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let authorization = format!("OSS {}:{signature}", signer.access_key_id);
    req.headers.push(("authorization".into(), authorization));
}

fn string_to_sign(req: &Unsigned) -> String {
    let oss_headers = canonical_headers(req, |n| n.starts_with("x-oss-"));
    let mut sub: Vec<String> = req
        .query
        .iter()
        .filter(|(n, _)| SIGNED_SUBRESOURCES.contains(&n.as_str()))
        .map(|(n, v)| match v {
            Some(v) if !v.is_empty() => format!("{n}={v}"),
            _ => n.clone(),
        })
        .collect();
    sub.sort();
    let mut resource = match req.bucket.is_empty() {
        true => "/".to_owned(),
        false => format!("/{}/{}", req.bucket, req.key),
    };
    if !sub.is_empty() {
        resource.push('?');
        resource.push_str(&sub.join("&"));
    }
    format!(
        "{}\n{}\n{}\n{}\n{oss_headers}{resource}",
        req.method,
        req.header("content-md5"),
        req.header("content-type"),
        req.header("date"),
    )
}

#[cfg(test)]
mod tests {
    use crate::sign::test_support::{authorization, oss_request, oss_signer};
    use crate::sign::Scheme;
    use std::time::{Duration, UNIX_EPOCH};

    /// The expected header was computed by oss2 2.19.1 (`oss2.Auth`) for the same request.
    #[test]
    fn matches_oss2() {
        let mut req = oss_request();
        let now = UNIX_EPOCH + Duration::from_secs(1_369_353_600);
        oss_signer(Scheme::Oss1).sign(&mut req, now);
        assert_eq!(authorization(&req), OSS2_AUTHORIZATION);
    }

    const OSS2_AUTHORIZATION: &str = "OSS AKIDEXAMPLE:WpIHllDH3mENvho0GNmezkiXmqk=";
}
