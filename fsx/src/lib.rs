//! The filesystem concepts the usernetes tools share, each with one home:
//!
//! - [`atomic`]: writing a file so that it is either the old one or the whole new one, even
//!   after a crash (temp file beside it, mode, fsync, rename, fsync of the folder).
//! - [`remove`]: removing a file, a link or a whole tree, even one with read-only or closed
//!   folders.
//! - [`xdg`]: where the tools keep their files: the XDG base folders (with the spec's rule that
//!   empty and relative values are ignored) and the `usernetes` folder inside each.
//!
//! Errors are [`Error`]: the operation, the path and the io error; each crate maps it into its
//! own error type.

pub mod atomic;
pub mod remove;
pub mod xdg;

pub use atomic::{AtomicFile, sync_dir, write_atomic};
pub use remove::remove_any;

use std::path::PathBuf;

/// A failed filesystem operation: what was being done, to which path.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} {}: {source}", path.display())]
pub struct Error {
    /// The operation, a verb phrase ("create a temporary file in", "sync", "rename into place").
    pub op: &'static str,
    /// The path it was done to.
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl Error {
    pub fn new(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
