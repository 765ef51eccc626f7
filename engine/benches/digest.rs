//! CRC-64/XZ of put bodies: the SIMD implementation the engine uses (`object_io::Crc64`)
//! against the 16-way table of the `crc` crate it replaced, on a 4 KiB body and on 1 MiB
//! (a large body's chunks).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringstore_engine::object_io::Crc64;

const TABLE: crc::Crc<u64, crc::Table<16>> = crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_XZ);

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("crc64");
    for len in [4096usize, 1 << 20] {
        let data: Vec<u8> = (0..len).map(|i| (i * 131 % 251) as u8).collect();
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("table16", len), &data, |b, d| {
            b.iter(|| TABLE.checksum(d))
        });
        group.bench_with_input(BenchmarkId::new("simd", len), &data, |b, d| {
            b.iter(|| {
                let mut crc = Crc64::new();
                crc.write(d);
                crc.sum64()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
