//! Object operations on the owning partition: put (streaming, erasure-coded), get
//! (ranges, verified, rebuilt when needed), head, delete and one partition's share of list.

use std::collections::VecDeque;
use std::ops::Bound;
use std::rc::Rc;

use bytes::Bytes;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use md5::{Digest, Md5};

use crate::api::{
    validate_key, validate_put_options, version_id_string, DeleteOutcome, ListParams, ObjectMeta,
    ObjectSummary, ObjectType, PutOptions, RangeSpec, Versioning, NULL_VERSION,
};
use crate::block::BlockKind;
use crate::constants::{
    BLOCK_BYTES, EXTENTS_RESERVED_PER_PARTITION, INLINE_BYTES_MAX, STRIPE_BLOCKS_MAX,
};
use crate::digest::StreamDigests;
use crate::error::Error;
use crate::partition::Partition;
use crate::record::{
    decode_extra, encode_extra, InlineLoc, ObjectData, ObjectEntry, Record, Run, Segment,
    StripeData,
};
use crate::state::Applied;
use crate::stripe::{StripeFill, StripeId};
use glommio::io::DmaBuffer;

/// Stripe writes one put keeps in flight.
const PUT_STRIPES_IN_FLIGHT: usize = 4;
/// Stripe reads one get keeps ahead of the one being sent: with 4+2, four reads of 256 KiB
/// per stripe, so 16 device reads in flight for one stream (a disk's sequential bandwidth
/// wants a deep queue; two stripes left it idle between completions).
const GET_STRIPES_AHEAD: usize = 4;
/// Chunks a get may queue for its reader (one per shard span, up to 256 KiB each).
pub const GET_CHANNEL_CHUNKS: usize = 8;

async fn join(t: glommio::task::JoinHandle<Result<(), Error>>) -> Result<(), Error> {
    t.await
        .unwrap_or_else(|| Err(Error::Internal("stripe write task cancelled".into())))
}

/// CRC-64/XZ, which OSS calls crc64ecma (x-oss-hash-crc64ecma): ECMA-182 polynomial,
/// reflected, all-ones initial value and final XOR. Check value: "123456789" →
/// 0x995dc9bbdf1939fa. Every put body passes through it on the executor, so it folds
/// with carry-less multiplies (PCLMULQDQ, chosen by crc64fast at run time; a table where
/// the CPU lacks them) instead of looking up a 16-way table (`benches/digest.rs` compares
/// the two).
pub type Crc64 = crc64fast::Digest;

/// The digests a put computes over the bytes it stores, as they stream past.
pub struct Digests {
    md5: Md5,
    crc64: Crc64,
}

impl Digests {
    pub fn new() -> Digests {
        Digests {
            md5: Md5::new(),
            crc64: Crc64::new(),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.md5.update(bytes);
        self.crc64.write(bytes);
    }

    /// (MD5, CRC-64/XZ).
    pub fn finish(self) -> ([u8; 16], u64) {
        (self.md5.finalize().into(), self.crc64.sum64())
    }
}

impl Default for Digests {
    fn default() -> Digests {
        Digests::new()
    }
}

/// Adds a stripe of `rows` rows at `block` of `extent` to a segment's runs: it extends the
/// last run when it directly follows that run's last (full) stripe, else starts a run.
pub(crate) fn append_stripe(
    runs: &mut Vec<Run>,
    extent: u32,
    generation: u32,
    block: u32,
    rows: u16,
) {
    match runs.last_mut() {
        Some(r)
            if r.extent == extent
                && r.generation == generation
                && r.last_rows as usize == STRIPE_BLOCKS_MAX
                && r.first_block + r.stripes * STRIPE_BLOCKS_MAX as u32 == block =>
        {
            r.stripes += 1;
            r.last_rows = rows;
        }
        _ => runs.push(Run {
            extent,
            generation,
            first_block: block,
            stripes: 1,
            last_rows: rows,
        }),
    }
}

/// A body stream that already holds its one item (the reader finds it queued).
fn one_item(item: Result<Bytes, Error>) -> BodyStream {
    let (mut tx, rx) = mpsc::channel(0);
    tx.try_send(item)
        .expect("a channel has room for one item per sender");
    rx
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The bytes of a get, in order; an `Err` ends the stream.
pub type BodyStream = mpsc::Receiver<Result<Bytes, Error>>;

/// The body of a put: streamed in chunks, or already whole in memory (a small object the
/// caller had to buffer anyway), which spares a channel, a cross-core wake-up per chunk
/// and, for a body packed into the log, a copy.
pub enum PutBody {
    Stream(mpsc::Receiver<Bytes>),
    Whole(Bytes),
}

impl PutBody {
    /// The body as a stream, for the stripe path. A whole body is queued in full at once
    /// (a channel holds its buffer plus one item per sender), so nothing has to feed it.
    fn into_stream(self) -> mpsc::Receiver<Bytes> {
        match self {
            PutBody::Stream(rx) => rx,
            PutBody::Whole(data) => {
                let chunk = 1 << 20;
                let (mut tx, rx) = mpsc::channel(data.len().div_ceil(chunk));
                let mut at = 0;
                while at < data.len() {
                    let n = (data.len() - at).min(chunk);
                    tx.try_send(data.slice(at..at + n))
                        .expect("the channel has room for every chunk");
                    at += n;
                }
                rx
            }
        }
    }

    /// Collects a small body into one buffer, checking its length.
    async fn into_whole(self, len: u64) -> Result<Bytes, Error> {
        let mut rx = match self {
            PutBody::Whole(data) if data.len() as u64 == len => return Ok(data),
            PutBody::Whole(data) => {
                return Err(Error::IncompleteBody {
                    expected: len,
                    got: data.len() as u64,
                })
            }
            PutBody::Stream(rx) => rx,
        };
        let mut buf = Vec::with_capacity(len as usize);
        while let Some(chunk) = rx.next().await {
            if (buf.len() + chunk.len()) as u64 > len {
                return Err(Error::IncompleteBody {
                    expected: len,
                    got: (buf.len() + chunk.len()) as u64,
                });
            }
            buf.extend_from_slice(&chunk);
        }
        if buf.len() as u64 != len {
            return Err(Error::IncompleteBody {
                expected: len,
                got: buf.len() as u64,
            });
        }
        Ok(Bytes::from(buf))
    }
}

/// One entry of a partition's list answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListItem {
    Object(ObjectSummary),
    Prefix(String),
}

impl ListItem {
    pub fn name(&self) -> &str {
        match self {
            ListItem::Object(o) => &o.key,
            ListItem::Prefix(p) => p,
        }
    }
}

/// An entry's metadata; `versioned` when the bucket's versioning was ever enabled (only
/// then has a version a version id to show).
pub fn meta_of(bucket: &str, key: &str, e: &ObjectEntry, versioned: bool) -> ObjectMeta {
    let (content_type, user_meta) = decode_extra(&e.extra).unwrap_or_default();
    ObjectMeta {
        bucket: bucket.to_string(),
        key: key.to_string(),
        size: e.size,
        etag: e.etag,
        etag_parts: (e.etag_parts > 0).then_some(e.etag_parts),
        content_type,
        user_meta,
        last_modified_ms: e.last_modified_ms,
        object_type: e.object_type,
        version_id: versioned.then(|| version_id_string(e.version)),
        crc64: e.crc64,
        acl: e.acl,
        delete_marker: e.is_delete_marker(),
    }
}

/// The smallest string greater than every key that starts with `prefix`.
pub(crate) fn past_prefix(prefix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + 1024);
    s.push_str(prefix);
    // Keys are at most 1023 bytes; U+10FFFF is the greatest character.
    for _ in 0..256 {
        s.push('\u{10FFFF}');
    }
    s
}

impl Partition {
    fn check_bucket(&self, bucket: &str) -> Result<(), Error> {
        match self.shared.bucket(bucket) {
            Some(b) if !b.deleting => Ok(()),
            _ => Err(Error::NoSuchBucket(bucket.to_string())),
        }
    }

    /// The bucket's versioning state (and that it exists).
    pub(crate) fn versioning(&self, bucket: &str) -> Result<Versioning, Error> {
        match self.shared.bucket(bucket) {
            Some(b) if !b.deleting => Ok(b.info.versioning),
            _ => Err(Error::NoSuchBucket(bucket.to_string())),
        }
    }

    pub async fn put(
        self: &Rc<Self>,
        bucket: String,
        key: String,
        opts: PutOptions,
        body: PutBody,
    ) -> Result<ObjectMeta, Error> {
        validate_key(&key)?;
        validate_put_options(&opts)?;
        self.check_bucket(&bucket)?;
        // Counted from the bucket check to the commit, so a bucket delete that asks this
        // partition whether the bucket is empty sees puts still in flight.
        *self
            .puts_in_flight
            .borrow_mut()
            .entry(bucket.clone())
            .or_default() += 1;
        let r = self.put_checked(bucket.clone(), key, opts, body).await;
        let mut inflight = self.puts_in_flight.borrow_mut();
        let n = inflight.get_mut(&bucket).expect("counted above");
        *n -= 1;
        if *n == 0 {
            inflight.remove(&bucket);
        }
        r
    }

    async fn put_checked(
        self: &Rc<Self>,
        bucket: String,
        key: String,
        opts: PutOptions,
        body: PutBody,
    ) -> Result<ObjectMeta, Error> {
        // Reclaims first when space is low: the put's body waits meanwhile.
        self.make_room().await?;
        let len = opts.content_length;
        let (data, inline, digests) = if len as usize <= INLINE_BYTES_MAX {
            let buf = body.into_whole(len).await?;
            let mut digests = Digests::new();
            digests.update(&buf);
            let digests = digests.finish();
            if buf.is_empty() {
                (ObjectData::Empty, None, digests)
            } else {
                let loc = InlineLoc {
                    extent: 0,
                    generation: 0,
                    first_block: 0,
                    rows: 0,
                    seq: 0,
                    offset: 0,
                    len: len as u32,
                };
                (ObjectData::Inline(loc), Some(buf), digests)
            }
        } else {
            // The extents this put writes hold nothing live until its record applies:
            // they stay pinned until then so they are not handed out again.
            let mut pinned = Vec::new();
            let mut body = body.into_stream();
            let mut digests = StreamDigests::new();
            let mark = self.dev.attaches();
            let stripes = self
                .put_stripes(
                    len,
                    &mut body,
                    &mut digests,
                    &mut pinned,
                    EXTENTS_RESERVED_PER_PARTITION,
                )
                .await;
            crate::failpoint::crash_point!(crate::failpoint::AFTER_DATA_WRITE);
            let r = match stripes {
                Ok(s) => {
                    let data = ObjectData::Stripes(s);
                    let r = match digests.finish().await {
                        Ok(d) => {
                            self.finish_put(bucket, key, opts, d, data.clone(), None)
                                .await
                        }
                        Err(e) => Err(e),
                    };
                    if r.is_ok() {
                        self.settle_written(mark, &data, len);
                    }
                    r
                }
                Err(e) => Err(e),
            };
            self.pin(&pinned, false);
            self.release_data();
            return r;
        };
        self.finish_put(bucket, key, opts, digests, data, inline)
            .await
    }

    pub(crate) fn release_data(&self) {
        let keep: Vec<u32> = self.data_cursor.get().map(|c| c.0).into_iter().collect();
        self.st
            .borrow_mut()
            .release_unused(crate::state::Usage::Data, &keep);
    }

    async fn finish_put(
        &self,
        bucket: String,
        key: String,
        opts: PutOptions,
        (etag, crc64): ([u8; 16], u64),
        data: ObjectData,
        inline: Option<Bytes>,
    ) -> Result<ObjectMeta, Error> {
        let len = opts.content_length;
        if opts.content_md5.is_some_and(|m| m != etag) {
            return Err(Error::BadDigest);
        }
        let versioning = self.versioning(&bucket)?;
        // Issued right before the record is queued: records apply in queue order, so a
        // key's later write always gets the greater id.
        let version = match versioning {
            Versioning::Enabled => self.next_version_id(),
            Versioning::Disabled | Versioning::Suspended => NULL_VERSION,
        };
        let entry = ObjectEntry {
            size: len,
            last_modified_ms: now_ms(),
            etag,
            etag_parts: 0,
            object_type: ObjectType::Normal,
            acl: opts.acl,
            version,
            crc64,
            extra: encode_extra(&opts.content_type, &opts.user_meta),
            data,
        };
        let versioned = versioning != Versioning::Disabled;
        let meta = meta_of(&bucket, &key, &entry, versioned);
        let needs_flush = matches!(entry.data, ObjectData::Stripes(_));
        let (key2, if_absent) = (key.clone(), opts.forbid_overwrite);
        let rec = if versioned {
            Record::ObjectVersionPut {
                bucket,
                key: key2,
                entry,
                if_absent,
            }
        } else {
            Record::ObjectPut {
                bucket,
                key: key2,
                entry,
                if_absent,
            }
        };
        match self.commit(rec, inline, needs_flush).await? {
            Applied::Done => {
                crate::failpoint::crash_point!(crate::failpoint::AFTER_LOG_RECORD);
                self.shared.stats.puts.inc();
                self.shared.stats.bytes_in.add(len);
                Ok(meta)
            }
            Applied::Exists => Err(Error::FileAlreadyExists(key)),
        }
    }

    /// Streams a large body into data stripes; returns where they are. New data extents
    /// are opened only while more than `keep_free` extents are free.
    ///
    /// Each chunk is copied once, straight into the shard buffers of the stripe it belongs
    /// to (`StripeFill`; every stripe's size follows from `len`), while its MD5 runs on the
    /// executor's helper thread (`digest`). A full stripe is encoded, sealed and written by
    /// a task of its own, `PUT_STRIPES_IN_FLIGHT` at a time, while the next one fills.
    pub(crate) async fn put_stripes(
        self: &Rc<Self>,
        len: u64,
        body: &mut mpsc::Receiver<Bytes>,
        digests: &mut StreamDigests,
        pinned: &mut Vec<u32>,
        keep_free: usize,
    ) -> Result<StripeData, Error> {
        let stamp = self.next_stamp();
        let mut runs: Vec<Run> = Vec::new();
        let mut inflight = VecDeque::new();
        let mut filling: Option<(StripeFill, Vec<DmaBuffer>)> = None;
        let mut received = 0u64;
        while let Some(chunk) = body.next().await {
            received += chunk.len() as u64;
            if received > len {
                return Err(Error::IncompleteBody {
                    expected: len,
                    got: received,
                });
            }
            digests.update(&chunk).await?;
            let mut rest: &[u8] = &chunk;
            while !rest.is_empty() {
                let (fill, bufs) = filling.get_or_insert_with(|| {
                    let placed = received - (rest.len() as u64);
                    self.start_stripe(len - placed)
                });
                let (shard, at, n) = fill.next_span(rest.len()).expect("a stripe with room");
                bufs[shard].as_bytes_mut()[at..at + n].copy_from_slice(&rest[..n]);
                fill.advance(n);
                rest = &rest[n..];
                if !fill.is_full() {
                    continue;
                }
                let (fill, bufs) = filling.take().expect("filling");
                let task = self.spawn_stripe_write(stamp, fill, bufs, &mut runs, pinned, keep_free);
                inflight.push_back(task?);
                if inflight.len() >= PUT_STRIPES_IN_FLIGHT {
                    join(inflight.pop_front().expect("non-empty")).await?;
                }
            }
        }
        for t in inflight {
            join(t).await?;
        }
        if received != len {
            return Err(Error::IncompleteBody {
                expected: len,
                got: received,
            });
        }
        let segment = Segment {
            len,
            stamp,
            runs: runs.into_boxed_slice(),
        };
        Ok(StripeData {
            segments: vec![segment].into_boxed_slice(),
        })
    }

    /// The buffers and fill cursor of the next stripe of a body with `remaining` bytes
    /// still to come: a full stripe, or the last one sized to what is left.
    fn start_stripe(&self, remaining: u64) -> (StripeFill, Vec<DmaBuffer>) {
        let g = self.dev.geometry;
        let len = (g.stripe_bytes(STRIPE_BLOCKS_MAX) as u64).min(remaining) as usize;
        let rows = g.rows_for(len);
        (StripeFill::new(g, rows, len), self.alloc_stripe(rows))
    }

    fn spawn_stripe_write(
        self: &Rc<Self>,
        stamp: u64,
        fill: StripeFill,
        mut bufs: Vec<DmaBuffer>,
        runs: &mut Vec<Run>,
        pinned: &mut Vec<u32>,
        keep_free: usize,
    ) -> Result<glommio::task::JoinHandle<Result<(), Error>>, Error> {
        let g = self.dev.geometry;
        let rows = fill.rows() as u32;
        let (extent, generation, block) = self.reserve_stripe(rows, keep_free)?;
        if !pinned.contains(&extent) {
            self.pin(&[extent], true);
            pinned.push(extent);
        }
        append_stripe(runs, extent, generation, block, rows as u16);
        let id = StripeId {
            kind: BlockKind::Data,
            set_id: self.set_id(),
            partition: self.id,
            extent,
            generation,
            first_block: block,
            rows: rows as u16,
            stamp,
        };
        self.shared
            .stats
            .data_bytes_written
            .add((rows as usize * BLOCK_BYTES * g.shard_count()) as u64);
        for (shard, at, n) in fill.padding() {
            bufs[shard].as_bytes_mut()[at..at + n].fill(0);
        }
        let me = self.clone();
        let len = fill.len();
        let write = async move { me.write_filled_stripe(&id, len, bufs).await };
        Ok(glommio::spawn_local(write).detach())
    }

    pub fn head(&self, bucket: &str, key: &str, version: Option<u64>) -> Result<ObjectMeta, Error> {
        let versioned = self.versioning(bucket)? != Versioning::Disabled;
        let e = self.find(bucket, key, version)?;
        Ok(meta_of(bucket, key, &e, versioned || version.is_some()))
    }

    /// The current version of `key`, or version `version` of it: `NoSuchKey` when there
    /// is no current version or it is a delete marker, `NoSuchVersion` when the version
    /// does not exist, `MethodNotAllowed` when it is a delete marker.
    pub(crate) fn find(
        &self,
        bucket: &str,
        key: &str,
        version: Option<u64>,
    ) -> Result<ObjectEntry, Error> {
        let st = self.st.borrow();
        let Some(v) = version else {
            return st
                .lookup(bucket, key)
                .cloned()
                .ok_or_else(|| Error::NoSuchKey {
                    bucket: bucket.into(),
                    key: key.into(),
                });
        };
        let e = st.versions(bucket, key).and_then(|c| c.get(v));
        match e {
            None => Err(Error::NoSuchVersion {
                bucket: bucket.into(),
                key: key.into(),
                version_id: version_id_string(v),
            }),
            Some(e) if e.is_delete_marker() => Err(Error::MethodNotAllowed(format!(
                "version {} of {bucket}/{key} is a delete marker",
                version_id_string(v)
            ))),
            Some(e) => Ok(e.clone()),
        }
    }

    /// Looks the object up and starts streaming the requested bytes into the returned
    /// channel; the extents it reads from are pinned until the stream ends.
    pub async fn get(
        self: &Rc<Self>,
        bucket: &str,
        key: &str,
        version: Option<u64>,
        range: Option<RangeSpec>,
    ) -> Result<(ObjectMeta, u64, u64, BodyStream), Error> {
        let versioned = self.versioning(bucket)? != Versioning::Disabled;
        let entry = self.find(bucket, key, version)?;
        let (start, len) = match range {
            Some(r) => r.resolve(entry.size)?,
            None => (0, entry.size),
        };
        let meta = meta_of(bucket, key, &entry, versioned || version.is_some());
        self.shared.stats.gets.inc();
        self.shared.stats.bytes_out.add(len);
        // A packed object: from the read cache if it is there (any range of it), else read
        // now and, when the whole object was asked for, kept there.
        let packed = match &entry.data {
            ObjectData::Inline(loc) if len > 0 => Some(*loc),
            _ => None,
        };
        let mut cache_it = false;
        if let Some(loc) = packed {
            let mut cache = self.read_cache.borrow_mut();
            if cache.enabled() {
                if let Some(whole) = cache.get(&loc) {
                    drop(cache);
                    self.shared.stats.read_cache_hits.inc();
                    let body = whole.slice(start as usize..(start + len) as usize);
                    return Ok((meta, start, len, one_item(Ok(body))));
                }
                self.shared.stats.read_cache_misses.inc();
                cache_it = start == 0 && len == entry.size;
            }
        }
        let pieces = self.pieces(&entry, start, len);
        let extents: Vec<u32> = pieces.iter().map(|(id, _, _)| id.extent).collect();
        self.pin(&extents, true);
        if let [(id, offset, len)] = pieces[..] {
            if len <= INLINE_BYTES_MAX {
                // One small piece (a packed object) is read before the answer goes out: the
                // reader then finds the body already queued, with no task to start and no
                // second wake-up across cores.
                let item = self.read_stripe(&id, offset, len).await.map(Bytes::from);
                self.pin(&extents, false);
                if let (Some(loc), Ok(bytes), true) = (packed, &item, cache_it) {
                    self.read_cache.borrow_mut().insert(loc, bytes.clone());
                }
                return Ok((meta, start, len as u64, one_item(item)));
            }
        }
        let (mut tx, rx) = mpsc::channel(GET_CHANNEL_CHUNKS);
        let me = self.clone();
        glommio::spawn_local(async move {
            let mut ahead = VecDeque::new();
            let mut next = pieces.into_iter();
            loop {
                while ahead.len() < GET_STRIPES_AHEAD {
                    let Some((id, off, l)) = next.next() else {
                        break;
                    };
                    let p = me.clone();
                    let read = async move { p.read_stripe_parts(&id, off, l).await };
                    ahead.push_back(glommio::spawn_local(read).detach());
                }
                let Some(task) = ahead.pop_front() else { break };
                let items: Vec<Result<Bytes, Error>> = match task.await {
                    Some(Ok(parts)) => parts.into_iter().map(|p| Ok(Bytes::from(p))).collect(),
                    Some(Err(e)) => vec![Err(e)],
                    None => vec![Err(Error::Internal("read task cancelled".into()))],
                };
                let mut stop = false;
                for item in items {
                    let failed = item.is_err();
                    if tx.send(item).await.is_err() || failed {
                        stop = true;
                        break;
                    }
                }
                if stop {
                    break;
                }
            }
            for t in ahead {
                let _ = t.await;
            }
            me.pin(&extents, false);
        })
        .detach();
        Ok((meta, start, len, rx))
    }

    pub fn pin(&self, extents: &[u32], on: bool) {
        let mut st = self.st.borrow_mut();
        for e in extents {
            let x = st.extents.get_mut(e).expect("owned extent");
            if on {
                x.readers += 1;
            } else {
                x.readers -= 1;
            }
        }
    }

    /// Splits bytes `start .. start + len` of an object into (stripe, offset, len) pieces.
    pub(crate) fn pieces(
        &self,
        e: &ObjectEntry,
        start: u64,
        len: u64,
    ) -> Vec<(StripeId, usize, usize)> {
        self.data_pieces(&e.data, start, len)
    }

    /// `pieces` of an object's data.
    pub(crate) fn data_pieces(
        &self,
        data: &ObjectData,
        start: u64,
        len: u64,
    ) -> Vec<(StripeId, usize, usize)> {
        let mut out = Vec::new();
        if len == 0 {
            return out;
        }
        match data {
            ObjectData::Empty | ObjectData::DeleteMarker => {}
            ObjectData::Inline(l) => {
                let id = StripeId {
                    kind: BlockKind::Log,
                    set_id: self.set_id(),
                    partition: self.id,
                    extent: l.extent,
                    generation: l.generation,
                    first_block: l.first_block,
                    rows: l.rows,
                    stamp: l.seq,
                };
                out.push((id, l.offset as usize + start as usize, len as usize));
            }
            ObjectData::Stripes(s) => {
                let g = self.dev.geometry;
                let (mut at, end) = (start, start + len);
                let mut seg_base = 0u64;
                for seg in s.segments.iter() {
                    let seg_end = seg_base + seg.len;
                    let mut base = seg_base;
                    for r in seg.runs.iter() {
                        for j in 0..r.stripes {
                            let rows = if j + 1 == r.stripes {
                                r.last_rows
                            } else {
                                STRIPE_BLOCKS_MAX as u16
                            };
                            let stripe_end =
                                base + (g.stripe_bytes(rows as usize) as u64).min(seg_end - base);
                            if at < stripe_end && at < end {
                                let take = stripe_end.min(end) - at;
                                let id = StripeId {
                                    kind: BlockKind::Data,
                                    set_id: self.set_id(),
                                    partition: self.id,
                                    extent: r.extent,
                                    generation: r.generation,
                                    first_block: r.first_block + j * STRIPE_BLOCKS_MAX as u32,
                                    rows,
                                    stamp: seg.stamp,
                                };
                                out.push((id, (at - base) as usize, take as usize));
                                at += take;
                            }
                            base = stripe_end;
                        }
                    }
                    seg_base = seg_end;
                }
            }
        }
        out
    }

    /// Deletes `key` (or, with `version`, that version of it). In a bucket whose versioning
    /// is enabled or suspended, a delete without a version adds a delete marker.
    pub async fn delete(
        &self,
        bucket: String,
        key: String,
        version: Option<u64>,
    ) -> Result<DeleteOutcome, Error> {
        validate_key(&key)?;
        let versioning = self.versioning(&bucket)?;
        let (record, outcome) = match (version, versioning) {
            (None, Versioning::Disabled) => {
                if self.st.borrow().versions(&bucket, &key).is_none()
                    && self.pending.borrow().is_empty()
                {
                    return Ok(DeleteOutcome::default());
                }
                (
                    Record::ObjectDelete { bucket, key },
                    DeleteOutcome::default(),
                )
            }
            (None, _) => {
                let version = match versioning {
                    Versioning::Enabled => self.next_version_id(),
                    _ => NULL_VERSION,
                };
                let outcome = DeleteOutcome {
                    version_id: Some(version_id_string(version)),
                    delete_marker: true,
                };
                let last_modified_ms = now_ms();
                let rec = Record::ObjectDeleteMarker {
                    bucket,
                    key,
                    version,
                    last_modified_ms,
                };
                (rec, outcome)
            }
            (Some(version), _) => {
                let found = self
                    .st
                    .borrow()
                    .versions(&bucket, &key)
                    .and_then(|c| c.get(version))
                    .map(|e| e.is_delete_marker());
                let outcome = DeleteOutcome {
                    version_id: Some(version_id_string(version)),
                    delete_marker: found == Some(true),
                };
                if found.is_none() && self.pending.borrow().is_empty() {
                    return Ok(outcome);
                }
                let rec = Record::ObjectVersionDelete {
                    bucket,
                    key,
                    version,
                };
                (rec, outcome)
            }
        };
        self.commit(record, None, false).await?;
        self.shared.stats.deletes.inc();
        Ok(outcome)
    }

    /// This partition's sorted share of a listing: at most `limit` items.
    pub fn list(&self, bucket: &str, p: &ListParams, limit: usize) -> Result<Vec<ListItem>, Error> {
        self.check_bucket(bucket)?;
        let st = self.st.borrow();
        let Some(map) = st.objects.get(bucket) else {
            return Ok(Vec::new());
        };
        let mut out: Vec<ListItem> = Vec::new();
        let mut lower: Bound<String> = if p.marker.as_str() >= p.prefix.as_str() {
            Bound::Excluded(p.marker.clone())
        } else {
            Bound::Included(p.prefix.clone())
        };
        'scan: while out.len() < limit {
            let mut range = map.range::<String, _>((lower.clone(), Bound::Unbounded));
            loop {
                let Some((key, versions)) = range.next() else {
                    break 'scan;
                };
                if !key.starts_with(&p.prefix) {
                    break 'scan;
                }
                let e = versions.current();
                if e.is_delete_marker() {
                    continue; // deleted in a versioned bucket: older versions stay hidden
                }
                if !p.delimiter.is_empty() {
                    if let Some(i) = key[p.prefix.len()..].find(&p.delimiter) {
                        let cp = &key[..p.prefix.len() + i + p.delimiter.len()];
                        if cp > p.marker.as_str() {
                            out.push(ListItem::Prefix(cp.to_string()));
                        }
                        lower = Bound::Excluded(past_prefix(cp));
                        continue 'scan;
                    }
                }
                out.push(ListItem::Object(ObjectSummary {
                    key: key.clone(),
                    size: e.size,
                    etag: e.etag,
                    etag_parts: (e.etag_parts > 0).then_some(e.etag_parts),
                    last_modified_ms: e.last_modified_ms,
                    object_type: e.object_type,
                }));
                if out.len() >= limit {
                    break 'scan;
                }
            }
        }
        Ok(out)
    }
}
