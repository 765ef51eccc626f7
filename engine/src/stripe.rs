//! Stripes: how bytes become k data shards and m parity shards of checksummed blocks.
//!
//! A stripe of S rows occupies blocks `first_block .. first_block + S` of one extent on
//! every device. Shard `i` of extent `e` lives on device `(i + e) mod (k + m)`, so data and
//! parity roles rotate between extents and reads spread over all devices. The bytes of a
//! stripe fill data shard 0's payloads first, then shard 1's, and so on, so a range read
//! touches as few devices as it can. Parity is computed row by row (each row is k payloads
//! of 4032 bytes), so a single bad block is rebuilt from one row of the other shards, not
//! from whole shards.

use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

use crate::block::{payload, payload_mut, BlockError, BlockHeader, BlockKind};
use crate::constants::{BLOCK_BYTES, BLOCK_HEADER_BYTES, BLOCK_PAYLOAD_BYTES, STRIPE_BLOCKS_MAX};

/// k data shards + m parity shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub data_shards: usize,
    pub parity_shards: usize,
}

impl Geometry {
    pub fn shard_count(&self) -> usize {
        self.data_shards + self.parity_shards
    }

    /// User bytes a stripe of `rows` rows carries.
    pub fn stripe_bytes(&self, rows: usize) -> usize {
        self.data_shards * rows * BLOCK_PAYLOAD_BYTES
    }

    /// Rows needed to carry `len` bytes (at least one).
    pub fn rows_for(&self, len: usize) -> usize {
        len.div_ceil(self.data_shards * BLOCK_PAYLOAD_BYTES).max(1)
    }

    /// Device holding shard `shard` of extent `extent`.
    pub fn device_of(&self, extent: u32, shard: usize) -> usize {
        (shard + extent as usize) % self.shard_count()
    }
}

/// Where a stripe is and what its blocks must say about themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StripeId {
    pub kind: BlockKind,
    pub set_id: u64,
    pub partition: u16,
    pub extent: u32,
    pub generation: u32,
    pub first_block: u32,
    pub rows: u16,
    pub stamp: u64,
}

impl StripeId {
    /// The header block `row` of shard `shard` must carry (payload_len is not checked).
    pub fn header(&self, shard: usize, row: usize, payload_len: u16) -> BlockHeader {
        BlockHeader {
            kind: self.kind,
            shard: shard as u8,
            set_id: self.set_id,
            extent: self.extent,
            block: self.first_block + row as u32,
            generation: self.generation,
            partition: self.partition,
            stripe_blocks: self.rows,
            stamp: self.stamp,
            row: row as u16,
            payload_len,
        }
    }
}

/// Verifies a block read from `shard`/`row` of stripe `id`.
pub fn verify_block(
    id: &StripeId,
    shard: usize,
    row: usize,
    block: &[u8],
) -> Result<BlockHeader, BlockError> {
    let h = BlockHeader::open(block)?;
    h.matches(&id.header(shard, row, h.payload_len))?;
    Ok(h)
}

/// Reusable Reed-Solomon state (allocations are kept between stripes).
pub struct Coder {
    geometry: Geometry,
    encoder: ReedSolomonEncoder,
    decoder: ReedSolomonDecoder,
}

impl Coder {
    pub fn new(geometry: Geometry) -> Coder {
        let (k, m) = (geometry.data_shards, geometry.parity_shards.max(1));
        Coder {
            geometry,
            encoder: ReedSolomonEncoder::new(k, m, BLOCK_PAYLOAD_BYTES)
                .expect("geometry checked at format"),
            decoder: ReedSolomonDecoder::new(k, m, BLOCK_PAYLOAD_BYTES)
                .expect("geometry checked at format"),
        }
    }

    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// Fills the k + m shard buffers (each `rows × 4096` bytes) with the sealed blocks of a
    /// stripe carrying `data` (at most `stripe_bytes(rows)`; the rest is zero padding).
    pub fn encode(&mut self, id: &StripeId, data: &[u8], shards: &mut [&mut [u8]]) {
        let g = self.geometry;
        let rows = id.rows as usize;
        assert!(rows >= 1 && rows <= STRIPE_BLOCKS_MAX.max(u16::MAX as usize));
        assert!(data.len() <= g.stripe_bytes(rows));
        assert_eq!(shards.len(), g.shard_count());
        let shard_bytes = rows * BLOCK_PAYLOAD_BYTES;
        for (s, shard) in shards.iter_mut().enumerate().take(g.data_shards) {
            assert_eq!(shard.len(), rows * BLOCK_BYTES);
            let start = (s * shard_bytes).min(data.len());
            let end = ((s + 1) * shard_bytes).min(data.len());
            let chunk = &data[start..end];
            for row in 0..rows {
                let from = (row * BLOCK_PAYLOAD_BYTES).min(chunk.len());
                let to = ((row + 1) * BLOCK_PAYLOAD_BYTES).min(chunk.len());
                let block = &mut shard[row * BLOCK_BYTES..(row + 1) * BLOCK_BYTES];
                let p = payload_mut(block);
                p[..to - from].copy_from_slice(&chunk[from..to]);
                p[to - from..].fill(0);
            }
        }
        self.encode_parity_and_seal(id, data.len(), shards);
    }

    /// Computes parity from the data shards' payloads (already in place) and seals every
    /// block. `len` is the number of user bytes the stripe carries.
    pub fn encode_parity_and_seal(&mut self, id: &StripeId, len: usize, shards: &mut [&mut [u8]]) {
        let g = self.geometry;
        let rows = id.rows as usize;
        let shard_bytes = rows * BLOCK_PAYLOAD_BYTES;
        for row in 0..rows {
            let range = row * BLOCK_BYTES..(row + 1) * BLOCK_BYTES;
            if g.parity_shards > 0 {
                self.encoder
                    .reset(g.data_shards, g.parity_shards, BLOCK_PAYLOAD_BYTES)
                    .expect("valid geometry");
                for shard in shards.iter().take(g.data_shards) {
                    self.encoder
                        .add_original_shard(payload(&shard[range.clone()]))
                        .expect("shard size");
                }
                let result = self.encoder.encode().expect("all shards added");
                for (p, parity) in result.recovery_iter().enumerate() {
                    payload_mut(&mut shards[g.data_shards + p][range.clone()])
                        .copy_from_slice(parity);
                }
            }
            for (s, shard) in shards.iter_mut().enumerate() {
                let used = if s < g.data_shards {
                    let at = s * shard_bytes + row * BLOCK_PAYLOAD_BYTES;
                    len.saturating_sub(at).min(BLOCK_PAYLOAD_BYTES)
                } else {
                    BLOCK_PAYLOAD_BYTES
                };
                id.header(s, row, used as u16)
                    .seal(&mut shard[range.clone()]);
            }
        }
    }

    /// Rebuilds the payload of shard `want` in one row from the verified blocks of the
    /// same row in other shards (`None` for missing or bad ones). Needs k present blocks.
    pub fn reconstruct(&mut self, row_blocks: &[Option<&[u8]>], want: usize) -> Option<Vec<u8>> {
        let g = self.geometry;
        assert_eq!(row_blocks.len(), g.shard_count());
        if row_blocks.iter().flatten().count() < g.data_shards {
            return None;
        }
        if let Some(b) = row_blocks[want] {
            return Some(payload(b).to_vec());
        }
        if want < g.data_shards {
            let restored = self.decode_row(row_blocks)?;
            return restored.into_iter().nth(want);
        }
        // A parity shard: restore all data, then encode again.
        let data = self.decode_row(row_blocks)?;
        self.encoder
            .reset(g.data_shards, g.parity_shards, BLOCK_PAYLOAD_BYTES)
            .ok()?;
        for d in &data {
            self.encoder.add_original_shard(d).ok()?;
        }
        let result = self.encoder.encode().ok()?;
        result.recovery(want - g.data_shards).map(|p| p.to_vec())
    }

    /// Rebuilds the payloads of shards `want` over all `rows` rows of a stripe at once.
    /// `present[s]` holds shard `s`'s payloads of every row back to back (`rows × 4032`
    /// bytes), verified, or `None`; at least k must be present. One Reed-Solomon call
    /// covers the whole stripe: the code works position by position in 64-byte chunks and
    /// 4032 is a multiple of 64, so coding the rows back to back equals coding each row
    /// (`whole_stripe_coding_equals_row_coding` checks it). Returns the payloads in the
    /// order of `want`.
    pub fn rebuild_shards(
        &mut self,
        present: &[Option<&[u8]>],
        want: &[usize],
        rows: usize,
    ) -> Option<Vec<Vec<u8>>> {
        let g = self.geometry;
        let bytes = rows * BLOCK_PAYLOAD_BYTES;
        assert_eq!(present.len(), g.shard_count());
        assert!(present.iter().flatten().all(|p| p.len() == bytes));
        if present.iter().flatten().count() < g.data_shards {
            return None;
        }
        // Only what is asked for is copied out of the codec: the data shards wanted, or
        // every missing data shard when parity has to be encoded from them.
        let parity_wanted = want.iter().any(|&s| s >= g.data_shards);
        let mut restored: Vec<Option<Vec<u8>>> = vec![None; g.data_shards];
        if present[..g.data_shards].iter().any(|p| p.is_none()) {
            self.decoder
                .reset(g.data_shards, g.parity_shards, bytes)
                .ok()?;
            for (s, p) in present.iter().enumerate() {
                match p {
                    Some(p) if s < g.data_shards => self.decoder.add_original_shard(s, p).ok()?,
                    Some(p) => self.decoder.add_recovery_shard(s - g.data_shards, p).ok()?,
                    None => {}
                }
            }
            let result = self.decoder.decode().ok()?;
            for (s, slot) in restored.iter_mut().enumerate() {
                if present[s].is_none() && (parity_wanted || want.contains(&s)) {
                    *slot = Some(result.restored_original(s)?.to_vec());
                }
            }
        }
        let mut parity: Vec<Option<Vec<u8>>> = vec![None; g.parity_shards];
        if parity_wanted {
            self.encoder
                .reset(g.data_shards, g.parity_shards, bytes)
                .ok()?;
            for s in 0..g.data_shards {
                let shard = present[s].or(restored[s].as_deref())?;
                self.encoder.add_original_shard(shard).ok()?;
            }
            let result = self.encoder.encode().ok()?;
            for &s in want.iter().filter(|&&s| s >= g.data_shards) {
                parity[s - g.data_shards] = Some(result.recovery(s - g.data_shards)?.to_vec());
            }
        }
        // Moved out at a shard's last mention in `want`, copied before.
        (0..want.len())
            .map(|i| {
                let s = want[i];
                let again = want[i + 1..].contains(&s);
                let slot = match s < g.data_shards {
                    true => &mut restored[s],
                    false => &mut parity[s - g.data_shards],
                };
                let out = if again { slot.clone() } else { slot.take() };
                out.or_else(|| present[s].filter(|_| s < g.data_shards).map(|p| p.to_vec()))
            })
            .collect()
    }

    /// Returns the k data payloads of a row, restoring missing ones.
    fn decode_row(&mut self, row_blocks: &[Option<&[u8]>]) -> Option<Vec<Vec<u8>>> {
        let g = self.geometry;
        let all_data = row_blocks[..g.data_shards].iter().all(|b| b.is_some());
        if all_data {
            return Some(
                row_blocks[..g.data_shards]
                    .iter()
                    .map(|b| payload(b.unwrap()).to_vec())
                    .collect(),
            );
        }
        if g.parity_shards == 0 {
            return None;
        }
        self.decoder
            .reset(g.data_shards, g.parity_shards, BLOCK_PAYLOAD_BYTES)
            .ok()?;
        for (s, b) in row_blocks.iter().enumerate() {
            if let Some(b) = b {
                if s < g.data_shards {
                    self.decoder.add_original_shard(s, payload(b)).ok()?;
                } else {
                    self.decoder
                        .add_recovery_shard(s - g.data_shards, payload(b))
                        .ok()?;
                }
            }
        }
        let result = self.decoder.decode().ok()?;
        let mut out = Vec::with_capacity(g.data_shards);
        for (s, b) in row_blocks[..g.data_shards].iter().enumerate() {
            match b {
                Some(b) => out.push(payload(b).to_vec()),
                None => out.push(result.restored_original(s)?.to_vec()),
            }
        }
        Some(out)
    }
}

/// Where the user bytes of one stripe go in its shard buffers (each `rows × 4096` bytes),
/// so that a streamed body is copied once: from the received chunk straight into the
/// payloads of the buffers the device writes take. The bytes fill data shard 0's payloads
/// first, then shard 1's, as `Coder::encode` lays them out.
#[derive(Clone, Copy, Debug)]
pub struct StripeFill {
    geometry: Geometry,
    rows: usize,
    len: usize,
    at: usize,
}

impl StripeFill {
    /// A stripe of `rows` rows that will carry `len` user bytes.
    pub fn new(geometry: Geometry, rows: usize, len: usize) -> StripeFill {
        assert!(rows >= 1 && len <= geometry.stripe_bytes(rows));
        StripeFill {
            geometry,
            rows,
            len,
            at: 0,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// User bytes the stripe carries.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether all `len` bytes are placed.
    pub fn is_full(&self) -> bool {
        self.at == self.len
    }

    /// The run of the next user bytes that lies in one block payload: (shard, byte offset
    /// in that shard's buffer, length), at most `avail` bytes long. `None` when full.
    pub fn next_span(&self, avail: usize) -> Option<(usize, usize, usize)> {
        if self.is_full() || avail == 0 {
            return None;
        }
        let (shard, offset, room) = self.locate(self.at);
        Some((shard, offset, room.min(avail).min(self.len - self.at)))
    }

    /// Marks `n` more bytes placed (the length of the last `next_span`, or less).
    pub fn advance(&mut self, n: usize) {
        assert!(self.at + n <= self.len);
        self.at += n;
    }

    /// The payload bytes past `len` in the data shards, which must be zero: the same
    /// (shard, offset, length) runs as `next_span`.
    pub fn padding(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        let end = self.geometry.stripe_bytes(self.rows);
        let mut at = self.len;
        std::iter::from_fn(move || {
            if at >= end {
                return None;
            }
            let (shard, offset, room) = self.locate(at);
            at += room;
            Some((shard, offset, room))
        })
    }

    /// Byte `at` of the stripe's user bytes: its shard, its offset in the shard's buffer and
    /// the bytes left in its block payload.
    fn locate(&self, at: usize) -> (usize, usize, usize) {
        let shard_bytes = self.rows * BLOCK_PAYLOAD_BYTES;
        let (shard, in_shard) = (at / shard_bytes, at % shard_bytes);
        let (row, in_payload) = (
            in_shard / BLOCK_PAYLOAD_BYTES,
            in_shard % BLOCK_PAYLOAD_BYTES,
        );
        let offset = row * BLOCK_BYTES + BLOCK_HEADER_BYTES + in_payload;
        (shard, offset, BLOCK_PAYLOAD_BYTES - in_payload)
    }
}

/// A piece of a byte range of a stripe that lies in one shard: rows `first_row ..
/// first_row + row_count` of `shard`, from which bytes `skip .. skip + len` of the
/// concatenated payloads are wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardSpan {
    pub shard: usize,
    pub first_row: usize,
    pub row_count: usize,
    pub skip: usize,
    pub len: usize,
}

/// Splits the byte range `offset .. offset + len` of a stripe of `rows` rows into per-shard
/// spans, in byte order.
pub fn spans(g: Geometry, rows: usize, offset: usize, len: usize) -> Vec<ShardSpan> {
    let shard_bytes = rows * BLOCK_PAYLOAD_BYTES;
    assert!(offset + len <= g.stripe_bytes(rows));
    let mut out = Vec::new();
    let (mut at, end) = (offset, offset + len);
    while at < end {
        let shard = at / shard_bytes;
        let in_shard = at % shard_bytes;
        let take = (shard_bytes - in_shard).min(end - at);
        let first_row = in_shard / BLOCK_PAYLOAD_BYTES;
        let last_row = (in_shard + take - 1) / BLOCK_PAYLOAD_BYTES;
        out.push(ShardSpan {
            shard,
            first_row,
            row_count: last_row - first_row + 1,
            skip: in_shard % BLOCK_PAYLOAD_BYTES,
            len: take,
        });
        at += take;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(rows: u16) -> StripeId {
        StripeId {
            kind: BlockKind::Data,
            set_id: 1,
            partition: 0,
            extent: 3,
            generation: 1,
            first_block: 10,
            rows,
            stamp: 77,
        }
    }

    fn encode(g: Geometry, rows: u16, data: &[u8]) -> Vec<Vec<u8>> {
        let mut coder = Coder::new(g);
        let mut shards: Vec<Vec<u8>> =
            vec![vec![0u8; rows as usize * BLOCK_BYTES]; g.shard_count()];
        let mut refs: Vec<&mut [u8]> = shards.iter_mut().map(|s| s.as_mut_slice()).collect();
        coder.encode(&id(rows), data, &mut refs);
        shards
    }

    fn gather(g: Geometry, rows: usize, shards: &[Vec<u8>], offset: usize, len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for span in spans(g, rows, offset, len) {
            let mut bytes = Vec::new();
            for r in span.first_row..span.first_row + span.row_count {
                bytes.extend_from_slice(payload(
                    &shards[span.shard][r * BLOCK_BYTES..(r + 1) * BLOCK_BYTES],
                ));
            }
            out.extend_from_slice(&bytes[span.skip..span.skip + span.len]);
        }
        out
    }

    #[test]
    fn whole_stripe_coding_equals_row_coding() {
        let g = Geometry {
            data_shards: 4,
            parity_shards: 2,
        };
        let rows = 5usize;
        let data: Vec<u8> = (0..g.stripe_bytes(rows) - 77)
            .map(|i| (i * 7 % 253) as u8)
            .collect();
        let shards = encode(g, rows as u16, &data);
        let payloads: Vec<Vec<u8>> = shards
            .iter()
            .map(|s| {
                (0..rows)
                    .flat_map(|r| payload(&s[r * BLOCK_BYTES..(r + 1) * BLOCK_BYTES]).to_vec())
                    .collect()
            })
            .collect();
        let mut coder = Coder::new(g);
        for lost in [[0usize, 1], [1, 4], [4, 5], [2, 5]] {
            let present: Vec<Option<&[u8]>> = (0..g.shard_count())
                .map(|s| (!lost.contains(&s)).then(|| payloads[s].as_slice()))
                .collect();
            let got = coder.rebuild_shards(&present, &lost, rows).unwrap();
            assert!(
                got[0] == payloads[lost[0]] && got[1] == payloads[lost[1]],
                "{lost:?}"
            );
        }
        let too_few: Vec<Option<&[u8]>> = (0..g.shard_count())
            .map(|s| (s < 3).then(|| payloads[s].as_slice()))
            .collect();
        assert!(coder.rebuild_shards(&too_few, &[4], rows).is_none());
    }

    #[test]
    fn encode_then_read_any_range_and_rebuild_any_m_shards() {
        for (k, m) in [(4, 2), (8, 3), (10, 4), (1, 0)] {
            let g = Geometry {
                data_shards: k,
                parity_shards: m,
            };
            let rows = 3usize;
            let len = g.stripe_bytes(rows) - 1000;
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let shards = encode(g, rows as u16, &data);
            for (s, shard) in shards.iter().enumerate() {
                for r in 0..rows {
                    verify_block(
                        &id(rows as u16),
                        s,
                        r,
                        &shard[r * BLOCK_BYTES..(r + 1) * BLOCK_BYTES],
                    )
                    .unwrap();
                }
            }
            for (off, l) in [
                (0, len),
                (1, 1),
                (4031, 2),
                (BLOCK_PAYLOAD_BYTES * rows - 1, 5000),
                (len - 1, 1),
            ] {
                if off >= len {
                    continue;
                }
                let l = l.min(len - off);
                assert_eq!(gather(g, rows, &shards, off, l), &data[off..off + l]);
            }
            let mut coder = Coder::new(g);
            for want in 0..g.shard_count() {
                for row in 0..rows {
                    let blocks: Vec<Option<&[u8]>> = (0..g.shard_count())
                        .map(|s| {
                            let lost = s == want || (s + 1) % g.shard_count() == want && m >= 2;
                            (!lost).then(|| &shards[s][row * BLOCK_BYTES..(row + 1) * BLOCK_BYTES])
                        })
                        .collect();
                    if m == 0 {
                        assert!(coder.reconstruct(&blocks, want).is_none());
                        continue;
                    }
                    let got = coder.reconstruct(&blocks, want).unwrap();
                    assert_eq!(
                        got,
                        payload(&shards[want][row * BLOCK_BYTES..(row + 1) * BLOCK_BYTES])
                    );
                }
            }
        }
    }

    /// Filling the shard buffers through `StripeFill` in uneven pieces, padding and sealing
    /// gives the same blocks as `Coder::encode` of the whole buffer.
    #[test]
    fn fill_then_seal_equals_encode() {
        for (k, m, rows, len) in [
            (4, 2, 3, 4 * 3 * 4032 - 1000),
            (4, 2, 64, 4 * 64 * 4032),
            (3, 1, 1, 1),
        ] {
            let g = Geometry {
                data_shards: k,
                parity_shards: m,
            };
            let data: Vec<u8> = (0..len).map(|i| (i * 17 % 253) as u8).collect();
            let want = encode(g, rows as u16, &data);
            let mut got: Vec<Vec<u8>> = vec![vec![0xa5; rows * BLOCK_BYTES]; g.shard_count()];
            let mut fill = StripeFill::new(g, rows, len);
            let mut rest = &data[..];
            let mut piece = 1;
            while let Some((s, off, n)) = fill.next_span(piece.min(rest.len())) {
                got[s][off..off + n].copy_from_slice(&rest[..n]);
                fill.advance(n);
                rest = &rest[n..];
                piece = (piece * 3 + 1) % 10_007;
            }
            assert!(fill.is_full() && rest.is_empty());
            for (s, off, n) in fill.padding() {
                got[s][off..off + n].fill(0);
            }
            let mut refs: Vec<&mut [u8]> = got.iter_mut().map(|s| s.as_mut_slice()).collect();
            Coder::new(g).encode_parity_and_seal(&id(rows as u16), len, &mut refs);
            assert!(got == want, "k={k} m={m} rows={rows} len={len}");
        }
    }

    #[test]
    fn too_many_losses_give_none() {
        let g = Geometry {
            data_shards: 4,
            parity_shards: 2,
        };
        let shards = encode(g, 1, b"hello");
        let blocks: Vec<Option<&[u8]>> = (0..6)
            .map(|s| (s >= 3).then(|| shards[s].as_slice()))
            .collect();
        assert!(Coder::new(g).reconstruct(&blocks, 0).is_none());
    }
}
