//! The stripe path: Reed-Solomon parity, CRC32C sealing and MD5 of a full 4+2 stripe, and
//! verification of its blocks.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use md5::{Digest, Md5};
use ringstore_engine::block::BlockKind;
use ringstore_engine::constants::{BLOCK_BYTES, STRIPE_BLOCKS_MAX};
use ringstore_engine::stripe::{verify_block, Coder, Geometry, StripeId};

fn bench(c: &mut Criterion) {
    for (k, m) in [(4, 2), (8, 3), (10, 4)] {
        let g = Geometry {
            data_shards: k,
            parity_shards: m,
        };
        let rows = STRIPE_BLOCKS_MAX;
        let data: Vec<u8> = (0..g.stripe_bytes(rows)).map(|i| i as u8).collect();
        let id = StripeId {
            kind: BlockKind::Data,
            set_id: 1,
            partition: 0,
            extent: 1,
            generation: 1,
            first_block: 0,
            rows: rows as u16,
            stamp: 1,
        };
        let mut coder = Coder::new(g);
        let mut shards: Vec<Vec<u8>> = vec![vec![0u8; rows * BLOCK_BYTES]; g.shard_count()];
        let mut group = c.benchmark_group(format!("stripe_{k}+{m}"));
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_function("encode_seal", |b| {
            b.iter(|| {
                let mut refs: Vec<&mut [u8]> =
                    shards.iter_mut().map(|s| s.as_mut_slice()).collect();
                coder.encode(&id, &data, &mut refs);
            })
        });
        group.bench_function("encode_seal_md5", |b| {
            b.iter(|| {
                let mut refs: Vec<&mut [u8]> =
                    shards.iter_mut().map(|s| s.as_mut_slice()).collect();
                coder.encode(&id, &data, &mut refs);
                Md5::digest(&data)
            })
        });
        group.bench_function("verify_all_blocks", |b| {
            b.iter(|| {
                for (s, shard) in shards.iter().enumerate() {
                    for r in 0..rows {
                        verify_block(&id, s, r, &shard[r * BLOCK_BYTES..(r + 1) * BLOCK_BYTES])
                            .unwrap();
                    }
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
