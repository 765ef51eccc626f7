//! ringstore binary protocol (see PROTOCOL.md).
