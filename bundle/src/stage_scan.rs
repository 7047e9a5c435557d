//! Describes a staged `usernetes/` tree as manifest file entries.

use std::path::Path;

use crate::Result;
use crate::manifest::FileEntry;

/// Scans the staged `usernetes/` dir: skips manifest.json, refuses fifos/devices/sockets,
/// sorted by path (byte order).
pub fn scan_tree(root: &Path) -> Result<Vec<FileEntry>> {
    let _ = root;
    todo!()
}
