//! The scrub progress record: where a partition's scrub pass stands, so a restart
//! continues it (FORMAT.md §13).
//!
//! One 4096-byte block per partition in the reserved area after the root slots, mirrored
//! on every device that is up, like roots. Losing it costs only repeated work: a reader
//! takes the valid copy with the greatest `write_seq`, and no copy means "no pass yet".
//!
//! ```text
//! 0    4  magic "RSSC"
//! 4    2  version = 1
//! 6    2  partition
//! 8    8  write_seq           increases by one per write of this record
//! 16   8  pass                passes started so far
//! 24   8  pass_started_ms     when the current (or last) pass started
//! 32   8  pass_finished_ms    when the last complete pass ended; 0 = never
//! 40   1  phase               0 superblocks, 1 checkpoint, 2 log, 3 objects, 4 done
//! 41   1  reserved = 0
//! 42   2  bucket_len          cursor: the last (bucket, key) of the object walk done
//! 44   2  key_len
//! 46   …  bucket bytes, then key bytes (≤ 63 + 1023)
//! 4092 4  crc                 CRC32C of bytes 0..4092
//! ```

use crate::constants::{
    BLOCK_BYTES, BUCKET_NAME_BYTES_MAX, KEY_BYTES_MAX, PARTITION_COUNT_MAX,
    ROOT_SLOTS_OFFSET_BYTES, SCRUB_PROGRESS_SLOT_FIRST,
};

const MAGIC: [u8; 4] = *b"RSSC";
const VERSION: u16 = 1;
const CURSOR_AT: usize = 46;
const CRC_AT: usize = BLOCK_BYTES - 4;
const _: () = assert!(CURSOR_AT + BUCKET_NAME_BYTES_MAX + KEY_BYTES_MAX <= CRC_AT);

/// The part of a scrub pass being walked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Superblocks = 0,
    Checkpoint = 1,
    Log = 2,
    Objects = 3,
    Done = 4,
}

impl Phase {
    fn from_u8(v: u8) -> Option<Phase> {
        Some(match v {
            0 => Phase::Superblocks,
            1 => Phase::Checkpoint,
            2 => Phase::Log,
            3 => Phase::Objects,
            4 => Phase::Done,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Phase::Superblocks => "superblocks",
            Phase::Checkpoint => "checkpoint",
            Phase::Log => "log",
            Phase::Objects => "objects",
            Phase::Done => "done",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub partition: u16,
    pub write_seq: u64,
    pub pass: u64,
    pub pass_started_ms: u64,
    pub pass_finished_ms: u64,
    pub phase: Phase,
    /// The last (bucket, key) whose versions were verified in the object phase.
    pub cursor: Option<(String, String)>,
}

impl Progress {
    /// Device offset of partition `p`'s record (after the 128 root slots).
    pub fn offset(partition: u16) -> u64 {
        assert!((partition as usize) < PARTITION_COUNT_MAX);
        ROOT_SLOTS_OFFSET_BYTES
            + (SCRUB_PROGRESS_SLOT_FIRST + partition as u64) * BLOCK_BYTES as u64
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; BLOCK_BYTES];
        b[0..4].copy_from_slice(&MAGIC);
        b[4..6].copy_from_slice(&VERSION.to_le_bytes());
        b[6..8].copy_from_slice(&self.partition.to_le_bytes());
        b[8..16].copy_from_slice(&self.write_seq.to_le_bytes());
        b[16..24].copy_from_slice(&self.pass.to_le_bytes());
        b[24..32].copy_from_slice(&self.pass_started_ms.to_le_bytes());
        b[32..40].copy_from_slice(&self.pass_finished_ms.to_le_bytes());
        b[40] = self.phase as u8;
        let (bucket, key) = match &self.cursor {
            Some((b, k)) => (b.as_bytes(), k.as_bytes()),
            None => (&[][..], &[][..]),
        };
        assert!(bucket.len() <= BUCKET_NAME_BYTES_MAX && key.len() <= KEY_BYTES_MAX);
        b[42..44].copy_from_slice(&(bucket.len() as u16).to_le_bytes());
        b[44..46].copy_from_slice(&(key.len() as u16).to_le_bytes());
        b[CURSOR_AT..CURSOR_AT + bucket.len()].copy_from_slice(bucket);
        let k_at = CURSOR_AT + bucket.len();
        b[k_at..k_at + key.len()].copy_from_slice(key);
        let crc = crc32c::crc32c(&b[..CRC_AT]);
        b[CRC_AT..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// `None` for anything but a valid record (zeros, damage, another version).
    pub fn decode(b: &[u8]) -> Option<Progress> {
        if b.len() < BLOCK_BYTES || b[0..4] != MAGIC {
            return None;
        }
        let crc = u32::from_le_bytes(b[CRC_AT..BLOCK_BYTES].try_into().ok()?);
        if crc32c::crc32c(&b[..CRC_AT]) != crc {
            return None;
        }
        let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
        let u16_at = |at: usize| u16::from_le_bytes(b[at..at + 2].try_into().expect("2 bytes"));
        if u16_at(4) != VERSION || b[41] != 0 {
            return None;
        }
        let (bucket_len, key_len) = (u16_at(42) as usize, u16_at(44) as usize);
        if bucket_len > BUCKET_NAME_BYTES_MAX || key_len > KEY_BYTES_MAX {
            return None;
        }
        let bucket = std::str::from_utf8(&b[CURSOR_AT..CURSOR_AT + bucket_len]).ok()?;
        let k_at = CURSOR_AT + bucket_len;
        let key = std::str::from_utf8(&b[k_at..k_at + key_len]).ok()?;
        Some(Progress {
            partition: u16_at(6),
            write_seq: u64_at(8),
            pass: u64_at(16),
            pass_started_ms: u64_at(24),
            pass_finished_ms: u64_at(32),
            phase: Phase::from_u8(b[40])?,
            cursor: (bucket_len > 0).then(|| (bucket.to_string(), key.to_string())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let p = Progress {
            partition: 5,
            write_seq: 9,
            pass: 2,
            pass_started_ms: 1000,
            pass_finished_ms: 900,
            phase: Phase::Objects,
            cursor: Some(("bucket-a".into(), "some/key with spaces\n".into())),
        };
        let mut b = p.encode();
        assert_eq!(Progress::decode(&b), Some(p));
        b[20] ^= 1;
        assert_eq!(Progress::decode(&b), None);
        assert_eq!(Progress::decode(&[0u8; BLOCK_BYTES]), None);
        assert!(
            Progress::offset(63) + (BLOCK_BYTES as u64) <= crate::constants::EXTENTS_OFFSET_BYTES
        );
        assert!(Progress::offset(0) >= ROOT_SLOTS_OFFSET_BYTES + 128 * BLOCK_BYTES as u64);
    }
}
