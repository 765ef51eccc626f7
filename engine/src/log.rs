//! The partition log: batches of records (and packed small objects) written as
//! erasure-coded stripes, one batch at a time, and the root slots that say where the log
//! and the latest checkpoint start. Layouts: FORMAT.md, "Log batches" and "Root slots".

use crate::constants::{BLOCK_BYTES, ROOT_SLOTS_OFFSET_BYTES};
use crate::error::Error;
use crate::partition::{LogPos, Partition, Pending};
use crate::record::{ObjectData, Reader, Record, Run, Writer};
use crate::state::Usage;

pub const BATCH_MAGIC: [u8; 4] = *b"RSLB";
/// 3: the header carries a CRC32C of the whole batch, and sequence numbers are never
/// reused (a batch whose write failed or tore leaves a gap). 2: index entries carry ACL,
/// version id and CRC-64; record types 8 to 11.
pub const BATCH_VERSION: u16 = 3;
pub const BATCH_HEADER_BYTES: usize = 40;
const BATCH_CRC_OFFSET: usize = 32;
const BATCH_RESERVED_OFFSET: usize = 36;
const _: () = assert!(BATCH_RESERVED_OFFSET + 4 == BATCH_HEADER_BYTES);

pub const ROOT_MAGIC: [u8; 4] = *b"RSRT";
pub const ROOT_VERSION: u16 = 1;
const ROOT_FIXED_BYTES: usize = 72;
const RUN_BYTES: usize = 18;
pub const ROOT_RUNS_MAX: usize = (BLOCK_BYTES - 4 - ROOT_FIXED_BYTES) / RUN_BYTES;

pub fn record_encoded_len(r: &Record) -> usize {
    let mut w = Writer::default();
    r.encode(&mut w);
    w.buf.len()
}

pub fn record_size(p: &Pending) -> usize {
    record_encoded_len(&p.record) + p.inline.as_ref().map_or(0, |d| d.len())
}

/// The batch header at the start of a batch's payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub partition: u16,
    pub seq: u64,
    pub records_len: u32,
    pub next_extent: u32,
    pub next_generation: u32,
    pub record_count: u32,
    /// CRC32C of the batch's byte stream without this field (`batch_crc`).
    pub crc: u32,
}

/// CRC32C of a batch's byte stream (header and records, no padding), leaving out the
/// header's own CRC field. Every shard of a batch is checked against its block CRC, but
/// only this checksum proves that the shards a decode combined belong to one write.
pub fn batch_crc(stream: &[u8]) -> u32 {
    assert!(stream.len() >= BATCH_HEADER_BYTES);
    let crc = crc32c::crc32c(&stream[..BATCH_CRC_OFFSET]);
    crc32c::crc32c_append(crc, &stream[BATCH_RESERVED_OFFSET..])
}

/// Writes the CRC of `stream` (an encoded batch header followed by its records) into it.
pub fn seal_batch(stream: &mut [u8]) {
    let crc = batch_crc(stream);
    stream[BATCH_CRC_OFFSET..BATCH_CRC_OFFSET + 4].copy_from_slice(&crc.to_le_bytes());
}

impl BatchHeader {
    pub fn encode(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&BATCH_MAGIC);
        out[4..6].copy_from_slice(&BATCH_VERSION.to_le_bytes());
        out[6..8].copy_from_slice(&self.partition.to_le_bytes());
        out[8..16].copy_from_slice(&self.seq.to_le_bytes());
        out[16..20].copy_from_slice(&self.records_len.to_le_bytes());
        out[20..24].copy_from_slice(&self.next_extent.to_le_bytes());
        out[24..28].copy_from_slice(&self.next_generation.to_le_bytes());
        out[28..32].copy_from_slice(&self.record_count.to_le_bytes());
        out[BATCH_CRC_OFFSET..BATCH_CRC_OFFSET + 4].copy_from_slice(&self.crc.to_le_bytes());
        out[BATCH_RESERVED_OFFSET..BATCH_HEADER_BYTES].fill(0);
    }

    pub fn decode(b: &[u8]) -> Option<BatchHeader> {
        if b.len() < BATCH_HEADER_BYTES
            || b[0..4] != BATCH_MAGIC
            || b[4..6] != BATCH_VERSION.to_le_bytes()
            || b[BATCH_RESERVED_OFFSET..BATCH_HEADER_BYTES] != [0; 4]
        {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        Some(BatchHeader {
            partition: u16::from_le_bytes(b[6..8].try_into().unwrap()),
            seq: u64::from_le_bytes(b[8..16].try_into().unwrap()),
            records_len: u32_at(16),
            next_extent: u32_at(20),
            next_generation: u32_at(24),
            record_count: u32_at(28),
            crc: u32_at(BATCH_CRC_OFFSET),
        })
    }
}

/// Decodes a batch payload into its records, placing inline data (`offset` is relative to
/// the payload start, as `InlineLoc` wants).
pub fn decode_batch(payload: &[u8], h: &BatchHeader) -> Result<Vec<Record>, Error> {
    let end = BATCH_HEADER_BYTES + h.records_len as usize;
    if end > payload.len() {
        return Err(Error::Internal(
            "log batch length exceeds its stripe".into(),
        ));
    }
    if batch_crc(&payload[..end]) != h.crc {
        return Err(Error::Internal(format!(
            "log batch {}: checksum does not match its records",
            h.seq
        )));
    }
    let mut r = Reader::new(&payload[..end]);
    r.at = BATCH_HEADER_BYTES;
    // The count is only a hint until the records are read: a record takes at least 5 bytes.
    let mut out = Vec::with_capacity((h.record_count as usize).min(h.records_len as usize / 5));
    while !r.is_empty() {
        let mut rec = Record::decode(&mut r)
            .map_err(|e| Error::Internal(format!("log batch {}: {e}", h.seq)))?;
        if let Some(entry) = rec.inline_entry_mut() {
            if let ObjectData::Inline(l) = &mut entry.data {
                l.offset = r.at as u32;
                r.take(l.len as usize)
                    .map_err(|e| Error::Internal(format!("log batch {}: {e}", h.seq)))?;
            }
        }
        out.push(rec);
    }
    if out.len() != h.record_count as usize {
        return Err(Error::Internal(format!(
            "log batch {}: record count differs",
            h.seq
        )));
    }
    Ok(out)
}

impl Partition {
    /// Writes one batch at the log's position and flushes it; returns its location.
    pub async fn write_batch(
        &self,
        batch: &[Pending],
    ) -> Result<(crate::record::InlineLoc, LogPos), Error> {
        if batch.iter().any(|p| p.needs_data_flush) {
            self.dev.sync(self.write_quorum()).await?;
        }
        let mut w = Writer {
            buf: vec![0u8; BATCH_HEADER_BYTES],
        };
        for p in batch {
            p.record.encode(&mut w);
            if let Some(d) = &p.inline {
                w.buf.extend_from_slice(d);
            }
        }
        let g = self.dev.geometry;
        let rows = g.rows_for(w.buf.len());
        assert!(
            rows <= crate::constants::STRIPE_BLOCKS_MAX,
            "take_batch bounds a batch"
        );
        let mut pos = self.log.get();
        if pos.block + rows as u32 > self.dev.blocks_per_extent() {
            if self.log_dirty.get() {
                // An attempt that failed or tore lies at `pos`, and recovery looks for a
                // batch there before it looks in the announced extent: a durable empty
                // batch must cover it first, or the attempt could be replayed (or stop the
                // replay) ahead of the batch written in the next extent.
                let mut fence = vec![0u8; BATCH_HEADER_BYTES];
                pos = self.append_batch(pos, &mut fence, 0).await?;
            }
            pos = self.rotate_log(pos)?;
            self.log.set(pos);
        }
        let after = self.append_batch(pos, &mut w.buf, batch.len()).await?;
        let loc = crate::record::InlineLoc {
            extent: pos.extent,
            generation: pos.generation,
            first_block: pos.block,
            rows: rows as u16,
            seq: pos.seq,
            offset: 0,
            len: 0,
        };
        Ok((loc, after))
    }

    /// Writes `stream` (a batch header's room, then `record_count` records) as the batch at
    /// `pos` and flushes it; returns the position after it. A failed write may have reached
    /// some devices, so its sequence number is never used again: the next attempt at this
    /// place gets `seq + 1`, and the place stays marked until a batch there is durable.
    async fn append_batch(
        &self,
        pos: LogPos,
        stream: &mut [u8],
        record_count: usize,
    ) -> Result<LogPos, Error> {
        let g = self.dev.geometry;
        let rows = g.rows_for(stream.len());
        assert!(pos.block + rows as u32 <= self.dev.blocks_per_extent());
        let header = BatchHeader {
            partition: self.id,
            seq: pos.seq,
            records_len: (stream.len() - BATCH_HEADER_BYTES) as u32,
            next_extent: pos.next_extent,
            next_generation: pos.next_generation,
            record_count: record_count as u32,
            crc: 0,
        };
        header.encode(&mut stream[..BATCH_HEADER_BYTES]);
        seal_batch(stream);
        let id = self.log_stripe(&pos, rows as u16);
        let written = match self.write_stripe(&id, stream).await {
            Ok(()) => self
                .dev
                .sync(self.write_quorum())
                .await
                .map_err(Error::from),
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            self.log.set(LogPos {
                seq: pos.seq + 1,
                ..pos
            });
            self.log_dirty.set(true);
            return Err(e);
        }
        self.log_dirty.set(false);
        let bytes = (rows * BLOCK_BYTES * g.shard_count()) as u64;
        self.shared.stats.log_bytes_written.add(bytes);
        self.log_bytes_since_checkpoint
            .set(self.log_bytes_since_checkpoint.get() + bytes);
        let after = LogPos {
            seq: pos.seq + 1,
            block: pos.block + rows as u32,
            ..pos
        };
        self.log.set(after);
        Ok(after)
    }

    /// Moves the log into its announced next extent and picks the one after it.
    fn rotate_log(&self, pos: LogPos) -> Result<LogPos, Error> {
        let (next_extent, next_generation) = self.take_extent(Usage::Log)?;
        self.log_chain.borrow_mut().push(pos.next_extent);
        Ok(LogPos {
            seq: pos.seq,
            extent: pos.next_extent,
            generation: pos.next_generation,
            block: 0,
            next_extent,
            next_generation,
        })
    }

    /// A free extent for the log or a checkpoint. These need no ExtentOpen record: every
    /// batch header announces the next log extent with its generation, and a root names
    /// its checkpoint's extents with theirs.
    pub fn take_extent(&self, usage: Usage) -> Result<(u32, u32), Error> {
        let mut st = self.st.borrow_mut();
        let extent = st.free_extent()?;
        let e = st.extents.get_mut(&extent).expect("owned");
        e.generation += 1;
        e.usage = usage;
        Ok((extent, e.generation))
    }

    /// Where the batch that follows the applied log at `pos` is, and its rows: the newest
    /// write (highest sequence number, at least `pos.seq`) whose row-0 headers name block
    /// `pos.block` of the log extent; only if there is none, the newest at block 0 of the
    /// announced extent. Sequence numbers are never reused and only the last attempt at a
    /// place can have succeeded, so an older write found there (a failed or torn attempt
    /// whose shard a misdirected rewrite left behind) is never taken. `None`: no batch.
    pub async fn locate_batch(&self, pos: &LogPos) -> Option<(LogPos, u16)> {
        if let Some((seq, rows)) = self
            .probe_batch(pos.extent, pos.generation, pos.block, pos.seq)
            .await
        {
            return Some((LogPos { seq, ..*pos }, rows));
        }
        let (seq, rows) = self
            .probe_batch(pos.next_extent, pos.next_generation, 0, pos.seq)
            .await?;
        let at = LogPos {
            seq,
            extent: pos.next_extent,
            generation: pos.next_generation,
            block: 0,
            ..*pos
        };
        Some((at, rows))
    }

    /// Reads and decodes the batch of `rows` rows at `at` (as `locate_batch` found it).
    pub async fn read_batch(
        &self,
        at: &LogPos,
        rows: u16,
    ) -> Result<(BatchHeader, Vec<Record>), Error> {
        if at.block + rows as u32 > self.dev.blocks_per_extent() {
            return Err(Error::Internal("log batch runs past its extent".into()));
        }
        let id = self.log_stripe(at, rows);
        let len = self.dev.geometry.stripe_bytes(rows as usize);
        let payload = self.read_stripe(&id, 0, len).await?;
        let h = match BatchHeader::decode(&payload) {
            Some(h) if h.seq == at.seq && h.partition == self.id => h,
            _ => {
                return Err(Error::Internal(format!(
                    "log batch {} has a bad header",
                    at.seq
                )))
            }
        };
        decode_batch(&payload, &h).map(|recs| (h, recs))
    }
}

/// A partition's root: where replay starts and which checkpoint to load first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Root {
    pub partition: u16,
    pub root_seq: u64,
    pub log_seq: u64,
    pub log_extent: u32,
    pub log_generation: u32,
    pub log_block: u32,
    /// The extent the log continues in when `log_extent` is full, and its generation.
    pub log_next_extent: u32,
    pub log_next_generation: u32,
    pub checkpoint_len: u64,
    pub checkpoint_stamp: u64,
    pub checkpoint_crc: u32,
    pub checkpoint_runs: Vec<Run>,
}

impl Root {
    /// Where the log replay of this root starts.
    pub fn log_pos(&self) -> LogPos {
        LogPos {
            seq: self.log_seq,
            extent: self.log_extent,
            generation: self.log_generation,
            block: self.log_block,
            next_extent: self.log_next_extent,
            next_generation: self.log_next_generation,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        assert!(self.checkpoint_runs.len() <= ROOT_RUNS_MAX);
        let mut w = Writer::default();
        w.buf.extend_from_slice(&ROOT_MAGIC);
        w.u16(ROOT_VERSION);
        w.u16(self.partition);
        w.u64(self.root_seq);
        w.u64(self.log_seq);
        w.u32(self.log_extent);
        w.u32(self.log_generation);
        w.u32(self.log_block);
        w.u32(0);
        w.u32(self.log_next_extent);
        w.u32(self.log_next_generation);
        w.u64(self.checkpoint_len);
        w.u64(self.checkpoint_stamp);
        w.u32(self.checkpoint_crc);
        w.u32(self.checkpoint_runs.len() as u32);
        assert_eq!(w.buf.len(), ROOT_FIXED_BYTES);
        for r in &self.checkpoint_runs {
            r.encode(&mut w);
        }
        w.buf.resize(BLOCK_BYTES - 4, 0);
        let crc = crc32c::crc32c(&w.buf);
        w.u32(crc);
        w.buf
    }

    pub fn decode(b: &[u8]) -> Option<Root> {
        if b.len() != BLOCK_BYTES || b[0..4] != ROOT_MAGIC {
            return None;
        }
        if crc32c::crc32c(&b[..BLOCK_BYTES - 4])
            != u32::from_le_bytes(b[BLOCK_BYTES - 4..].try_into().unwrap())
        {
            return None;
        }
        let mut r = Reader::new(&b[4..]);
        if r.u16().ok()? != ROOT_VERSION {
            return None;
        }
        let mut root = Root {
            partition: r.u16().ok()?,
            root_seq: r.u64().ok()?,
            log_seq: r.u64().ok()?,
            log_extent: r.u32().ok()?,
            log_generation: r.u32().ok()?,
            log_block: r.u32().ok()?,
            log_next_extent: {
                r.u32().ok()?;
                r.u32().ok()?
            },
            log_next_generation: r.u32().ok()?,
            checkpoint_len: r.u64().ok()?,
            checkpoint_stamp: r.u64().ok()?,
            checkpoint_crc: r.u32().ok()?,
            checkpoint_runs: Vec::new(),
        };
        let n = r.u32().ok()? as usize;
        if n > ROOT_RUNS_MAX {
            return None;
        }
        for _ in 0..n {
            root.checkpoint_runs.push(Run::decode(&mut r).ok()?);
        }
        Some(root)
    }

    /// Device offset of slot `root_seq % 2` of `partition`.
    pub fn offset(partition: u16, root_seq: u64) -> u64 {
        ROOT_SLOTS_OFFSET_BYTES + (2 * partition as u64 + root_seq % 2) * BLOCK_BYTES as u64
    }
}

impl Partition {
    /// Writes one block (`bytes`, `BLOCK_BYTES` long) at `at` on every device that is up;
    /// returns on how many it succeeded.
    pub(crate) async fn write_block_on_every_device(&self, at: u64, bytes: &[u8]) -> usize {
        let writes = (0..self.dev.count())
            .filter(|&d| self.dev.is_up(d))
            .map(|d| {
                let mut buf = self.dev.alloc(BLOCK_BYTES);
                buf.as_bytes_mut().copy_from_slice(bytes);
                async move { self.dev.write(d, at, buf).await }
            });
        futures::future::join_all(writes)
            .await
            .iter()
            .filter(|r| r.is_ok())
            .count()
    }

    /// Writes `root` to its slot on every healthy device and flushes. Data the root points
    /// at must already be durable.
    pub async fn write_root(&self, root: &Root) -> Result<(), Error> {
        let bytes = root.encode();
        let at = Root::offset(self.id, root.root_seq);
        let ok = self.write_block_on_every_device(at, &bytes).await;
        if ok < self.write_quorum() {
            return Err(Error::Io(format!(
                "root of partition {} reached only {ok} devices",
                self.id
            )));
        }
        self.dev.sync(self.write_quorum()).await?;
        Ok(())
    }

    /// The newest valid root among both slots on every device.
    pub async fn read_root(&self) -> Option<Root> {
        let mut best: Option<Root> = None;
        for d in 0..self.dev.count() {
            for slot in 0..2u64 {
                let Ok(buf) = self
                    .dev
                    .read(d, Root::offset(self.id, slot), BLOCK_BYTES)
                    .await
                else {
                    continue;
                };
                if let Some(r) = Root::decode(&buf) {
                    if r.partition == self.id
                        && best.as_ref().is_none_or(|b| r.root_seq > b.root_seq)
                    {
                        best = Some(r);
                    }
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_round_trip() {
        let root = Root {
            partition: 3,
            root_seq: 9,
            log_seq: 100,
            log_extent: 4,
            log_generation: 2,
            log_block: 64,
            log_next_extent: 5,
            log_next_generation: 1,
            checkpoint_len: 12345,
            checkpoint_stamp: 77,
            checkpoint_crc: 0xabcd,
            checkpoint_runs: vec![Run {
                extent: 1,
                generation: 1,
                first_block: 0,
                stripes: 3,
                last_rows: 2,
            }],
        };
        let b = root.encode();
        assert_eq!(Root::decode(&b), Some(root));
        let mut bad = b.clone();
        bad[100] ^= 1;
        assert_eq!(Root::decode(&bad), None);
    }

    #[test]
    fn batch_header_round_trip() {
        let h = BatchHeader {
            partition: 1,
            seq: 2,
            records_len: 3,
            next_extent: 4,
            next_generation: 5,
            record_count: 6,
            crc: 7,
        };
        let mut b = [0u8; BATCH_HEADER_BYTES];
        h.encode(&mut b);
        assert_eq!(BatchHeader::decode(&b), Some(h));
    }

    /// Found by the `record` fuzz target: a huge record count used to size an allocation
    /// before any record was read, aborting the process.
    #[test]
    fn batch_with_a_wrong_record_count_is_an_error() {
        let h = BatchHeader {
            partition: 0,
            seq: 1,
            records_len: 0,
            next_extent: 1,
            next_generation: 1,
            record_count: u32::MAX,
            crc: 0,
        };
        let mut b = [0u8; BATCH_HEADER_BYTES];
        h.encode(&mut b);
        seal_batch(&mut b);
        let h = BatchHeader::decode(&b).unwrap();
        assert!(matches!(decode_batch(&b, &h), Err(Error::Internal(_))));
    }
}
