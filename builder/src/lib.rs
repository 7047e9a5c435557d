//! u7s-build library.
