//! ringstore storage engine.

pub mod constants;
pub mod superblock;
