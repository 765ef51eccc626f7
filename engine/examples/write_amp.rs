//! Measures write amplification (device bytes written per object byte) for 4 KiB objects
//! put 64 at a time and for 64 MiB objects, on real device files.
//!
//! `cargo run --release -p ringstore-engine --example write_amp -- DIR`

use std::path::PathBuf;
use std::time::Instant;

use bytes::Bytes;
use ringstore_engine::device_set::{format, FormatOptions};
use ringstore_engine::{Acl, Engine, EngineConfig, PutOptions, StorageClass};

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/write-amp".into()),
    );
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let paths: Vec<PathBuf> = (0..6).map(|i| dir.join(format!("dev{i}"))).collect();
    let opts = FormatOptions {
        data_shards: 4,
        parity_shards: 2,
        device_bytes: 1 << 30,
        extent_bytes: 16 << 20,
        partitions: 2,
        force: true,
        prefill: true,
    };
    format(&paths, &opts).unwrap();
    let engine = Engine::start(EngineConfig::new(paths)).unwrap();
    let h = engine.handle();
    let s = h.shared.clone();
    let written = || {
        s.stats.data_bytes_written.get()
            + s.stats.log_bytes_written.get()
            + s.stats.checkpoint_bytes_written.get()
    };
    futures::executor::block_on(async {
        h.create_bucket(
            "wamp",
            "local",
            Acl::Private,
            StorageClass::Standard,
            "bench",
        )
        .await
        .unwrap();
        let small = Bytes::from(vec![7u8; 4096]);
        let (n, batch) = (20_000usize, 64usize);
        let before = written();
        let t = Instant::now();
        for i in 0..n / batch {
            let puts = (0..batch).map(|j| {
                let key = format!("small/{i}/{j}");
                let (h, body) = (h.clone(), small.clone());
                async move {
                    h.put_object_bytes("wamp", &key, PutOptions::default(), body)
                        .await
                        .unwrap()
                }
            });
            futures::future::join_all(puts).await;
        }
        let secs = t.elapsed().as_secs_f64();
        let wa = (written() - before) as f64 / (n * 4096) as f64;
        println!(
            "4 KiB objects: {n} puts, 64 in flight: write amplification {wa:.3}, {:.0} puts/s",
            n as f64 / secs
        );

        let big = Bytes::from(vec![9u8; 64 << 20]);
        let before = written();
        let t = Instant::now();
        for i in 0..4 {
            h.put_object_bytes(
                "wamp",
                &format!("big/{i}"),
                PutOptions::default(),
                big.clone(),
            )
            .await
            .unwrap();
        }
        let secs = t.elapsed().as_secs_f64();
        let wa = (written() - before) as f64 / (4.0 * (64 << 20) as f64);
        println!(
            "64 MiB objects: 4 puts, one stream: write amplification {wa:.3}, {:.0} MiB/s",
            256.0 / secs
        );
    });
    engine.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
