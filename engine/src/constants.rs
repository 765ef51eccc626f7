//! Every limit and fixed size of the engine, in one place.
//!
//! Related constants are tied together with `const _: () = assert!(…)` so that a change to
//! one that breaks another fails the build, not a disk.

/// The unit of every device I/O and of every checksum: 4 KiB, the O_DIRECT alignment.
pub const BLOCK_BYTES: usize = 4096;
/// Each block starts with a header covered by the block's CRC32C (see FORMAT.md).
pub const BLOCK_HEADER_BYTES: usize = 64;
/// Bytes of user data (or log records, or parity) a block carries.
pub const BLOCK_PAYLOAD_BYTES: usize = BLOCK_BYTES - BLOCK_HEADER_BYTES;
const _: () = assert!(
    BLOCK_PAYLOAD_BYTES.is_multiple_of(64),
    "reed-solomon-simd wants even shards"
);

/// Device byte offset of the first superblock copy; the second is the device's last block.
pub const SUPERBLOCK_OFFSET_BYTES: u64 = 0;
/// Root slots (two per partition, mirrored on every device) start after superblock A.
pub const ROOT_SLOTS_OFFSET_BYTES: u64 = BLOCK_BYTES as u64;
/// Extents start at this device offset.
pub const EXTENTS_OFFSET_BYTES: u64 = 1024 * 1024;

/// Partitions own disjoint parts of the key space; fixed when a device set is formatted.
pub const PARTITION_COUNT_MAX: usize = 64;
const _: () = assert!(
    ROOT_SLOTS_OFFSET_BYTES as usize + 2 * PARTITION_COUNT_MAX * BLOCK_BYTES
        <= EXTENTS_OFFSET_BYTES as usize
);

/// Data shards per stripe, bounds.
pub const DATA_SHARDS_MIN: usize = 1;
pub const DATA_SHARDS_MAX: usize = 32;
/// Parity shards per stripe, bounds.
pub const PARITY_SHARDS_MAX: usize = 16;
pub const DEVICE_COUNT_MAX: usize = DATA_SHARDS_MAX + PARITY_SHARDS_MAX;

/// Extent size bounds (bytes on each device).
pub const EXTENT_BYTES_MIN: u64 = 1024 * 1024;
pub const EXTENT_BYTES_MAX: u64 = 1024 * 1024 * 1024;
pub const EXTENT_BYTES_DEFAULT: u64 = 16 * 1024 * 1024;
/// The smallest device that can hold a device set's fixed areas and a few extents.
pub const DEVICE_BYTES_MIN: u64 = 16 * 1024 * 1024;

/// Blocks per shard in one full data stripe (S in FORMAT.md): 64 blocks = 256 KiB per device
/// write, so a 4+2 stripe carries 4 × 64 × 4032 B ≈ 1 MiB of user data.
pub const STRIPE_BLOCKS_MAX: usize = 64;

/// Bytes of one streamed body that may wait for the executor's MD5 thread (`digest`)
/// before the body waits for it: a few stripes, so MD5 never waits for the executor while
/// memory per upload stays bounded.
pub const MD5_QUEUED_BYTES_MAX: usize = 4 * 1024 * 1024;
const _: () = assert!(MD5_QUEUED_BYTES_MAX >= 2 * ringstore_proto::constants::CHUNK_BYTES_MAX);

/// Object names.
pub const KEY_BYTES_MAX: usize = 1023;
pub const BUCKET_NAME_BYTES_MIN: usize = 3;
pub const BUCKET_NAME_BYTES_MAX: usize = 63;
/// User metadata: total of names and values, as OSS (8 KiB).
pub const USER_META_BYTES_MAX: usize = 8 * 1024;
pub const CONTENT_TYPE_BYTES_MAX: usize = 256;
/// A simple upload's size limit (OSS and S3: 5 GiB).
pub const OBJECT_BYTES_MAX: u64 = 5 * 1024 * 1024 * 1024;
/// Objects up to this size are packed into the partition's log instead of their own stripes.
pub const INLINE_BYTES_MAX: usize = 64 * 1024;
/// The daemon's default memory for read caches of small objects (all partitions).
pub const READ_CACHE_BYTES_DEFAULT: usize = 256 * 1024 * 1024;
/// LIST page size limit.
pub const LIST_KEYS_MAX: usize = 1000;
pub const BUCKETS_MAX: usize = 10_000;

/// Each superblock copy fills exactly one block: A at `SUPERBLOCK_OFFSET_BYTES`, B in the
/// device's last block.
pub const SUPERBLOCK_BYTES: usize = BLOCK_BYTES;
const _: () = assert!(SUPERBLOCK_OFFSET_BYTES + SUPERBLOCK_BYTES as u64 == ROOT_SLOTS_OFFSET_BYTES);
/// Extent sizes are whole multiples of this, so every extent starts 1 MiB-aligned (as
/// `EXTENTS_OFFSET_BYTES` is), which suits any device's O_DIRECT and erase-block alignment.
pub const EXTENT_BYTES_ALIGN: u64 = 1024 * 1024;
const _: () = assert!(EXTENTS_OFFSET_BYTES.is_multiple_of(EXTENT_BYTES_ALIGN));
const _: () = assert!(EXTENT_BYTES_MIN.is_multiple_of(EXTENT_BYTES_ALIGN));
const _: () = assert!(EXTENT_BYTES_MAX.is_multiple_of(EXTENT_BYTES_ALIGN));
const _: () = assert!(EXTENT_BYTES_DEFAULT.is_multiple_of(EXTENT_BYTES_ALIGN));
/// Every partition needs at least this many extents on each device: one being filled while
/// another is compacted.
pub const EXTENTS_PER_PARTITION_MIN: u64 = 2;
const _: () = assert!(
    DEVICE_BYTES_MIN
        >= EXTENTS_OFFSET_BYTES
            + SUPERBLOCK_BYTES as u64
            + EXTENTS_PER_PARTITION_MIN * EXTENT_BYTES_MIN
);
/// `format` writes zeros over a prefilled device file in chunks of this size.
pub const PREFILL_CHUNK_BYTES: usize = 1024 * 1024;

/// Snapshot views open at once on one partition (each holds the keys changed ahead of its
/// scan).
pub const VIEWS_PER_PARTITION_MAX: usize = 16;
/// Keys a snapshot view returns per page (each with all its versions).
pub const SNAPSHOT_PAGE_KEYS: usize = 256;

/// Scrub progress records (one block per partition) follow the root slots.
pub const SCRUB_PROGRESS_SLOT_FIRST: u64 = 2 * PARTITION_COUNT_MAX as u64;
const _: () = assert!(
    ROOT_SLOTS_OFFSET_BYTES as usize
        + (SCRUB_PROGRESS_SLOT_FIRST as usize + PARTITION_COUNT_MAX) * BLOCK_BYTES
        <= EXTENTS_OFFSET_BYTES as usize
);
/// Scrub reads at most this many bytes per second across the device set, by default.
pub const SCRUB_RATE_BYTES_PER_SEC_DEFAULT: u64 = 64 * 1024 * 1024;
/// A full scrub pass starts this long after the previous one started, by default (3 days).
pub const SCRUB_INTERVAL_SECS_DEFAULT: u64 = 3 * 24 * 3600;
/// Stripes a partition remembers for repair after a read had to rebuild them.
pub const REPAIR_QUEUE_MAX: usize = 1024;

/// Log extents a partition holds at all times: the one being written and the announced
/// next one (named by every batch header, so it is taken before it is needed).
pub const LOG_EXTENTS_OPEN: usize = 2;
/// Free extents of a partition that puts never take: only the log (for deletes, bucket
/// records and compaction moves), checkpoints and compaction may use them, so a full
/// device set still accepts deletes and compaction can always make progress.
pub const EXTENTS_RESERVED_PER_PARTITION: usize = 3;
/// Of the reserve, compaction's own data stripes leave this many free: one for a log
/// rotation and one for a checkpoint, which is what frees the log extents.
pub const EXTENTS_KEPT_FROM_RELOCATION: usize = 2;
const _: () = assert!(EXTENTS_KEPT_FROM_RELOCATION >= 2);
const _: () = assert!(
    EXTENTS_KEPT_FROM_RELOCATION < EXTENTS_RESERVED_PER_PARTITION,
    "compaction must be able to open a data extent when puts no longer can"
);
/// Free extents above the reserve under which a put first reclaims space itself (a
/// checkpoint or a compaction step, at foreground priority, waiting for one the background
/// is running): writes slow down before the set is full instead of failing.
pub const EXTENTS_FREE_LOW: usize = 3;
/// Reclaim steps one put may run before it is refused with `StorageFull`.
pub const RECLAIM_STEPS_PER_PUT_MAX: usize = 16;
/// Log extents in the chain a restart would replay after which a checkpoint retires them
/// (whatever the log's byte count says: log extents come back only after a checkpoint).
pub const LOG_CHAIN_EXTENTS_MAX: usize = 4;
const _: () = assert!(LOG_CHAIN_EXTENTS_MAX >= LOG_EXTENTS_OPEN);
/// Objects log compaction moves at once: their records share group commits.
pub const COMPACTION_MOVES_IN_FLIGHT: usize = 32;
/// Stripes a partition's rebuild pass (or healing of degraded writes) reads and writes at
/// once while the foreground is idle: bounds its memory to about this many × (k + 2) × a
/// stripe's shard (256 KiB). On devices throttled to 200 MiB/s each, 8 left the devices
/// waiting on the pipeline (reads, decode, write per stripe): 16 keeps their queues full.
pub const REBUILD_STRIPES_IN_FLIGHT: usize = 16;
/// The same while the foreground is busy (a request finished in the last
/// `FOREGROUND_QUIET_MS`): each stripe in flight keeps k reads of up to 256 KiB in the
/// device queues ahead of a foreground read, so the window shrinks to bound that wait.
/// On devices of 200 MiB/s each, 1 instead of 2 halved the foreground p99 while
/// rebuilding and still rebuilt at more than half a device's bandwidth (BENCHMARKS.md).
pub const REBUILD_STRIPES_IN_FLIGHT_BUSY: usize = 1;
/// How long after the last foreground request the rebuild counts the foreground as idle.
pub const FOREGROUND_QUIET_MS: u64 = 200;
const _: () = assert!(REBUILD_STRIPES_IN_FLIGHT_BUSY >= 1);
const _: () = assert!(REBUILD_STRIPES_IN_FLIGHT_BUSY <= REBUILD_STRIPES_IN_FLIGHT);
/// Bytes per second a rebuild pass writes at most across the set; 0: no cap (default).
pub const REBUILD_RATE_BYTES_PER_SEC_DEFAULT: u64 = 0;
/// Stripes written while a device was down that a partition remembers to heal first
/// (`rebuild`); about 64 bytes each. Beyond this the rebuild pass heals them.
pub const DEGRADED_STRIPES_MAX: usize = 64 * 1024;
/// Device bitmasks are u64s.
const _: () = assert!(DATA_SHARDS_MAX + PARITY_SHARDS_MAX <= 64);
/// Read errors after which a device is marked failed. Fewer are taken as latent bad blocks:
/// each is rebuilt from the other shards and rewritten by the scrub. Write and flush errors
/// fail a device at once.
pub const DEVICE_READ_ERRORS_MAX: u32 = 16;
