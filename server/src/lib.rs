//! ringstore daemon.
