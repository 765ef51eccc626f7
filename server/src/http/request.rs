//! A request as the handlers see it: its dialect, bucket, key (decoded), query parameters
//! (decoded) and headers, parsed once from the hyper request head.
//!
//! Addressing: path style (`/bucket/key`) always; virtual-host style (`bucket.DOMAIN`) when
//! the Host header is a subdomain of one of the configured domains.

use http::request::Parts;
use http::{HeaderMap, Method};

use super::constants::{HEADERS_BYTES_MAX, KEY_BYTES_MAX, URI_BYTES_MAX};
use super::error::Failure;

/// Which service's REST dialect a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Oss,
    S3,
}

impl Dialect {
    /// The dialect of a request: its signature scheme, else its header family, else its
    /// user agent; OSS when nothing tells (the object model is OSS's).
    pub fn detect(headers: &HeaderMap, query: &str) -> Dialect {
        let auth = header(headers, "authorization").unwrap_or("");
        if auth.starts_with("AWS4-HMAC-SHA256") || auth.starts_with("AWS ") {
            return Dialect::S3;
        }
        if auth.starts_with("OSS") {
            return Dialect::Oss;
        }
        if query.contains("X-Amz-") || query.contains("AWSAccessKeyId") {
            return Dialect::S3;
        }
        if query.contains("OSSAccessKeyId") || query.contains("x-oss-") {
            return Dialect::Oss;
        }
        let names = || headers.keys().map(|k| k.as_str());
        if names().any(|k| k.starts_with("x-oss-")) {
            return Dialect::Oss;
        }
        if names().any(|k| k.starts_with("x-amz-")) {
            return Dialect::S3;
        }
        let agent = header(headers, "user-agent")
            .unwrap_or("")
            .to_ascii_lowercase();
        if ["boto", "aws-", "s3cmd", "rclone", "minio"]
            .iter()
            .any(|a| agent.contains(a))
        {
            return Dialect::S3;
        }
        Dialect::Oss
    }

    /// The prefix of user metadata headers.
    pub fn meta_prefix(self) -> &'static str {
        match self {
            Dialect::Oss => "x-oss-meta-",
            Dialect::S3 => "x-amz-meta-",
        }
    }

    /// A dialect header: `x-oss-{suffix}` or `x-amz-{suffix}`.
    pub fn header(self, suffix: &str) -> String {
        match self {
            Dialect::Oss => format!("x-oss-{suffix}"),
            Dialect::S3 => format!("x-amz-{suffix}"),
        }
    }
}

/// The parsed request head.
#[derive(Debug)]
pub struct ApiRequest {
    pub method: Method,
    pub dialect: Dialect,
    /// Empty for the service (ListBuckets).
    pub bucket: String,
    /// Decoded; empty for bucket operations.
    pub key: String,
    /// The whole decoded path (`/bucket/key`, or `/key` with virtual hosting).
    pub path: String,
    /// The path as sent, still percent-encoded (S3 V2 signs it).
    pub raw_path: String,
    /// Whether the Host named the bucket (virtual-host addressing).
    pub virtual_host: bool,
    /// Decoded `(name, value)` pairs in request order; a bare `?acl` has value "".
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
}

impl ApiRequest {
    /// Parses the head; `domains` are the virtual-host base domains.
    pub fn parse(parts: &Parts, domains: &[String]) -> Result<ApiRequest, Failure> {
        let raw_query = parts.uri.query().unwrap_or("").to_owned();
        let dialect = Dialect::detect(&parts.headers, &raw_query);
        let path_and_query = parts.uri.path_and_query().map_or("", |p| p.as_str());
        if path_and_query.len() > URI_BYTES_MAX {
            return Err(Failure::InvalidUri(format!(
                "the request URI is longer than {URI_BYTES_MAX} bytes"
            )));
        }
        let header_bytes: usize = parts
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum();
        if header_bytes > HEADERS_BYTES_MAX {
            return Err(Failure::HeadersTooLarge);
        }
        let path = decode(parts.uri.path())?;
        if !path.is_empty() && !path.starts_with('/') {
            // The asterisk form (`OPTIONS *`) names no resource.
            return Err(Failure::InvalidUri(
                "the request target is not a path".into(),
            ));
        }
        let query = parse_query(&raw_query)?;
        let host = header(&parts.headers, "host").unwrap_or("");
        let by_host = host_bucket(host, domains);
        let virtual_host = by_host.is_some();
        let (bucket, key) = match by_host {
            Some(bucket) => (bucket, path.strip_prefix('/').unwrap_or(&path).to_owned()),
            None => {
                let rest = path.strip_prefix('/').unwrap_or(&path);
                match rest.split_once('/') {
                    Some((b, k)) => (b.to_owned(), k.to_owned()),
                    None => (rest.to_owned(), String::new()),
                }
            }
        };
        if bucket.is_empty() && !key.is_empty() {
            // `//k`: a key without a bucket would otherwise reach the service operations.
            return Err(Failure::InvalidUri(
                "the request path names an object without a bucket".into(),
            ));
        }
        check_key(&key)?;
        Ok(ApiRequest {
            method: parts.method.clone(),
            dialect,
            bucket,
            key,
            path,
            raw_path: parts.uri.path().to_owned(),
            virtual_host,
            query,
            headers: parts.headers.clone(),
        })
    }

    /// A header's value, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The dialect's `x-oss-{suffix}` / `x-amz-{suffix}` header.
    pub fn dialect_header(&self, suffix: &str) -> Option<&str> {
        self.header(&self.dialect.header(suffix))
    }

    /// A query parameter's decoded value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has_param(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }
}

/// A header's value as text (None if absent or not visible ASCII / UTF-8).
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let value = headers.get(name)?;
    std::str::from_utf8(value.as_bytes()).ok()
}

/// The bucket of a virtual-host-style Host header (`bucket.domain[:port]`).
fn host_bucket(host: &str, domains: &[String]) -> Option<String> {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.to_ascii_lowercase();
    domains.iter().find_map(|domain| {
        let bucket = name.strip_suffix(domain.as_str())?.strip_suffix('.')?;
        // Only a bucket name's characters: any other Host is not virtual-host addressing.
        let name_like = bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        (!bucket.is_empty() && name_like).then(|| bucket.to_owned())
    })
}

/// Percent-decodes a path or query component; a `%` not followed by two hex digits, or
/// bytes that are not UTF-8, are `InvalidURI`.
pub fn decode(text: &str) -> Result<String, Failure> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            let value = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(value) =
                value.filter(|_| hex.is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())))
            else {
                return Err(Failure::InvalidUri(format!(
                    "bad percent-encoding at byte {i} of the request URI"
                )));
            };
            out.push(value);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| Failure::InvalidUri("the request URI does not decode to UTF-8".into()))
}

/// Query components are form-encoded: `+` is a space (oss2 writes spaces so; the S3 SDKs
/// write `%20` and send a literal plus as `%2B`, so reading `+` as a space is right for all).
fn parse_query(raw: &str) -> Result<Vec<(String, String)>, Failure> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(&k.replace('+', " "))?, decode(&v.replace('+', " "))?))
        })
        .collect()
}

/// Keys the store refuses before any work: too long, or with a `.` / `..` path segment
/// (which path-normalizing clients and proxies would rewrite into another key).
fn check_key(key: &str) -> Result<(), Failure> {
    if key.len() > KEY_BYTES_MAX {
        return Err(Failure::KeyTooLong);
    }
    if key.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(Failure::InvalidObjectName(
            "object names may not contain '.' or '..' path segments".into(),
        ));
    }
    if key.contains('\0') {
        return Err(Failure::InvalidObjectName(
            "object names may not contain NUL".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, host: &str) -> Parts {
        let (parts, ()) = http::Request::builder()
            .uri(uri)
            .header("host", host)
            .body(())
            .unwrap()
            .into_parts();
        parts
    }

    #[test]
    fn path_and_virtual_host_addressing() {
        let domains = vec!["localhost".to_owned()];
        let r = ApiRequest::parse(
            &parts("/bkt/dir%2Fa.txt?acl&x=%20", "127.0.0.1:9000"),
            &domains,
        )
        .unwrap();
        assert_eq!((r.bucket.as_str(), r.key.as_str()), ("bkt", "dir/a.txt"));
        assert!(r.has_param("acl") && r.param("x") == Some(" "));
        let r = ApiRequest::parse(&parts("/b/k?a=x+y%2Bz", "h"), &domains).unwrap();
        assert_eq!(r.param("a"), Some("x y+z"));
        let r = ApiRequest::parse(&parts("/dir/a.txt", "bkt.localhost:9000"), &domains).unwrap();
        assert_eq!(
            (r.bucket.as_str(), r.key.as_str(), r.path.as_str()),
            ("bkt", "dir/a.txt", "/dir/a.txt")
        );
        let r = ApiRequest::parse(&parts("/b/k", "/x=&.localhost"), &domains).unwrap();
        assert_eq!((r.bucket.as_str(), r.key.as_str()), ("b", "k"));
        let r = ApiRequest::parse(&parts("/", "127.0.0.1"), &domains).unwrap();
        assert_eq!((r.bucket.as_str(), r.key.as_str()), ("", ""));
    }

    #[test]
    fn bad_uris_are_refused() {
        let domains = vec![];
        for uri in [
            "/b/%zz",
            "/b/%4",
            "/b/%ff%fe",
            "/b/a/../c",
            "/b/./x",
            "/b/k?a=%g1",
            "//a/b",
            "*",
        ] {
            assert!(
                ApiRequest::parse(&parts(uri, "h"), &domains).is_err(),
                "{uri}"
            );
        }
        let long = format!("/b/{}", "k".repeat(KEY_BYTES_MAX + 1));
        assert!(matches!(
            ApiRequest::parse(&parts(&long, "h"), &domains),
            Err(Failure::KeyTooLong)
        ));
    }
}
