//! ringstore client library.
