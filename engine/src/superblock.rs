//! The device superblock: the one block that says which device set a device belongs to,
//! where it sits in the set, and the set's geometry.
//!
//! Every device holds two identical copies: A at device offset 0, B in the device's last
//! block. The byte layout below is the one in `engine/FORMAT.md` ("Device set"); each field
//! has its offset constant here, and the constants are checked against each other at build
//! time. All integers are little-endian.
//!
//! ```text
//! 0     8  magic b"RINGSTOR"            40    8  device_bytes
//! 8     4  format_version = 3           48    8  extent_bytes
//! 12    4  flags = 0                    56    8  created_unix_ms
//! 16    8  set_id                       64    4  extent_count
//! 24    8  device_id                    68 4024  reserved, zero
//! 32    2  device_index               4092    4  crc32c of bytes 0..4092
//! 34    2  device_count
//! 36    1  data_shards
//! 37    1  parity_shards
//! 38    2  partition_count
//! ```

use crate::constants::{
    DATA_SHARDS_MAX, DATA_SHARDS_MIN, DEVICE_COUNT_MAX, EXTENTS_OFFSET_BYTES,
    EXTENTS_PER_PARTITION_MIN, EXTENT_BYTES_ALIGN, EXTENT_BYTES_MAX, EXTENT_BYTES_MIN,
    PARITY_SHARDS_MAX, PARTITION_COUNT_MAX, SUPERBLOCK_BYTES,
};

/// The first eight bytes of every superblock copy.
pub const MAGIC: [u8; 8] = *b"RINGSTOR";
/// The only format version this code writes and reads.
/// 3: log batches carry a whole-batch CRC32C and their sequence numbers are never reused
/// (log batch version 3). 2: object versions, CRC-64 and object ACLs in the index (log
/// batch and checkpoint version 2). A reader of any version refuses the others' devices
/// rather than misread them.
pub const FORMAT_VERSION: u32 = 3;

pub const MAGIC_OFFSET: usize = 0;
pub const FORMAT_VERSION_OFFSET: usize = 8;
pub const FLAGS_OFFSET: usize = 12;
pub const SET_ID_OFFSET: usize = 16;
pub const DEVICE_ID_OFFSET: usize = 24;
pub const DEVICE_INDEX_OFFSET: usize = 32;
pub const DEVICE_COUNT_OFFSET: usize = 34;
pub const DATA_SHARDS_OFFSET: usize = 36;
pub const PARITY_SHARDS_OFFSET: usize = 37;
pub const PARTITION_COUNT_OFFSET: usize = 38;
pub const DEVICE_BYTES_OFFSET: usize = 40;
pub const EXTENT_BYTES_OFFSET: usize = 48;
pub const CREATED_UNIX_MS_OFFSET: usize = 56;
pub const EXTENT_COUNT_OFFSET: usize = 64;
pub const RESERVED_OFFSET: usize = 68;
/// The checksum's place is fixed for every format version, so that a reader can tell a
/// corrupt block from a block of a newer format.
pub const CHECKSUM_OFFSET: usize = SUPERBLOCK_BYTES - 4;

// Each field starts where the previous one ends, and the checksum ends the block.
const _: () = assert!(MAGIC_OFFSET + MAGIC.len() == FORMAT_VERSION_OFFSET);
const _: () = assert!(FORMAT_VERSION_OFFSET + 4 == FLAGS_OFFSET);
const _: () = assert!(FLAGS_OFFSET + 4 == SET_ID_OFFSET);
const _: () = assert!(SET_ID_OFFSET + 8 == DEVICE_ID_OFFSET);
const _: () = assert!(DEVICE_ID_OFFSET + 8 == DEVICE_INDEX_OFFSET);
const _: () = assert!(DEVICE_INDEX_OFFSET + 2 == DEVICE_COUNT_OFFSET);
const _: () = assert!(DEVICE_COUNT_OFFSET + 2 == DATA_SHARDS_OFFSET);
const _: () = assert!(DATA_SHARDS_OFFSET + 1 == PARITY_SHARDS_OFFSET);
const _: () = assert!(PARITY_SHARDS_OFFSET + 1 == PARTITION_COUNT_OFFSET);
const _: () = assert!(PARTITION_COUNT_OFFSET + 2 == DEVICE_BYTES_OFFSET);
const _: () = assert!(DEVICE_BYTES_OFFSET + 8 == EXTENT_BYTES_OFFSET);
const _: () = assert!(EXTENT_BYTES_OFFSET + 8 == CREATED_UNIX_MS_OFFSET);
const _: () = assert!(CREATED_UNIX_MS_OFFSET + 8 == EXTENT_COUNT_OFFSET);
const _: () = assert!(EXTENT_COUNT_OFFSET + 4 == RESERVED_OFFSET);
const _: () = assert!(RESERVED_OFFSET + 4024 == CHECKSUM_OFFSET);
const _: () = assert!(CHECKSUM_OFFSET + 4 == SUPERBLOCK_BYTES);
// The narrow fields must hold every value the limits allow.
const _: () = assert!(DATA_SHARDS_MAX <= u8::MAX as usize);
const _: () = assert!(PARITY_SHARDS_MAX <= u8::MAX as usize);
const _: () = assert!(DEVICE_COUNT_MAX <= u16::MAX as usize);
const _: () = assert!(PARTITION_COUNT_MAX <= u16::MAX as usize);

/// Why a block is not a valid superblock.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuperblockError {
    /// Fewer bytes than one superblock were given (a device shorter than a block).
    #[error("superblock is {len} bytes, expected {SUPERBLOCK_BYTES}")]
    TooShort { len: usize },
    /// The block does not start with `RINGSTOR`: not a ringstore device, or never formatted.
    #[error("bad magic {found:02x?}, expected \"RINGSTOR\"")]
    BadMagic { found: [u8; 8] },
    /// The stored CRC32C does not match the block: the block is corrupt or torn.
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch { stored: u32, computed: u32 },
    /// A well-formed superblock of a format version this code does not know.
    #[error("unsupported format version {version}, this build reads version {FORMAT_VERSION}")]
    UnsupportedVersion { version: u32 },
    /// Flags this code does not know are set.
    #[error("unknown flags {flags:#010x}")]
    UnknownFlags { flags: u32 },
    /// A reserved byte is not zero.
    #[error("reserved byte at offset {offset} is not zero")]
    ReservedNotZero { offset: usize },
    /// The set id or device id is zero, which format never writes.
    #[error("{field} is zero")]
    ZeroId { field: &'static str },
    /// The shard counts are out of bounds or do not add up to the device count.
    #[error(
        "bad shard counts: {data_shards} data + {parity_shards} parity, device count \
         {device_count} (data 1..={DATA_SHARDS_MAX}, parity ..={PARITY_SHARDS_MAX})"
    )]
    ShardCounts {
        data_shards: u8,
        parity_shards: u8,
        device_count: u16,
    },
    /// The device index is not below the device count.
    #[error("device index {device_index} is not below device count {device_count}")]
    DeviceIndex {
        device_index: u16,
        device_count: u16,
    },
    /// The partition count is zero or above `PARTITION_COUNT_MAX`.
    #[error("partition count {partition_count} is not in 1..={PARTITION_COUNT_MAX}")]
    PartitionCount { partition_count: u16 },
    /// Device size, extent size and extent count do not fit together.
    #[error(
        "inconsistent geometry: device {device_bytes} B, extent {extent_bytes} B, \
         {extent_count} extents: {problem}"
    )]
    Geometry {
        device_bytes: u64,
        extent_bytes: u64,
        extent_count: u32,
        problem: &'static str,
    },
    /// (Reported when reading a device.) A valid copy B was found at a device offset its own
    /// `device_bytes` does not put it at: a stale copy from an earlier format of a larger device.
    #[error("copy found at offset {offset} says the device is {device_bytes} B")]
    Misplaced { offset: u64, device_bytes: u64 },
    /// (Reported when reading a device.) Copy B is valid but differs from copy A, which is
    /// trusted because its place does not depend on any field: copy B is stale.
    #[error("copy is valid but differs from copy A")]
    DiffersFromCopyA,
}

/// One device's superblock, decoded. Both copies on a device hold the same value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Superblock {
    /// Random, nonzero, the same on every device of the set.
    pub set_id: u64,
    /// Random, nonzero, different on every device of the set.
    pub device_id: u64,
    /// Where this device sits in the set: shard `device_index` of every stripe.
    pub device_index: u16,
    /// `data_shards + parity_shards`.
    pub device_count: u16,
    pub data_shards: u8,
    pub parity_shards: u8,
    pub partition_count: u16,
    /// The bytes of the device the set uses; copy B is its last block.
    pub device_bytes: u64,
    pub extent_bytes: u64,
    pub created_unix_ms: u64,
    /// `extent_count_for(device_bytes, extent_bytes)`, stored so a reader can cross-check.
    pub extent_count: u32,
}

/// How many extents fit on a device of `device_bytes`: everything between the root slots
/// and copy B, in whole extents. Zero if the device cannot even hold the fixed areas.
pub const fn extent_count_for(device_bytes: u64, extent_bytes: u64) -> u64 {
    assert!(extent_bytes > 0);
    device_bytes.saturating_sub(EXTENTS_OFFSET_BYTES + SUPERBLOCK_BYTES as u64) / extent_bytes
}

impl Superblock {
    /// Device offset of copy B.
    pub fn copy_b_offset(&self) -> u64 {
        self.device_bytes - SUPERBLOCK_BYTES as u64
    }

    /// Checks every field against the limits and against each other; `decode` runs it on
    /// what it reads and `encode` asserts it on what it writes.
    ///
    /// The minimum device size of `format` is deliberately not checked here: a device
    /// formatted under today's limits must stay readable if that limit is raised later.
    pub fn check(&self) -> Result<(), SuperblockError> {
        if self.set_id == 0 {
            return Err(SuperblockError::ZeroId { field: "set_id" });
        }
        if self.device_id == 0 {
            return Err(SuperblockError::ZeroId { field: "device_id" });
        }
        let (k, m) = (
            usize::from(self.data_shards),
            usize::from(self.parity_shards),
        );
        if !(DATA_SHARDS_MIN..=DATA_SHARDS_MAX).contains(&k)
            || m > PARITY_SHARDS_MAX
            || k + m != usize::from(self.device_count)
            || k + m > DEVICE_COUNT_MAX
        {
            return Err(SuperblockError::ShardCounts {
                data_shards: self.data_shards,
                parity_shards: self.parity_shards,
                device_count: self.device_count,
            });
        }
        if self.device_index >= self.device_count {
            return Err(SuperblockError::DeviceIndex {
                device_index: self.device_index,
                device_count: self.device_count,
            });
        }
        let partitions = usize::from(self.partition_count);
        if !(1..=PARTITION_COUNT_MAX).contains(&partitions) {
            return Err(SuperblockError::PartitionCount {
                partition_count: self.partition_count,
            });
        }
        self.check_geometry()
    }

    fn check_geometry(&self) -> Result<(), SuperblockError> {
        let problem = if !self.device_bytes.is_multiple_of(SUPERBLOCK_BYTES as u64) {
            Some("device size is not a multiple of 4096")
        } else if !self.extent_bytes.is_multiple_of(EXTENT_BYTES_ALIGN)
            || !(EXTENT_BYTES_MIN..=EXTENT_BYTES_MAX).contains(&self.extent_bytes)
        {
            Some("extent size is not a multiple of 1 MiB within the extent size limits")
        } else if u64::from(self.extent_count)
            != extent_count_for(self.device_bytes, self.extent_bytes)
        {
            Some("extent count does not match device and extent size")
        } else if u64::from(self.extent_count)
            < EXTENTS_PER_PARTITION_MIN * u64::from(self.partition_count)
        {
            Some("fewer extents than the partitions need")
        } else {
            None
        };
        match problem {
            None => Ok(()),
            Some(problem) => Err(SuperblockError::Geometry {
                device_bytes: self.device_bytes,
                extent_bytes: self.extent_bytes,
                extent_count: self.extent_count,
                problem,
            }),
        }
    }

    /// The block to write, checksum included.
    ///
    /// # Panics
    /// If `self` fails `check`: writing a superblock no reader would accept is a bug.
    pub fn encode(&self) -> [u8; SUPERBLOCK_BYTES] {
        if let Err(error) = self.check() {
            panic!("refusing to encode an invalid superblock {self:?}: {error}");
        }
        let mut block = [0u8; SUPERBLOCK_BYTES];
        block[MAGIC_OFFSET..][..8].copy_from_slice(&MAGIC);
        put_u32(&mut block, FORMAT_VERSION_OFFSET, FORMAT_VERSION);
        put_u32(&mut block, FLAGS_OFFSET, 0);
        put_u64(&mut block, SET_ID_OFFSET, self.set_id);
        put_u64(&mut block, DEVICE_ID_OFFSET, self.device_id);
        put_u16(&mut block, DEVICE_INDEX_OFFSET, self.device_index);
        put_u16(&mut block, DEVICE_COUNT_OFFSET, self.device_count);
        block[DATA_SHARDS_OFFSET] = self.data_shards;
        block[PARITY_SHARDS_OFFSET] = self.parity_shards;
        put_u16(&mut block, PARTITION_COUNT_OFFSET, self.partition_count);
        put_u64(&mut block, DEVICE_BYTES_OFFSET, self.device_bytes);
        put_u64(&mut block, EXTENT_BYTES_OFFSET, self.extent_bytes);
        put_u64(&mut block, CREATED_UNIX_MS_OFFSET, self.created_unix_ms);
        put_u32(&mut block, EXTENT_COUNT_OFFSET, self.extent_count);
        let checksum = crc32c::crc32c(&block[..CHECKSUM_OFFSET]);
        put_u32(&mut block, CHECKSUM_OFFSET, checksum);
        block
    }

    /// Reads a superblock from the first `SUPERBLOCK_BYTES` of `bytes`.
    ///
    /// Checks, in order: length, magic, checksum, version, flags, reserved bytes, fields.
    /// The checksum comes before the version so that a flipped bit in the version field is
    /// reported as corruption, not as a newer format.
    pub fn decode(bytes: &[u8]) -> Result<Superblock, SuperblockError> {
        let Some(block) = bytes.get(..SUPERBLOCK_BYTES) else {
            return Err(SuperblockError::TooShort { len: bytes.len() });
        };
        let found: [u8; 8] = block[MAGIC_OFFSET..][..8].try_into().expect("8 bytes");
        if found != MAGIC {
            return Err(SuperblockError::BadMagic { found });
        }
        let stored = get_u32(block, CHECKSUM_OFFSET);
        let computed = crc32c::crc32c(&block[..CHECKSUM_OFFSET]);
        if stored != computed {
            return Err(SuperblockError::ChecksumMismatch { stored, computed });
        }
        let version = get_u32(block, FORMAT_VERSION_OFFSET);
        if version != FORMAT_VERSION {
            return Err(SuperblockError::UnsupportedVersion { version });
        }
        let flags = get_u32(block, FLAGS_OFFSET);
        if flags != 0 {
            return Err(SuperblockError::UnknownFlags { flags });
        }
        if let Some(at) = block[RESERVED_OFFSET..CHECKSUM_OFFSET]
            .iter()
            .position(|&b| b != 0)
        {
            return Err(SuperblockError::ReservedNotZero {
                offset: RESERVED_OFFSET + at,
            });
        }
        let superblock = Superblock {
            set_id: get_u64(block, SET_ID_OFFSET),
            device_id: get_u64(block, DEVICE_ID_OFFSET),
            device_index: get_u16(block, DEVICE_INDEX_OFFSET),
            device_count: get_u16(block, DEVICE_COUNT_OFFSET),
            data_shards: block[DATA_SHARDS_OFFSET],
            parity_shards: block[PARITY_SHARDS_OFFSET],
            partition_count: get_u16(block, PARTITION_COUNT_OFFSET),
            device_bytes: get_u64(block, DEVICE_BYTES_OFFSET),
            extent_bytes: get_u64(block, EXTENT_BYTES_OFFSET),
            created_unix_ms: get_u64(block, CREATED_UNIX_MS_OFFSET),
            extent_count: get_u32(block, EXTENT_COUNT_OFFSET),
        };
        superblock.check()?;
        Ok(superblock)
    }
}

fn put_u16(block: &mut [u8], offset: usize, value: u16) {
    block[offset..][..2].copy_from_slice(&value.to_le_bytes());
}

fn put_u32(block: &mut [u8], offset: usize, value: u32) {
    block[offset..][..4].copy_from_slice(&value.to_le_bytes());
}

fn put_u64(block: &mut [u8], offset: usize, value: u64) {
    block[offset..][..8].copy_from_slice(&value.to_le_bytes());
}

fn get_u16(block: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes(block[offset..][..2].try_into().expect("2 bytes"))
}

fn get_u32(block: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(block[offset..][..4].try_into().expect("4 bytes"))
}

fn get_u64(block: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(block[offset..][..8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn sample() -> Superblock {
        let device_bytes = 32 * MIB;
        Superblock {
            set_id: 0x0123_4567_89ab_cdef,
            device_id: 0xfedc_ba98_7654_3210,
            device_index: 5,
            device_count: 6,
            data_shards: 4,
            parity_shards: 2,
            partition_count: 3,
            device_bytes,
            extent_bytes: MIB,
            created_unix_ms: 1_700_000_000_123,
            extent_count: extent_count_for(device_bytes, MIB) as u32,
        }
    }

    /// Re-seals a modified block so that only the field checks can reject it.
    fn reseal(block: &mut [u8; SUPERBLOCK_BYTES]) {
        let checksum = crc32c::crc32c(&block[..CHECKSUM_OFFSET]);
        put_u32(block, CHECKSUM_OFFSET, checksum);
    }

    #[test]
    fn round_trip() {
        let superblock = sample();
        let block = superblock.encode();
        assert_eq!(Superblock::decode(&block), Ok(superblock));
        // A longer buffer (a whole read) decodes from its first block.
        let mut longer = block.to_vec();
        longer.extend_from_slice(&[0xff; 100]);
        assert_eq!(Superblock::decode(&longer), Ok(superblock));
    }

    #[test]
    fn field_offsets() {
        let block = sample().encode();
        assert_eq!(&block[0..8], b"RINGSTOR");
        assert_eq!(block[8..12], 3u32.to_le_bytes());
        assert_eq!(block[12..16], 0u32.to_le_bytes());
        assert_eq!(block[16..24], 0x0123_4567_89ab_cdefu64.to_le_bytes());
        assert_eq!(block[24..32], 0xfedc_ba98_7654_3210u64.to_le_bytes());
        assert_eq!(block[32..34], 5u16.to_le_bytes());
        assert_eq!(block[34..36], 6u16.to_le_bytes());
        assert_eq!(block[36], 4);
        assert_eq!(block[37], 2);
        assert_eq!(block[38..40], 3u16.to_le_bytes());
        assert_eq!(block[40..48], (32 * MIB).to_le_bytes());
        assert_eq!(block[48..56], MIB.to_le_bytes());
        assert_eq!(block[56..64], 1_700_000_000_123u64.to_le_bytes());
        // (32 MiB - 1 MiB - 4 KiB) / 1 MiB = 30 extents.
        assert_eq!(block[64..68], 30u32.to_le_bytes());
        assert!(block[68..4092].iter().all(|&b| b == 0));
        assert_eq!(
            block[4092..4096],
            crc32c::crc32c(&block[..4092]).to_le_bytes()
        );
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let block = sample().encode();
        for bit in 0..SUPERBLOCK_BYTES * 8 {
            let mut bad = block;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(
                Superblock::decode(&bad).is_err(),
                "bit {bit} flip not detected"
            );
        }
    }

    #[test]
    fn header_errors() {
        let block = sample().encode();
        assert_eq!(
            Superblock::decode(&block[..100]),
            Err(SuperblockError::TooShort { len: 100 })
        );
        assert!(matches!(
            Superblock::decode(&[0u8; SUPERBLOCK_BYTES]),
            Err(SuperblockError::BadMagic { .. })
        ));
        let mut bad = block;
        bad[SET_ID_OFFSET] ^= 1;
        assert!(matches!(
            Superblock::decode(&bad),
            Err(SuperblockError::ChecksumMismatch { .. })
        ));
        let mut bad = block;
        put_u32(&mut bad, FORMAT_VERSION_OFFSET, 1);
        assert!(matches!(
            Superblock::decode(&bad),
            Err(SuperblockError::ChecksumMismatch { .. })
        ));
        reseal(&mut bad);
        assert_eq!(
            Superblock::decode(&bad),
            Err(SuperblockError::UnsupportedVersion { version: 1 })
        );
        // Version 2 devices (log batches that could reuse a sequence number) and any
        // newer version are refused alike.
        for version in [FORMAT_VERSION - 1, FORMAT_VERSION + 1] {
            let mut bad = block;
            put_u32(&mut bad, FORMAT_VERSION_OFFSET, version);
            reseal(&mut bad);
            assert_eq!(
                Superblock::decode(&bad),
                Err(SuperblockError::UnsupportedVersion { version })
            );
        }
        let mut bad = block;
        put_u32(&mut bad, FLAGS_OFFSET, 4);
        reseal(&mut bad);
        assert_eq!(
            Superblock::decode(&bad),
            Err(SuperblockError::UnknownFlags { flags: 4 })
        );
        let mut bad = block;
        bad[1000] = 7;
        reseal(&mut bad);
        assert_eq!(
            Superblock::decode(&bad),
            Err(SuperblockError::ReservedNotZero { offset: 1000 })
        );
    }

    /// Encodes a sample changed by `change` without `encode`'s assertion, then decodes it.
    fn decode_changed(change: impl FnOnce(&mut [u8; SUPERBLOCK_BYTES])) -> SuperblockError {
        let mut block = sample().encode();
        change(&mut block);
        reseal(&mut block);
        Superblock::decode(&block).expect_err("decode must reject the changed superblock")
    }

    #[test]
    fn field_errors() {
        let e = decode_changed(|b| put_u64(b, SET_ID_OFFSET, 0));
        assert_eq!(e, SuperblockError::ZeroId { field: "set_id" });
        let e = decode_changed(|b| put_u64(b, DEVICE_ID_OFFSET, 0));
        assert_eq!(e, SuperblockError::ZeroId { field: "device_id" });
        let e = decode_changed(|b| b[DATA_SHARDS_OFFSET] = 0);
        assert!(matches!(e, SuperblockError::ShardCounts { .. }), "{e}");
        let e = decode_changed(|b| b[PARITY_SHARDS_OFFSET] = 3);
        assert!(matches!(e, SuperblockError::ShardCounts { .. }), "{e}");
        let e = decode_changed(|b| {
            b[DATA_SHARDS_OFFSET] = 40;
            b[PARITY_SHARDS_OFFSET] = 0;
            put_u16(b, DEVICE_COUNT_OFFSET, 40);
        });
        assert!(matches!(e, SuperblockError::ShardCounts { .. }), "{e}");
        let e = decode_changed(|b| put_u16(b, DEVICE_INDEX_OFFSET, 6));
        assert!(
            matches!(
                e,
                SuperblockError::DeviceIndex {
                    device_index: 6,
                    ..
                }
            ),
            "{e}"
        );
        let e = decode_changed(|b| put_u16(b, PARTITION_COUNT_OFFSET, 0));
        assert_eq!(e, SuperblockError::PartitionCount { partition_count: 0 });
        let e = decode_changed(|b| put_u16(b, PARTITION_COUNT_OFFSET, 65));
        assert_eq!(
            e,
            SuperblockError::PartitionCount {
                partition_count: 65
            }
        );
    }

    #[test]
    fn geometry_errors() {
        let cases: [(u64, u64, u32); 5] = [
            (32 * MIB + 512, MIB, 30),  // device size not block-aligned
            (32 * MIB, MIB + 4096, 29), // extent size not 1 MiB-aligned
            (32 * MIB, 2048 * MIB, 0),  // extent size above the limit
            (32 * MIB, MIB, 31),        // extent count does not add up
            (5 * MIB, 2 * MIB, 1),      // fewer than two extents for one partition
        ];
        for (device_bytes, extent_bytes, extent_count) in cases {
            let e = decode_changed(|b| {
                put_u16(b, PARTITION_COUNT_OFFSET, 1);
                put_u64(b, DEVICE_BYTES_OFFSET, device_bytes);
                put_u64(b, EXTENT_BYTES_OFFSET, extent_bytes);
                put_u32(b, EXTENT_COUNT_OFFSET, extent_count);
            });
            assert!(
                matches!(e, SuperblockError::Geometry { .. }),
                "{device_bytes}: {e}"
            );
        }
    }

    #[test]
    #[should_panic(expected = "refusing to encode")]
    fn encode_asserts_validity() {
        let mut superblock = sample();
        superblock.device_index = 6;
        let _ = superblock.encode();
    }

    #[test]
    fn extent_count() {
        assert_eq!(extent_count_for(16 * MIB, MIB), 14);
        assert_eq!(extent_count_for(16 * MIB, 4 * MIB), 3);
        assert_eq!(extent_count_for(MIB, MIB), 0);
        assert_eq!(extent_count_for(0, MIB), 0);
    }
}
