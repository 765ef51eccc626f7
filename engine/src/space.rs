//! Free space of a partition: the reserve puts never take, reclaiming before allocating
//! when free extents run low, and the one reclaim step that both the background worker and
//! puts run.
//!
//! Extents come back three ways: a data extent frees itself when nothing in it lives; a
//! log extent only after a checkpoint has moved the replay start past it and nothing
//! packed in it lives; a checkpoint's extents when the next checkpoint's root is durable.
//! Compaction makes extents reach "nothing lives" sooner by moving what still does.
//!
//! Puts leave `EXTENTS_RESERVED_PER_PARTITION` free extents alone, so the log can always
//! take its next extent for a delete, a bucket record or a compaction move, and a
//! checkpoint can always be written. When free extents fall to `EXTENTS_FREE_LOW` above
//! the reserve, each put first runs (or waits for) a reclaim step under the partition's
//! reclaim lock, at the put's foreground priority: writes slow down to the pace at which
//! space comes back, instead of outrunning the low-share background work until the set is
//! full. A put is refused with `StorageFull` only when reclaiming frees nothing and only
//! the reserve is left, that is when live data really fills the partition's share.

use std::rc::Rc;

use crate::constants::{
    EXTENTS_FREE_LOW, EXTENTS_RESERVED_PER_PARTITION, LOG_CHAIN_EXTENTS_MAX,
    RECLAIM_STEPS_PER_PUT_MAX,
};
use crate::error::Error;
use crate::partition::Partition;

impl Partition {
    pub fn free_extents(&self) -> usize {
        self.st.borrow().free_extents()
    }

    /// Few enough free extents left that reclaiming comes before allocating.
    pub fn space_low(&self) -> bool {
        self.free_extents() <= EXTENTS_RESERVED_PER_PARTITION + EXTENTS_FREE_LOW
    }

    /// A checkpoint is due when the log has grown past its byte threshold, when the chain
    /// a restart would replay holds too many extents, or when space is low and the chain
    /// holds any extent besides the one being written (only a checkpoint retires it).
    pub(crate) fn checkpoint_due(&self) -> bool {
        let chain = self.log_chain.borrow().len();
        self.log_bytes_since_checkpoint.get() > self.checkpoint_threshold()
            || chain > LOG_CHAIN_EXTENTS_MAX
            || (chain > 1 && self.space_low())
    }

    /// One step of reclaiming: a checkpoint if one is due, then one log and one data
    /// compaction pass. True if it moved anything or freed an extent. The caller holds
    /// `reclaim`.
    pub(crate) async fn reclaim_step(self: &Rc<Self>) -> bool {
        let free_before = self.free_extents();
        if self.checkpoint_due() {
            self.background_state.set("checkpointing");
            if let Err(e) = self.checkpoint().await {
                tracing::error!(partition = self.id, error = %e, "checkpoint failed");
            }
        }
        self.background_state.set("compacting log");
        let mut moved = match self.compact_log_once().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(partition = self.id, error = %e, "log compaction failed");
                0
            }
        };
        self.background_state.set("compacting data");
        moved += match self.compact_data_once().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(partition = self.id, error = %e, "data compaction failed");
                0
            }
        };
        self.background_state.set("idle");
        self.reclaim_steps.set(self.reclaim_steps.get() + 1);
        if moved > 0 {
            self.shared.stats.compaction_objects_moved.add(moved as u64);
            tracing::debug!(partition = self.id, moved, "compaction step");
        }
        moved > 0 || self.free_extents() > free_before
    }

    /// Called by a put before it takes space. Returns at once while space is not low;
    /// otherwise reclaims first (or waits for the reclaim step running), a bounded number
    /// of steps, and refuses with `StorageFull` only if nothing more can be reclaimed and
    /// only the reserve is left.
    pub(crate) async fn make_room(self: &Rc<Self>) -> Result<(), Error> {
        if !self.space_low() {
            return Ok(());
        }
        self.shared.stats.puts_throttled.inc();
        for _ in 0..RECLAIM_STEPS_PER_PUT_MAX {
            let steps_seen = self.reclaim_steps.get();
            let _reclaiming = self.reclaim.lock().await;
            // Another put or the background worker may have freed space meanwhile.
            if !self.space_low() {
                return Ok(());
            }
            // A step ended while this put waited for it: the puts that waited share it
            // (one step per put would let only one put through per step).
            if self.reclaim_steps.get() != steps_seen
                && self.free_extents() > EXTENTS_RESERVED_PER_PARTITION
            {
                return Ok(());
            }
            if !self.reclaim_step().await {
                break;
            }
        }
        if self.free_extents() > EXTENTS_RESERVED_PER_PARTITION {
            Ok(())
        } else {
            self.shared.stats.puts_refused_full.inc();
            Err(Error::StorageFull)
        }
    }
}
