//! The 64-byte header every on-disk block of a stripe starts with.
//!
//! The header names where the block belongs (device set, extent, block index, shard, row),
//! when it was written (extent generation, stamp) and how big its stripe is, and the CRC32C
//! covers the header and the payload. A reader that knows where it is reading from checks
//! all of it, so a flipped bit, a misdirected write, a stale block from an earlier use of the
//! extent and a lost write (old stamp) are each detected. Layout: FORMAT.md, "Blocks".

use crate::constants::{BLOCK_BYTES, BLOCK_HEADER_BYTES, BLOCK_PAYLOAD_BYTES};

pub const BLOCK_MAGIC: [u8; 4] = *b"RSBK";
pub const BLOCK_VERSION: u8 = 1;

const MAGIC_OFFSET: usize = 0;
const VERSION_OFFSET: usize = 4;
const KIND_OFFSET: usize = 5;
const SHARD_OFFSET: usize = 6;
const RESERVED_A_OFFSET: usize = 7;
const SET_ID_OFFSET: usize = 8;
const EXTENT_OFFSET: usize = 16;
const BLOCK_OFFSET: usize = 20;
const GENERATION_OFFSET: usize = 24;
const PARTITION_OFFSET: usize = 28;
const STRIPE_BLOCKS_OFFSET: usize = 30;
const STAMP_OFFSET: usize = 32;
const ROW_OFFSET: usize = 40;
const PAYLOAD_LEN_OFFSET: usize = 42;
const RESERVED_B_OFFSET: usize = 44;
const CRC_OFFSET: usize = 60;
const _: () = assert!(CRC_OFFSET + 4 == BLOCK_HEADER_BYTES);

/// What a block holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BlockKind {
    /// A stripe of object data.
    Data = 1,
    /// A stripe of the partition's write-ahead log (records and packed small objects).
    Log = 2,
    /// A stripe of a partition checkpoint.
    Checkpoint = 3,
}

impl BlockKind {
    pub fn from_u8(v: u8) -> Option<BlockKind> {
        match v {
            1 => Some(BlockKind::Data),
            2 => Some(BlockKind::Log),
            3 => Some(BlockKind::Checkpoint),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    pub kind: BlockKind,
    /// Shard index within the stripe, 0..k+m (k.. are parity).
    pub shard: u8,
    pub set_id: u64,
    pub extent: u32,
    /// Block index within the extent on this device.
    pub block: u32,
    /// The extent's allocation generation.
    pub generation: u32,
    pub partition: u16,
    /// Blocks per shard of this stripe (S).
    pub stripe_blocks: u16,
    /// Write stamp: the object write's stamp or the log batch's sequence number.
    pub stamp: u64,
    /// Row of this block within its stripe, 0..S.
    pub row: u16,
    /// Payload bytes in use (the rest is zero padding).
    pub payload_len: u16,
}

/// Why a block failed verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("block magic is wrong")]
    BadMagic,
    #[error("block format version {0} is not supported")]
    BadVersion(u8),
    #[error("block checksum does not match")]
    BadChecksum,
    #[error("block header has an unknown kind or non-zero reserved bytes")]
    BadHeader,
    #[error("block belongs elsewhere: {0}")]
    Misplaced(&'static str),
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}
fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn get_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn block_crc(block: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&block[..CRC_OFFSET]);
    crc32c::crc32c_append(crc, &block[BLOCK_HEADER_BYTES..BLOCK_BYTES])
}

impl BlockHeader {
    /// Writes the header into `block[..64]` and seals the block with its CRC. The payload
    /// (`block[64..4096]`) must already be in place.
    pub fn seal(&self, block: &mut [u8]) {
        assert_eq!(block.len(), BLOCK_BYTES);
        assert!(self.payload_len as usize <= BLOCK_PAYLOAD_BYTES);
        assert!(self.row < self.stripe_blocks);
        block[MAGIC_OFFSET..MAGIC_OFFSET + 4].copy_from_slice(&BLOCK_MAGIC);
        block[VERSION_OFFSET] = BLOCK_VERSION;
        block[KIND_OFFSET] = self.kind as u8;
        block[SHARD_OFFSET] = self.shard;
        block[RESERVED_A_OFFSET] = 0;
        put_u64(block, SET_ID_OFFSET, self.set_id);
        put_u32(block, EXTENT_OFFSET, self.extent);
        put_u32(block, BLOCK_OFFSET, self.block);
        put_u32(block, GENERATION_OFFSET, self.generation);
        put_u16(block, PARTITION_OFFSET, self.partition);
        put_u16(block, STRIPE_BLOCKS_OFFSET, self.stripe_blocks);
        put_u64(block, STAMP_OFFSET, self.stamp);
        put_u16(block, ROW_OFFSET, self.row);
        put_u16(block, PAYLOAD_LEN_OFFSET, self.payload_len);
        block[RESERVED_B_OFFSET..CRC_OFFSET].fill(0);
        let crc = block_crc(block);
        put_u32(block, CRC_OFFSET, crc);
    }

    /// Parses and checks a block's header and CRC; says nothing of where it should be.
    pub fn open(block: &[u8]) -> Result<BlockHeader, BlockError> {
        assert_eq!(block.len(), BLOCK_BYTES);
        if block[MAGIC_OFFSET..MAGIC_OFFSET + 4] != BLOCK_MAGIC {
            return Err(BlockError::BadMagic);
        }
        if block[VERSION_OFFSET] != BLOCK_VERSION {
            return Err(BlockError::BadVersion(block[VERSION_OFFSET]));
        }
        if get_u32(block, CRC_OFFSET) != block_crc(block) {
            return Err(BlockError::BadChecksum);
        }
        let kind = BlockKind::from_u8(block[KIND_OFFSET]).ok_or(BlockError::BadHeader)?;
        if block[RESERVED_A_OFFSET] != 0
            || block[RESERVED_B_OFFSET..CRC_OFFSET].iter().any(|&b| b != 0)
        {
            return Err(BlockError::BadHeader);
        }
        let h = BlockHeader {
            kind,
            shard: block[SHARD_OFFSET],
            set_id: get_u64(block, SET_ID_OFFSET),
            extent: get_u32(block, EXTENT_OFFSET),
            block: get_u32(block, BLOCK_OFFSET),
            generation: get_u32(block, GENERATION_OFFSET),
            partition: get_u16(block, PARTITION_OFFSET),
            stripe_blocks: get_u16(block, STRIPE_BLOCKS_OFFSET),
            stamp: get_u64(block, STAMP_OFFSET),
            row: get_u16(block, ROW_OFFSET),
            payload_len: get_u16(block, PAYLOAD_LEN_OFFSET),
        };
        if h.payload_len as usize > BLOCK_PAYLOAD_BYTES || h.row >= h.stripe_blocks {
            return Err(BlockError::BadHeader);
        }
        Ok(h)
    }

    /// Checks a block against the header the reader expects to find there.
    pub fn verify(block: &[u8], expect: &BlockHeader) -> Result<BlockHeader, BlockError> {
        let h = BlockHeader::open(block)?;
        h.matches(expect)?;
        Ok(h)
    }

    /// Compares every field but `payload_len`, naming the first that differs.
    pub fn matches(&self, expect: &BlockHeader) -> Result<(), BlockError> {
        let h = self;
        let field = if h.set_id != expect.set_id {
            Some("device set")
        } else if h.kind != expect.kind {
            Some("kind")
        } else if h.extent != expect.extent || h.block != expect.block {
            Some("extent or block index")
        } else if h.shard != expect.shard {
            Some("shard")
        } else if h.generation != expect.generation {
            Some("generation")
        } else if h.partition != expect.partition {
            Some("partition")
        } else if h.stamp != expect.stamp {
            Some("stamp")
        } else if h.stripe_blocks != expect.stripe_blocks || h.row != expect.row {
            Some("stripe geometry")
        } else {
            None
        };
        match field {
            Some(f) => Err(BlockError::Misplaced(f)),
            None => Ok(()),
        }
    }
}

pub fn payload(block: &[u8]) -> &[u8] {
    &block[BLOCK_HEADER_BYTES..BLOCK_BYTES]
}

pub fn payload_mut(block: &mut [u8]) -> &mut [u8] {
    &mut block[BLOCK_HEADER_BYTES..BLOCK_BYTES]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> BlockHeader {
        BlockHeader {
            kind: BlockKind::Data,
            shard: 3,
            set_id: 0xdead_beef,
            extent: 7,
            block: 130,
            generation: 2,
            partition: 1,
            stripe_blocks: 64,
            stamp: 99,
            row: 2,
            payload_len: 4032,
        }
    }

    #[test]
    fn seal_open_round_trip_and_every_bit_flip_is_caught() {
        let mut block = vec![0u8; BLOCK_BYTES];
        payload_mut(&mut block)
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = i as u8);
        header().seal(&mut block);
        assert_eq!(BlockHeader::verify(&block, &header()).unwrap(), header());
        for bit in (0..BLOCK_BYTES * 8).step_by(7) {
            let mut b = block.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(
                BlockHeader::open(&b).is_err(),
                "bit {bit} flip not detected"
            );
        }
    }

    #[test]
    fn misplaced_blocks_are_named() {
        let mut block = vec![0u8; BLOCK_BYTES];
        header().seal(&mut block);
        let mut other = header();
        other.generation = 3;
        assert_eq!(
            BlockHeader::verify(&block, &other),
            Err(BlockError::Misplaced("generation"))
        );
        other = header();
        other.stamp = 98;
        assert_eq!(
            BlockHeader::verify(&block, &other),
            Err(BlockError::Misplaced("stamp"))
        );
        assert_eq!(
            BlockHeader::open(&vec![0u8; BLOCK_BYTES]),
            Err(BlockError::BadMagic)
        );
    }
}
