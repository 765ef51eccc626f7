//! Rebuilding the shards of replaced devices, and healing stripes written while a device
//! was down.
//!
//! Rebuild (the pass a `device replace` starts, FORMAT.md §13): for each stripe the k
//! shards on devices that are up and not being rebuilt are read, one read of the whole
//! stripe per shard, all k at once and several stripes at a time (the scrub runs up to
//! `REBUILD_STRIPES_IN_FLIGHT`). Every block read is verified; the shards of the rebuilt
//! devices are computed in one Reed-Solomon call over the whole stripe, sealed with the
//! header their place demands (extent, generation, stamp, shard, row, payload length), and
//! written with one write per shard. The shards the rebuild does not need are not read,
//! so they are not verified either: that is the scrub's job. A source block that fails
//! verification makes the stripe fall back to the scrub's verify-everything repair
//! (`repair`). The same guards as a repair hold: the extent is pinned from the first read
//! to the last write and the caller's condition is checked right before the writes, so
//! a stripe freed or overwritten meanwhile is not written. While the foreground is busy
//! the window shrinks to `REBUILD_STRIPES_IN_FLIGHT_BUSY`, and `rebuild_rate_bytes_per_sec`
//! can cap the bytes written (`scrub::Throttle`). Until a partition's pass ends, its reads
//! treat the replacement's shards as absent and compute a span from one read of each of
//! k others (`rebuild_span`), as they do for a missing device.
//!
//! Degraded writes: `write_stripe` reports every stripe that did not reach every device,
//! with the devices it missed, to a bounded per-partition list in memory
//! (`DEGRADED_STRIPES_MAX`); `admin status` shows its length as the stripes lacking
//! redundancy. The scrub worker heals the list first, as soon as the devices a stripe
//! missed are up again (a replacement was attached), before and during the rebuild pass,
//! so a write that raced with the pass (committed after the pass walked past its key) is
//! healed too. A restart forgets the list: the device that was down is then missing at
//! start, and the rebuild pass of its replacement rewrites every stripe anyway. Stripes
//! not remembered because the list was full are counted (`degraded_stripes_untracked`)
//! and likewise left to the rebuild pass.
//!
//! Writes spanning a replacement: a put or compaction move whose stripes reached the old
//! device and which commits after the pass walked past its key lists its stripes here at
//! its commit (`settle_written`), and so does a checkpoint whose root is written after
//! the replacement (`settle_checkpoint`, FORMAT.md §13.2).

use std::rc::Rc;

use futures::future::join_all;

use crate::block::{payload, payload_mut};
use crate::constants::{BLOCK_BYTES, BLOCK_PAYLOAD_BYTES, DEGRADED_STRIPES_MAX};
use crate::partition::Partition;
use crate::record::ObjectData;
use crate::repair::{StripeCheck, StripeLen};
use crate::scrub::ScrubControl;
use crate::shared::Stats;
use crate::stripe::{verify_block, ShardSpan, StripeId};

/// A stripe written without its shards on the devices in `missing` (bit per device).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Degraded {
    pub id: StripeId,
    /// The user bytes it carries.
    pub len: usize,
    pub missing: u64,
}

impl ScrubControl {
    /// Remembers a stripe `write_stripe` could not write to every device.
    pub(crate) fn note_degraded(&self, stats: &Stats, d: Degraded) {
        stats.degraded_stripes_written.inc();
        self.list_degraded(stats, d);
    }

    /// Lists a stripe lacking the shards of the devices in `d.missing`.
    fn list_degraded(&self, stats: &Stats, d: Degraded) {
        let mut lists = self.degraded.lock().expect("degraded stripes");
        let list = &mut lists[d.id.partition as usize];
        if list.len() < DEGRADED_STRIPES_MAX {
            list.push(d);
        } else {
            stats.degraded_stripes_untracked.inc();
        }
    }

    /// Stripes written while a device was down and not healed yet (all partitions),
    /// those a heal is working on included.
    pub fn degraded_stripes(&self) -> u64 {
        let lists = self.degraded.lock().expect("degraded stripes");
        let listed: u64 = lists.iter().map(|l| l.len() as u64).sum();
        listed + self.healing.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn take_degraded(&self, partition: u16) -> Vec<Degraded> {
        std::mem::take(&mut self.degraded.lock().expect("degraded stripes")[partition as usize])
    }

    fn keep_degraded(&self, partition: u16, mut back: Vec<Degraded>) {
        let mut lists = self.degraded.lock().expect("degraded stripes");
        let list = &mut lists[partition as usize];
        back.append(list);
        *list = back;
    }
}

/// What must still hold right before a rebuilt stripe is written.
#[derive(Clone, Debug)]
pub(crate) enum StillValid {
    /// The extent keeps this generation (log batches, checkpoints, degraded writes).
    Extent { extent: u32, generation: u32 },
    /// The index still holds this very version of the key: (bucket, key, version, data).
    Version(Rc<(String, String, u64, ObjectData)>),
}

impl StillValid {
    pub(crate) fn holds(&self, p: &Partition) -> bool {
        match self {
            StillValid::Extent { extent, generation } => p.same_extent(*extent, *generation),
            StillValid::Version(v) => {
                let (bucket, key, version, data) = &**v;
                p.st.borrow()
                    .versions(bucket, key)
                    .and_then(|c| c.get(*version))
                    .is_some_and(|e| &e.data == data)
            }
        }
    }
}

/// One stripe for the scrub or the rebuild to check.
#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub id: StripeId,
    pub len: StripeLen,
    pub valid: StillValid,
}

impl Job {
    /// A stripe whose validity is its extent's generation.
    pub(crate) fn in_extent(id: StripeId, len: StripeLen) -> Job {
        let valid = StillValid::Extent {
            extent: id.extent,
            generation: id.generation,
        };
        Job { id, len, valid }
    }
}

impl Partition {
    /// True when reads should not use device `dev`'s shards: it is down, or it is a
    /// replacement this partition's rebuild pass has not finished (its blocks are zeros
    /// until the pass reaches them).
    pub(crate) fn shard_unreadable(&self, dev: usize) -> bool {
        let rebuilding = self.shared.scrub.rebuilding[self.id as usize]
            .load(std::sync::atomic::Ordering::Relaxed);
        !self.dev.is_up(dev) || rebuilding & (1 << dev) != 0
    }

    /// The payloads of `span`, a shard that cannot be read, computed from one read of
    /// the same rows on each of k other shards and one Reed-Solomon call (rather than k
    /// reads per row). `None`: fewer than k other shards are readable or one of their
    /// blocks is bad; the caller then reads row by row, which copes with both.
    pub(crate) async fn rebuild_span(&self, id: &StripeId, span: &ShardSpan) -> Option<Vec<u8>> {
        let g = self.dev.geometry;
        let rows = span.row_count;
        let at = self
            .dev
            .offset(id.extent, id.first_block + span.first_row as u32);
        let on = |s: usize| g.device_of(id.extent, s);
        let sources: Vec<usize> = (0..g.shard_count())
            .filter(|&s| s != span.shard && !self.shard_unreadable(on(s)))
            .take(g.data_shards)
            .collect();
        if sources.len() < g.data_shards {
            return None;
        }
        let reads = join_all(
            sources
                .iter()
                .map(|&s| async move { self.dev.read(on(s), at, rows * BLOCK_BYTES).await.ok() }),
        )
        .await;
        let mut present: Vec<Option<Vec<u8>>> = vec![None; g.shard_count()];
        for (&s, read) in sources.iter().zip(&reads) {
            let buf = read.as_ref()?;
            let mut p = Vec::with_capacity(rows * BLOCK_PAYLOAD_BYTES);
            for i in 0..rows {
                let block = &buf[i * BLOCK_BYTES..(i + 1) * BLOCK_BYTES];
                verify_block(id, s, span.first_row + i, block).ok()?;
                p.extend_from_slice(payload(block));
            }
            present[s] = Some(p);
        }
        let refs: Vec<Option<&[u8]>> = present.iter().map(|p| p.as_deref()).collect();
        let mut rebuilt = self
            .coder
            .borrow_mut()
            .rebuild_shards(&refs, &[span.shard], rows)?;
        self.shared.stats.rebuilt_blocks.add(rows as u64);
        Some(rebuilt.swap_remove(0))
    }

    /// Called right after committing `data` (`size` bytes), whose stripes were written
    /// from attach count `mark` on (`Devices::attaches`, taken before the first write).
    /// If a device was replaced since, some of those stripes may have reached only the
    /// old device, and the rebuild pass may have walked past the key before it was
    /// committed: they are listed as degraded, lacking the replaced devices' shards, so
    /// they are rebuilt like any write that missed a device (healed first, during and
    /// after the pass). Inline data lives in a log batch, which the log phase covers.
    pub(crate) fn settle_written(&self, mark: u64, data: &ObjectData, size: u64) {
        let stripes = self
            .data_pieces(data, 0, size)
            .into_iter()
            .filter(|(id, _, _)| id.kind == crate::block::BlockKind::Data)
            .map(|(id, off, len)| (id, off + len));
        self.settle_stripes(mark, stripes);
    }

    /// Called right after the root naming a new checkpoint is written, with the attach
    /// count `mark` taken before its first stripe write. If a device was replaced since,
    /// the stripes written before the attach reached only the old device, and the rebuild
    /// pass may have read the previous root (and rebuilt the checkpoint that one names,
    /// which this root frees) before this root was written: they are listed as degraded,
    /// lacking the replaced devices' shards, and rebuilt like any write that missed a
    /// device (FORMAT.md §13.2).
    pub(crate) fn settle_checkpoint(&self, mark: u64, stripes: &[(StripeId, usize)]) {
        self.settle_stripes(mark, stripes.iter().copied());
    }

    /// Lists `stripes` (id, user bytes) as lacking the shards of every device replaced
    /// since the attach count `mark`; nothing when none was.
    fn settle_stripes(&self, mark: u64, stripes: impl Iterator<Item = (StripeId, usize)>) {
        let missing = self.dev.replaced_since(mark);
        if missing == 0 {
            return;
        }
        for (id, len) in stripes {
            let d = Degraded { id, len, missing };
            self.shared.scrub.list_degraded(&self.shared.stats, d);
        }
    }

    /// Checks one stripe: rebuilds the shards of the devices in `targets` (bit per
    /// device) if there are any, else verifies and repairs the whole stripe.
    pub(crate) async fn check_job(&self, job: &Job, targets: u64) -> StripeCheck {
        let valid = |p: &Partition| job.valid.holds(p);
        if targets == 0 {
            return self.scrub_stripe(&job.id, job.len, valid).await;
        }
        self.rebuild_stripe(&job.id, job.len, targets, valid).await
    }

    /// Rewrites the shards of stripe `id` that live on the devices in `targets` from k
    /// shards on the other devices (see the module docs).
    pub(crate) async fn rebuild_stripe(
        &self,
        id: &StripeId,
        len: StripeLen,
        targets: u64,
        still_valid: impl Fn(&Partition) -> bool,
    ) -> StripeCheck {
        let g = self.dev.geometry;
        let on = |s: &usize| g.device_of(id.extent, *s);
        let target = |s: &usize| targets & (1u64 << on(s)) != 0;
        let want: Vec<usize> = (0..g.shard_count())
            .filter(|s| target(s) && self.dev.is_up(on(s)))
            .collect();
        let sources: Vec<usize> = (0..g.shard_count())
            .filter(|s| !target(s) && self.dev.is_up(on(s)))
            .take(g.data_shards)
            .collect();
        if want.is_empty() {
            return StripeCheck::default();
        }
        if sources.len() < g.data_shards {
            return self.scrub_stripe(id, len, still_valid).await;
        }
        if !self.extent_in_use(id.extent, id.generation) {
            return StripeCheck {
                skipped: true,
                ..StripeCheck::default()
            };
        }
        self.pin(&[id.extent], true);
        let done = self
            .rebuild_pinned(id, len, &want, &sources, &still_valid)
            .await;
        self.pin(&[id.extent], false);
        let Some(check) = done else {
            // A source block is bad: verify and repair every shard the scrub's way.
            return self.scrub_stripe(id, len, still_valid).await;
        };
        let s = &self.shared.stats;
        s.scrub_blocks.add(check.blocks);
        s.scrub_bytes.add(check.bytes);
        s.scrub_corrupt.add(check.corrupt);
        s.scrub_repaired.add(check.repaired);
        s.rebuild_blocks_written.add(check.repaired);
        s.scrub_unrecoverable.add(check.unrecoverable);
        check
    }

    /// Reads and verifies the `sources` shards, computes the `want` shards and writes
    /// them. `None`: a source block failed (the caller falls back to a full check).
    async fn rebuild_pinned(
        &self,
        id: &StripeId,
        len: StripeLen,
        want: &[usize],
        sources: &[usize],
        still_valid: &impl Fn(&Partition) -> bool,
    ) -> Option<StripeCheck> {
        let g = self.dev.geometry;
        let rows = id.rows as usize;
        let at = self.dev.offset(id.extent, id.first_block);
        let reads = join_all(sources.iter().map(|&s| async move {
            let dev = g.device_of(id.extent, s);
            self.dev.read(dev, at, rows * BLOCK_BYTES).await.ok()
        }))
        .await;
        let mut present: Vec<Option<Vec<u8>>> = vec![None; g.shard_count()];
        for (&s, read) in sources.iter().zip(&reads) {
            let buf = read.as_ref()?;
            let mut p = Vec::with_capacity(rows * BLOCK_PAYLOAD_BYTES);
            for r in 0..rows {
                let block = &buf[r * BLOCK_BYTES..(r + 1) * BLOCK_BYTES];
                verify_block(id, s, r, block).ok()?;
                p.extend_from_slice(payload(block));
            }
            present[s] = Some(p);
        }
        drop(reads);
        let mut check = StripeCheck {
            blocks: (sources.len() * rows) as u64,
            bytes: (sources.len() * rows * BLOCK_BYTES) as u64,
            ..StripeCheck::default()
        };
        // A log batch's length is in its header, at the start of data shard 0.
        let mut wanted = want.to_vec();
        let header_rebuilt = matches!(len, StripeLen::LogBatch) && present[0].is_none();
        if header_rebuilt {
            wanted.push(0);
        }
        let refs: Vec<Option<&[u8]>> = present.iter().map(|p| p.as_deref()).collect();
        let rebuilt = self.coder.borrow_mut().rebuild_shards(&refs, &wanted, rows);
        glommio::yield_if_needed().await;
        let Some(rebuilt) = rebuilt else {
            check.unrecoverable = (want.len() * rows) as u64;
            return Some(check);
        };
        let len = match len {
            StripeLen::Bytes(n) => Some(n),
            StripeLen::LogBatch => {
                let shard0 = if header_rebuilt {
                    &rebuilt[want.len()]
                } else {
                    present[0].as_ref().expect("shard 0 was read")
                };
                self.batch_len(id, &shard0[..BLOCK_PAYLOAD_BYTES])
            }
        };
        let Some(len) = len.filter(|&n| n <= g.stripe_bytes(rows)) else {
            check.unrecoverable = (want.len() * rows) as u64;
            return Some(check);
        };
        let bufs: Vec<_> = want
            .iter()
            .zip(&rebuilt)
            .map(|(&s, p)| (s, self.sealed_shard(id, s, len, p)))
            .collect();
        if !still_valid(self) || !self.extent_in_use(id.extent, id.generation) {
            check.skipped = true;
            return Some(check);
        }
        let results = join_all(bufs.into_iter().map(|(s, buf)| {
            let dev = g.device_of(id.extent, s);
            async move { self.dev.write(dev, at, buf).await }
        }))
        .await;
        for r in results {
            match r {
                Ok(()) => check.repaired += rows as u64,
                Err(_) => check.unrecoverable += rows as u64,
            }
        }
        Some(check)
    }

    /// The user bytes of a log batch stripe, from its batch header (row 0 of shard 0).
    fn batch_len(&self, id: &StripeId, row0: &[u8]) -> Option<usize> {
        let h = crate::log::BatchHeader::decode(row0)?;
        if h.seq != id.stamp || h.partition != self.id {
            return None;
        }
        Some(crate::log::BATCH_HEADER_BYTES + h.records_len as usize)
    }

    /// Shard `shard` of stripe `id` from its payloads (`rows × 4032` bytes), every block
    /// sealed with the header its place demands, in one aligned buffer.
    fn sealed_shard(
        &self,
        id: &StripeId,
        shard: usize,
        len: usize,
        p: &[u8],
    ) -> glommio::io::DmaBuffer {
        let g = self.dev.geometry;
        let rows = id.rows as usize;
        assert_eq!(p.len(), rows * BLOCK_PAYLOAD_BYTES);
        let mut buf = self.dev.alloc(rows * BLOCK_BYTES);
        let bytes = buf.as_bytes_mut();
        for r in 0..rows {
            let block = &mut bytes[r * BLOCK_BYTES..(r + 1) * BLOCK_BYTES];
            payload_mut(block)
                .copy_from_slice(&p[r * BLOCK_PAYLOAD_BYTES..][..BLOCK_PAYLOAD_BYTES]);
            let used = if shard < g.data_shards {
                let at = (shard * rows + r) * BLOCK_PAYLOAD_BYTES;
                len.saturating_sub(at).min(BLOCK_PAYLOAD_BYTES)
            } else {
                BLOCK_PAYLOAD_BYTES
            };
            id.header(shard, r, used as u16).seal(block);
        }
        buf
    }

    /// Puts the degraded jobs a heal did not start back on the list.
    pub(crate) fn relist_degraded(&self, rest: Vec<(Job, u64)>) {
        let stats = &self.shared.stats;
        for (job, missing) in rest {
            let StripeLen::Bytes(len) = job.len else {
                unreachable!("degraded jobs carry their length");
            };
            let d = Degraded {
                id: job.id,
                len,
                missing,
            };
            self.shared.scrub.list_degraded(stats, d);
        }
    }

    /// The stripes written while a device was down whose missing devices are all up
    /// again, as jobs with the devices to rebuild; the others stay listed.
    pub(crate) fn degraded_jobs(&self) -> Vec<(Job, u64)> {
        let control = &self.shared.scrub;
        let listed = control.take_degraded(self.id);
        if listed.is_empty() {
            return Vec::new();
        }
        let up = |m: u64| (0..self.dev.count()).all(|d| m & (1 << d) == 0 || self.dev.is_up(d));
        let (ready, waiting): (Vec<Degraded>, Vec<Degraded>) =
            listed.into_iter().partition(|d| up(d.missing));
        control.keep_degraded(self.id, waiting);
        ready
            .into_iter()
            // The shards were sealed with the length of the buffer `write_stripe` encoded.
            .map(|d| (Job::in_extent(d.id, StripeLen::Bytes(d.len)), d.missing))
            .collect()
    }
}
