//! Background work of a partition: checkpoints when the log has grown, and compaction of
//! retired log extents whose packed small objects are mostly dead.
//!
//! A log extent retires when a checkpoint moves the replay start past it; it can be
//! reused once no inline object lives in it. Compaction copies the live inline objects of
//! the emptiest retired extent back into the log (as `ObjectMove` records, void if the key
//! was overwritten meanwhile), so the extent frees itself. It runs on the executor's
//! low-share background task queue and yields between objects.

use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use crate::block::BlockKind;
use crate::constants::{
    BLOCK_PAYLOAD_BYTES, COMPACTION_MOVES_IN_FLIGHT, EXTENTS_KEPT_FROM_RELOCATION,
};
use crate::error::Error;
use crate::partition::Partition;
use crate::record::{InlineLoc, ObjectData, ObjectEntry, Record};
use crate::state::Usage;
use crate::stripe::StripeId;

/// How often the background worker looks for work.
const BACKGROUND_TICK: Duration = Duration::from_millis(200);
/// A retired log extent is compacted when less than this share of it is live...
const COMPACT_LIVE_RATIO_MAX: f64 = 0.5;
/// ...or, when free extents are scarce (under a quarter), less than this share.
const COMPACT_LIVE_RATIO_SCARCE: f64 = 0.9;
/// Log bytes after which a partition checkpoints: 256 MiB, or an eighth of its share of
/// the device set when that is smaller (log extents come back only after one).
const CHECKPOINT_LOG_BYTES: u64 = 256 * 1024 * 1024;

/// The live share under which an extent is worth compacting: higher when free extents
/// are scarce (under a quarter of the partition's, or low enough that puts reclaim first).
fn compaction_limit(st: &crate::state::State) -> f64 {
    let free = st.free_extents();
    let low = crate::constants::EXTENTS_RESERVED_PER_PARTITION + crate::constants::EXTENTS_FREE_LOW;
    if free * 4 < st.extents.len() || free <= low {
        COMPACT_LIVE_RATIO_SCARCE
    } else {
        COMPACT_LIVE_RATIO_MAX
    }
}

impl Partition {
    /// The partition's background worker; returns when the partition stops. While space
    /// is low and its steps make progress it does not sleep between them.
    pub async fn background(self: Rc<Self>) {
        let mut progressed = false;
        while !self.stopping.get() {
            if progressed && self.space_low() {
                glommio::yield_if_needed().await;
            } else {
                glommio::timer::sleep(BACKGROUND_TICK).await;
            }
            if self.stopping.get() {
                break;
            }
            let _reclaiming = self.reclaim.lock().await;
            progressed = self.reclaim_step().await;
        }
    }

    pub(crate) fn checkpoint_threshold(&self) -> u64 {
        let owned = self.st.borrow().extents.len() as u64;
        let share = owned * self.dev.layout.extent_bytes * self.dev.count() as u64;
        CHECKPOINT_LOG_BYTES.min(share / 8)
    }

    /// The retired log extent most worth compacting, if any is.
    fn compaction_candidate(&self) -> Option<u32> {
        let chain = self.log_chain.borrow();
        let pos = self.log.get();
        let st = self.st.borrow();
        let capacity = self.dev.blocks_per_extent() as f64
            * (BLOCK_PAYLOAD_BYTES * self.dev.geometry.data_shards) as f64;
        let limit = compaction_limit(&st);
        st.extents
            .iter()
            .filter(|(id, e)| {
                e.usage == Usage::Log
                    && e.live > 0
                    && !chain.contains(id)
                    && **id != pos.extent
                    && **id != pos.next_extent
                    && (e.live as f64) < capacity * limit
            })
            .min_by_key(|(_, e)| e.live)
            .map(|(id, _)| *id)
    }

    /// Moves the live inline objects out of one retired log extent; returns how many.
    pub async fn compact_log_once(self: &Rc<Self>) -> Result<usize, Error> {
        // Retired extents with nothing live are free already, candidate or not (after a
        // restart, the image may name log extents whose objects were all replaced since).
        self.release_retired_log();
        let Some(extent) = self.compaction_candidate() else {
            return Ok(0);
        };
        let victims = self.inline_objects_in(extent).await;
        let mut moved = 0;
        // Moves go out a group at a time so that their records share group commits.
        for group in victims.chunks(COMPACTION_MOVES_IN_FLIGHT) {
            if self.stopping.get() {
                break;
            }
            let moves = group.iter().cloned().map(|v| self.move_inline(v));
            for r in futures::future::join_all(moves).await {
                r?;
                moved += 1;
            }
            glommio::yield_if_needed().await;
        }
        self.release_retired_log();
        Ok(moved)
    }

    /// Frees the log extents a restart would not replay (not in the chain from the replay
    /// start on, not the announced next one) that hold no live packed object.
    pub(crate) fn release_retired_log(&self) {
        let mut keep = self.log_chain.borrow().clone();
        keep.push(self.log.get().next_extent);
        self.st.borrow_mut().release_unused(Usage::Log, &keep);
    }

    /// Reads one packed object and writes it again through the log (an ObjectMove record,
    /// void if the key changed meanwhile).
    async fn move_inline(
        &self,
        (bucket, key, from, entry): (String, String, InlineLoc, ObjectEntry),
    ) -> Result<(), Error> {
        let id = StripeId {
            kind: BlockKind::Log,
            set_id: self.set_id(),
            partition: self.id,
            extent: from.extent,
            generation: from.generation,
            first_block: from.first_block,
            rows: from.rows,
            stamp: from.seq,
        };
        let data = self
            .read_stripe(&id, from.offset as usize, from.len as usize)
            .await?;
        let placeholder = InlineLoc { offset: 0, ..from };
        let entry = ObjectEntry {
            data: ObjectData::Inline(placeholder),
            ..entry
        };
        let rec = Record::ObjectMove {
            bucket,
            key,
            from,
            entry,
        };
        self.commit(rec, Some(Bytes::from(data)), false).await?;
        crate::failpoint::crash_point!(crate::failpoint::DURING_COMPACTION);
        Ok(())
    }

    /// Every object whose bytes are packed in `extent`.
    async fn inline_objects_in(
        &self,
        extent: u32,
    ) -> Vec<(String, String, InlineLoc, ObjectEntry)> {
        let found = self
            .objects_matching(|d| matches!(d, ObjectData::Inline(l) if l.extent == extent))
            .await;
        found
            .into_iter()
            .filter_map(|(bucket, key, e)| match e.data {
                ObjectData::Inline(l) => Some((bucket, key, l, e)),
                _ => None,
            })
            .collect()
    }
}

/// True if every stripe of `data` is in `extent`.
fn wholly_in(data: &ObjectData, extent: u32) -> bool {
    match data {
        ObjectData::Stripes(s) => s
            .segments
            .iter()
            .all(|g| g.runs.iter().all(|r| r.extent == extent)),
        _ => false,
    }
}

impl Partition {
    /// The data extent most worth emptying, if any is: mostly dead, not being filled.
    fn data_candidate(&self) -> Option<u32> {
        let cursor = self.data_cursor.get().map(|c| c.0);
        let st = self.st.borrow();
        let rows = self.dev.blocks_per_extent() as f64;
        let limit = compaction_limit(&st);
        st.extents
            .iter()
            .filter(|(id, e)| {
                e.usage == Usage::Data
                    && e.live > 0
                    && Some(**id) != cursor
                    && (e.live as f64) < rows * limit
            })
            .min_by_key(|(_, e)| e.live)
            .map(|(id, _)| *id)
    }

    /// Rewrites the objects that have stripes in the emptiest data extent, so that it
    /// frees itself; returns how many were moved.
    pub async fn compact_data_once(self: &Rc<Self>) -> Result<usize, Error> {
        let Some(extent) = self.data_candidate() else {
            return Ok(0);
        };
        let victims = self.objects_matching(|d| {
            matches!(d, ObjectData::Stripes(s) if s.segments.iter().any(|g| g.runs.iter().any(|r| r.extent == extent)))
        })
        .await;
        let mut moved = 0;
        for (bucket, key, entry) in victims {
            if self.stopping.get() {
                break;
            }
            // An object that lies wholly in the extent is rewritten whole (and checked
            // against its ETag and CRC-64). One with stripes elsewhere moves only its
            // stripes in this extent: freeing an extent that holds the last MiB of a
            // 64 MiB object must not cost a copy of the other 63.
            let relocated = if wholly_in(&entry.data, extent) {
                self.relocate(bucket, key, entry).await?
            } else {
                self.relocate_runs(bucket, key, entry, extent).await?
            };
            if relocated {
                moved += 1;
            }
            glommio::yield_if_needed().await;
        }
        Ok(moved)
    }

    /// Copies one object's bytes into new stripes and swaps them in if it is unchanged.
    async fn relocate(
        self: &Rc<Self>,
        bucket: String,
        key: String,
        entry: ObjectEntry,
    ) -> Result<bool, Error> {
        let ObjectData::Stripes(old) = &entry.data else {
            return Ok(false);
        };
        let from_stamp = old.segments.first().map_or(0, |g| g.stamp);
        let pieces = self.pieces(&entry, 0, entry.size);
        let extents: Vec<u32> = pieces.iter().map(|(id, _, _)| id.extent).collect();
        self.pin(&extents, true);
        let (mut tx, mut rx) = futures::channel::mpsc::channel::<Bytes>(2);
        let me = self.clone();
        let reader = glommio::spawn_local(async move {
            use futures::SinkExt;
            for (id, off, len) in pieces {
                let bytes = me.read_stripe(&id, off, len).await?;
                if tx.send(Bytes::from(bytes)).await.is_err() {
                    break;
                }
            }
            Ok::<(), Error>(())
        });
        let mut digests = crate::digest::StreamDigests::new();
        let mut pinned = Vec::new();
        let mark = self.dev.attaches();
        let written = self
            .put_stripes(
                entry.size,
                &mut rx,
                &mut digests,
                &mut pinned,
                EXTENTS_KEPT_FROM_RELOCATION,
            )
            .await;
        let read = reader.await;
        let result = async {
            read?;
            let stripes = written?;
            let (md5, crc64) = digests.finish().await?;
            if (entry.etag_parts == 0 && md5 != entry.etag) || crc64 != entry.crc64 {
                return Err(Error::DataUnavailable(format!(
                    "{bucket}/{key}: bytes read back do not match the ETag or CRC-64"
                )));
            }
            let data = ObjectData::Stripes(stripes);
            let entry = ObjectEntry {
                data: data.clone(),
                ..entry.clone()
            };
            let size = entry.size;
            let rec = Record::ObjectRelocate {
                bucket,
                key,
                from_stamp,
                entry,
            };
            let done = self.commit(rec, None, true).await? == crate::state::Applied::Done;
            if done {
                self.settle_written(mark, &data, size);
            }
            Ok(done)
        }
        .await;
        self.pin(&pinned, false);
        self.pin(&extents, false);
        self.release_data();
        result
    }

    /// Every entry whose data passes `want`, found a slice of the index at a time.
    async fn objects_matching(
        &self,
        want: impl Fn(&ObjectData) -> bool,
    ) -> Vec<(String, String, ObjectEntry)> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let mut out = Vec::new();
        let mut cursor: Option<(String, String)> = None;
        loop {
            let mut last = None;
            {
                let st = self.st.borrow();
                let mut n = 0;
                let buckets = match &cursor {
                    Some((b, _)) => st
                        .objects
                        .range::<String, _>((Included(b.clone()), Unbounded)),
                    None => st.objects.range::<String, _>(..),
                };
                'scan: for (bucket, map) in buckets {
                    let entries = match &cursor {
                        Some((b, k)) if b == bucket => {
                            map.range::<String, _>((Excluded(k.clone()), Unbounded))
                        }
                        _ => map.range::<String, _>(..),
                    };
                    for (key, versions) in entries {
                        // Noncurrent versions hold space too: they move like current ones.
                        for e in versions.as_slice() {
                            if want(&e.data) {
                                out.push((bucket.clone(), key.clone(), e.clone()));
                            }
                        }
                        n += 1;
                        if n == 4096 {
                            last = Some((bucket.clone(), key.clone()));
                            break 'scan;
                        }
                    }
                }
            }
            match last {
                Some(c) => cursor = Some(c),
                None => return out,
            }
            glommio::yield_if_needed().await;
        }
    }
}
