//! The few XML answers ringbench reads (LIST pages, multipart upload ids, error documents):
//! their elements are flat text, so a scan for `<Tag>text</Tag>` is enough and keeps a
//! parser off the measured path.

/// The unescaped text of every `<tag>…</tag>` in `xml`, in order.
pub fn values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        rest = &rest[start + open.len()..];
        let Some(end) = rest.find(&close) else { break };
        out.push(unescape(&rest[..end]));
        rest = &rest[end + close.len()..];
    }
    out
}

/// The text of the first `<tag>…</tag>`.
pub fn first(xml: &str, tag: &str) -> Option<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(unescape(&xml[start..end]))
}

/// Replaces the five predefined entities and numeric character references.
pub fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';') else { break };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for an element body.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_list_pages_and_errors() {
        let page = "<ListBucketResult><IsTruncated>true</IsTruncated>\
            <Contents><Key>a&amp;b</Key><ETag>&quot;x&quot;</ETag></Contents>\
            <Contents><Key>c&#x2F;d</Key></Contents>\
            <NextContinuationToken>tok</NextContinuationToken></ListBucketResult>";
        assert_eq!(values(page, "Key"), ["a&b", "c/d"]);
        assert_eq!(first(page, "ETag").as_deref(), Some("\"x\""));
        assert_eq!(first(page, "NextContinuationToken").as_deref(), Some("tok"));
        assert_eq!(first(page, "Marker"), None);
        assert_eq!(unescape("1 &bogus; 2 &"), "1 &bogus; 2 &");
        assert_eq!(escape("\"a<b>&\""), "&quot;a&lt;b&gt;&amp;&quot;");
    }
}
