//! Which partition owns an object: the placement hash. It is part of the engine's on-disk
//! format (engine `FORMAT.md`, "Placement"; the engine re-exports it and pins its values in
//! a test); it lives here so that a client routes a request to the owning core without
//! depending on the engine.

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Fixed seed of the placement hash.
pub const PLACEMENT_SEED: u64 = 0x7269_6e67_7374_6f72; // "ringstor"

/// xxh3-64(bucket ‖ 0x00 ‖ key, seed) mod partitions.
pub fn partition_of(bucket: &str, key: &str, partitions: usize) -> usize {
    assert!(partitions > 0);
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
    fn keys_spread_over_partitions() {
        let spread: Vec<usize> = (0..1000)
            .map(|i| partition_of("b", &format!("k{i}"), 4))
            .collect();
        for p in 0..4 {
            let n = spread.iter().filter(|&&x| x == p).count();
            assert!((200..300).contains(&n), "partition {p} got {n} of 1000");
        }
    }
}
