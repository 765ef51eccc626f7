//! Range specs and list / name parameters: arbitrary values never panic the checks, a
//! resolved range lies inside the object, and the proto-level list requests keep their
//! page-size limits. The first input byte picks the check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringstore_engine::{validate_bucket_name, validate_key, RangeSpec};
use ringstore_proto::constants::LIST_KEYS_MAX;
use ringstore_proto::{Body, ListObjectVersions, ListObjects};

fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut x = [0u8; 8];
    for (j, v) in x.iter_mut().enumerate() {
        *v = b.get(i + j).copied().unwrap_or(0);
    }
    u64::from_le_bytes(x)
}

fn range(input: &[u8]) {
    let (a, b, size) = (u64_at(input, 0), u64_at(input, 8), u64_at(input, 16));
    // Small values too, so the edges (0, size - 1, size) are reached often.
    let small = input.get(24).is_some_and(|x| x & 1 == 1);
    let (a, b, size) = if small {
        (a % 64, b % 64, size % 64)
    } else {
        (a, b, size)
    };
    for spec in [
        RangeSpec::FromTo(a, b),
        RangeSpec::From(a),
        RangeSpec::Suffix(a),
    ] {
        if let Ok((start, len)) = spec.resolve(size) {
            assert!(len >= 1, "{spec:?} of {size}: empty range");
            assert!(
                start.checked_add(len).is_some_and(|end| end <= size),
                "{spec:?} of {size}"
            );
            match spec {
                RangeSpec::FromTo(a, b) => assert!(start == a && start + len - 1 <= b),
                RangeSpec::From(a) => assert_eq!((start, start + len), (a, size)),
                RangeSpec::Suffix(n) => assert_eq!((len, start + len), (n.min(size), size)),
            }
        }
    }
}

fn names(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    if validate_bucket_name(&text).is_ok() {
        assert!((3..=63).contains(&text.len()));
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
    }
    if validate_key(&text).is_ok() {
        assert!(!text.is_empty() && !text.contains('\0'));
    }
}

fn lists(input: &[u8]) {
    if let Ok(l) = ListObjects::decode(input) {
        assert!(l.max_keys as usize <= LIST_KEYS_MAX);
    }
    if let Ok(l) = ListObjectVersions::decode(input) {
        assert!(l.max_keys as usize <= LIST_KEYS_MAX);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, input)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => range(input),
        1 => names(input),
        _ => lists(input),
    }
});
