//! Helpers the engine's integration tests share (each test binary uses its own subset).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ringstore_engine::device_set::{format, FormatOptions};
use ringstore_engine::{Acl, Engine, EngineConfig, Error, Handle, StorageClass};

pub const MIB: u64 = 1024 * 1024;

/// Runs a future to completion on the test's thread (the engine's executors do the I/O).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

// The xorshift generator the black-box tests' `content` uses too (one file, no crate that
// both test trees could depend on).
#[path = "../../../tests/src/xorshift.rs"]
mod xorshift;

/// `len` bytes of a xorshift sequence that `seed` picks: different seeds give different
/// bodies, so a read that returned another object's bytes is caught.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    xorshift::bytes(len, seed)
}

/// The paths of `count` device files `dev0`, `dev1`, … in `dir`.
pub fn device_paths(dir: &Path, count: usize) -> Vec<PathBuf> {
    (0..count).map(|i| dir.join(format!("dev{i}"))).collect()
}

/// A test's device set, one file per shard, and how its engine runs: the set-up the tests
/// share, each with its own geometry.
#[derive(Debug, Clone)]
pub struct TestSet {
    /// The format; there are `data_shards + parity_shards` device files.
    pub format: FormatOptions,
    pub executors: usize,
    /// Whether the executors are pinned to cores.
    pub pin: bool,
}

impl TestSet {
    /// k + m device files of `device_bytes` each with 1 MiB extents, run by one unpinned
    /// executor.
    pub const fn new(k: usize, m: usize, device_bytes: u64, partitions: usize) -> TestSet {
        TestSet {
            format: FormatOptions {
                data_shards: k,
                parity_shards: m,
                device_bytes,
                extent_bytes: MIB,
                partitions,
                force: false,
                prefill: false,
            },
            executors: 1,
            pin: false,
        }
    }

    /// The same set run by `executors` executors, pinned or not.
    pub const fn run_by(mut self, executors: usize, pin: bool) -> TestSet {
        self.executors = executors;
        self.pin = pin;
        self
    }

    /// The device files of the set formatted in `dir`.
    pub fn paths(&self, dir: &Path) -> Vec<PathBuf> {
        device_paths(dir, self.format.data_shards + self.format.parity_shards)
    }

    /// Formats the set in a fresh scratch directory under the target directory (O_DIRECT
    /// needs a real filesystem, not tmpfs).
    pub fn format(&self, prefix: &str) -> tempfile::TempDir {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("scratch directory");
        format(&self.paths(dir.path()), &self.format).expect("format the device set");
        dir
    }

    /// The engine configuration over `devices`.
    pub fn config(&self, devices: Vec<PathBuf>) -> EngineConfig {
        EngineConfig {
            executors: self.executors,
            pin: self.pin,
            ..EngineConfig::new(devices)
        }
    }

    /// Starts an engine over `devices` (the set's own, or some replaced).
    pub fn start_on(&self, devices: Vec<PathBuf>) -> Result<Engine, Error> {
        Engine::start(self.config(devices))
    }

    /// Starts an engine over the set formatted in `dir`.
    pub fn start(&self, dir: &Path) -> Engine {
        self.start_on(self.paths(dir)).expect("engine starts")
    }

    /// The usual set-up: a freshly formatted set, its engine, and the private bucket
    /// `bucket` in it.
    pub fn set_up(&self, prefix: &str, bucket: &str) -> (tempfile::TempDir, Engine) {
        let dir = self.format(prefix);
        let engine = self.start(dir.path());
        create_bucket(&engine.handle(), bucket);
        (dir, engine)
    }
}

/// Whether `dir` is on ext4, the one filesystem whose fully written files share a flush
/// domain (`flush_domain`).
pub fn on_ext4(dir: &Path) -> bool {
    let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `statfs` is plain old data that statfs fills; `path` is a live C string.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statfs(path.as_ptr(), &mut fs) }, 0);
    fs.f_type as u64 == libc::EXT4_SUPER_MAGIC as u64
}

/// Creates the private, standard bucket `bucket`.
pub fn create_bucket(h: &Handle, bucket: &str) {
    block_on(h.create_bucket(bucket, "r", Acl::Private, StorageClass::Standard, "o"))
        .expect("create the bucket");
}

/// Free extents of all partitions together.
pub fn free_extents(h: &Handle) -> usize {
    block_on(h.status())
        .unwrap()
        .iter()
        .map(|p| p.extents_free)
        .sum()
}
