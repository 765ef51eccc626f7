//! Which partition owns an object. Part of the on-disk format: changing the hash, its seed
//! or the input encoding would move objects away from the logs that hold them. The one
//! implementation lives in the protocol crate (`ringstore_proto::routing`), so a client
//! routes a request to the owning core with the very function the engine places by.

pub use ringstore_proto::routing::{partition_of, PLACEMENT_SEED};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_is_stable() {
        // These values are part of the format: they must never change.
        let pinned: Vec<usize> = ["a", "key", "objects/0001/0000000001", ""]
            .iter()
            .map(|k| partition_of("bucket", k, 1 << 20))
            .collect();
        assert_eq!(pinned, PINNED);
    }

    const PINNED: [usize; 4] = [290_098, 352_459, 62_375, 34_969];
}
