//! ringstore storage engine.
