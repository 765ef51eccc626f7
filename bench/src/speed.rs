//! `ringbench speed md5`: the single-core MD5 speed of the md-5 crate the engine uses for
//! ETags, one of the ceilings BENCHMARKS.md relates PUT throughput to.

use std::time::{Duration, Instant};

use md5::{Digest, Md5};

/// Buffer hashed per update: as large as the engine's upload chunks are.
const MD5_BUFFER_BYTES: usize = 1 << 20;

/// Hashes for at least `min_time` and returns MiB/s.
pub fn md5_mib_per_s(min_time: Duration) -> f64 {
    let buffer: Vec<u8> = (0..MD5_BUFFER_BYTES)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let mut hasher = Md5::new();
    let start = Instant::now();
    let mut bytes = 0u64;
    while start.elapsed() < min_time {
        hasher.update(&buffer);
        bytes += buffer.len() as u64;
    }
    let elapsed = start.elapsed().as_secs_f64();
    std::hint::black_box(hasher.finalize());
    bytes as f64 / (1 << 20) as f64 / elapsed
}
