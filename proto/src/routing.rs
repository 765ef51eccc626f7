//! Which partition owns an object: the placement hash. It is part of the engine's on-disk
//! format (engine `FORMAT.md`, "Placement"; the engine re-exports it and pins its values in
//! a test); it lives here so that a client routes a request to the owning core without
//! depending on the engine.

use xxhash_rust::xxh3::Xxh3;

/// Fixed seed of the placement hash.
pub const PLACEMENT_SEED: u64 = 0x7269_6e67_7374_6f72; // "ringstor"

/// xxh3-64(bucket ‖ 0x00 ‖ key, seed) mod partitions. Every request is placed (by the
/// client and again by the server), so the bytes are fed to the hasher as they are, with
/// no buffer joining them.
pub fn partition_of(bucket: &str, key: &str, partitions: usize) -> usize {
    assert!(partitions > 0);
    let mut hasher = Xxh3::with_seed(PLACEMENT_SEED);
    hasher.update(bucket.as_bytes());
    hasher.update(&[0]);
    hasher.update(key.as_bytes());
    (hasher.digest() % partitions as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use xxhash_rust::xxh3::xxh3_64_with_seed;

    #[test]
    fn long_and_short_names_hash_the_same_bytes() {
        // Short and long names: the placement is xxh3 of bucket ‖ 0x00 ‖ key in one piece.
        for key_len in [1, 200, 250, 251, 252, 253, 300, 1023] {
            let key = "k".repeat(key_len);
            let mut bytes = b"bucket\0".to_vec();
            bytes.extend_from_slice(key.as_bytes());
            let want = (xxh3_64_with_seed(&bytes, PLACEMENT_SEED) % 7) as usize;
            assert_eq!(
                partition_of("bucket", &key, 7),
                want,
                "key of {key_len} bytes"
            );
        }
    }

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
