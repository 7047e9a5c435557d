//! u7s-install library.
