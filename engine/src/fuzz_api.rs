//! The pure decoders of the on-disk formats, gathered for the fuzz targets in
//! `tests/fuzz/` (not a stable API). Most are public in their own modules; this module
//! adds the ones that are private there.

use crate::record::{encode_entry, Reader, RecordError, Writer};
use crate::state::Versions;

/// A checkpoint's chain of versions of one key (`checkpoint.rs`).
pub fn decode_chain(r: &mut Reader) -> Result<Versions, RecordError> {
    crate::checkpoint::decode_chain(r)
}

/// The encoding [`decode_chain`] reads, as the checkpoint writer writes it.
pub fn encode_chain(w: &mut Writer, versions: &Versions) {
    let chain = versions.as_slice();
    w.u32(chain.len() as u32);
    for e in chain {
        encode_entry(w, e);
    }
}
