//! AWS Signature Version 4 for S3, with `x-amz-content-sha256: UNSIGNED-PAYLOAD`.
//!
//! ```text
//! canonical request = METHOD \n /encoded/path \n sorted encoded query (name=value, bare
//!                     names as name=) \n lowercase-name:trimmed-value \n ... \n
//!                     signed;header;names \n UNSIGNED-PAYLOAD
//! string to sign    = AWS4-HMAC-SHA256 \n 20130524T000000Z \n
//!                     20130524/REGION/s3/aws4_request \n hex(sha256(canonical request))
//! signing key       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), "s3"),
//!                     "aws4_request")
//! ```

use std::time::SystemTime;

use super::{
    amz_date, canonical_headers, encode_path, sha256_hex, sorted_encoded_query, v4_signature,
    Signer, Unsigned, UNSIGNED_PAYLOAD,
};

pub(super) fn sign(signer: &Signer, req: &mut Unsigned, now: SystemTime) {
    let date_time = amz_date(now);
    let host = req.host.clone();
    req.headers.push(("host".into(), host));
    req.headers
        .push(("x-amz-content-sha256".into(), UNSIGNED_PAYLOAD.into()));
    req.headers.push(("x-amz-date".into(), date_time.clone()));
    let signature = signature(signer, req, &date_time);
    let scope = scope(signer, &date_time);
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
        signer.access_key_id,
        signed_headers(req).join(";")
    );
    req.headers.retain(|(n, _)| n != "host"); // hyper sends Host itself.
    req.headers.push(("authorization".into(), authorization));
}

fn scope(signer: &Signer, date_time: &str) -> String {
    format!("{}/{}/s3/aws4_request", &date_time[..8], signer.region)
}

/// Every header is signed (the request carries only what the signature covers).
fn signed_headers(req: &Unsigned) -> Vec<String> {
    let mut names: Vec<String> = req.headers.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    names.dedup();
    names
}

fn canonical_request(req: &Unsigned) -> String {
    let query: Vec<String> = sorted_encoded_query(req)
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    let headers = canonical_headers(req, |_| true);
    format!(
        "{}\n{}\n{}\n{headers}\n{}\n{UNSIGNED_PAYLOAD}",
        req.method,
        encode_path(&req.bucket, &req.key),
        query.join("&"),
        signed_headers(req).join(";")
    )
}

fn signature(signer: &Signer, req: &Unsigned, date_time: &str) -> String {
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{date_time}\n{}\n{}",
        scope(signer, date_time),
        sha256_hex(canonical_request(req).as_bytes())
    );
    v4_signature(
        &format!("AWS4{}", signer.secret_access_key),
        date_time,
        [signer.region.as_str(), "s3", "aws4_request"],
        &string_to_sign,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::test_support::authorization;
    use crate::sign::Scheme;
    use std::time::{Duration, UNIX_EPOCH};

    /// The vector "GET Object" of the AWS S3 SigV4 documentation, with the payload hash
    /// swapped for UNSIGNED-PAYLOAD; the expected signature was computed with botocore.
    #[test]
    fn matches_botocore() {
        let signer = Signer {
            scheme: Scheme::S3v4,
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
        };
        let mut req = Unsigned {
            method: "GET",
            host: "127.0.0.1:9000".into(),
            bucket: "examplebucket".into(),
            key: "dir/test file.txt".into(),
            query: vec![
                ("uploads".into(), None),
                ("max-keys".into(), Some("10".into())),
            ],
            headers: vec![("range".into(), "bytes=0-9".into())],
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_369_353_600);
        signer.sign(&mut req, now);
        assert_eq!(authorization(&req), BOTOCORE_AUTHORIZATION);
        assert_eq!(
            req.path_and_query(),
            "/examplebucket/dir/test%20file.txt?uploads&max-keys=10"
        );
    }

    const BOTOCORE_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 \
        Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
        SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
        Signature=63a239c3eb8eda37b5ea3ace378aab1ad8be78fe705acaede0c735ab9aa54520";
}
