//! Checkpoints: the partition's index and extent table written as stripes of their own,
//! so restart reads one sequential image and replays only the log after it.
//!
//! A checkpoint is fuzzy: it is serialized a chunk at a time while the partition keeps
//! serving, starting from the log position of the last applied batch. Records are whole
//! states, so replaying the log from that position over the image converges to the same
//! state the live partition had.

use std::collections::btree_map::Entry;
use std::rc::Rc;

use crate::block::BlockKind;
use crate::constants::STRIPE_BLOCKS_MAX;
use crate::error::Error;
use crate::log::{Root, ROOT_RUNS_MAX};
use crate::partition::Partition;
use crate::record::{
    decode_bucket, decode_entry, encode_bucket, encode_entry, Reader, Run, Writer,
};
use crate::state::{Usage, Versions};
use crate::stripe::StripeId;

const CHECKPOINT_MAGIC: [u8; 4] = *b"RSCP";
/// 2: entries carry ACL, version id and CRC-64; each key carries its chain of versions.
const CHECKPOINT_VERSION: u16 = 2;
/// Entries serialized between yields to the executor.
const ENTRIES_PER_SLICE: usize = 4096;
/// Checkpoint stripes read concurrently at start.
const CHECKPOINT_READS_IN_FLIGHT: usize = 4;
/// Entry tags in the object section: end, an entry of the previous entry's bucket, an
/// entry of a new bucket (its name follows the tag).
const ENTRY_END: u8 = 0;
const ENTRY_SAME_BUCKET: u8 = 1;
const ENTRY_NEW_BUCKET: u8 = 2;

impl Partition {
    /// Writes a checkpoint and a new root pointing at it, then frees what the previous
    /// checkpoint and the replayed-past log held.
    pub async fn checkpoint(self: &Rc<Self>) -> Result<(), Error> {
        if self.checkpointing.replace(true) {
            return Ok(());
        }
        let result = self.checkpoint_inner().await;
        self.checkpointing.set(false);
        result
    }

    async fn checkpoint_inner(self: &Rc<Self>) -> Result<(), Error> {
        // Before the first stripe write: a device replaced from here on may have received
        // some of them on the old device (`settle_checkpoint`).
        let mark = self.dev.attaches();
        let start = self.applied.get();
        let log_bytes = self.log_bytes_since_checkpoint.replace(0);
        let mut w = Writer::default();
        w.buf.extend_from_slice(&CHECKPOINT_MAGIC);
        w.u16(CHECKPOINT_VERSION);
        w.u16(self.id);
        w.u64(start.seq);
        {
            let st = self.st.borrow();
            let mut ext: Vec<_> = st
                .extents
                .iter()
                .map(|(&id, e)| (id, e.generation, e.usage))
                .collect();
            ext.sort_by_key(|x| x.0);
            w.u32(ext.len() as u32);
            for (id, g, u) in ext {
                w.u32(id);
                w.u32(g);
                w.u8(u as u8);
            }
            w.u32(st.buckets.len() as u32);
            for b in st.buckets.values() {
                encode_bucket(&mut w, b);
            }
        }
        let mut out = CheckpointWriter::new(self.clone());
        let image = self.write_image(w, &mut out).await;
        let (runs, len, crc, stamp) = match image {
            Ok(x) if x.0.len() <= ROOT_RUNS_MAX => x,
            failed => {
                // No root names these extents: they are free again at once (a checkpoint
                // that fails when space is short must not leak the space it took).
                let mut st = self.st.borrow_mut();
                for e in &out.taken {
                    st.extents.get_mut(e).expect("owned").usage = Usage::Free;
                }
                let since = self.log_bytes_since_checkpoint.get();
                self.log_bytes_since_checkpoint.set(since + log_bytes);
                return Err(failed.err().unwrap_or(Error::StorageFull));
            }
        };
        let root = Root {
            partition: self.id,
            root_seq: self.root_seq.get() + 1,
            log_seq: start.seq,
            log_extent: start.extent,
            log_generation: start.generation,
            log_block: start.block,
            log_next_extent: start.next_extent,
            log_next_generation: start.next_generation,
            checkpoint_len: len,
            checkpoint_stamp: stamp,
            checkpoint_crc: crc,
            checkpoint_runs: runs.clone(),
        };
        crate::failpoint::hold_point!(crate::failpoint::DURING_CHECKPOINT, self.set_id());
        self.write_root(&root).await?;
        self.root_seq.set(root.root_seq);
        self.settle_checkpoint(mark, &out.written);
        self.shared.stats.checkpoints.inc();
        let old = self
            .checkpoint_extents
            .replace(runs.iter().map(|r| r.extent).collect());
        let mut st = self.st.borrow_mut();
        for e in old {
            if !runs.iter().any(|r| r.extent == e) {
                st.extents.get_mut(&e).expect("owned").usage = Usage::Free;
            }
        }
        // Log extents before the replay start now matter only for the inline data they hold.
        let chain = self.log_chain.borrow().clone();
        let keep_from = chain.iter().position(|&e| e == start.extent).unwrap_or(0);
        self.log_chain.borrow_mut().drain(..keep_from);
        let live_chain: Vec<u32> = self
            .log_chain
            .borrow()
            .iter()
            .copied()
            .chain([self.log.get().next_extent])
            .collect();
        st.release_unused(Usage::Log, &live_chain);
        tracing::debug!(
            partition = self.id,
            bytes = len,
            log_seq = start.seq,
            "checkpoint written"
        );
        Ok(())
    }

    /// Streams the index (after the header already in `w`) into checkpoint stripes and
    /// flushes them; returns the runs, length, CRC and stamp for the root.
    async fn write_image(
        &self,
        mut w: Writer,
        out: &mut CheckpointWriter,
    ) -> Result<(Vec<Run>, u64, u32, u64), Error> {
        let mut cursor: Option<(String, String)> = None;
        let mut last_bucket: Option<String> = None;
        loop {
            let done = self.serialize_slice(&mut w, &mut cursor, &mut last_bucket);
            out.feed(&mut w.buf).await?;
            if done {
                break;
            }
            glommio::yield_if_needed().await;
        }
        w.u8(ENTRY_END);
        out.feed(&mut w.buf).await?;
        let image = out.finish().await?;
        crate::failpoint::crash_point!(crate::failpoint::DURING_CHECKPOINT);
        Ok(image)
    }

    /// Serializes up to a slice of entries after `cursor`; true when all are written.
    fn serialize_slice(
        &self,
        w: &mut Writer,
        cursor: &mut Option<(String, String)>,
        last_bucket: &mut Option<String>,
    ) -> bool {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let st = self.st.borrow();
        let mut n = 0;
        let buckets = match cursor {
            Some((b, _)) => st
                .objects
                .range::<String, _>((Included(b.clone()), Unbounded)),
            None => st.objects.range::<String, _>(..),
        };
        for (bucket, map) in buckets {
            let entries = match cursor {
                Some((b, k)) if b == bucket => {
                    map.range::<String, _>((Excluded(k.clone()), Unbounded))
                }
                _ => map.range::<String, _>(..),
            };
            for (key, versions) in entries {
                if last_bucket.as_deref() == Some(bucket.as_str()) {
                    w.u8(ENTRY_SAME_BUCKET);
                } else {
                    w.u8(ENTRY_NEW_BUCKET);
                    w.str(bucket);
                    *last_bucket = Some(bucket.clone());
                }
                w.str(key);
                let chain = versions.as_slice();
                w.u32(chain.len() as u32);
                for e in chain {
                    encode_entry(w, e);
                }
                n += chain.len();
                if n >= ENTRIES_PER_SLICE {
                    *cursor = Some((bucket.clone(), key.clone()));
                    return false;
                }
            }
        }
        true
    }

    /// Loads the checkpoint a root points at into this partition's state.
    pub async fn load_checkpoint(&self, root: &Root) -> Result<(), Error> {
        let g = self.dev.geometry;
        let full = g.stripe_bytes(STRIPE_BLOCKS_MAX);
        let mut pieces = Vec::new();
        let mut planned = 0usize;
        for r in &root.checkpoint_runs {
            for j in 0..r.stripes {
                let rows = if j + 1 == r.stripes {
                    r.last_rows
                } else {
                    STRIPE_BLOCKS_MAX as u16
                };
                let id = self.checkpoint_stripe(
                    r.extent,
                    r.generation,
                    r.first_block + j * STRIPE_BLOCKS_MAX as u32,
                    rows,
                    root.checkpoint_stamp,
                );
                let want = (root.checkpoint_len as usize)
                    .saturating_sub(planned)
                    .min(full)
                    .min(g.stripe_bytes(rows as usize));
                planned += want;
                pieces.push((id, want));
            }
        }
        // Stripes are read a few at a time so every device has reads queued.
        let mut bytes = Vec::with_capacity(root.checkpoint_len as usize);
        for group in pieces.chunks(CHECKPOINT_READS_IN_FLIGHT) {
            let reads = group
                .iter()
                .map(|(id, want)| self.read_stripe(id, 0, *want));
            for r in futures::future::join_all(reads).await {
                bytes.extend_from_slice(&r?);
            }
        }
        for r in &root.checkpoint_runs {
            let mut st = self.st.borrow_mut();
            let e = st.extents.get_mut(&r.extent).expect("owned");
            e.usage = Usage::Checkpoint;
            e.generation = r.generation;
        }
        self.checkpoint_extents
            .replace(root.checkpoint_runs.iter().map(|r| r.extent).collect());
        self.root_seq.set(root.root_seq);
        if bytes.len() as u64 != root.checkpoint_len
            || crc32c::crc32c(&bytes) != root.checkpoint_crc
        {
            return Err(Error::DataUnavailable(format!(
                "partition {}: checkpoint does not match its root",
                self.id
            )));
        }
        self.decode_checkpoint(&bytes).map_err(|e| {
            Error::DataUnavailable(format!("partition {} checkpoint: {e}", self.id))
        })?;
        // The image's extent table was taken before the checkpoint took its own extents:
        // their generations come from the root, or a later use would repeat one.
        let mut st = self.st.borrow_mut();
        for r in &root.checkpoint_runs {
            st.extents.get_mut(&r.extent).expect("owned").generation = r.generation;
        }
        Ok(())
    }

    fn decode_checkpoint(&self, bytes: &[u8]) -> Result<(), crate::record::RecordError> {
        use crate::record::RecordError;
        let mut r = Reader::new(bytes);
        if r.take(4)? != CHECKPOINT_MAGIC || r.u16()? != CHECKPOINT_VERSION || r.u16()? != self.id {
            return Err(RecordError("checkpoint header"));
        }
        r.u64()?;
        let mut st = self.st.borrow_mut();
        for _ in 0..r.u32()? {
            let (id, generation, usage) = (r.u32()?, r.u32()?, r.u8()?);
            let e = st
                .extents
                .get_mut(&id)
                .ok_or(RecordError("extent not owned"))?;
            e.generation = generation;
            if e.usage == Usage::Free {
                e.usage = match usage {
                    1 => Usage::Data,
                    2 => Usage::Log,
                    _ => Usage::Free,
                };
            }
        }
        for _ in 0..r.u32()? {
            let b = decode_bucket(&mut r)?;
            st.buckets.insert(b.name.clone(), b);
        }
        // Entries come sorted, bucket by bucket: collect each bucket's, then build its map
        // in one bulk pass instead of 10 million single inserts.
        let mut bucket = String::new();
        let mut run: Vec<(String, Versions)> = Vec::new();
        loop {
            let tag = r.u8()?;
            if tag != ENTRY_SAME_BUCKET && !run.is_empty() {
                match st.objects.entry(std::mem::take(&mut bucket)) {
                    Entry::Vacant(v) => {
                        v.insert(run.drain(..).collect());
                    }
                    Entry::Occupied(mut o) => o.get_mut().extend(run.drain(..)),
                }
            }
            match tag {
                ENTRY_END => break,
                ENTRY_NEW_BUCKET => bucket = r.str()?,
                ENTRY_SAME_BUCKET if !bucket.is_empty() || !run.is_empty() => {}
                _ => return Err(RecordError("checkpoint entry tag")),
            }
            let key = r.str()?;
            run.push((key, decode_chain(&mut r)?));
        }
        Ok(())
    }

    fn checkpoint_stripe(
        &self,
        extent: u32,
        generation: u32,
        first_block: u32,
        rows: u16,
        stamp: u64,
    ) -> StripeId {
        StripeId {
            kind: BlockKind::Checkpoint,
            set_id: self.set_id(),
            partition: self.id,
            extent,
            generation,
            first_block,
            rows,
            stamp,
        }
    }
}

/// A key's versions: count u32 (at least 1), then the entries, current first.
pub(crate) fn decode_chain(r: &mut Reader) -> Result<Versions, crate::record::RecordError> {
    let count = r.u32()? as usize;
    if count == 0 || count > r.buf.len() {
        return Err(crate::record::RecordError("version count"));
    }
    if count == 1 {
        return Ok(Versions::One(decode_entry(r)?));
    }
    let mut chain = Vec::with_capacity(count);
    for _ in 0..count {
        chain.push(decode_entry(r)?);
    }
    Ok(Versions::Many(chain))
}

/// Streams checkpoint bytes into checkpoint stripes in extents of their own.
struct CheckpointWriter {
    part: Rc<Partition>,
    stamp: u64,
    staged: Vec<u8>,
    runs: Vec<Run>,
    /// Every extent taken, so a checkpoint that fails can give them back.
    taken: Vec<u32>,
    /// Every stripe written, with the user bytes it carries.
    written: Vec<(StripeId, usize)>,
    cursor: Option<(u32, u32, u32)>,
    len: u64,
    crc: u32,
}

impl CheckpointWriter {
    fn new(part: Rc<Partition>) -> CheckpointWriter {
        let stamp = part.next_stamp();
        CheckpointWriter {
            part,
            stamp,
            staged: Vec::new(),
            runs: Vec::new(),
            taken: Vec::new(),
            written: Vec::new(),
            cursor: None,
            len: 0,
            crc: 0,
        }
    }

    async fn feed(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        self.crc = crc32c::crc32c_append(self.crc, buf);
        self.len += buf.len() as u64;
        self.staged.append(buf);
        let full = self.part.dev.geometry.stripe_bytes(STRIPE_BLOCKS_MAX);
        while self.staged.len() >= full {
            let rest = self.staged.split_off(full);
            let data = std::mem::replace(&mut self.staged, rest);
            self.write(data).await?;
        }
        Ok(())
    }

    async fn write(&mut self, data: Vec<u8>) -> Result<(), Error> {
        let p = &self.part;
        let rows = p.dev.geometry.rows_for(data.len()) as u32;
        let (extent, generation, block) = match self.cursor {
            Some((e, g, b)) if b + rows <= p.dev.blocks_per_extent() => (e, g, b),
            _ => {
                let (e, g) = p.take_extent(Usage::Checkpoint)?;
                self.taken.push(e);
                (e, g, 0)
            }
        };
        self.cursor = Some((extent, generation, block + rows));
        match self.runs.last_mut() {
            Some(r) if r.extent == extent && r.last_rows as usize == STRIPE_BLOCKS_MAX => {
                r.stripes += 1;
                r.last_rows = rows as u16;
            }
            _ => self.runs.push(Run {
                extent,
                generation,
                first_block: block,
                stripes: 1,
                last_rows: rows as u16,
            }),
        }
        let id = p.checkpoint_stripe(extent, generation, block, rows as u16, self.stamp);
        p.write_stripe(&id, &data).await?;
        self.written.push((id, data.len()));
        let shards = p.dev.geometry.shard_count();
        p.shared
            .stats
            .checkpoint_bytes_written
            .add((rows as usize * crate::constants::BLOCK_BYTES * shards) as u64);
        Ok(())
    }

    async fn finish(&mut self) -> Result<(Vec<Run>, u64, u32, u64), Error> {
        if !self.staged.is_empty() {
            let data = std::mem::take(&mut self.staged);
            self.write(data).await?;
        }
        self.part.dev.sync(self.part.write_quorum()).await?;
        Ok((self.runs.clone(), self.len, self.crc, self.stamp))
    }
}
