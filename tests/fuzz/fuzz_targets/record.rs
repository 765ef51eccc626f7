//! The engine's on-disk decoders: log records, index entries, bucket entries, the extra
//! bytes of an entry, checkpoint version chains, root slots and log batches. Arbitrary
//! bytes never panic a decoder, and what decodes re-encodes to something that decodes to
//! the same value. The first input byte picks the decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringstore_engine::constants::BLOCK_BYTES;
use ringstore_engine::fuzz_api::{decode_chain, encode_chain};
use ringstore_engine::log::{decode_batch, BatchHeader, Root, BATCH_HEADER_BYTES};
use ringstore_engine::record::{
    decode_bucket, decode_entry, decode_extra, encode_bucket, encode_entry, encode_extra, Reader,
    Record, Run, Writer,
};

/// Decodes with `decode`; if that succeeds, encodes, decodes again and compares.
fn round_trip<T: PartialEq + std::fmt::Debug>(
    input: &[u8],
    decode: impl Fn(&mut Reader) -> Result<T, ringstore_engine::record::RecordError>,
    encode: impl Fn(&mut Writer, &T),
) {
    let Ok(value) = decode(&mut Reader::new(input)) else {
        return;
    };
    let mut w = Writer::default();
    encode(&mut w, &value);
    let again = decode(&mut Reader::new(&w.buf)).expect("a re-encoded value must decode");
    assert_eq!(again, value);
}

fn batch(input: &[u8]) {
    let Some(h) = BatchHeader::decode(input) else {
        return;
    };
    let mut out = [0u8; BATCH_HEADER_BYTES];
    h.encode(&mut out);
    assert_eq!(&out[..], &input[..BATCH_HEADER_BYTES]);
    if let Ok(records) = decode_batch(input, &h) {
        assert_eq!(records.len(), h.record_count as usize);
    }
}

fn root(input: &[u8]) {
    // A root slot is one block: pad or cut the input to it, then fix the CRC half the time
    // (by the low bit of the first byte) so the decoder's body is reached.
    let mut b = input.to_vec();
    b.resize(BLOCK_BYTES, 0);
    if input.first().is_some_and(|x| x & 1 == 1) {
        b[0..4].copy_from_slice(&ringstore_engine::log::ROOT_MAGIC);
        let crc = crc32c::crc32c(&b[..BLOCK_BYTES - 4]);
        b[BLOCK_BYTES - 4..].copy_from_slice(&crc.to_le_bytes());
    }
    if let Some(root) = Root::decode(&b) {
        assert_eq!(Root::decode(&root.encode()), Some(root));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, input)) = data.split_first() else {
        return;
    };
    match which % 8 {
        0 => round_trip(input, Record::decode, |w, r| r.encode(w)),
        1 => round_trip(input, decode_entry, encode_entry),
        2 => round_trip(input, decode_bucket, encode_bucket),
        3 => round_trip(
            input,
            |r| decode_extra(r.take(r.buf.len())?),
            |w, (ct, meta)| w.buf.extend_from_slice(&encode_extra(ct, meta)),
        ),
        4 => round_trip(input, decode_chain, encode_chain),
        5 => round_trip(input, Run::decode, |w, r| r.encode(w)),
        6 => root(input),
        _ => batch(input),
    }
});
