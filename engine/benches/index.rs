//! Index operations: applying put records, point lookups in a large index, ordered scans
//! (what LIST does) and the record codec.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ringstore_engine::record::{encode_extra, ObjectData, ObjectEntry, Reader, Record, Writer};
use ringstore_engine::state::State;
use ringstore_engine::{ObjectAcl, ObjectType};

fn entry(i: u64) -> ObjectEntry {
    ObjectEntry {
        size: i,
        last_modified_ms: 1_700_000_000_000 + i,
        etag: [i as u8; 16],
        etag_parts: 0,
        object_type: ObjectType::Normal,
        acl: ObjectAcl::Default,
        version: 0,
        crc64: 0,
        extra: encode_extra("", &[]),
        data: ObjectData::Empty,
    }
}

fn put(i: u64) -> Record {
    Record::ObjectPut {
        bucket: "bench".into(),
        key: format!("photos/{:04}/{:010}.jpg", i % 1000, i),
        entry: entry(i),
        if_absent: false,
    }
}

fn bench(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    let mut big = State::new(0, 1, 64);
    for i in 0..N {
        big.apply(&put(i));
    }
    let mut g = c.benchmark_group("index");
    g.throughput(Throughput::Elements(1));
    let mut i = N;
    g.bench_function("apply_put_into_1M", |b| {
        b.iter(|| {
            i += 1;
            big.apply(&put(i))
        })
    });
    let mut j = 0u64;
    g.bench_function("lookup_in_1M", |b| {
        b.iter(|| {
            j = (j + 7919) % N;
            big.lookup("bench", &format!("photos/{:04}/{:010}.jpg", j % 1000, j))
                .is_some()
        })
    });
    g.throughput(Throughput::Elements(1000));
    g.bench_function("scan_1000_after_marker", |b| {
        b.iter(|| {
            let map = big.objects.get("bench").unwrap();
            map.range::<String, _>("photos/0500/".to_string()..)
                .take(1000)
                .count()
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("record_encode_decode", |b| {
        b.iter_batched(
            || put(42),
            |r| {
                let mut w = Writer::default();
                r.encode(&mut w);
                Record::decode(&mut Reader::new(&w.buf)).unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
