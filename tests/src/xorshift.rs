//! Deterministic test bytes: a xorshift64 sequence. The engine's integration tests include
//! this file too (`engine/tests/common`), so both test trees make bodies the same way.

/// `len` bytes of the xorshift64 sequence started from `state` (made odd, so never 0).
pub fn bytes(len: usize, state: u64) -> Vec<u8> {
    let mut x = state | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
