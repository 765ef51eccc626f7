//! Helpers shared by the unit tests.

use std::fmt::Debug;

use bytes::BytesMut;

use crate::codec::{Body, BodyError};

/// A deterministic generator (xorshift64*), so a failing random test is reproducible.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        assert!(seed != 0);
        XorShift(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform-enough in `0..n` for tests; `n > 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Encodes `message`, decodes it back, and checks both that the result is equal and that
/// every strict prefix of the encoding fails to decode (with an error, not a panic).
pub fn round_trip<T: Body + PartialEq + Debug>(message: &T) -> BytesMut {
    let mut out = BytesMut::new();
    message.encode(&mut out).expect("encode");
    assert_eq!(&T::decode(&out).expect("decode"), message);
    // Every prefix of small encodings; a sample of long ones (each decode is linear).
    let step = (out.len() / 512).max(1);
    for len in (0..out.len())
        .step_by(step)
        .chain(out.len().saturating_sub(64)..out.len())
    {
        assert!(
            T::decode(&out[..len]).is_err(),
            "prefix of {len} bytes decoded"
        );
    }
    let mut longer = out.to_vec();
    longer.push(0);
    assert_eq!(
        T::decode(&longer),
        Err(BodyError::TrailingBytes { count: 1 })
    );
    out
}
