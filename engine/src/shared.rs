//! State every executor can read: the bucket cache and the counters. Written rarely
//! (buckets, by partition 0) or with relaxed atomics (counters), never locked.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::api::BucketInfo;
use crate::device_set::Layout;

#[derive(Default, Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1)
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Default, Debug)]
pub struct Stats {
    pub puts: Counter,
    pub gets: Counter,
    pub deletes: Counter,
    pub lists: Counter,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    /// Device bytes written for object data stripes (all shards, headers and padding).
    pub data_bytes_written: Counter,
    /// Device bytes written for log batches (all shards).
    pub log_bytes_written: Counter,
    pub checkpoint_bytes_written: Counter,
    pub checkpoints: Counter,
    /// fdatasync calls issued to the devices (one per flush domain per flush).
    pub device_flushes: Counter,
    /// Gets of a packed object answered from the read cache, and those that read it.
    pub read_cache_hits: Counter,
    pub read_cache_misses: Counter,
    /// Objects compaction moved (log) or rewrote (data) to free extents.
    pub compaction_objects_moved: Counter,
    /// Puts that found space low and reclaimed (or waited for a reclaim step) first.
    pub puts_throttled: Counter,
    /// Puts refused with StorageFull: nothing more could be reclaimed.
    pub puts_refused_full: Counter,
    /// Blocks that failed verification when read.
    pub corrupt_blocks: Counter,
    /// Blocks rebuilt from parity.
    pub rebuilt_blocks: Counter,
    /// Blocks that could not be rebuilt (more shards lost than parity).
    pub unrecoverable_blocks: Counter,
    /// Blocks and bytes the scrub verified.
    pub scrub_blocks: Counter,
    pub scrub_bytes: Counter,
    /// Blocks the scrub found bad, rewrote, or could not rebuild.
    pub scrub_corrupt: Counter,
    pub scrub_repaired: Counter,
    pub scrub_unrecoverable: Counter,
    /// Full scrub passes finished (all partitions count theirs).
    pub scrub_passes: Counter,
    /// Blocks the rebuild of a replaced device (or the healing of stripes written while a
    /// device was down) wrote; also counted in `scrub_repaired`.
    pub rebuild_blocks_written: Counter,
    /// Waits a rebuild pass made to stay under `rebuild_rate_bytes_per_sec`.
    pub rebuild_throttle_waits: Counter,
    /// Stripes written without a shard on some device (a device was down).
    pub degraded_stripes_written: Counter,
    /// Of those, stripes not remembered because the list was full: only a full rebuild
    /// pass heals them.
    pub degraded_stripes_untracked: Counter,
}

/// A bucket as every core sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedBucket {
    pub info: BucketInfo,
    /// A delete is checking emptiness: new writes are refused meanwhile.
    pub deleting: bool,
}

/// What one device of the set is doing, as every core sees it.
#[derive(Debug)]
pub struct DeviceHealth {
    /// The path it was opened from (empty when missing at start), or the path of the
    /// replacement that took its place.
    path: std::sync::Mutex<String>,
    state: std::sync::atomic::AtomicU8,
    /// I/O errors seen on it.
    pub errors: Counter,
    /// Bytes written to it (completed writes) since the engine started.
    pub bytes_written: Counter,
}

/// A device's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceState {
    Up,
    /// Not found at start.
    Missing,
    /// Returned an I/O error; no longer read or written.
    Failed,
}

impl DeviceHealth {
    pub fn state(&self) -> DeviceState {
        match self.state.load(Ordering::Relaxed) {
            0 => DeviceState::Up,
            1 => DeviceState::Missing,
            _ => DeviceState::Failed,
        }
    }

    pub fn path(&self) -> String {
        self.path.lock().expect("device path").clone()
    }

    /// A replacement opened from `path` took the device's place.
    pub fn replaced_by(&self, path: &std::path::Path) {
        *self.path.lock().expect("device path") = path.display().to_string();
        self.state.store(0, Ordering::Relaxed);
    }

    pub fn mark_failed(&self) {
        self.errors.inc();
        self.state.store(2, Ordering::Relaxed);
    }
}

pub struct Shared {
    pub layout: Layout,
    /// One entry per device index.
    pub devices: Vec<DeviceHealth>,
    pub buckets: ArcSwap<BTreeMap<String, CachedBucket>>,
    pub stats: Stats,
    /// Scrub settings, commands and per-partition progress.
    pub scrub: crate::scrub::ScrubControl,
    /// Each partition's read cache budget in bytes (set once at start).
    pub read_cache_partition_bytes: std::sync::atomic::AtomicUsize,
}

impl Shared {
    pub fn new(layout: Layout, devices: &[Option<crate::device_set::DeviceInfo>]) -> Arc<Shared> {
        let devices = devices
            .iter()
            .map(|d| DeviceHealth {
                path: std::sync::Mutex::new(
                    d.as_ref()
                        .map(|d| d.path.display().to_string())
                        .unwrap_or_default(),
                ),
                state: std::sync::atomic::AtomicU8::new(if d.is_some() { 0 } else { 1 }),
                errors: Counter::default(),
                bytes_written: Counter::default(),
            })
            .collect();
        Arc::new(Shared {
            layout,
            devices,
            buckets: ArcSwap::from_pointee(BTreeMap::new()),
            stats: Stats::default(),
            scrub: crate::scrub::ScrubControl::new(layout.partitions, layout.device_count()),
            read_cache_partition_bytes: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Replaces the cache with partition 0's bucket table.
    pub fn publish_buckets(&self, table: &BTreeMap<String, BucketInfo>) {
        let old = self.buckets.load();
        let next = table
            .iter()
            .map(|(n, b)| {
                let deleting = old.get(n).is_some_and(|c| c.deleting);
                (
                    n.clone(),
                    CachedBucket {
                        info: b.clone(),
                        deleting,
                    },
                )
            })
            .collect();
        self.buckets.store(Arc::new(next));
    }

    pub fn set_deleting(&self, name: &str, deleting: bool) {
        let mut next = (**self.buckets.load()).clone();
        if let Some(b) = next.get_mut(name) {
            b.deleting = deleting;
        }
        self.buckets.store(Arc::new(next));
    }

    pub fn bucket(&self, name: &str) -> Option<CachedBucket> {
        self.buckets.load().get(name).cloned()
    }
}
