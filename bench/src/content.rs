//! Deterministic object content: a pseudo-random pool made from the seed, and each object's
//! bytes a periodic window of it starting at an offset chosen by the key.
//!
//! Bodies are zero-copy slices of the pool (no generation cost on the measured path), and
//! `--verify` compares every GET byte against the same slices: a wrong byte, a short body or
//! another object's content fails.

use bytes::Bytes;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::constants::{BODY_CHUNK_BYTES_MAX, CONTENT_PERIOD_BYTES, CONTENT_STARTS};

/// The content of every object of a run.
#[derive(Clone)]
pub struct Content {
    pool: Bytes,
    seed: u64,
}

impl Content {
    /// Builds the pool from `seed` (xorshift64*, a few tens of milliseconds).
    pub fn new(seed: u64) -> Content {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut pool = Vec::with_capacity(CONTENT_PERIOD_BYTES);
        while pool.len() < CONTENT_PERIOD_BYTES {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            pool.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        Content {
            pool: pool.into(),
            seed,
        }
    }

    /// A stable 64-bit hash of `key` under this run's seed (also picks object sizes).
    pub fn key_hash(&self, key: &str) -> u64 {
        xxh3_64_with_seed(key.as_bytes(), self.seed)
    }

    fn start(&self, key: &str) -> usize {
        (self.key_hash(key) % CONTENT_STARTS as u64) as usize * 8
    }

    /// The bytes `offset .. offset + len` of `key`'s content, as slices of at most
    /// `BODY_CHUNK_BYTES_MAX` bytes.
    pub fn chunks(&self, key: &str, offset: u64, len: u64) -> Chunks {
        Chunks {
            pool: self.pool.clone(),
            pos: (self.start(key) as u64 + offset) % CONTENT_PERIOD_BYTES as u64,
            remaining: len,
        }
    }

    /// A checker for a body that should be `key`'s content from `offset`, `len` bytes long.
    pub fn verifier(&self, key: &str, offset: u64, len: u64) -> Verifier {
        Verifier {
            expected: self.chunks(key, offset, len),
            pending: Bytes::new(),
            ok: true,
        }
    }
}

/// An iterator over slices of an object's content.
pub struct Chunks {
    pool: Bytes,
    pos: u64,
    remaining: u64,
}

impl Chunks {
    /// Bytes not yet returned.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }
}

impl Iterator for Chunks {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.remaining == 0 {
            return None;
        }
        let pos = self.pos as usize;
        // A chunk never crosses the end of the period, so it is one slice of the pool.
        let to_end = CONTENT_PERIOD_BYTES - pos;
        let len = (self.remaining as usize)
            .min(to_end)
            .min(BODY_CHUNK_BYTES_MAX);
        self.pos = ((pos + len) % CONTENT_PERIOD_BYTES) as u64;
        self.remaining -= len as u64;
        Some(self.pool.slice(pos..pos + len))
    }
}

/// Compares a body, chunk by chunk in whatever sizes it arrives, with the expected content.
pub struct Verifier {
    expected: Chunks,
    pending: Bytes,
    ok: bool,
}

impl Verifier {
    /// Checks the next received bytes.
    pub fn feed(&mut self, mut got: &[u8]) {
        while self.ok && !got.is_empty() {
            if self.pending.is_empty() {
                match self.expected.next() {
                    Some(next) => self.pending = next,
                    None => {
                        self.ok = false; // Longer than expected.
                        return;
                    }
                }
            }
            let n = got.len().min(self.pending.len());
            self.ok = got[..n] == self.pending[..n];
            got = &got[n..];
            let _ = self.pending.split_to(n);
        }
    }

    /// Whether every byte matched and none is missing.
    pub fn finish(self) -> bool {
        self.ok && self.pending.is_empty() && self.expected.remaining() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(c: Chunks) -> Vec<u8> {
        c.flat_map(|b| b.to_vec()).collect()
    }

    #[test]
    fn content_is_deterministic_and_depends_on_key_and_seed() {
        let (a, b) = (Content::new(7), Content::new(7));
        let x = collect(a.chunks("k1", 0, 10_000));
        assert_eq!(x, collect(b.chunks("k1", 0, 10_000)));
        assert_ne!(x, collect(a.chunks("k2", 0, 10_000)));
        assert_ne!(x, collect(Content::new(8).chunks("k1", 0, 10_000)));
        // An offset continues the same stream (appends rely on it).
        assert_eq!(x[4000..], collect(a.chunks("k1", 4000, 6000))[..]);
    }

    #[test]
    fn chunks_wrap_the_period_and_respect_the_chunk_limit() {
        let c = Content::new(1);
        let len = CONTENT_PERIOD_BYTES as u64 * 2 + 12345;
        let chunks: Vec<Bytes> = c.chunks("big", 0, len).collect();
        assert!(chunks.iter().all(|b| b.len() <= BODY_CHUNK_BYTES_MAX));
        assert_eq!(chunks.iter().map(|b| b.len() as u64).sum::<u64>(), len);
        let all: Vec<u8> = chunks.iter().flat_map(|b| b.to_vec()).collect();
        let period = CONTENT_PERIOD_BYTES;
        assert_eq!(all[..1000], all[period..period + 1000]);
    }

    #[test]
    fn verifier_accepts_the_content_in_any_split_and_rejects_changes() {
        let c = Content::new(3);
        let body = collect(c.chunks("obj", 0, 70_000));
        let mut v = c.verifier("obj", 0, 70_000);
        for piece in body.chunks(999) {
            v.feed(piece);
        }
        assert!(v.finish());
        let mut bad = body.clone();
        bad[50_000] ^= 1;
        let mut v = c.verifier("obj", 0, 70_000);
        v.feed(&bad);
        assert!(!v.finish());
        let mut short = c.verifier("obj", 0, 70_000);
        short.feed(&body[..69_999]);
        assert!(!short.finish());
        let mut long = c.verifier("obj", 0, 69_999);
        long.feed(&body);
        assert!(!long.finish());
        let mut other = c.verifier("other", 0, 70_000);
        other.feed(&body);
        assert!(!other.finish());
    }
}
