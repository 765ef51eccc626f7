//! The read cache of one partition: the verified bytes of small packed objects, by where
//! they lie.
//!
//! Object data is read with O_DIRECT, past the kernel's page cache, so without a cache of
//! its own every get of a small object costs a device read, its interrupt and its
//! completion. A get of a whole packed object (`ObjectData::Inline`, at most
//! `INLINE_BYTES_MAX` bytes) that read and verified its blocks keeps the bytes here; later
//! gets of any range of that object are answered from memory.
//!
//! The key is the object's `InlineLoc`: extent, the extent's generation, the batch's first
//! block, its sequence number (the stamp its blocks carry), offset and length. Those bytes
//! never change while the process runs: a batch is written once, an extent reused gets a
//! new generation, and an overwrite, a compaction move or a version writes a new batch
//! with a greater sequence number and points the index there. So an entry is never stale,
//! only unreachable once the index no longer points at it, and nothing has to be
//! invalidated: unreachable entries age out like cold ones. The cache starts empty at
//! every start, and the background scrub reads the devices themselves, so damage on disk
//! is still found and repaired while the cache holds a good copy.
//!
//! Eviction is CLOCK (second chance): entries sit in insertion order, a hit sets the
//! entry's reference bit, and the hand evicts the first entry without one, clearing the
//! bits it passes. A scan of objects read once therefore replaces itself before it pushes
//! out entries read again. Each entry is charged its length plus `ENTRY_OVERHEAD_BYTES`.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use crate::record::InlineLoc;

/// Memory charged per entry beyond its bytes: the map slot, the queue slot and the
/// buffer's header.
pub const ENTRY_OVERHEAD_BYTES: usize = 128;

struct Slot {
    bytes: Bytes,
    referenced: bool,
}

/// A byte-bounded CLOCK cache of whole packed objects (one per partition, on its
/// executor: no locks).
pub struct ReadCache {
    budget: usize,
    used: usize,
    map: HashMap<InlineLoc, Slot>,
    /// Every key of `map` once, oldest first (the clock hand is the front).
    order: VecDeque<InlineLoc>,
}

impl ReadCache {
    /// A cache that holds at most `budget` bytes (entries and their overhead); 0 keeps
    /// nothing.
    pub fn new(budget: usize) -> ReadCache {
        ReadCache {
            budget,
            used: 0,
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.budget > 0
    }

    /// Bytes charged now (at most the budget).
    pub fn used(&self) -> usize {
        self.used
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The whole object stored at `loc`, if cached.
    pub fn get(&mut self, loc: &InlineLoc) -> Option<Bytes> {
        let slot = self.map.get_mut(loc)?;
        slot.referenced = true;
        Some(slot.bytes.clone())
    }

    /// Keeps `bytes`, the verified content of the whole object at `loc`, evicting what it
    /// must. An object larger than the budget is not kept.
    pub fn insert(&mut self, loc: InlineLoc, bytes: Bytes) {
        debug_assert_eq!(bytes.len(), loc.len as usize, "a whole object");
        let charge = bytes.len() + ENTRY_OVERHEAD_BYTES;
        if charge > self.budget || self.map.contains_key(&loc) {
            return;
        }
        while self.used + charge > self.budget {
            self.evict_one();
        }
        self.used += charge;
        self.map.insert(
            loc,
            Slot {
                bytes,
                referenced: false,
            },
        );
        self.order.push_back(loc);
    }

    /// Advances the hand until one entry is evicted (it ends within two turns: each
    /// entry it passes loses its reference bit).
    fn evict_one(&mut self) {
        while let Some(loc) = self.order.pop_front() {
            let slot = self
                .map
                .get_mut(&loc)
                .expect("order and map hold the same keys");
            if slot.referenced {
                slot.referenced = false;
                self.order.push_back(loc);
                continue;
            }
            let slot = self.map.remove(&loc).expect("present");
            self.used -= slot.bytes.len() + ENTRY_OVERHEAD_BYTES;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(seq: u64, len: u32) -> InlineLoc {
        InlineLoc {
            extent: 3,
            generation: 1,
            first_block: 8,
            rows: 1,
            seq,
            offset: 0,
            len,
        }
    }

    fn body(len: u32, fill: u8) -> Bytes {
        Bytes::from(vec![fill; len as usize])
    }

    #[test]
    fn keeps_and_returns_whole_objects_by_location() {
        let mut c = ReadCache::new(1 << 20);
        assert!(c.enabled());
        c.insert(loc(1, 4096), body(4096, 1));
        c.insert(loc(2, 4096), body(4096, 2));
        assert_eq!(c.get(&loc(1, 4096)).unwrap(), body(4096, 1));
        assert_eq!(c.get(&loc(2, 4096)).unwrap(), body(4096, 2));
        // Same place and length, another batch: another object.
        assert!(c.get(&loc(3, 4096)).is_none());
        let mut other_generation = loc(1, 4096);
        other_generation.generation = 2;
        assert!(c.get(&other_generation).is_none());
        assert_eq!(c.len(), 2);
        assert_eq!(c.used(), 2 * (4096 + ENTRY_OVERHEAD_BYTES));
    }

    #[test]
    fn stays_within_its_budget_and_gives_referenced_entries_a_second_chance() {
        let entry = 1000 + ENTRY_OVERHEAD_BYTES;
        let mut c = ReadCache::new(4 * entry);
        for seq in 0..4 {
            c.insert(loc(seq, 1000), body(1000, seq as u8));
        }
        assert_eq!(c.len(), 4);
        assert!(c.get(&loc(0, 1000)).is_some());
        // The fifth entry evicts the oldest unreferenced one (1), not 0.
        c.insert(loc(4, 1000), body(1000, 4));
        assert_eq!(c.len(), 4);
        assert!(c.used() <= 4 * entry);
        assert!(c.get(&loc(1, 1000)).is_none());
        assert_eq!(c.get(&loc(0, 1000)).unwrap(), body(1000, 0));
        for seq in 5..100 {
            c.insert(loc(seq, 1000), body(1000, seq as u8));
            assert!(c.used() <= 4 * entry, "over budget after {seq}");
            assert_eq!(c.len(), c.order.len());
        }
        assert!(c.get(&loc(99, 1000)).is_some());
    }

    #[test]
    fn a_zero_budget_or_an_oversized_object_keeps_nothing() {
        let mut off = ReadCache::new(0);
        assert!(!off.enabled());
        off.insert(loc(1, 10), body(10, 1));
        assert!(off.is_empty() && off.get(&loc(1, 10)).is_none());
        let mut small = ReadCache::new(4096);
        small.insert(loc(1, 4096), body(4096, 1));
        assert!(small.is_empty());
        assert_eq!(small.used(), 0);
    }

    #[test]
    fn inserting_a_cached_location_again_changes_nothing() {
        let mut c = ReadCache::new(1 << 16);
        c.insert(loc(1, 100), body(100, 7));
        c.insert(loc(1, 100), body(100, 7));
        assert_eq!(c.len(), 1);
        assert_eq!(c.order.len(), 1);
        assert_eq!(c.used(), 100 + ENTRY_OVERHEAD_BYTES);
    }
}
