//! XML in both directions: a small writer for response documents, and a bounded parser
//! that turns a request body (CreateBucketConfiguration, Delete, AccessControlPolicy) into
//! an element tree.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::error::Failure;

/// Nesting deeper than this is refused: no request document the adapter reads has more.
const XML_DEPTH_MAX: usize = 16;
/// Elements in one request document (a Delete of 1000 keys has about 2000).
const XML_ELEMENTS_MAX: usize = 8192;

/// Builds a document with the XML declaration the services send.
pub struct XmlWriter {
    out: String,
}

impl Default for XmlWriter {
    fn default() -> Self {
        XmlWriter::new()
    }
}

impl XmlWriter {
    pub fn new() -> XmlWriter {
        XmlWriter {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        }
    }

    /// `<name>`.
    pub fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name attrs>`; `attrs` is written as is (static attributes only).
    pub fn open_with(&mut self, name: &str, attrs: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push(' ');
        self.out.push_str(attrs);
        self.out.push('>');
    }

    pub fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name>escaped text</name>`.
    pub fn elem(&mut self, name: &str, text: &str) {
        self.open(name);
        escape_into(&mut self.out, text);
        self.close(name);
    }

    /// Escaped text inside the open element.
    pub fn elem_text(&mut self, text: &str) {
        escape_into(&mut self.out, text);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0 text: write them as references
            // a parser reading XML 1.1 rules accepts, so keys survive a listing.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                out.push_str(&format!("&#x{:X};", c as u32));
            }
            c => out.push(c),
        }
    }
}

/// One element of a parsed request document.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Element {
    /// The local name (a namespace prefix is dropped).
    pub name: String,
    /// The concatenated text directly inside the element.
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the descendant at `path` (`"Object/Key"`).
    pub fn text_at(&self, path: &str) -> Option<&str> {
        let mut node = self;
        for part in path.split('/') {
            node = node.child(part)?;
        }
        Some(&node.text)
    }
}

/// Parses a whole request document into its root element.
pub fn parse(body: &[u8]) -> Result<Element, Failure> {
    let bad = |what: String| {
        Failure::MalformedXml(format!("The XML you provided was not well-formed: {what}"))
    };
    let text = std::str::from_utf8(body).map_err(|_| bad("not UTF-8".into()))?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    let mut elements = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| bad(e.to_string()))?;
        match event {
            Event::Start(start) => {
                elements += 1;
                if stack.len() >= XML_DEPTH_MAX || elements > XML_ELEMENTS_MAX || root.is_some() {
                    return Err(bad("too deep, too large, or a second root".into()));
                }
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                stack.push(Element {
                    name,
                    ..Element::default()
                });
            }
            Event::Empty(start) => {
                elements += 1;
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                let element = Element {
                    name,
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None if root.is_none() => root = Some(element),
                    None => return Err(bad("a second root".into())),
                }
            }
            Event::End(end) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| bad("unbalanced end tag".into()))?;
                if end.local_name().as_ref() != element.name.as_bytes() {
                    return Err(bad(format!("end tag does not match <{}>", element.name)));
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(t) => {
                let t = t.unescape().map_err(|e| bad(e.to_string()))?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&t),
                    None if t.trim().is_empty() => {}
                    None => return Err(bad("text outside the root element".into())),
                }
            }
            Event::CData(t) => {
                let t = String::from_utf8_lossy(&t).into_owned();
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(bad("the document ended inside an element".into()));
    }
    root.ok_or_else(|| bad("no root element".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_escaped_and_parses_back() {
        let mut w = XmlWriter::new();
        w.open("Delete");
        w.elem("Quiet", "true");
        w.open("Object");
        w.elem("Key", "a<b>&\"c'");
        w.close("Object");
        w.close("Delete");
        let doc = w.finish();
        let root = parse(doc.as_bytes()).unwrap();
        assert_eq!(root.name, "Delete");
        assert_eq!(root.text_at("Quiet"), Some("true"));
        assert_eq!(root.text_at("Object/Key"), Some("a<b>&\"c'"));
    }

    #[test]
    fn malformed_documents_are_refused() {
        for doc in [
            &b"<Delete><Object></Delete>"[..],
            b"<a></a><b></b>",
            b"",
            b"<a>",
            b"\xff\xfe",
            b"text",
        ] {
            assert!(
                matches!(parse(doc), Err(Failure::MalformedXml(_))),
                "{doc:?}"
            );
        }
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert!(parse(deep.as_bytes()).is_err());
        let ns = br#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu</LocationConstraint></CreateBucketConfiguration>"#;
        assert_eq!(parse(ns).unwrap().text_at("LocationConstraint"), Some("eu"));
    }
}
