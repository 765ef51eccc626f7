//! A partition: one owner of part of the key space, its log, its index and its extents.
//!
//! All of a partition's state lives on the executor that runs it and is touched only by
//! that executor's tasks, so nothing here takes a lock. `RefCell` borrows never cross an
//! `.await`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use futures::channel::{mpsc, oneshot};
use futures::future::join_all;
use glommio::io::DmaBuffer;

use crate::block::{BlockHeader, BlockKind};
use crate::constants::{BLOCK_BYTES, STRIPE_BLOCKS_MAX};
use crate::devices::Devices;
use crate::error::Error;
use crate::record::{InlineLoc, Record};
use crate::shared::Shared;
use crate::state::{Applied, State, Usage};
use crate::stripe::{spans, verify_block, Coder, ShardSpan, StripeId};

/// Bits below a version id's millisecond time: room for a million ids per ms.
const VERSION_TIME_SHIFT: u32 = 20;

/// Where the next log batch goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogPos {
    /// The least sequence number the next batch may have: one more than the last batch
    /// written, or than the last attempt that failed or tore (numbers are never reused).
    pub seq: u64,
    pub extent: u32,
    pub generation: u32,
    pub block: u32,
    /// The extent the log continues in when `extent` is full (announced in every batch).
    pub next_extent: u32,
    pub next_generation: u32,
}

/// A record waiting for the next batch, with the inline bytes that follow it.
pub struct Pending {
    pub record: Record,
    pub inline: Option<bytes::Bytes>,
    /// The record refers to data written outside the log, which must be flushed first.
    pub needs_data_flush: bool,
    pub done: Option<oneshot::Sender<Result<Applied, Error>>>,
}

/// What `fetch_span` got for a span: its rows as read (still to verify), or its
/// payloads rebuilt from the other shards (verified as they were read).
enum Fetched {
    Read(std::io::Result<glommio::io::ReadResult>),
    Rebuilt(Vec<u8>),
}

pub struct Partition {
    pub id: u16,
    pub dev: Rc<Devices>,
    pub shared: Arc<Shared>,
    pub coder: RefCell<Coder>,
    pub st: RefCell<State>,
    pub log: Cell<LogPos>,
    /// An attempt that failed or tore may lie at the log position (`write_batch`).
    pub log_dirty: Cell<bool>,
    pub pending: RefCell<Vec<Pending>>,
    pub wake: mpsc::UnboundedSender<()>,
    /// The data extent being filled: (extent, generation, next free block).
    pub data_cursor: Cell<Option<(u32, u32, u32)>>,
    stamp: Cell<u64>,
    /// The last version id issued.
    version_clock: Cell<u64>,
    /// Bytes of log written since the last checkpoint.
    pub log_bytes_since_checkpoint: Cell<u64>,
    /// The log position just after the last applied batch (where a checkpoint's replay
    /// starts).
    pub applied: Cell<LogPos>,
    pub root_seq: Cell<u64>,
    pub checkpointing: Cell<bool>,
    /// Extents holding the current checkpoint.
    pub checkpoint_extents: RefCell<Vec<u32>>,
    /// Log extents from the replay start on, oldest first.
    pub log_chain: RefCell<Vec<u32>>,
    /// Set when the partition shuts down: background work stops.
    pub stopping: Cell<bool>,
    /// What the background worker is doing now (reported by status).
    pub background_state: Cell<&'static str>,
    /// Held by whoever runs a reclaim step (the background worker, or a put when space
    /// is low), so steps do not race each other and puts wait for the one running.
    pub reclaim: futures::lock::Mutex<()>,
    /// Reclaim steps finished so far (puts that waited for one share it).
    pub reclaim_steps: Cell<u64>,
    /// Puts between their bucket check and their commit, per bucket.
    pub puts_in_flight: RefCell<std::collections::HashMap<String, u32>>,
    /// Verified bytes of small objects recently read (`read_cache`).
    pub read_cache: RefCell<crate::read_cache::ReadCache>,
}

impl Partition {
    pub fn new(
        id: u16,
        dev: Rc<Devices>,
        shared: Arc<Shared>,
        st: State,
        log: LogPos,
        wake: mpsc::UnboundedSender<()>,
    ) -> Partition {
        let read_cache_bytes = shared
            .read_cache_partition_bytes
            .load(std::sync::atomic::Ordering::Relaxed);
        Partition {
            id,
            coder: RefCell::new(Coder::new(dev.geometry)),
            dev,
            shared,
            st: RefCell::new(st),
            log: Cell::new(log),
            log_dirty: Cell::new(false),
            pending: RefCell::new(Vec::new()),
            wake,
            data_cursor: Cell::new(None),
            stamp: Cell::new(rand::random::<u64>() >> 8),
            version_clock: Cell::new(0),
            log_bytes_since_checkpoint: Cell::new(0),
            applied: Cell::new(log),
            root_seq: Cell::new(0),
            checkpointing: Cell::new(false),
            checkpoint_extents: RefCell::new(Vec::new()),
            log_chain: RefCell::new(Vec::new()),
            stopping: Cell::new(false),
            puts_in_flight: RefCell::new(std::collections::HashMap::new()),
            reclaim: futures::lock::Mutex::new(()),
            reclaim_steps: Cell::new(0),
            background_state: Cell::new("idle"),
            read_cache: RefCell::new(crate::read_cache::ReadCache::new(read_cache_bytes)),
        }
    }

    pub fn set_id(&self) -> u64 {
        self.dev.layout.set_id
    }

    /// A stamp no earlier write of this device set has used (random base per start).
    pub fn next_stamp(&self) -> u64 {
        let s = self.stamp.get() + 1;
        self.stamp.set(s);
        s
    }

    /// A version id greater than every id this partition holds or issued: the time in
    /// ms shifted left by 20 bits, or one more than the last id if that is greater. Ids of
    /// one key are issued by its one partition, so they increase with every write of it.
    pub fn next_version_id(&self) -> u64 {
        let floor = self.version_clock.get().max(self.st.borrow().version_max) + 1;
        let v = (crate::object_io::now_ms() << VERSION_TIME_SHIFT).max(floor);
        self.version_clock.set(v);
        v
    }

    /// Devices that must take a write for it to count: k, plus one when there is parity.
    pub fn write_quorum(&self) -> usize {
        let g = self.dev.geometry;
        g.data_shards + g.parity_shards.min(1)
    }

    /// Queues a record for the next batch and waits until it is durable and applied.
    pub async fn commit(
        &self,
        record: Record,
        inline: Option<bytes::Bytes>,
        needs_data_flush: bool,
    ) -> Result<Applied, Error> {
        let (tx, rx) = oneshot::channel();
        self.pending.borrow_mut().push(Pending {
            record,
            inline,
            needs_data_flush,
            done: Some(tx),
        });
        let _ = self.wake.unbounded_send(());
        rx.await.map_err(|_| Error::ShuttingDown)?
    }

    /// Queues a record with nobody waiting on it (extent bookkeeping).
    pub fn enqueue(&self, record: Record) {
        self.pending.borrow_mut().push(Pending {
            record,
            inline: None,
            needs_data_flush: false,
            done: None,
        });
        let _ = self.wake.unbounded_send(());
    }

    /// Takes a free extent for `kind`, bumping its generation and logging the change.
    pub fn open_extent(&self, kind: BlockKind, reserve: usize) -> Result<(u32, u32), Error> {
        let mut st = self.st.borrow_mut();
        if st.free_extents() <= reserve {
            return Err(Error::StorageFull);
        }
        let extent = st.free_extent()?;
        let e = st.extents.get_mut(&extent).expect("free extent is owned");
        e.generation += 1;
        e.usage = kind.into();
        let generation = e.generation;
        drop(st);
        self.enqueue(Record::ExtentOpen {
            extent,
            generation,
            kind,
        });
        Ok((extent, generation))
    }

    /// Reserves `rows` consecutive blocks for a data stripe, opening a data extent only
    /// while more than `keep_free` extents are free (see `space`).
    pub fn reserve_stripe(&self, rows: u32, keep_free: usize) -> Result<(u32, u32, u32), Error> {
        let per_extent = self.dev.blocks_per_extent();
        if let Some((extent, generation, block)) = self.data_cursor.get() {
            if block + rows <= per_extent {
                self.data_cursor
                    .set(Some((extent, generation, block + rows)));
                return Ok((extent, generation, block));
            }
            // Full: it is freed like any other once nothing in it lives.
            self.data_cursor.set(None);
            self.st.borrow_mut().release_unused(Usage::Data, &[]);
        }
        let (extent, generation) = self.open_extent(BlockKind::Data, keep_free)?;
        self.data_cursor.set(Some((extent, generation, rows)));
        Ok((extent, generation, 0))
    }

    /// Reads bytes `offset .. offset + len` of a stripe, verifying every block and
    /// rebuilding bad or missing ones from the rest of their row. The shards' reads run
    /// together; each wanted byte is then copied once, from its read buffer into the
    /// result (a small object often lies in two or three shards of its log batch).
    pub async fn read_stripe(
        &self,
        id: &StripeId,
        offset: usize,
        len: usize,
    ) -> Result<Vec<u8>, Error> {
        let parts = spans(self.dev.geometry, id.rows as usize, offset, len);
        let mut out = Vec::with_capacity(len);
        if let [span] = parts[..] {
            let fetched = self.fetch_span(id, span).await;
            self.copy_span(id, span, fetched, &mut out).await?;
            return Ok(out);
        }
        let fetched = join_all(parts.iter().map(|s| self.fetch_span(id, *s))).await;
        for (span, f) in parts.into_iter().zip(fetched) {
            self.copy_span(id, span, f, &mut out).await?;
        }
        Ok(out)
    }

    /// `read_stripe`, as the pieces that lie in one shard each, in byte order (a get sends
    /// them as they are: each byte is copied once, from the read buffer into its piece).
    pub async fn read_stripe_parts(
        &self,
        id: &StripeId,
        offset: usize,
        len: usize,
    ) -> Result<Vec<Vec<u8>>, Error> {
        let g = self.dev.geometry;
        let parts = spans(g, id.rows as usize, offset, len);
        join_all(parts.iter().map(|s| async move {
            let fetched = self.fetch_span(id, *s).await;
            let mut out = Vec::with_capacity(s.len);
            self.copy_span(id, *s, fetched, &mut out).await?;
            Ok::<_, Error>(out)
        }))
        .await
        .into_iter()
        .collect()
    }

    /// The I/O of a span: one read of its rows, or, when its shard cannot be read, its
    /// payloads computed from the other shards.
    async fn fetch_span(&self, id: &StripeId, span: ShardSpan) -> Fetched {
        let dev = self.dev.geometry.device_of(id.extent, span.shard);
        if self.shard_unreadable(dev) {
            // Absent or not rebuilt yet: nothing to repair here, the rebuild writes it.
            if let Some(p) = self.rebuild_span(id, &span).await {
                return Fetched::Rebuilt(p);
            }
        }
        let at = self
            .dev
            .offset(id.extent, id.first_block + span.first_row as u32);
        Fetched::Read(self.dev.read(dev, at, span.row_count * BLOCK_BYTES).await)
    }

    /// Appends the wanted bytes of a fetched span to `out`, verifying every block read and
    /// rebuilding each bad or unread one from its row (never an unverified byte).
    async fn copy_span(
        &self,
        id: &StripeId,
        span: ShardSpan,
        fetched: Fetched,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        use crate::constants::BLOCK_PAYLOAD_BYTES;
        let read = match fetched {
            Fetched::Rebuilt(p) => {
                out.extend_from_slice(&p[span.skip..span.skip + span.len]);
                return Ok(());
            }
            Fetched::Read(read) => read,
        };
        for i in 0..span.row_count {
            let row = span.first_row + i;
            // The wanted bytes of this row's payload.
            let base = i * BLOCK_PAYLOAD_BYTES;
            let from = span.skip.max(base) - base;
            let to = (span.skip + span.len).min(base + BLOCK_PAYLOAD_BYTES) - base;
            let good = match &read {
                Ok(buf) => {
                    let block = &buf[i * BLOCK_BYTES..(i + 1) * BLOCK_BYTES];
                    match verify_block(id, span.shard, row, block) {
                        Ok(_) => Some(&crate::block::payload(block)[from..to]),
                        Err(e) => {
                            self.shared.stats.corrupt_blocks.inc();
                            tracing::warn!(partition = self.id, extent = id.extent, shard = span.shard, row, error = %e,
                                "bad block: rebuilding it from its row");
                            None
                        }
                    }
                }
                Err(_) => None,
            };
            match good {
                Some(p) => out.extend_from_slice(p),
                None => {
                    let rebuilt = self.rebuild_row(id, span.shard, row).await?;
                    out.extend_from_slice(&rebuilt[from..to]);
                    // Rebuilt for this read only: the scrub rewrites it on disk.
                    self.shared.scrub.queue_repair(*id);
                }
            }
        }
        Ok(())
    }

    /// Rebuilds the payload of `shard` in `row` from the other shards of the row.
    pub async fn rebuild_row(
        &self,
        id: &StripeId,
        shard: usize,
        row: usize,
    ) -> Result<Vec<u8>, Error> {
        let g = self.dev.geometry;
        let at = self.dev.offset(id.extent, id.first_block + row as u32);
        let reads = join_all((0..g.shard_count()).map(|s| async move {
            if s == shard {
                return None;
            }
            let buf = self
                .dev
                .read(g.device_of(id.extent, s), at, BLOCK_BYTES)
                .await
                .ok()?;
            verify_block(id, s, row, &buf).ok()?;
            Some(buf)
        }))
        .await;
        let blocks: Vec<Option<&[u8]>> = reads.iter().map(|b| b.as_ref().map(|b| &b[..])).collect();
        let rebuilt = self.coder.borrow_mut().reconstruct(&blocks, shard);
        match rebuilt {
            Some(p) => {
                self.shared.stats.rebuilt_blocks.inc();
                Ok(p)
            }
            None => {
                self.shared.stats.unrecoverable_blocks.inc();
                Err(Error::DataUnavailable(format!(
                    "partition {} extent {} block {}: more shards lost than the {} parity shards",
                    self.id,
                    id.extent,
                    id.first_block as usize + row,
                    g.parity_shards
                )))
            }
        }
    }

    /// The k + m shard buffers of a stripe of `rows` rows (contents undefined).
    pub fn alloc_stripe(&self, rows: usize) -> Vec<DmaBuffer> {
        (0..self.dev.geometry.shard_count())
            .map(|_| self.dev.alloc(rows * BLOCK_BYTES))
            .collect()
    }

    /// Encodes `data` as a stripe at `id` and writes its shards, one per device.
    pub async fn write_stripe(&self, id: &StripeId, data: &[u8]) -> Result<(), Error> {
        let mut bufs = self.alloc_stripe(id.rows as usize);
        {
            let mut refs: Vec<&mut [u8]> = bufs.iter_mut().map(|b| b.as_bytes_mut()).collect();
            self.coder.borrow_mut().encode(id, data, &mut refs);
        }
        self.write_shards(id, data.len(), bufs).await
    }

    /// Writes a stripe whose data payloads are already in `bufs` (`alloc_stripe`, filled
    /// through a `StripeFill` of `len` bytes, padding included): computes parity, seals
    /// every block and writes the shards.
    pub async fn write_filled_stripe(
        &self,
        id: &StripeId,
        len: usize,
        mut bufs: Vec<DmaBuffer>,
    ) -> Result<(), Error> {
        {
            let mut refs: Vec<&mut [u8]> = bufs.iter_mut().map(|b| b.as_bytes_mut()).collect();
            self.coder
                .borrow_mut()
                .encode_parity_and_seal(id, len, &mut refs);
        }
        self.write_shards(id, len, bufs).await
    }

    /// Writes the sealed shards of a stripe carrying `len` user bytes, one per device.
    async fn write_shards(
        &self,
        id: &StripeId,
        len: usize,
        bufs: Vec<DmaBuffer>,
    ) -> Result<(), Error> {
        let g = self.dev.geometry;
        assert_eq!(bufs.len(), g.shard_count());
        let at = self.dev.offset(id.extent, id.first_block);
        let writes = bufs.into_iter().enumerate().map(|(s, buf)| {
            let dev = g.device_of(id.extent, s);
            async move {
                if !self.dev.is_up(dev) {
                    return Err(std::io::Error::other("device down"));
                }
                self.dev.write(dev, at, buf).await
            }
        });
        let results = join_all(writes).await;
        let ok = results.iter().filter(|r| r.is_ok()).count();
        if ok < self.write_quorum() {
            let err = results
                .into_iter()
                .find_map(|r| r.err())
                .expect("some write failed");
            if err.raw_os_error() == Some(libc::ENOSPC) {
                return Err(Error::StorageFull);
            }
            return Err(Error::DataUnavailable(format!(
                "only {ok} of {} devices took the write, fewer than the {} needed ({err})",
                g.shard_count(),
                self.write_quorum()
            )));
        }
        if ok < g.shard_count() {
            // Remembered so the shards it lacks are written first once the devices are back.
            let missing = (0..g.shard_count())
                .filter(|&s| results[s].is_err())
                .fold(0u64, |m, s| m | 1 << g.device_of(id.extent, s));
            let d = crate::rebuild::Degraded {
                id: *id,
                len,
                missing,
            };
            self.shared.scrub.note_degraded(&self.shared.stats, d);
        }
        Ok(())
    }

    /// The log's group-commit loop: takes what is pending, writes it as one batch, flushes,
    /// applies it and answers the waiters. One batch is in flight at a time, so a batch on
    /// disk implies every earlier batch was durable (recovery relies on this).
    pub async fn commit_loop(self: Rc<Self>, mut wake: mpsc::UnboundedReceiver<()>) {
        use futures::StreamExt;
        loop {
            if self.pending.borrow().is_empty() && wake.next().await.is_none() {
                return;
            }
            let batch = self.take_batch();
            if batch.is_empty() {
                continue;
            }
            let result = self.write_batch(&batch).await;
            self.finish_batch(batch, result);
        }
    }

    fn take_batch(&self) -> Vec<Pending> {
        let mut pending = self.pending.borrow_mut();
        let limit = self.dev.geometry.stripe_bytes(STRIPE_BLOCKS_MAX)
            - crate::log::BATCH_HEADER_BYTES
            - 1024;
        let mut size = 0;
        let mut n = 0;
        for p in pending.iter() {
            let s = crate::log::record_size(p);
            if n > 0 && size + s > limit {
                break;
            }
            size += s;
            n += 1;
        }
        pending.drain(..n).collect()
    }

    fn finish_batch(&self, batch: Vec<Pending>, result: Result<(InlineLoc, LogPos), Error>) {
        match result {
            Ok((loc, after)) => {
                self.applied.set(after);
                let mut offset = crate::log::BATCH_HEADER_BYTES as u32;
                for mut p in batch {
                    offset += crate::log::record_encoded_len(&p.record) as u32;
                    if let (Some(entry), Some(data)) = (p.record.inline_entry_mut(), &p.inline) {
                        if let crate::record::ObjectData::Inline(l) = &mut entry.data {
                            l.offset = offset;
                        }
                        crate::state::place_inline(entry, &loc);
                        offset += data.len() as u32;
                    }
                    let applied = self.st.borrow_mut().apply(&p.record);
                    self.after_apply(&p.record);
                    if let Some(done) = p.done {
                        let _ = done.send(Ok(applied));
                    }
                }
            }
            Err(e) => {
                tracing::error!(partition = self.id, error = %e, "log batch failed");
                for p in batch {
                    if let Some(done) = p.done {
                        let _ = done.send(Err(e.clone()));
                    }
                }
            }
        }
    }

    /// Side effects of an applied record beyond the partition's own state.
    fn after_apply(&self, rec: &Record) {
        match rec {
            Record::BucketPut(_) | Record::BucketDelete { .. } => {
                self.shared.publish_buckets(&self.st.borrow().buckets);
            }
            Record::ObjectPut { .. }
            | Record::ObjectDelete { .. }
            | Record::ObjectMove { .. }
            | Record::ObjectRelocate { .. }
            | Record::ObjectVersionPut { .. }
            | Record::ObjectDeleteMarker { .. }
            | Record::ObjectVersionDelete { .. } => {
                let keep: Vec<u32> = self.data_cursor.get().map(|c| c.0).into_iter().collect();
                self.st.borrow_mut().release_unused(Usage::Data, &keep);
            }
            Record::ExtentOpen { .. } | Record::ObjectAclPut { .. } => {}
        }
    }

    /// Header of a log batch stripe at `pos`.
    pub fn log_stripe(&self, pos: &LogPos, rows: u16) -> StripeId {
        StripeId {
            kind: BlockKind::Log,
            set_id: self.set_id(),
            partition: self.id,
            extent: pos.extent,
            generation: pos.generation,
            first_block: pos.block,
            rows,
            stamp: pos.seq,
        }
    }

    /// Reads the row-0 headers of the log stripes at `block` of `extent` and returns the
    /// highest sequence number, at least `min_seq`, that a valid header naming exactly this
    /// place carries, with its rows (the most common answer among that write's shards).
    pub async fn probe_batch(
        &self,
        extent: u32,
        generation: u32,
        block: u32,
        min_seq: u64,
    ) -> Option<(u64, u16)> {
        if block >= self.dev.blocks_per_extent() {
            return None;
        }
        let g = self.dev.geometry;
        let at = self.dev.offset(extent, block);
        let reads = join_all((0..g.shard_count()).map(|s| async move {
            let buf = self
                .dev
                .read(g.device_of(extent, s), at, BLOCK_BYTES)
                .await
                .ok()?;
            let h = BlockHeader::open(&buf).ok()?;
            let ok = h.kind == BlockKind::Log
                && h.set_id == self.set_id()
                && h.partition == self.id
                && h.extent == extent
                && h.block == block
                && h.generation == generation
                && h.stamp >= min_seq
                && h.shard as usize == s
                && h.row == 0;
            ok.then_some((h.stamp, h.stripe_blocks))
        }))
        .await;
        let found: Vec<(u64, u16)> = reads.into_iter().flatten().collect();
        let seq = found.iter().map(|f| f.0).max()?;
        let rows: Vec<u16> = found.iter().filter(|f| f.0 == seq).map(|f| f.1).collect();
        // Shards of one write agree on its size; take the most common answer.
        let rows = rows
            .iter()
            .copied()
            .max_by_key(|r| rows.iter().filter(|x| *x == r).count())?;
        Some((seq, rows))
    }
}
