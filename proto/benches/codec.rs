//! Frame and message codec throughput: what one request costs the CPU before any I/O.

use bytes::BytesMut;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ringstore_proto::{
    encode_frame, encode_message_frame, Body, ETag, FrameDecoder, FrameHeader, ListPage,
    ObjectSummary, ObjectType, Opcode,
};

fn frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame");
    for (name, len) in [("4KiB", 4 * 1024), ("1MiB", 1024 * 1024)] {
        let body = vec![0x5Au8; len];
        let header = FrameHeader::chunk(Opcode::PutObject.code(), 7, false, true);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(format!("encode_{name}"), |b| {
            let mut out = BytesMut::with_capacity(len + 64);
            b.iter(|| {
                out.clear();
                encode_frame(&header, black_box(&body), &mut out);
            })
        });
        let mut encoded = BytesMut::new();
        encode_frame(&header, &body, &mut encoded);
        group.bench_function(format!("decode_{name}"), |b| {
            b.iter_batched(
                || encoded.clone(),
                |mut buf| FrameDecoder::new().decode(&mut buf).unwrap().unwrap(),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

fn list_page(c: &mut Criterion) {
    let page = ListPage {
        objects: (0..1000)
            .map(|i| ObjectSummary {
                key: format!("photos/2024/07/{i:06}/IMG_{i:06}.jpg"),
                size: 3 * 1024 * 1024 + i,
                etag: ETag {
                    md5: [i as u8; 16],
                    suffix: None,
                },
                last_modified_ms: 1_720_000_000_000 + i,
                object_type: ObjectType::Normal,
            })
            .collect(),
        common_prefixes: Vec::new(),
        is_truncated: true,
        next_marker: Some("photos/2024/07/000999/IMG_000999.jpg".into()),
    };
    let header = FrameHeader::response(Opcode::ListObjects.code(), 9, ringstore_proto::Status::Ok);
    let mut encoded = BytesMut::new();
    encode_message_frame(&header, &page, &mut encoded).unwrap();

    let mut group = c.benchmark_group("list_page_1000");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("encode", |b| {
        let mut out = BytesMut::with_capacity(encoded.len());
        b.iter(|| {
            out.clear();
            encode_message_frame(&header, black_box(&page), &mut out).unwrap();
        })
    });
    group.bench_function("decode", |b| {
        b.iter_batched(
            || encoded.clone(),
            |mut buf| {
                let frame = FrameDecoder::new().decode(&mut buf).unwrap().unwrap();
                ListPage::decode(&frame.body).unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, frames, list_page);
criterion_main!(benches);
