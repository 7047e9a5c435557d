//! The one error type of the crate; every variant names the file, entry or line it is about.

use std::path::PathBuf;

/// Errors of the release-format crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation on a named path failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An I/O error on a stream (archive, pipe) rather than a named file.
    #[error("{context}: {source}")]
    Stream {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// `manifest.json` could not be parsed.
    #[error("manifest.json: {0}")]
    Manifest(String),
    /// A `SHA256SUMS` line is malformed.
    #[error("SHA256SUMS line {line}: {reason}")]
    Checksums { line: usize, reason: String },
    /// A staged tree holds something a release may not contain.
    #[error("staged tree {}: {reason}", path.display())]
    Stage { path: PathBuf, reason: String },
    /// The bzip2 data is corrupt, truncated, or followed by garbage.
    #[error("bzip2 data: {0}")]
    Bzip2(String),
    /// An archive entry was refused by the extraction policy.
    #[error("unsafe archive entry {entry:?}: {reason}")]
    UnsafeEntry { entry: String, reason: String },
    /// The extracted tree differs from the manifest.
    #[error("extracted files differ from manifest.json:\n{}", .differences.join("\n"))]
    ManifestMismatch { differences: Vec<String> },
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps an I/O error with what was being done and to which path.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// A failed shared filesystem operation ([`fsx`]) keeps its action and path.
impl From<fsx::Error> for Error {
    fn from(e: fsx::Error) -> Error {
        Error::io(e.op, e.path, e.source)
    }
}
