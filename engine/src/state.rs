//! A partition's in-memory state: its index, its extents, and how records change them.
//!
//! `apply` is the one place state changes, used both when a batch commits and when the log
//! is replayed at start, so the two can never disagree.

use std::collections::{BTreeMap, HashMap};

use crate::api::BucketInfo;
use crate::api::NULL_VERSION;
use crate::block::BlockKind;
use crate::error::Error;
use crate::record::{InlineLoc, ObjectData, ObjectEntry, Record};
use crate::snapshot::View;

/// A key's versions, current first, then older versions newest first. A key with one
/// version (every key of a bucket whose versioning was never enabled) holds it inline, so
/// it costs what one entry costs; only a key with several pays for a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Versions {
    One(ObjectEntry),
    /// Two or more.
    Many(Vec<ObjectEntry>),
}

impl Versions {
    pub fn as_slice(&self) -> &[ObjectEntry] {
        match self {
            Versions::One(e) => std::slice::from_ref(e),
            Versions::Many(v) => v,
        }
    }

    /// The current version (it may be a delete marker).
    pub fn current(&self) -> &ObjectEntry {
        &self.as_slice()[0]
    }

    pub fn get(&self, version: u64) -> Option<&ObjectEntry> {
        self.as_slice().iter().find(|e| e.version == version)
    }

    fn into_vec(self) -> Vec<ObjectEntry> {
        match self {
            Versions::One(e) => vec![e],
            Versions::Many(v) => v,
        }
    }

    fn from_vec(mut v: Vec<ObjectEntry>) -> Option<Versions> {
        match v.len() {
            0 => None,
            1 => v.pop().map(Versions::One),
            _ => Some(Versions::Many(v)),
        }
    }

    fn iter_mut(&mut self) -> std::slice::IterMut<'_, ObjectEntry> {
        match self {
            Versions::One(e) => std::slice::from_mut(e).iter_mut(),
            Versions::Many(v) => v.iter_mut(),
        }
    }
}

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
    pub objects: BTreeMap<String, BTreeMap<String, Versions>>,
    /// Every extent this partition owns (extent id mod partitions == partition).
    pub extents: HashMap<u32, ExtentState>,
    /// Extents that may be handed out again (have `live == 0`, usage Free).
    /// Versions held (delete markers included) and their bytes.
    pub object_count: u64,
    pub object_bytes: u64,
    /// The greatest version id in the index: new ids are issued above it.
    pub version_max: u64,
    /// Snapshot views open on this partition (see `snapshot`).
    pub views: HashMap<u64, View>,
    pub next_view: u64,
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
            version_max: 0,
            views: HashMap::new(),
            next_view: 1,
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
            } => self.put_only_version(bucket, key, entry, *if_absent),
            Record::ObjectVersionPut { .. }
            | Record::ObjectDeleteMarker { .. }
            | Record::ObjectVersionDelete { .. }
            | Record::ObjectAclPut { .. } => self.apply_version(rec),
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
                self.change_chain(bucket, key, |chain, removed| removed.append(chain));
                Applied::Done
            }
        }
    }

    /// ObjectPut: `key` now has exactly this one version.
    fn put_only_version(
        &mut self,
        bucket: &str,
        key: &str,
        entry: &ObjectEntry,
        if_absent: bool,
    ) -> Applied {
        if if_absent && self.lookup(bucket, key).is_some() {
            return Applied::Exists;
        }
        self.preserve(bucket, key);
        self.account(entry, true);
        let map = self.objects.entry(bucket.to_string()).or_default();
        match map.insert(key.to_string(), Versions::One(entry.clone())) {
            None => {}
            Some(Versions::One(e)) => self.account(&e, false),
            Some(Versions::Many(v)) => v.iter().for_each(|e| self.account(e, false)),
        }
        Applied::Done
    }

    /// The records of versioned buckets (and ACL changes).
    fn apply_version(&mut self, rec: &Record) -> Applied {
        match rec {
            Record::ObjectVersionPut {
                bucket,
                key,
                entry,
                if_absent,
            } => {
                if *if_absent && self.lookup(bucket, key).is_some() {
                    return Applied::Exists;
                }
                self.push_version(bucket, key, entry.clone());
                Applied::Done
            }
            Record::ObjectDeleteMarker {
                bucket,
                key,
                version,
                last_modified_ms,
            } => {
                let marker = ObjectEntry::delete_marker(*version, *last_modified_ms);
                self.push_version(bucket, key, marker);
                Applied::Done
            }
            Record::ObjectVersionDelete {
                bucket,
                key,
                version,
            } => {
                self.change_chain(bucket, key, |chain, removed| {
                    if let Some(i) = chain.iter().position(|e| e.version == *version) {
                        removed.push(chain.remove(i));
                    }
                });
                Applied::Done
            }
            Record::ObjectAclPut {
                bucket,
                key,
                version,
                acl,
            } => {
                self.change_chain(bucket, key, |chain, _| {
                    if let Some(e) = chain.iter_mut().find(|e| e.version == *version) {
                        e.acl = *acl;
                    }
                });
                Applied::Done
            }
            _ => unreachable!("not a version record"),
        }
    }

    /// Makes `entry` the current version of `key`; a null version first replaces the
    /// key's existing null version.
    fn push_version(&mut self, bucket: &str, key: &str, entry: ObjectEntry) {
        self.account(&entry, true);
        self.change_chain(bucket, key, |chain, removed| {
            if entry.version == NULL_VERSION {
                if let Some(i) = chain.iter().position(|e| e.version == NULL_VERSION) {
                    removed.push(chain.remove(i));
                }
            }
            chain.insert(0, entry);
        });
    }

    /// Changes `key`'s chain of versions (empty if the key does not exist) with `change`,
    /// which moves the versions it takes out into `removed`; their space is given back.
    /// A key left without versions is removed, and so is a bucket left without keys.
    fn change_chain(
        &mut self,
        bucket: &str,
        key: &str,
        change: impl FnOnce(&mut Vec<ObjectEntry>, &mut Vec<ObjectEntry>),
    ) {
        self.preserve(bucket, key);
        let map = self.objects.entry(bucket.to_string()).or_default();
        let mut chain = map.remove(key).map(Versions::into_vec).unwrap_or_default();
        let mut removed = Vec::new();
        change(&mut chain, &mut removed);
        if let Some(v) = Versions::from_vec(chain) {
            map.insert(key.to_string(), v);
        }
        if map.is_empty() {
            self.objects.remove(bucket);
        }
        for e in &removed {
            self.account(e, false);
        }
    }

    /// Replaces the version of `key` whose data passes `same` with `entry` (compaction
    /// moved its bytes; every other field is unchanged). Void if no version passes.
    fn replace_if(
        &mut self,
        bucket: &str,
        key: &str,
        entry: &ObjectEntry,
        same: impl Fn(&ObjectData) -> bool,
    ) -> Applied {
        let slot = self
            .objects
            .get_mut(bucket)
            .and_then(|m| m.get_mut(key))
            .and_then(|v| v.iter_mut().find(|e| same(&e.data)));
        let Some(slot) = slot else {
            return Applied::Exists;
        };
        // A move carries the entry as it was when its data was read; an ACL change
        // committed since then is the newer word on the ACL (the data is the same object).
        let entry = &ObjectEntry {
            acl: slot.acl,
            ..entry.clone()
        };
        let old = std::mem::replace(slot, entry.clone());
        self.account(entry, true);
        self.account(&old, false);
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
        if add {
            self.version_max = self.version_max.max(entry.version);
        }
        match &entry.data {
            ObjectData::Empty | ObjectData::DeleteMarker => {}
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
            .flat_map(|m| m.values().flat_map(|v| v.as_slice().iter().cloned()))
            .collect();
        for e in &entries {
            self.account(e, true);
        }
    }

    /// The current version of `key`, unless there is none or it is a delete marker.
    pub fn lookup(&self, bucket: &str, key: &str) -> Option<&ObjectEntry> {
        self.versions(bucket, key)
            .map(Versions::current)
            .filter(|e| !e.is_delete_marker())
    }

    pub fn versions(&self, bucket: &str, key: &str) -> Option<&Versions> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ObjectAcl;

    fn entry(version: u64, size: u64) -> ObjectEntry {
        ObjectEntry {
            size,
            last_modified_ms: 1,
            etag: [1; 16],
            etag_parts: 0,
            object_type: crate::api::ObjectType::Normal,
            acl: ObjectAcl::Default,
            version,
            crc64: 0,
            extra: Box::default(),
            data: ObjectData::Empty,
        }
    }

    fn versions_of(st: &State, key: &str) -> Vec<u64> {
        st.versions("b", key)
            .map(|v| v.as_slice().iter().map(|e| e.version).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_key_with_one_version_costs_one_entry() {
        // The chain is an enum whose single-version case is the entry itself: the
        // index pays for a vector only when a key has several versions.
        assert_eq!(
            std::mem::size_of::<Versions>(),
            std::mem::size_of::<ObjectEntry>()
        );
        assert!(std::mem::size_of::<ObjectEntry>() <= 112);
    }

    #[test]
    fn relocation_keeps_a_later_acl() {
        let mut st = State::new(0, 1, 4);
        let loc = |offset| crate::record::InlineLoc {
            extent: 0,
            generation: 1,
            first_block: 0,
            rows: 1,
            seq: 5,
            offset,
            len: 3,
        };
        let at = |offset| ObjectEntry {
            data: ObjectData::Inline(loc(offset)),
            ..entry(10, 3)
        };
        st.apply(&Record::ObjectVersionPut {
            bucket: "b".into(),
            key: "k".into(),
            entry: at(0),
            if_absent: false,
        });
        st.apply(&Record::ObjectAclPut {
            bucket: "b".into(),
            key: "k".into(),
            version: 10,
            acl: ObjectAcl::PublicRead,
        });
        // Compaction read the entry before the ACL change and moves it afterwards.
        st.apply(&Record::ObjectMove {
            bucket: "b".into(),
            key: "k".into(),
            from: loc(0),
            entry: at(4096),
        });
        let e = st.lookup("b", "k").unwrap();
        assert!(matches!(&e.data, ObjectData::Inline(l) if l.offset == 4096));
        assert_eq!(e.acl, ObjectAcl::PublicRead);
    }

    #[test]
    fn version_chains_follow_s3_rules() {
        let mut st = State::new(0, 1, 4);
        let put = |e| Record::ObjectVersionPut {
            bucket: "b".into(),
            key: "k".into(),
            entry: e,
            if_absent: false,
        };
        st.apply(&put(entry(0, 1))); // null version (written before versioning)
        st.apply(&put(entry(10, 2)));
        st.apply(&put(entry(20, 3)));
        assert_eq!(versions_of(&st, "k"), [20, 10, 0]);
        // A null put (suspended) replaces the null version and becomes current.
        st.apply(&put(entry(0, 4)));
        assert_eq!(versions_of(&st, "k"), [0, 20, 10]);
        assert_eq!(st.lookup("b", "k").unwrap().size, 4);
        st.apply(&Record::ObjectDeleteMarker {
            bucket: "b".into(),
            key: "k".into(),
            version: 30,
            last_modified_ms: 2,
        });
        assert!(
            st.lookup("b", "k").is_none(),
            "a delete marker hides the key"
        );
        assert_eq!(versions_of(&st, "k"), [30, 0, 20, 10]);
        assert_eq!((st.object_count, st.object_bytes), (4, 4 + 3 + 2));
        for v in [30, 0, 20] {
            st.apply(&Record::ObjectVersionDelete {
                bucket: "b".into(),
                key: "k".into(),
                version: v,
            });
        }
        assert_eq!(versions_of(&st, "k"), [10]);
        assert!(matches!(st.versions("b", "k"), Some(Versions::One(_))));
        assert_eq!(st.lookup("b", "k").unwrap().size, 2);
        st.apply(&Record::ObjectVersionDelete {
            bucket: "b".into(),
            key: "k".into(),
            version: 10,
        });
        assert!(st.objects.is_empty());
        assert_eq!((st.object_count, st.object_bytes), (0, 0));
    }
}
