//! u7s library.
