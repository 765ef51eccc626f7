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
    // Everything the engine wrote, by kind, and the background work that ran meanwhile:
    // a checkpoint or a compaction pass that falls inside a phase is counted in it (they
    // are part of what the workload costs), and the breakdown shows when one did.
    let written = || Written {
        data: s.stats.data_bytes_written.get(),
        log: s.stats.log_bytes_written.get(),
        checkpoint: s.stats.checkpoint_bytes_written.get(),
        checkpoints: s.stats.checkpoints.get(),
        moved: s.stats.compaction_objects_moved.get(),
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
        println!(
            "4 KiB objects: {n} puts, 64 in flight: {}, {:.0} puts/s",
            written().since(&before, (n * 4096) as u64),
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
        println!(
            "64 MiB objects: 4 puts, one stream: {}, {:.0} MiB/s",
            written().since(&before, 4 << 26),
            256.0 / secs
        );
    });
    engine.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

struct Written {
    data: u64,
    log: u64,
    checkpoint: u64,
    checkpoints: u64,
    moved: u64,
}

impl Written {
    /// The write amplification since `before` for `user` object bytes, with its parts.
    fn since(&self, before: &Written, user: u64) -> String {
        let per = |now: u64, then: u64| (now - then) as f64 / user as f64;
        let (data, log, checkpoint) = (
            per(self.data, before.data),
            per(self.log, before.log),
            per(self.checkpoint, before.checkpoint),
        );
        format!(
            "write amplification {:.3} (data {data:.3}, log {log:.3}, checkpoint {checkpoint:.3}; \
             {} checkpoints, {} objects moved by compaction meanwhile)",
            data + log + checkpoint,
            self.checkpoints - before.checkpoints,
            self.moved - before.moved,
        )
    }
}
