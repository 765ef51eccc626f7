//! The HTTP adapter's request head parsing as a request goes through it: method, request
//! target and Host (path-style and virtual-host addressing), the query, the router, the
//! Range header and the copy source. Never a panic; parsing is deterministic; an accepted
//! request's bucket and key are what its path says; re-encoding the decoded path and query
//! parses back to the same request; a Range resolves inside the object.
//!
//! Input: lines `METHOD`, `TARGET`, `HOST`, `RANGE`, `COPY-SOURCE`, then `name: value`
//! header lines.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use ringstore_engine::RangeSpec;
use ringstore_proto::RangeSpec as WireRange;
use ringstore_server::http::constants::URI_BYTES_MAX;
use ringstore_server::http::fuzz_api::{parse_range, parse_source, route, ApiRequest, Failure};

const DOMAINS: &[&str] = &["localhost", "s3.example.com"];

fn check_request(parts: &http::request::Parts, domains: &[String]) {
    let first = ApiRequest::parse(parts, domains);
    let again = ApiRequest::parse(parts, domains);
    let (r, r2) = match (first, again) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string());
            return;
        }
        _ => panic!("parse is not deterministic"),
    };
    assert_eq!(
        (&r.bucket, &r.key, &r.query),
        (&r2.bucket, &r2.key, &r2.query)
    );
    // The key checks the adapter promises.
    assert!(!r.key.contains('\0'));
    assert!(!r.key.split('/').any(|s| s == "." || s == ".."));
    assert!(r.key.len() <= ringstore_server::http::constants::KEY_BYTES_MAX);
    assert!(!r.bucket.contains('/'));
    if r.bucket.is_empty() {
        assert!(r.key.is_empty());
    }
    // Addressing: path style is `/bucket/key`, virtual-host style `/key`.
    let path_style = format!("/{}/{}", r.bucket, r.key);
    let vhost = format!("/{}", r.key);
    assert!(
        r.path == path_style
            || r.path == vhost
            || (r.key.is_empty() && r.path.trim_end_matches('/') == format!("/{}", r.bucket))
            || (r.bucket.is_empty() && r.path == "/")
            // A target without a path (authority form; hyper never passes one on).
            || (r.key.is_empty() && r.path.is_empty()),
        "{r:?}"
    );
    let routed = route(&r);
    assert_eq!(format!("{routed:?}"), format!("{:?}", route(&r2)));
    // The same request, path and query re-encoded, is the same request.
    // A target without a path (authority form) has no other spelling.
    let Some((target, re)) = common::reencoded(parts, &r) else {
        return;
    };
    match ApiRequest::parse(&re, domains) {
        Ok(back) => {
            assert_eq!(
                (&back.bucket, &back.key, &back.path),
                (&r.bucket, &r.key, &r.path)
            );
            assert_eq!(back.query, r.query);
        }
        // Only a longer target may be refused.
        Err(Failure::InvalidUri(_)) => assert!(target.len() > URI_BYTES_MAX),
        Err(e) => panic!("{target}: {e}"),
    }
}

fn check_range(value: &str, size: u64) {
    let Some(spec) = parse_range(value) else {
        return;
    };
    assert_eq!(parse_range(value), Some(spec));
    // The canonical spelling parses to the same spec.
    let (spelled, spec) = match spec {
        WireRange::FromTo(a, b) => {
            assert!(a <= b);
            (format!("bytes={a}-{b}"), RangeSpec::FromTo(a, b))
        }
        WireRange::From(a) => (format!("bytes={a}-"), RangeSpec::From(a)),
        WireRange::Suffix(n) => (format!("bytes=-{n}"), RangeSpec::Suffix(n)),
    };
    assert_eq!(parse_range(&spelled), parse_range(value), "{spelled}");
    if let Ok((start, len)) = spec.resolve(size) {
        // What the Content-Range header then says lies inside the object.
        let end = start.checked_add(len).expect("no overflow");
        assert!(len >= 1 && end <= size, "{spec:?} of {size}");
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let method = lines.next().unwrap_or("GET");
    let target = lines.next().unwrap_or("/");
    let host = lines.next().unwrap_or("");
    let range = lines.next().unwrap_or("");
    let source = lines.next().unwrap_or("");
    let mut headers: Vec<(&str, &str)> = vec![("host", host), ("range", range)];
    headers.extend(lines.filter_map(|l| l.split_once(": ")).take(32));
    let size = data
        .iter()
        .fold(0u64, |a, &b| a.wrapping_mul(31).wrapping_add(b.into()))
        % 4096;
    check_range(range, size);
    if let Ok((bucket, key)) = parse_source(source) {
        assert!(!bucket.is_empty() && !key.is_empty() && !bucket.contains('/'));
    }
    let domains: Vec<String> = DOMAINS.iter().map(|d| d.to_string()).collect();
    if let Some(parts) = common::head(method, target, &headers) {
        check_request(&parts, &domains);
    }
});
