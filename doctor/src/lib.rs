//! u7s-doctor library.
