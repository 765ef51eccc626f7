//! Every XML request document the HTTP adapter reads: the bounded parser, and what the
//! operations make of its tree (CreateBucketConfiguration, Delete, AccessControlPolicy).
//! Never a panic; a parsed tree written back parses to the same tree; a Delete names 1 to
//! `DELETE_KEYS_MAX` keys, each a Key of the document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringstore_server::http::constants::DELETE_KEYS_MAX;
use ringstore_server::http::fuzz_api::{
    acl_of_policy, create_configuration, delete_document, parse_xml, Element, XmlWriter,
};

fn write(w: &mut XmlWriter, e: &Element) {
    w.open(&e.name);
    w.elem_text(&e.text);
    for c in &e.children {
        write(w, c);
    }
    w.close(&e.name);
}

/// Whether the tree can be written back as is: no NUL (no XML can carry one: the parser
/// lets a raw one through, a reference to it is refused; keys may not contain NUL), and
/// names of name characters only (the parser is lenient there, and the operations only
/// compare names with the ones they know).
fn writable(e: &Element) -> bool {
    let name_ok = e
        .name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    !e.text.contains('\0') && !e.name.is_empty() && name_ok && e.children.iter().all(writable)
}

fuzz_target!(|data: &[u8]| {
    let Ok(root) = parse_xml(data) else {
        // Every interpreter refuses what the parser refuses (an empty body aside).
        if !data.iter().all(u8::is_ascii_whitespace) {
            assert!(create_configuration(data, "us-east-1").is_err());
        }
        assert!(delete_document(data).is_err());
        return;
    };
    assert_eq!(parse_xml(data).ok().as_ref(), Some(&root));
    if writable(&root) {
        let mut w = XmlWriter::new();
        write(&mut w, &root);
        let doc = w.finish();
        let back = parse_xml(doc.as_bytes()).expect("a written tree parses");
        assert_eq!(back, root, "{doc}");
    }
    let _ = acl_of_policy(&root);
    if let Ok((_, region)) = create_configuration(data, "us-east-1") {
        assert_eq!(root.name, "CreateBucketConfiguration");
        assert!(!region.is_empty());
    }
    if let Ok((keys, _quiet)) = delete_document(data) {
        assert!((1..=DELETE_KEYS_MAX).contains(&keys.len()));
        let named: Vec<&str> = root
            .children_named("Object")
            .filter_map(|o| o.text_at("Key"))
            .collect();
        assert_eq!(keys, named);
    }
});
