//! A partition's in-memory state: its index, its extents, and how records change them.
//!
//! `apply` is the one place state changes, used both when a batch commits and when the log
//! is replayed at start, so the two can never disagree.

use std::collections::{BTreeMap, HashMap};

use crate::api::BucketInfo;
use crate::block::BlockKind;
use crate::error::Error;
use crate::record::{InlineLoc, ObjectData, ObjectEntry, Record};

/// What an extent is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Usage {
    Free = 0,
    Data = 1,
    Log = 2,
    Checkpoint = 3,
}

impl From<BlockKind> for Usage {
    fn from(k: BlockKind) -> Usage {
        match k {
            BlockKind::Data => Usage::Data,
            BlockKind::Log => Usage::Log,
            BlockKind::Checkpoint => Usage::Checkpoint,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ExtentState {
    pub generation: u32,
    pub usage: Usage,
    /// Live data held: rows of object stripes (data extents) or inline bytes + 1 per
    /// object (log extents). Zero means nothing references the extent.
    pub live: u64,
    /// Reads in progress; an extent is not reused while any run.
    pub readers: u32,
}

/// The result of applying an `ObjectPut`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    Done,
    /// `if_absent` and the key existed.
    Exists,
}

pub struct State {
    pub partition: u16,
    pub partitions: u16,
    /// Authoritative on partition 0 only.
    pub buckets: BTreeMap<String, BucketInfo>,
    pub objects: BTreeMap<String, BTreeMap<String, ObjectEntry>>,
    /// Every extent this partition owns (extent id mod partitions == partition).
    pub extents: HashMap<u32, ExtentState>,
    /// Extents that may be handed out again (have `live == 0`, usage Free).
    pub object_count: u64,
    pub object_bytes: u64,
}

impl State {
    pub fn new(partition: u16, partitions: u16, extent_count: u32) -> State {
        let extents = (0..extent_count)
            .filter(|e| e % partitions as u32 == partition as u32)
            .map(|e| {
                (
                    e,
                    ExtentState {
                        generation: 0,
                        usage: Usage::Free,
                        live: 0,
                        readers: 0,
                    },
                )
            })
            .collect();
        State {
            partition,
            partitions,
            buckets: BTreeMap::new(),
            objects: BTreeMap::new(),
            extents,
            object_count: 0,
            object_bytes: 0,
        }
    }

    pub fn apply(&mut self, rec: &Record) -> Applied {
        match rec {
            Record::ExtentOpen {
                extent,
                generation,
                kind,
            } => {
                let e = self
                    .extents
                    .get_mut(extent)
                    .expect("extent owned by this partition");
                e.generation = *generation;
                e.usage = (*kind).into();
                Applied::Done
            }
            Record::BucketPut(b) => {
                self.buckets.insert(b.name.clone(), b.clone());
                Applied::Done
            }
            Record::BucketDelete { name } => {
                self.buckets.remove(name);
                Applied::Done
            }
            Record::ObjectPut {
                bucket,
                key,
                entry,
                if_absent,
            } => {
                let map = self.objects.entry(bucket.clone()).or_default();
                if *if_absent && map.contains_key(key) {
                    return Applied::Exists;
                }
                let old = map.insert(key.clone(), entry.clone());
                self.account(entry, true);
                if let Some(old) = old {
                    self.account(&old, false);
                }
                Applied::Done
            }
            Record::ObjectMove {
                bucket,
                key,
                from,
                entry,
            } => self.replace_if(bucket, key, entry, |d| {
                matches!(d, ObjectData::Inline(l)
                    if (l.extent, l.generation, l.seq, l.offset) == (from.extent, from.generation, from.seq, from.offset))
            }),
            Record::ObjectRelocate {
                bucket,
                key,
                from_stamp,
                entry,
            } => self.replace_if(bucket, key, entry, |d| {
                matches!(d, ObjectData::Stripes(s) if s.segments.first().map(|g| g.stamp) == Some(*from_stamp))
            }),
            Record::ObjectDelete { bucket, key } => {
                let old = self.objects.get_mut(bucket).and_then(|m| m.remove(key));
                if let Some(old) = old {
                    self.account(&old, false);
                }
                if self.objects.get(bucket).is_some_and(|m| m.is_empty()) {
                    self.objects.remove(bucket);
                }
                Applied::Done
            }
        }
    }

    /// Replaces `key`'s entry with `entry` if its current data passes `same`.
    fn replace_if(
        &mut self,
        bucket: &str,
        key: &str,
        entry: &ObjectEntry,
        same: impl Fn(&ObjectData) -> bool,
    ) -> Applied {
        let current = self.objects.get(bucket).and_then(|m| m.get(key));
        if !current.is_some_and(|e| same(&e.data)) {
            return Applied::Exists;
        }
        let old = self
            .objects
            .get_mut(bucket)
            .expect("checked")
            .insert(key.to_string(), entry.clone());
        self.account(entry, true);
        if let Some(old) = old {
            self.account(&old, false);
        }
        Applied::Done
    }

    /// Adds or removes an entry's contribution to object counts and extent liveness.
    pub fn account(&mut self, entry: &ObjectEntry, add: bool) {
        let sign = |n: u64, v: &mut u64| {
            if add {
                *v += n
            } else {
                *v = v.checked_sub(n).expect("liveness never goes negative")
            }
        };
        sign(1, &mut self.object_count);
        sign(entry.size, &mut self.object_bytes);
        match &entry.data {
            ObjectData::Empty => {}
            ObjectData::Inline(l) => {
                let e = self
                    .extents
                    .get_mut(&l.extent)
                    .expect("inline data in an owned extent");
                // Never hand out a generation a live object already uses, even if the
                // record that opened the extent was lost.
                e.generation = e.generation.max(l.generation);
                sign(l.len as u64 + 1, &mut e.live);
            }
            ObjectData::Stripes(s) => {
                for r in s.segments.iter().flat_map(|seg| seg.runs.iter()) {
                    let e = self
                        .extents
                        .get_mut(&r.extent)
                        .expect("stripes in an owned extent");
                    e.generation = e.generation.max(r.generation);
                    let rows = (r.stripes as u64 - 1) * crate::constants::STRIPE_BLOCKS_MAX as u64
                        + r.last_rows as u64;
                    sign(rows, &mut e.live);
                }
            }
        }
    }

    /// Recomputes extent liveness from the index (after loading a checkpoint).
    pub fn recount(&mut self) {
        for e in self.extents.values_mut() {
            e.live = 0;
        }
        self.object_count = 0;
        self.object_bytes = 0;
        let entries: Vec<ObjectEntry> = self
            .objects
            .values()
            .flat_map(|m| m.values().cloned())
            .collect();
        for e in &entries {
            self.account(e, true);
        }
    }

    pub fn lookup(&self, bucket: &str, key: &str) -> Option<&ObjectEntry> {
        self.objects.get(bucket).and_then(|m| m.get(key))
    }

    pub fn bucket_is_empty(&self, bucket: &str) -> bool {
        self.objects.get(bucket).is_none_or(|m| m.is_empty())
    }

    /// A free extent that no reader is using, lowest id first.
    pub fn free_extent(&self) -> Result<u32, Error> {
        self.extents
            .iter()
            .filter(|(_, e)| e.usage == Usage::Free && e.readers == 0)
            .map(|(&id, _)| id)
            .min()
            .ok_or(Error::StorageFull)
    }

    pub fn free_extents(&self) -> usize {
        self.extents
            .values()
            .filter(|e| e.usage == Usage::Free)
            .count()
    }

    /// Marks data extents that nothing references as free, except those in `keep`.
    pub fn release_unused(&mut self, usage: Usage, keep: &[u32]) {
        for (id, e) in self.extents.iter_mut() {
            if e.usage == usage && e.live == 0 && e.readers == 0 && !keep.contains(id) {
                e.usage = Usage::Free;
            }
        }
    }
}

/// Fills in an inline entry's location from the batch that carries it.
pub fn place_inline(entry: &mut ObjectEntry, batch: &InlineLoc) {
    if let ObjectData::Inline(l) = &mut entry.data {
        let (offset, len) = (l.offset, l.len);
        *l = InlineLoc {
            offset,
            len,
            ..*batch
        };
    }
}
