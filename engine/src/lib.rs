//! ringstore storage engine.

pub mod constants;
pub mod device_set;
pub mod superblock;
