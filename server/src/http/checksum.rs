//! Body checksums the dialects carry: CRC32 (`x-amz-checksum-crc32`, zlib's CRC), CRC32C
//! (`x-amz-checksum-crc32c`) and CRC-64/NVME (`x-amz-checksum-crc64nvme`). OSS's
//! CRC-64/ECMA (`x-oss-hash-crc64ecma`) is the engine's, stored with the object.
//!
//! CRC-64/NVME is reflected, with all-ones init and final xor; its tables are built at
//! compile time and bytes are folded eight at a time (slicing-by-8).

use base64::Engine as _;

/// A checksum algorithm of the S3 `x-amz-checksum-*` family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
}

impl Algorithm {
    /// The algorithm of a header name such as `x-amz-checksum-crc32` (lowercase).
    pub fn from_header(name: &str) -> Option<Algorithm> {
        match name.strip_prefix("x-amz-checksum-")? {
            "crc32" => Some(Algorithm::Crc32),
            "crc32c" => Some(Algorithm::Crc32c),
            "crc64nvme" => Some(Algorithm::Crc64Nvme),
            _ => None,
        }
    }

    /// The header that carries it.
    pub fn header(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "x-amz-checksum-crc32",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
            Algorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
        }
    }

    /// The name S3 uses in messages (`CRC32`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Crc64Nvme => "CRC64NVME",
        }
    }
}

/// A running checksum of one algorithm.
#[derive(Clone)]
pub enum Hasher {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(Crc64),
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Crc32 => Hasher::Crc32(crc32fast::Hasher::new()),
            Algorithm::Crc32c => Hasher::Crc32c(0),
            Algorithm::Crc64Nvme => Hasher::Crc64Nvme(Crc64::nvme()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Crc32(h) => h.update(data),
            Hasher::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            Hasher::Crc64Nvme(h) => h.update(data),
        }
    }

    /// The big-endian digest, base64-encoded, as the header carries it.
    pub fn finish_base64(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        match self {
            Hasher::Crc32(h) => b64.encode(h.clone().finalize().to_be_bytes()),
            Hasher::Crc32c(c) => b64.encode(c.to_be_bytes()),
            Hasher::Crc64Nvme(h) => b64.encode(h.finish().to_be_bytes()),
        }
    }
}

/// CRC-64/NVME (polynomial 0xad93d23594c93659, reflected form 0x9a6c9329ac4bc9b5).
const NVME_REFLECTED: u64 = 0x9a6c_9329_ac4b_c9b5;

const fn tables(poly: u64) -> [[u64; 256]; 8] {
    let mut t = [[0u64; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ poly
            } else {
                crc >> 1
            };
            bit += 1;
        }
        t[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

static NVME_TABLES: [[u64; 256]; 8] = tables(NVME_REFLECTED);

/// A reflected CRC-64 with all-ones init and final xor.
#[derive(Clone)]
pub struct Crc64 {
    state: u64,
    tables: &'static [[u64; 256]; 8],
}

impl Crc64 {
    pub fn nvme() -> Crc64 {
        Crc64 {
            state: !0,
            tables: &NVME_TABLES,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        let t = self.tables;
        let mut crc = self.state;
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            let v = crc ^ u64::from_le_bytes(c.try_into().expect("8 bytes"));
            crc = t[7][(v & 0xff) as usize]
                ^ t[6][((v >> 8) & 0xff) as usize]
                ^ t[5][((v >> 16) & 0xff) as usize]
                ^ t[4][((v >> 24) & 0xff) as usize]
                ^ t[3][((v >> 32) & 0xff) as usize]
                ^ t[2][((v >> 40) & 0xff) as usize]
                ^ t[1][((v >> 48) & 0xff) as usize]
                ^ t[0][(v >> 56) as usize];
        }
        for &b in chunks.remainder() {
            crc = (crc >> 8) ^ t[0][((crc ^ b as u64) & 0xff) as usize];
        }
        self.state = crc;
    }

    pub fn finish(&self) -> u64 {
        !self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values() {
        let mut n = Crc64::nvme();
        n.update(b"123456789");
        assert_eq!(n.finish(), 0xae8b_1486_0a79_9888);
        // Split updates fold the same as one.
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut whole = Crc64::nvme();
        whole.update(&data);
        let mut parts = Crc64::nvme();
        for piece in data.chunks(13) {
            parts.update(piece);
        }
        assert_eq!(whole.finish(), parts.finish());
    }

    #[test]
    fn base64_digests() {
        let mut h = Hasher::new(Algorithm::Crc32);
        h.update(b"123456789");
        // CRC-32 check value 0xcbf43926.
        assert_eq!(h.finish_base64(), "y/Q5Jg==");
        let mut h = Hasher::new(Algorithm::Crc32c);
        h.update(b"123456789");
        // CRC-32C check value 0xe3069283.
        assert_eq!(h.finish_base64(), "4waSgw==");
        assert_eq!(
            Algorithm::from_header("x-amz-checksum-crc64nvme"),
            Some(Algorithm::Crc64Nvme)
        );
        assert_eq!(Algorithm::from_header("x-amz-checksum-sha1"), None);
    }
}
