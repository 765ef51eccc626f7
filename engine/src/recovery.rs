//! Start-up: load the newest checkpoint, replay the log after it, and tell a torn tail
//! (a batch the crash interrupted: never acknowledged, discarded) from damage in the
//! committed log (refuse to start, naming the batch).

use std::rc::Rc;

use crate::block::{BlockHeader, BlockKind};
use crate::constants::BLOCK_BYTES;
use crate::error::Error;
use crate::log::Root;
use crate::partition::{LogPos, Partition};
use crate::record::InlineLoc;
use crate::state::Usage;

impl Partition {
    pub async fn recover(self: &Rc<Self>) -> Result<(), Error> {
        let root = match self.read_root().await {
            Some(r) => r,
            None => return self.start_fresh().await,
        };
        if root.checkpoint_len > 0 {
            self.load_checkpoint(&root).await?;
            // Replay adjusts liveness record by record, from the image's counts.
            self.st.borrow_mut().recount();
        }
        let mut pos = root.log_pos();
        self.mark_log_extent(pos.extent, pos.generation);
        self.mark_log_extent(pos.next_extent, pos.next_generation);
        self.log_chain.borrow_mut().push(pos.extent);
        let mut batches = 0u64;
        let mut replayed_bytes = 0u64;
        // The sequence number of a batch found at the end that cannot be read.
        let mut unreadable = None;
        while let Some((at, rows)) = self.locate_batch(&pos).await {
            let (h, records) = match self.read_batch(&at, rows).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(
                        partition = self.id,
                        seq = at.seq,
                        error = %e,
                        "unreadable log batch at the tail"
                    );
                    unreadable = Some(at.seq);
                    break;
                }
            };
            // A batch that did not fit in the rest of its extent starts the announced one.
            if at.extent != pos.extent {
                self.log_chain.borrow_mut().push(at.extent);
            }
            let loc = InlineLoc {
                extent: at.extent,
                generation: at.generation,
                first_block: at.block,
                rows,
                seq: at.seq,
                offset: 0,
                len: 0,
            };
            for mut rec in records {
                if let Some(entry) = rec.inline_entry_mut() {
                    crate::state::place_inline(entry, &loc);
                }
                self.st.borrow_mut().apply(&rec);
            }
            self.mark_log_extent(h.next_extent, h.next_generation);
            pos = LogPos {
                seq: at.seq + 1,
                block: at.block + rows as u32,
                next_extent: h.next_extent,
                next_generation: h.next_generation,
                ..at
            };
            batches += 1;
            replayed_bytes +=
                (rows as usize * BLOCK_BYTES * self.dev.geometry.shard_count()) as u64;
        }
        self.settle_tail(&mut pos, unreadable).await?;
        self.log.set(pos);
        self.applied.set(pos);
        // The log a restart replayed counts toward the next checkpoint: if it started from
        // zero, a daemon killed more often than it fills the threshold would never
        // checkpoint, and its log extents, which only a checkpoint retires, would fill
        // the set.
        self.log_bytes_since_checkpoint.set(replayed_bytes);
        {
            let mut st = self.st.borrow_mut();
            st.recount();
            st.release_unused(Usage::Data, &[]);
        }
        self.release_retired_log();
        if self.id == 0 {
            self.shared.publish_buckets(&self.st.borrow().buckets);
        }
        tracing::info!(
            partition = self.id,
            batches,
            next_seq = pos.seq,
            "log replayed"
        );
        Ok(())
    }

    fn mark_log_extent(&self, extent: u32, generation: u32) {
        let mut st = self.st.borrow_mut();
        let e = st.extents.get_mut(&extent).expect("log extents are owned");
        e.generation = generation;
        e.usage = Usage::Log;
    }

    async fn start_fresh(&self) -> Result<(), Error> {
        let (extent, generation) = self.take_extent(Usage::Log)?;
        let (next_extent, next_generation) = self.take_extent(Usage::Log)?;
        let pos = LogPos {
            seq: 1,
            extent,
            generation,
            block: 0,
            next_extent,
            next_generation,
        };
        self.log.set(pos);
        self.applied.set(pos);
        self.log_chain.borrow_mut().push(extent);
        let root = Root {
            partition: self.id,
            root_seq: 1,
            log_seq: 1,
            log_extent: extent,
            log_generation: generation,
            log_block: 0,
            log_next_extent: next_extent,
            log_next_generation: next_generation,
            checkpoint_len: 0,
            checkpoint_stamp: 0,
            checkpoint_crc: 0,
            checkpoint_runs: Vec::new(),
        };
        self.write_root(&root).await?;
        self.root_seq.set(1);
        Ok(())
    }

    /// After replay stopped at `pos` (at a batch `unreadable` that could not be read, or
    /// where none was found): tells a torn tail from damage, and moves the next sequence
    /// number past every write left at the tail, so the next batch written there shares
    /// its identity with no block on any device (a shard that a misdirected rewrite left
    /// in place then fails verification instead of being decoded as part of the batch).
    async fn settle_tail(&self, pos: &mut LogPos, unreadable: Option<u64>) -> Result<(), Error> {
        let here = self
            .newest_log_stamp(pos.extent, pos.generation, pos.block, pos.seq)
            .await;
        let next = self
            .newest_log_stamp(pos.next_extent, pos.next_generation, 0, pos.seq)
            .await;
        let newest = here.max(next);
        let attempted = unreadable.unwrap_or(pos.seq);
        if let Some(seq) = newest.filter(|&s| s > attempted) {
            return Err(Error::DataUnavailable(format!(
                "partition {}: log batch {attempted} cannot be read but batch {seq} after it \
                 exists; the committed log is damaged beyond its parity (refusing to start)",
                self.id
            )));
        }
        if let Some(seq) = newest {
            pos.seq = seq + 1;
        }
        // An attempt at the log position must be covered before the log moves on.
        self.log_dirty.set(here.is_some());
        Ok(())
    }

    /// The highest stamp, at least `min_seq`, of the log blocks of `extent` (in this
    /// generation, from block `from` on) on every device, counting only blocks whose header
    /// names the place they are in. Batches are written one at a time and stamps only grow,
    /// so a stamp above the batch that ended the replay means a later batch was written:
    /// that batch had been durable and is now damaged.
    async fn newest_log_stamp(
        &self,
        extent: u32,
        generation: u32,
        from: u32,
        min_seq: u64,
    ) -> Option<u64> {
        let per_extent = self.dev.blocks_per_extent();
        let chunk = 64u32;
        let mut newest = None;
        let mut block = from;
        while block < per_extent {
            let n = chunk.min(per_extent - block);
            for d in 0..self.dev.count() {
                let Ok(buf) = self
                    .dev
                    .read(d, self.dev.offset(extent, block), n as usize * BLOCK_BYTES)
                    .await
                else {
                    continue;
                };
                for i in 0..n as usize {
                    let Ok(h) = BlockHeader::open(&buf[i * BLOCK_BYTES..(i + 1) * BLOCK_BYTES])
                    else {
                        continue;
                    };
                    if h.kind == BlockKind::Log
                        && h.set_id == self.set_id()
                        && h.partition == self.id
                        && h.extent == extent
                        && h.block == block + i as u32
                        && h.generation == generation
                        && h.stamp >= min_seq
                    {
                        newest = newest.max(Some(h.stamp));
                    }
                }
            }
            block += n;
        }
        newest
    }
}
