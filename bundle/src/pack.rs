//! Packing a staged tree into the release archive, and writing SHA256SUMS.

use std::path::{Path, PathBuf};

use crate::Result;
use crate::checksums::Sha256Sums;

/// Options for [`pack_to_file`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackOptions {
    pub top: String,
    pub mtime: u64,
    pub threads: usize,
}

/// What [`pack_to_file`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackReport {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
}

/// tar + parallel bzip2 of `root` into `dest`, atomically.
pub fn pack_to_file(root: &Path, opts: &PackOptions, dest: &Path) -> Result<PackReport> {
    let _ = (root, opts, dest);
    todo!()
}

/// Writes SHA256SUMS atomically (temp + rename).
pub fn write_checksums_file(dest: &Path, sums: &Sha256Sums) -> Result<()> {
    let _ = (dest, sums);
    todo!()
}
