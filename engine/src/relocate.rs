//! Data compaction of objects with stripes in several extents: only the stripes that lie in
//! the extent being emptied are copied, one stripe at a time, so a 5 GiB object costs the
//! copy of the few MiB it has in that extent, in bounded memory.
//!
//! A segment's stripes share one stamp, and the copies get a new one, so the segment is
//! split where the copied run starts and ends: [runs before] (old stamp), [the copied run]
//! (new stamp), [runs after] (old stamp). Every stripe of a segment but its last is full,
//! so each piece is again a valid segment (FORMAT.md 7.5, 7.6). Each copy is read back and
//! compared with its source before the `ObjectRelocate` record that swaps it in is queued;
//! until that record is durable the old stripes are what the index names, and they are
//! kept (their extent is pinned), so a crash at any point leaves a whole object.

use std::rc::Rc;

use crate::block::BlockKind;
use crate::constants::STRIPE_BLOCKS_MAX;
use crate::error::Error;
use crate::object_io::append_stripe;
use crate::partition::Partition;
use crate::record::{ObjectData, ObjectEntry, Record, Run, Segment, StripeData};
use crate::state::Applied;
use crate::stripe::StripeId;

impl Partition {
    /// Moves the stripes of one version that lie in `extent` elsewhere and swaps them in
    /// if the version is unchanged; true if it was.
    pub(crate) async fn relocate_runs(
        self: &Rc<Self>,
        bucket: String,
        key: String,
        entry: ObjectEntry,
        extent: u32,
    ) -> Result<bool, Error> {
        let ObjectData::Stripes(old) = &entry.data else {
            return Ok(false);
        };
        let from_stamp = old.segments.first().map_or(0, |g| g.stamp);
        self.pin(&[extent], true);
        let mut pinned = Vec::new();
        let result = async {
            let segments = self.split_segments(old, extent, &mut pinned).await?;
            let entry = ObjectEntry {
                data: ObjectData::Stripes(StripeData {
                    segments: segments.into_boxed_slice(),
                }),
                ..entry.clone()
            };
            let rec = Record::ObjectRelocate {
                bucket,
                key,
                from_stamp,
                entry,
            };
            Ok(self.commit(rec, None, true).await? == Applied::Done)
        }
        .await;
        self.pin(&pinned, false);
        self.pin(&[extent], false);
        self.release_data();
        result
    }

    /// The segments of `old` with every run in `extent` copied into a segment of its own.
    async fn split_segments(
        self: &Rc<Self>,
        old: &StripeData,
        extent: u32,
        pinned: &mut Vec<u32>,
    ) -> Result<Vec<Segment>, Error> {
        let full = self.dev.geometry.stripe_bytes(STRIPE_BLOCKS_MAX) as u64;
        let mut out = Vec::new();
        for seg in old.segments.iter() {
            if !seg.runs.iter().any(|r| r.extent == extent) {
                out.push(seg.clone());
                continue;
            }
            let (mut kept, mut kept_len, mut done_len) = (Vec::new(), 0u64, 0u64);
            for (i, r) in seg.runs.iter().enumerate() {
                let last = i + 1 == seg.runs.len();
                assert!(last || r.last_rows as usize == STRIPE_BLOCKS_MAX);
                let run_len = match last {
                    true => seg.len - done_len - kept_len,
                    false => r.stripes as u64 * full,
                };
                if r.extent != extent {
                    kept.push(*r);
                    kept_len += run_len;
                    continue;
                }
                if !kept.is_empty() {
                    let runs = std::mem::take(&mut kept).into_boxed_slice();
                    out.push(Segment {
                        len: kept_len,
                        stamp: seg.stamp,
                        runs,
                    });
                    done_len += std::mem::take(&mut kept_len);
                }
                out.push(self.copy_run(seg.stamp, r, run_len, pinned).await?);
                done_len += run_len;
            }
            if !kept.is_empty() {
                let runs = kept.into_boxed_slice();
                out.push(Segment {
                    len: kept_len,
                    stamp: seg.stamp,
                    runs,
                });
            }
        }
        Ok(out)
    }

    /// Copies the `len` bytes of run `r` (stamp `stamp`) into new stripes, one stripe at a
    /// time, each read back and compared; returns them as a segment with a new stamp.
    async fn copy_run(
        self: &Rc<Self>,
        stamp: u64,
        r: &Run,
        len: u64,
        pinned: &mut Vec<u32>,
    ) -> Result<Segment, Error> {
        let g = self.dev.geometry;
        let new_stamp = self.next_stamp();
        let mut runs = Vec::new();
        let mut left = len;
        for j in 0..r.stripes {
            let rows = match j + 1 == r.stripes {
                true => r.last_rows,
                false => STRIPE_BLOCKS_MAX as u16,
            };
            let take = (g.stripe_bytes(rows as usize) as u64).min(left) as usize;
            let src = self.data_stripe(r.extent, r.generation, r.first_block, j, rows, stamp);
            let bytes = self.read_stripe(&src, 0, take).await?;
            let new_rows = g.rows_for(take) as u16;
            let (extent, generation, block) = self.reserve_stripe(
                new_rows as u32,
                crate::constants::EXTENTS_KEPT_FROM_RELOCATION,
            )?;
            if !pinned.contains(&extent) {
                self.pin(&[extent], true);
                pinned.push(extent);
            }
            let dst = self.data_stripe(extent, generation, block, 0, new_rows, new_stamp);
            self.write_stripe(&dst, &bytes).await?;
            if self.read_stripe(&dst, 0, take).await? != bytes {
                return Err(Error::DataUnavailable(format!(
                    "partition {}: a relocated stripe of extent {} did not read back as written",
                    self.id, r.extent
                )));
            }
            self.shared
                .stats
                .data_bytes_written
                .add((new_rows as usize * crate::constants::BLOCK_BYTES * g.shard_count()) as u64);
            append_stripe(&mut runs, extent, generation, block, new_rows);
            left -= take as u64;
            glommio::yield_if_needed().await;
        }
        assert_eq!(left, 0, "a run's stripes hold its bytes");
        Ok(Segment {
            len,
            stamp: new_stamp,
            runs: runs.into_boxed_slice(),
        })
    }

    /// Stripe `j` of the run starting at `first_block`.
    fn data_stripe(
        &self,
        extent: u32,
        generation: u32,
        first_block: u32,
        j: u32,
        rows: u16,
        stamp: u64,
    ) -> StripeId {
        StripeId {
            kind: BlockKind::Data,
            set_id: self.set_id(),
            partition: self.id,
            extent,
            generation,
            first_block: first_block + j * STRIPE_BLOCKS_MAX as u32,
            rows,
            stamp,
        }
    }
}
