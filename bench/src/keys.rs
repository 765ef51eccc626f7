//! The run's key space: `count` keys `PREFIX` + zero-padded index, each with a state so that
//! no two workers touch one key at once and a GET only asks for a key that exists.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// The key is not stored (never written, or deleted).
const ABSENT: u8 = 0;
/// The key is stored with its full deterministic content.
const PRESENT: u8 = 1;
/// A worker is operating on the key.
const BUSY: u8 = 2;

/// Which keys an operation may pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Any key not in use (PUT).
    Any,
    /// A stored key (GET, HEAD, DELETE, APPEND to an existing object).
    Present,
}

/// The keys of a run and their states.
pub struct KeySpace {
    prefix: String,
    states: Vec<AtomicU8>,
    /// Bytes appended so far, per key (append workload only; empty otherwise).
    positions: Vec<AtomicU64>,
}

/// A key a worker holds until it calls [`KeySpace::release`].
#[derive(Debug)]
pub struct Claim {
    pub index: u64,
    pub key: String,
    /// Whether the key was stored when it was claimed.
    pub was_present: bool,
}

impl KeySpace {
    /// `count` absent keys (with an append position each when `appends`).
    pub fn new(prefix: &str, count: u64, appends: bool) -> KeySpace {
        let n = count as usize;
        KeySpace {
            prefix: prefix.to_owned(),
            states: (0..n).map(|_| AtomicU8::new(ABSENT)).collect(),
            positions: match appends {
                true => (0..n).map(|_| AtomicU64::new(0)).collect(),
                false => Vec::new(),
            },
        }
    }

    pub fn count(&self) -> u64 {
        self.states.len() as u64
    }

    /// The name of key `index`.
    pub fn key(&self, index: u64) -> String {
        format!("{}{index:010}", self.prefix)
    }

    /// Claims the first key at or after `start` (wrapping) that matches `want`; `None` when
    /// no key does (every key busy, or none stored).
    pub fn claim(&self, start: u64, want: Want) -> Option<Claim> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        for step in 0..n {
            let index = (start + step) % n;
            let state = &self.states[index as usize];
            let current = state.load(Ordering::Relaxed);
            let eligible = match want {
                Want::Any => current != BUSY,
                Want::Present => current == PRESENT,
            };
            if eligible
                && state
                    .compare_exchange(current, BUSY, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return Some(Claim {
                    index,
                    key: self.key(index),
                    was_present: current == PRESENT,
                });
            }
        }
        None
    }

    /// Releases a claimed key, stored or not.
    pub fn release(&self, claim: Claim, present: bool) {
        let state = &self.states[claim.index as usize];
        let previous = state.swap(if present { PRESENT } else { ABSENT }, Ordering::Release);
        assert_eq!(previous, BUSY, "released key {} was not claimed", claim.key);
    }

    /// Marks key `index` stored without claiming it (after the prepare phase).
    pub fn mark_present(&self, index: u64) {
        self.states[index as usize].store(PRESENT, Ordering::Release);
    }

    /// Keys currently stored (for the clean-up phase).
    pub fn present(&self) -> Vec<u64> {
        (0..self.count())
            .filter(|&i| self.states[i as usize].load(Ordering::Acquire) == PRESENT)
            .collect()
    }

    /// The append position of a claimed key.
    pub fn position(&self, claim: &Claim) -> u64 {
        self.positions[claim.index as usize].load(Ordering::Acquire)
    }

    /// Records the append position of a claimed key.
    pub fn set_position(&self, claim: &Claim, position: u64) {
        self.positions[claim.index as usize].store(position, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_exclusive_and_follow_state() {
        let keys = KeySpace::new("p/", 3, false);
        assert_eq!(keys.key(2), "p/0000000002");
        assert!(keys.claim(0, Want::Present).is_none());
        let a = keys.claim(1, Want::Any).unwrap();
        assert_eq!((a.index, a.was_present), (1, false));
        let b = keys.claim(1, Want::Any).unwrap();
        assert_eq!(b.index, 2, "a busy key is skipped");
        keys.release(a, true);
        keys.release(b, false);
        let c = keys.claim(0, Want::Present).unwrap();
        assert_eq!((c.index, c.was_present), (1, true));
        assert!(
            keys.claim(0, Want::Present).is_none(),
            "the only stored key is busy"
        );
        keys.release(c, false);
        assert!(keys.present().is_empty());
    }
}
