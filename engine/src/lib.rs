//! ringstore storage engine: thread-per-core, erasure-coded, checksummed object storage on
//! O_DIRECT extents of raw files or block devices.
//!
//! Data flow of a put: the `Handle` routes the request to the partition that owns
//! (bucket, key) (`placement`); the partition, on its own glommio executor (`runtime`),
//! streams the body into stripes (`stripe`, `block`) in its data extents, or packs a small
//! body into its log, then appends a record (`record`) to its log (`log`), which the group
//! commit writes as one erasure-coded batch and flushes before `state` applies it and the
//! put is answered. Gets verify every block and rebuild bad ones from parity. At start a
//! partition loads its newest checkpoint (`checkpoint`) and replays its log (`recovery`).
//!
//! Modules:
//! - `api`, `error`: public types and the error enum.
//! - `constants`: every limit and fixed size.
//! - `superblock`, `device_set`: formatting devices and identifying them at open.
//! - `devices`: O_DIRECT I/O through io_uring on one executor.
//! - `flush_domain`: which device files one fdatasync flushes together (the fully
//!   written files of one filesystem).
//! - `block`, `stripe`: block headers with CRC32C, Reed-Solomon stripes.
//! - `record`, `state`: log records, the in-memory index (each key's chain of versions)
//!   and how records change it.
//! - `listing`: the k-way merge of the partitions' sorted shares of a listing.
//! - `versions`, `snapshot`: version listings and object ACLs; snapshot views for
//!   inventory scans.
//! - `partition`, `log`, `object_io`, `checkpoint`, `recovery`: one partition's work.
//! - `read_cache`: each partition's cache of verified small objects (by location, so
//!   never stale).
//! - `digest`: a streamed body's MD5 on the executor's helper thread, its CRC-64 inline.
//! - `shared`: bucket cache and counters every core reads.
//! - `compaction`, `relocate`: background checkpoints and compaction (large objects move
//!   only their stripes in the extent being emptied).
//! - `space`: the reserve of free extents puts never take, and reclaiming before
//!   allocating when space runs low (puts slow down instead of failing).
//! - `replace`, `rebuild`: formatting a new device into the set; rebuilding its shards
//!   from k others, and healing stripes written while a device was down.
//! - `scrub`, `scrub_progress`, `repair`: the background scrub, its persisted progress,
//!   and verifying a whole stripe and rewriting its bad blocks from parity.
//! - `runtime`: executors, inboxes and the `Handle`.
//! - `failpoint`: named crash points for crash tests (feature `failpoints`, off by default).
//! - `fault_sim`: seeded storage fault injection under `devices` (feature `failpoints`).
//! - `fuzz_api`: the pure decoders of the on-disk formats, for `tests/fuzz/`.
//!
//! The on-disk format is specified in `FORMAT.md`.

pub mod api;
pub mod block;
pub mod checkpoint;
pub mod compaction;
pub mod constants;
pub mod device_set;
pub mod devices;
pub mod digest;
pub mod error;
pub mod failpoint;
#[cfg(feature = "failpoints")]
pub mod fault_sim;
pub mod flush_domain;
#[doc(hidden)]
pub mod fuzz_api;
pub mod listing;
pub mod log;
pub mod object_io;
pub mod partition;
pub mod placement;
pub mod read_cache;
pub mod rebuild;
pub mod record;
pub mod recovery;
pub mod relocate;
pub mod repair;
pub mod replace;
pub mod runtime;
pub mod scrub;
pub mod scrub_progress;
pub mod shared;
pub mod snapshot;
pub mod space;
pub mod state;
pub mod stripe;
pub mod superblock;
pub mod versions;

pub use api::*;
pub use error::Error;
pub use object_io::PutBody;
pub use runtime::{Engine, EngineConfig, GetReply, Handle, PartitionStatus};
pub use scrub::{PartitionScrub, ScrubConfig};
pub use snapshot::Snapshot;
