//! Named crash points for crash-consistency tests, and hold points for tests that need
//! one interleaving of concurrent work.
//!
//! Built with the `failpoints` cargo feature, [`crash_point!`] aborts the process
//! (`std::process::abort`: no unwinding, no destructors, no flush, like a power cut for
//! everything the process had not yet handed to the kernel) when the point is armed.
//! Without the feature the macro expands to nothing, so release builds carry no check.
//!
//! Arming: the environment variable `RINGSTORE_FAILPOINTS`, read once at the first hit,
//! is a comma-separated list of `name` (abort at the first hit) or `name@n` (abort at the
//! n-th hit, counting from 1), e.g. `RINGSTORE_FAILPOINTS=after-log-record@3`.
//!
//! Hold points: with the feature, [`hold_point!`]`(NAME, set_id)` makes the task that
//! reaches it wait (sleeping on its executor's timer, so the executor keeps serving)
//! while a test holds that point for that device set ([`hold`]); dropping the [`Hold`]
//! lets it go on. Keyed by the set id, a hold in one test does not stop the tests running
//! beside it in the same process. Without the feature the macro expands to nothing.

/// A put of a large object: its data stripes are written, its log record is not.
pub const AFTER_DATA_WRITE: &str = "after-data-write";
/// A put: its log record is durable and applied, the caller has not been answered.
pub const AFTER_LOG_RECORD: &str = "after-log-record";
/// A checkpoint: its stripes are written, the root that would point at them is not
/// (also a hold point).
pub const DURING_CHECKPOINT: &str = "during-checkpoint";
/// Log compaction: one live inline object of the extent was moved, the rest were not.
pub const DURING_COMPACTION: &str = "during-compaction";

/// A scrub repair: one rebuilt block run of a stripe is written, the others may not be.
pub const DURING_REPAIR: &str = "during-repair";

/// Every crash point, for tools and tests that list them.
pub const ALL: [&str; 5] = [
    AFTER_DATA_WRITE,
    AFTER_LOG_RECORD,
    DURING_CHECKPOINT,
    DURING_COMPACTION,
    DURING_REPAIR,
];

/// The environment variable that arms crash points.
pub const ENV_VAR: &str = "RINGSTORE_FAILPOINTS";

/// Counts a hit of crash point `name` and aborts the process if it is armed for this hit.
#[cfg(feature = "failpoints")]
pub fn hit(name: &'static str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    // (name, the hit that aborts, hits so far), from the environment at the first hit.
    static ARMED: OnceLock<Vec<(String, u64, AtomicU64)>> = OnceLock::new();
    let armed = ARMED.get_or_init(|| {
        let spec = std::env::var(ENV_VAR).unwrap_or_default();
        spec.split(',')
            .filter(|s| !s.is_empty())
            .map(|s| {
                let (point, at) = match s.split_once('@') {
                    Some((n, at)) => (n, at.parse().expect("crash point hit count")),
                    None => (s, 1),
                };
                (point.to_owned(), at, AtomicU64::new(0))
            })
            .collect()
    });
    for (point, at, hits) in armed {
        if point == name && hits.fetch_add(1, Ordering::SeqCst) + 1 == *at {
            eprintln!("crash point {name}: aborting");
            std::process::abort();
        }
    }
}

/// `crash_point!(NAME)`: see the module docs. Compiles to nothing without `failpoints`.
#[cfg(feature = "failpoints")]
macro_rules! crash_point {
    ($name:expr) => {
        $crate::failpoint::hit($name)
    };
}

#[cfg(not(feature = "failpoints"))]
macro_rules! crash_point {
    ($name:expr) => {{
        let _: &str = $name;
    }};
}

pub(crate) use crash_point;

#[cfg(feature = "failpoints")]
mod holds {
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// (point, set id, a task waits there now or did).
    static HELD: Mutex<Vec<(&'static str, u64, bool)>> = Mutex::new(Vec::new());

    fn held() -> std::sync::MutexGuard<'static, Vec<(&'static str, u64, bool)>> {
        HELD.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Point `name` held for the device set `set_id` until this is dropped.
    #[must_use = "the point is released when the hold is dropped"]
    pub struct Hold {
        name: &'static str,
        set_id: u64,
    }

    /// Holds point `name` for the device set `set_id`: every task of that set reaching
    /// it waits until the returned [`Hold`] is dropped.
    pub fn hold(name: &'static str, set_id: u64) -> Hold {
        held().push((name, set_id, false));
        Hold { name, set_id }
    }

    impl Hold {
        /// Waits (at most `timeout`) until a task waits at the point; true if one does.
        pub fn wait_reached(&self, timeout: Duration) -> bool {
            let since = Instant::now();
            while since.elapsed() < timeout {
                let reached = held()
                    .iter()
                    .any(|&(n, s, r)| n == self.name && s == self.set_id && r);
                if reached {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            false
        }
    }

    impl Drop for Hold {
        fn drop(&mut self) {
            let mut h = held();
            if let Some(i) = h
                .iter()
                .position(|&(n, s, _)| n == self.name && s == self.set_id)
            {
                h.remove(i);
            }
        }
    }

    /// Where `hold_point!` waits: returns once no hold of `name` for `set_id` is left.
    pub async fn reached(name: &'static str, set_id: u64) {
        loop {
            {
                let mut h = held();
                match h.iter_mut().find(|(n, s, _)| *n == name && *s == set_id) {
                    Some(entry) => entry.2 = true,
                    None => return,
                }
            }
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
    }
}

#[cfg(feature = "failpoints")]
pub use holds::{hold, reached, Hold};

/// `hold_point!(NAME, set_id)` in an async fn: see the module docs. Compiles to nothing
/// without `failpoints`.
#[cfg(feature = "failpoints")]
macro_rules! hold_point {
    ($name:expr, $set_id:expr) => {
        $crate::failpoint::reached($name, $set_id).await
    };
}

#[cfg(not(feature = "failpoints"))]
macro_rules! hold_point {
    ($name:expr, $set_id:expr) => {{
        let _: &str = $name;
        let _: u64 = $set_id;
    }};
}

pub(crate) use hold_point;
