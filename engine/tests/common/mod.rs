//! Helpers the engine's integration tests share (each test binary uses its own subset).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Runs a future to completion on the test's thread (the engine's executors do the I/O).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// `len` bytes of a xorshift sequence that `seed` picks: different seeds give different
/// bodies, so a read that returned another object's bytes is caught.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The paths of `count` device files `dev0`, `dev1`, … in `dir`.
pub fn device_paths(dir: &Path, count: usize) -> Vec<PathBuf> {
    (0..count).map(|i| dir.join(format!("dev{i}"))).collect()
}
