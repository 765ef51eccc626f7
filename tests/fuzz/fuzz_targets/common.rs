//! What the HTTP targets share: building a request head, and spelling a parsed request's
//! path and query again in another (canonical) percent-encoding.

use ringstore_server::http::fuzz_api::{uri_encode, ApiRequest};

/// The head of a request, if `http` accepts these parts.
pub fn head(method: &str, target: &str, headers: &[(&str, &str)]) -> Option<http::request::Parts> {
    let mut b = http::Request::builder().method(method).uri(target);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).ok().map(|r| r.into_parts().0)
}

/// The same request with its decoded path and query encoded again, every reserved byte
/// escaped: a request the adapter must read as the same one. None for a request whose
/// target has no path.
pub fn reencoded(
    parts: &http::request::Parts,
    r: &ApiRequest,
) -> Option<(String, http::request::Parts)> {
    if !r.path.starts_with('/') {
        return None;
    }
    let mut target = uri_encode(&r.path, true);
    for (i, (k, v)) in r.query.iter().enumerate() {
        target.push(if i == 0 { '?' } else { '&' });
        target.push_str(&uri_encode(k, false));
        target.push('=');
        target.push_str(&uri_encode(v, false));
    }
    let Some(mut re) = head(parts.method.as_str(), &target, &[]) else {
        panic!("a re-encoded target {target} is not a valid URI");
    };
    re.headers = parts.headers.clone();
    Some((target, re))
}
