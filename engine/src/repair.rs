//! Verifying a whole stripe, every shard on every device, and rewriting its bad blocks in
//! place from the rest of their rows (FORMAT.md §13).
//!
//! A rewritten block carries exactly the header its place demands (the stripe's extent,
//! generation, stamp, shard and row): the header is known from where the block is, and
//! the payload comes from Reed-Solomon. So a stale block of an earlier generation or a
//! misdirected block is replaced by the current one. The stripe's extent is pinned from
//! before the first read until the last repair write, so it cannot be freed and handed to
//! a new use meanwhile, and the caller's `still_valid` is asked right before the writes
//! are issued: a stripe no longer referenced (its object overwritten, its checkpoint
//! replaced) is not written, so a repair never brings back an older generation.

use futures::future::join_all;

use crate::block::payload_mut;
use crate::constants::{BLOCK_BYTES, BLOCK_PAYLOAD_BYTES};
use crate::partition::Partition;
use crate::state::Usage;
use crate::stripe::{verify_block, StripeId};

/// How many user bytes a stripe carries, which its data blocks' `payload_len` must say.
#[derive(Clone, Copy, Debug)]
pub enum StripeLen {
    Bytes(usize),
    /// A log batch: `32 + records_len` of the batch header in data shard 0, row 0.
    LogBatch,
}

/// What verifying one stripe found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StripeCheck {
    pub blocks: u64,
    pub bytes: u64,
    pub corrupt: u64,
    pub repaired: u64,
    pub unrecoverable: u64,
    /// Blocks on devices that are down: not verified, not written.
    pub degraded: u64,
    /// The stripe was no longer in use (extent freed or reused) and was skipped.
    pub skipped: bool,
}

impl StripeCheck {
    pub fn add(&mut self, o: &StripeCheck) {
        self.blocks += o.blocks;
        self.bytes += o.bytes;
        self.corrupt += o.corrupt;
        self.repaired += o.repaired;
        self.unrecoverable += o.unrecoverable;
        self.degraded += o.degraded;
    }
}

impl Partition {
    /// True while `extent` still has `generation` and some use.
    pub(crate) fn extent_in_use(&self, extent: u32, generation: u32) -> bool {
        let st = self.st.borrow();
        st.extents
            .get(&extent)
            .is_some_and(|e| e.generation == generation && e.usage != Usage::Free)
    }

    /// Verifies every block of stripe `id` and rewrites the bad ones if `still_valid`
    /// holds right before the writes. Counts into the engine's scrub counters.
    pub async fn scrub_stripe(
        &self,
        id: &StripeId,
        len: StripeLen,
        still_valid: impl Fn(&Partition) -> bool,
    ) -> StripeCheck {
        if !self.extent_in_use(id.extent, id.generation) {
            return StripeCheck {
                skipped: true,
                ..StripeCheck::default()
            };
        }
        self.pin(&[id.extent], true);
        let check = self.scrub_pinned(id, len, still_valid).await;
        self.pin(&[id.extent], false);
        let s = &self.shared.stats;
        s.scrub_blocks.add(check.blocks);
        s.scrub_bytes.add(check.bytes);
        s.scrub_corrupt.add(check.corrupt);
        s.scrub_repaired.add(check.repaired);
        s.scrub_unrecoverable.add(check.unrecoverable);
        if check.corrupt > 0 {
            tracing::warn!(partition = self.id, extent = id.extent, block = id.first_block,
                kind = ?id.kind, corrupt = check.corrupt, repaired = check.repaired,
                unrecoverable = check.unrecoverable, "scrub found bad blocks");
        }
        check
    }

    async fn scrub_pinned(
        &self,
        id: &StripeId,
        len: StripeLen,
        still_valid: impl Fn(&Partition) -> bool,
    ) -> StripeCheck {
        let g = self.dev.geometry;
        let rows = id.rows as usize;
        let at = self.dev.offset(id.extent, id.first_block);
        let reads = join_all((0..g.shard_count()).map(|s| async move {
            let dev = g.device_of(id.extent, s);
            if !self.dev.is_up(dev) {
                return None;
            }
            Some(self.dev.read(dev, at, rows * BLOCK_BYTES).await.ok())
        }))
        .await;
        let mut check = StripeCheck::default();
        // good[s][r]: the verified block, or None.
        let mut good: Vec<Vec<Option<&[u8]>>> = vec![vec![None; rows]; g.shard_count()];
        for (s, read) in reads.iter().enumerate() {
            for (r, slot) in good[s].iter_mut().enumerate() {
                match read {
                    None => check.degraded += 1,
                    Some(None) => {
                        check.blocks += 1;
                        check.corrupt += 1;
                    }
                    Some(Some(buf)) => {
                        check.blocks += 1;
                        check.bytes += BLOCK_BYTES as u64;
                        let block = &buf[r * BLOCK_BYTES..(r + 1) * BLOCK_BYTES];
                        match verify_block(id, s, r, block) {
                            Ok(_) => *slot = Some(block),
                            Err(e) => {
                                check.corrupt += 1;
                                tracing::debug!(partition = self.id, extent = id.extent, shard = s, row = r, error = %e, "scrub: bad block");
                            }
                        }
                    }
                }
            }
        }
        if check.corrupt == 0 {
            return check;
        }
        let Some(len) = self.stripe_len(id, len, &good) else {
            check.unrecoverable = check.corrupt;
            return check;
        };
        let mut writes = Vec::new();
        for r in 0..rows {
            let row: Vec<Option<&[u8]>> = good.iter().map(|shard| shard[r]).collect();
            for s in 0..g.shard_count() {
                if row[s].is_some() || reads[s].is_none() {
                    continue;
                }
                match self.coder.borrow_mut().reconstruct(&row, s) {
                    Some(p) => writes.push((s, r, self.sealed(id, s, r, len, &p))),
                    None => check.unrecoverable += 1,
                }
            }
            glommio::yield_if_needed().await;
        }
        drop(good);
        if writes.is_empty() || !still_valid(self) || !self.extent_in_use(id.extent, id.generation)
        {
            return check;
        }
        let runs = self.coalesce(writes);
        let results = join_all(runs.into_iter().map(|(s, r, rows, buf)| {
            let dev = g.device_of(id.extent, s);
            let at = self.dev.offset(id.extent, id.first_block + r as u32);
            async move {
                let written = self.dev.write(dev, at, buf).await;
                crate::failpoint::crash_point!(crate::failpoint::DURING_REPAIR);
                (rows, written)
            }
        }))
        .await;
        let ok = |r: &&(u64, std::io::Result<()>)| r.1.is_ok();
        check.repaired = results.iter().filter(ok).map(|r| r.0).sum();
        check.unrecoverable += results
            .iter()
            .filter(|r| r.1.is_err())
            .map(|r| r.0)
            .sum::<u64>();
        check
    }

    /// Joins rebuilt blocks of one shard in consecutive rows into one write each, so a
    /// rebuilt device takes stripe-sized writes: (shard, first row, rows, buffer).
    fn coalesce(
        &self,
        mut blocks: Vec<(usize, usize, Vec<u8>)>,
    ) -> Vec<(usize, usize, u64, glommio::io::DmaBuffer)> {
        blocks.sort_by_key(|b| (b.0, b.1));
        let mut runs: Vec<(usize, usize, Vec<Vec<u8>>)> = Vec::new();
        for (s, r, b) in blocks {
            match runs.last_mut() {
                Some(run) if run.0 == s && run.1 + run.2.len() == r => run.2.push(b),
                _ => runs.push((s, r, vec![b])),
            }
        }
        runs.into_iter()
            .map(|(s, r, bs)| {
                let mut buf = self.dev.alloc(bs.len() * BLOCK_BYTES);
                for (i, b) in bs.iter().enumerate() {
                    buf.as_bytes_mut()[i * BLOCK_BYTES..(i + 1) * BLOCK_BYTES].copy_from_slice(b);
                }
                (s, r, bs.len() as u64, buf)
            })
            .collect()
    }
    /// The stripe's user byte count: given, or read from the (verified or rebuilt) batch
    /// header of a log stripe.
    fn stripe_len(
        &self,
        id: &StripeId,
        len: StripeLen,
        good: &[Vec<Option<&[u8]>>],
    ) -> Option<usize> {
        let n = match len {
            StripeLen::Bytes(n) => n,
            StripeLen::LogBatch => {
                let row: Vec<Option<&[u8]>> = good.iter().map(|s| s[0]).collect();
                let p = self.coder.borrow_mut().reconstruct(&row, 0)?;
                let h = crate::log::BatchHeader::decode(&p)?;
                if h.seq != id.stamp || h.partition != self.id {
                    return None;
                }
                crate::log::BATCH_HEADER_BYTES + h.records_len as usize
            }
        };
        (n <= self.dev.geometry.stripe_bytes(id.rows as usize)).then_some(n)
    }

    /// Block `row` of `shard` with payload `p`, sealed with the header its place demands.
    fn sealed(&self, id: &StripeId, shard: usize, row: usize, len: usize, p: &[u8]) -> Vec<u8> {
        let g = self.dev.geometry;
        let used = if shard < g.data_shards {
            let at = (shard * id.rows as usize + row) * BLOCK_PAYLOAD_BYTES;
            len.saturating_sub(at).min(BLOCK_PAYLOAD_BYTES)
        } else {
            BLOCK_PAYLOAD_BYTES
        };
        let mut block = vec![0u8; BLOCK_BYTES];
        payload_mut(&mut block).copy_from_slice(p);
        id.header(shard, row, used as u16).seal(&mut block);
        block
    }
}
