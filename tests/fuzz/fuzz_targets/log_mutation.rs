//! Recovery from a mutated log: a log block holding a batch of records built from the
//! input is sealed as the log writer seals it, then damaged by a burst of up to 32 bits or
//! by up to three flipped bits anywhere in the block (CRC32C detects every such error in a
//! 4 KiB block). The damaged block must be rejected by verification, never decoded into
//! records; the undamaged one must decode to exactly the records written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringstore_engine::block::{payload, payload_mut, BlockKind};
use ringstore_engine::constants::{BLOCK_BYTES, BLOCK_PAYLOAD_BYTES};
use ringstore_engine::log::{decode_batch, seal_batch, BatchHeader, BATCH_HEADER_BYTES};
use ringstore_engine::record::{Record, Writer};
use ringstore_engine::stripe::{verify_block, StripeId};

/// Up to eight records whose names and numbers come from `seed`.
fn records(seed: &[u8]) -> Vec<Record> {
    seed.chunks(12)
        .take(8)
        .enumerate()
        .map(|(i, c)| {
            let text: String = c.iter().map(|&b| char::from(b'a' + b % 26)).collect();
            let n = c
                .iter()
                .fold(i as u32, |a, &b| a.rotate_left(5) ^ u32::from(b));
            match c[0] % 3 {
                0 => Record::ExtentOpen {
                    extent: n,
                    generation: n ^ 0x5555,
                    kind: BlockKind::Log,
                },
                1 => Record::BucketDelete { name: text },
                _ => Record::ObjectDelete {
                    bucket: format!("b{i}"),
                    key: text,
                },
            }
        })
        .collect()
}

fn sealed_block(id: &StripeId, recs: &[Record]) -> Vec<u8> {
    let mut w = Writer::default();
    for r in recs {
        r.encode(&mut w);
    }
    let header = BatchHeader {
        partition: id.partition,
        seq: id.stamp,
        records_len: w.buf.len() as u32,
        next_extent: id.extent + 1,
        next_generation: 1,
        record_count: recs.len() as u32,
        crc: 0,
    };
    let len = BATCH_HEADER_BYTES + w.buf.len();
    assert!(len <= BLOCK_PAYLOAD_BYTES);
    let mut block = vec![0u8; BLOCK_BYTES];
    let p = payload_mut(&mut block);
    header.encode(&mut p[..BATCH_HEADER_BYTES]);
    p[BATCH_HEADER_BYTES..len].copy_from_slice(&w.buf);
    seal_batch(&mut p[..len]);
    id.header(0, 0, len as u16).seal(&mut block);
    block
}

/// Damages `block` as the 6-byte `spec` says; false if the damage changed nothing.
fn mutate(block: &mut [u8], spec: &[u8; 6]) -> bool {
    let at = usize::from(u16::from_le_bytes([spec[0], spec[1]])) % BLOCK_BYTES;
    if spec[2] & 1 == 0 {
        // A burst: up to 4 consecutive bytes XORed with a pattern (at most 32 bits apart).
        let pattern = &spec[3..6];
        let mut changed = false;
        for (i, &x) in [spec[2] >> 1, pattern[0], pattern[1], pattern[2]]
            .iter()
            .enumerate()
        {
            if let Some(b) = block.get_mut(at + i) {
                *b ^= x;
                changed |= x != 0;
            }
        }
        changed
    } else {
        // Up to three single-bit flips at positions derived from the spec.
        let bits = BLOCK_BYTES * 8;
        let mut flipped = std::collections::BTreeSet::new();
        for k in 0..usize::from(spec[2] >> 1) % 3 + 1 {
            let pos = (at * 8 + usize::from(spec[3 + k]) * 4099 * (k + 1)) % bits;
            if !flipped.insert(pos) {
                flipped.remove(&pos);
            }
        }
        for &pos in &flipped {
            block[pos / 8] ^= 1 << (pos % 8);
        }
        !flipped.is_empty()
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 7 {
        return;
    }
    let (spec, seed) = data.split_at(6);
    let id = StripeId {
        kind: BlockKind::Log,
        set_id: 0x5eed,
        partition: 3,
        extent: 7,
        generation: 2,
        first_block: 40,
        rows: 1,
        stamp: 99,
    };
    let recs = records(seed);
    let mut block = sealed_block(&id, &recs);

    let h = verify_block(&id, 0, 0, &block).expect("a sealed block verifies");
    let p = &payload(&block)[..usize::from(h.payload_len)];
    let header = BatchHeader::decode(p).expect("batch header");
    assert_eq!(decode_batch(p, &header).expect("batch decodes"), recs);

    if mutate(&mut block, spec.try_into().unwrap()) {
        assert!(
            verify_block(&id, 0, 0, &block).is_err(),
            "a damaged log block passed verification"
        );
    }
});
