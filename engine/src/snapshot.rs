//! Snapshot views: a bucket's versions as of one moment, scanned a page at a time while
//! writes go on (what an inventory report needs).
//!
//! A view remembers how far its scan has got (`cursor`, the last key returned). When a
//! record is about to change a key the scan has not reached yet, the view first saves the
//! key's versions as they were (once per key, `State::preserve`), and the scan returns
//! those rather than what the key became; a key created after the view opened is saved as
//! absent. Keys the scan has passed are never saved, and saved keys are dropped as the scan
//! passes them, so a view holds only the keys changed ahead of it: its memory is bounded by
//! the writes during the scan, not by the bucket. An entry carries no sequence number for
//! this; a key with one version costs what it did before views existed.
//!
//! Views live in memory only (they do not survive a restart) and yield metadata: the data
//! of a version removed while a view is open is freed as usual.
//!
//! Each partition's view is exact at the moment it opened. `Handle::open_snapshot` opens
//! one view on every partition before any scan starts, so a write acknowledged before the
//! call is in the snapshot and a write started after it returned is not.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;

use crate::api::VersionSummary;
use crate::constants::{SNAPSHOT_PAGE_KEYS, VIEWS_PER_PARTITION_MAX};
use crate::error::Error;
use crate::partition::Partition;
use crate::runtime::{Handle, Request};
use crate::state::{State, Versions};
use crate::versions::summaries;

/// One open view of one bucket on one partition.
#[derive(Debug)]
pub struct View {
    pub bucket: String,
    /// The last key returned; `None` before the first page.
    pub cursor: Option<String>,
    /// Keys changed since the view opened and not yet returned, with their versions at
    /// the moment the view opened (`None`: the key did not exist).
    pub saved: BTreeMap<String, Option<Versions>>,
}

impl State {
    /// Called before a record changes `key`: every view of `bucket` that has not reached
    /// the key yet saves what it was, unless it already did.
    pub(crate) fn preserve(&mut self, bucket: &str, key: &str) {
        if self.views.is_empty() {
            return;
        }
        let current = self.objects.get(bucket).and_then(|m| m.get(key));
        for v in self.views.values_mut() {
            let ahead = v.cursor.as_deref().is_none_or(|c| key > c);
            if v.bucket == bucket && ahead && !v.saved.contains_key(key) {
                v.saved.insert(key.to_string(), current.cloned());
            }
        }
    }

    /// The next keys (at most `max_keys`, each with all its versions) of view `id`, and
    /// whether the scan is complete.
    pub(crate) fn scan_view(
        &mut self,
        id: u64,
        max_keys: usize,
    ) -> Result<(Vec<VersionSummary>, bool), Error> {
        let State { views, objects, .. } = self;
        let view = views
            .get_mut(&id)
            .ok_or_else(|| Error::InvalidArgument(format!("snapshot view {id} is not open")))?;
        let lower = match &view.cursor {
            Some(c) => Bound::Excluded(c.clone()),
            None => Bound::Unbounded,
        };
        let empty = BTreeMap::new();
        let live_map = objects.get(&view.bucket).unwrap_or(&empty);
        let mut live = live_map.range::<String, _>((lower.clone(), Bound::Unbounded));
        let mut saved = view.saved.range::<String, _>((lower, Bound::Unbounded));
        let (mut a, mut b) = (live.next(), saved.next());
        let mut out = Vec::new();
        let mut last: Option<String> = None;
        let mut keys = 0;
        while keys < max_keys {
            // A saved key shadows the live one: it is what the key was when the view opened.
            let (key, chain) = match (a, b) {
                (None, None) => break,
                (Some((ka, ca)), Some((kb, _))) if ka < kb => {
                    a = live.next();
                    (ka, Some(ca))
                }
                (Some((ka, ca)), None) => {
                    a = live.next();
                    (ka, Some(ca))
                }
                (live_next, Some((kb, cb))) => {
                    if live_next.is_some_and(|(ka, _)| ka == kb) {
                        a = live.next();
                    }
                    b = saved.next();
                    (kb, cb.as_ref())
                }
            };
            if let Some(chain) = chain {
                out.extend(summaries(key, chain));
            }
            keys += 1;
            last = Some(key.clone());
        }
        let done = a.is_none() && b.is_none();
        if let Some(last) = last {
            let mut rest = view.saved.split_off(&last);
            rest.remove(&last);
            view.saved = rest;
            view.cursor = Some(last);
        }
        Ok((out, done))
    }
}

impl Partition {
    pub fn open_view(&self, bucket: &str) -> Result<u64, Error> {
        self.versioning(bucket)?;
        let mut st = self.st.borrow_mut();
        if st.views.len() >= VIEWS_PER_PARTITION_MAX {
            return Err(Error::TooManySnapshots(VIEWS_PER_PARTITION_MAX));
        }
        let id = st.next_view;
        st.next_view += 1;
        let view = View {
            bucket: bucket.to_string(),
            cursor: None,
            saved: BTreeMap::new(),
        };
        st.views.insert(id, view);
        Ok(id)
    }

    pub fn close_view(&self, id: u64) {
        self.st.borrow_mut().views.remove(&id);
    }
}

/// A bucket's versions on every partition as of the moment `Handle::open_snapshot`
/// returned. Pages come in key order (a k-way merge of the partitions' views, each
/// buffering at most one page), each key with all its versions, newest first.
pub struct Snapshot {
    handle: Handle,
    /// The view on each partition; `None` once closed.
    views: Vec<Option<u64>>,
    buffers: Vec<VecDeque<VersionSummary>>,
    done: Vec<bool>,
}

impl Handle {
    /// Opens a view of `bucket` on every partition (all before any is scanned).
    pub async fn open_snapshot(&self, bucket: &str) -> Result<Snapshot, Error> {
        let n = self.partitions();
        let mut snap = Snapshot {
            handle: self.clone(),
            views: vec![None; n],
            buffers: vec![VecDeque::new(); n],
            done: vec![false; n],
        };
        for p in 0..n {
            let bucket = bucket.to_string();
            let id = self
                .call(p, |reply| Request::ViewOpen { bucket, reply })
                .await?;
            snap.views[p] = Some(id);
        }
        Ok(snap)
    }
}

impl Snapshot {
    /// At least `max_versions` versions (more when the last key has several), in key
    /// order; an empty page means the scan is complete.
    pub async fn next_page(&mut self, max_versions: usize) -> Result<Vec<VersionSummary>, Error> {
        let mut out = Vec::new();
        while out.len() < max_versions.max(1) {
            self.refill().await?;
            let next = (0..self.buffers.len())
                .filter_map(|p| self.buffers[p].front().map(|v| (p, v.key.clone())))
                .min_by(|x, y| x.1.cmp(&y.1));
            let Some((p, key)) = next else { break };
            while self.buffers[p].front().is_some_and(|v| v.key == key) {
                out.push(self.buffers[p].pop_front().expect("front exists"));
            }
        }
        Ok(out)
    }

    /// Fetches a page for every partition whose buffer ran dry and whose view has more.
    async fn refill(&mut self) -> Result<(), Error> {
        for p in 0..self.buffers.len() {
            if !self.buffers[p].is_empty() || self.done[p] {
                continue;
            }
            let Some(view) = self.views[p] else {
                return Err(Error::InvalidArgument("snapshot is closed".into()));
            };
            let (page, done) = self
                .handle
                .call(p, |reply| Request::ViewScan {
                    view,
                    max_keys: SNAPSHOT_PAGE_KEYS,
                    reply,
                })
                .await?;
            self.buffers[p].extend(page);
            self.done[p] = done;
        }
        Ok(())
    }

    /// Closes the views (dropping a snapshot does the same without waiting).
    pub async fn close(mut self) {
        for p in 0..self.views.len() {
            if let Some(view) = self.views[p].take() {
                let _ = self
                    .handle
                    .call(p, |reply| Request::ViewClose { view, reply })
                    .await;
            }
        }
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        for p in 0..self.views.len() {
            if let Some(view) = self.views[p].take() {
                self.handle
                    .send_nowait(p, |reply| Request::ViewClose { view, reply });
            }
        }
    }
}
