//! Small durable-filesystem helpers: fsync of folders, atomic file
//! writes (temp + fsync + rename), deletion via a hidden trash name, and tree sizes.

use std::fs;
use std::path::Path;

use crate::error::{Error, IoContext, Result};
use crate::prefix::TRASH_PREFIX;

/// fsyncs a folder so the names created or renamed in it are durable ([`fsx::sync_dir`]).
pub fn sync_dir(dir: &Path) -> Result<()> {
    fsx::sync_dir(dir).map_err(from_fsx)
}

/// The installer's error for a failed shared filesystem operation (same action and path).
pub fn from_fsx(e: fsx::Error) -> Error {
    Error::io(e.op, e.path, e.source)
}

/// Total size in bytes of the regular files under `root` (symlinks not followed).
pub fn tree_size(root: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(md) = e.path().symlink_metadata() else {
                continue;
            };
            if md.is_dir() {
                stack.push(e.path());
            } else if md.is_file() {
                total += md.len();
            }
        }
    }
    total
}

/// Writes `content` to `path` atomically ([`fsx::write_atomic`]: a temp file `.tmp-*` in the
/// same folder, mode, fsync, rename, fsync of the folder), creating the folder first. `mode` is
/// the file's permission bits.
pub fn write_atomic(path: &Path, content: &[u8], mode: u32) -> Result<()> {
    let dir = fsx::atomic::parent_of(path);
    fs::create_dir_all(dir).ctx("create", dir)?;
    fsx::write_atomic(path, content, mode).map_err(from_fsx)
}

/// Removes a folder so that no half-deleted copy stays under its name: first renamed to a
/// hidden `.trash-*` sibling inside `hide_in` (same filesystem), then deleted. A kill during
/// the deletion leaves only the trash folder, which the next run removes.
pub fn remove_dir_via_trash(dir: &Path, hide_in: &Path) -> Result<()> {
    let trash = tempfile::Builder::new()
        .prefix(TRASH_PREFIX)
        .tempdir_in(hide_in)
        .ctx("create a trash folder in", hide_in)?
        .keep();
    let dest = trash.join("x");
    fs::rename(dir, &dest).ctx("move away", dir)?;
    sync_dir(dir.parent().unwrap_or(hide_in))?;
    fs::remove_dir_all(&trash).ctx("remove", &trash)
}

/// Removes a path of any kind if it exists (folders recursively, read-only ones too; symlinks
/// not followed); whether it existed ([`fsx::remove_any`]).
pub fn remove_any(path: &Path) -> Result<bool> {
    fsx::remove_any(path).map_err(from_fsx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn atomic_write_and_sizes() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a/b/file");
        write_atomic(&f, b"hello", 0o600).unwrap();
        write_atomic(&f, b"hello!", 0o644).unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"hello!");
        assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o644);
        // no temp files left beside it
        assert_eq!(fs::read_dir(d.path().join("a/b")).unwrap().count(), 1);
        std::os::unix::fs::symlink("/etc", d.path().join("a/link")).unwrap();
        assert_eq!(tree_size(d.path()), 6);
    }

    #[test]
    fn trash_removal_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let v = d.path().join("versions/1");
        fs::create_dir_all(v.join("bin")).unwrap();
        fs::write(v.join("bin/x"), b"x").unwrap();
        remove_dir_via_trash(&v, d.path()).unwrap();
        assert!(!v.exists());
        let left: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("versions")]);
        assert!(!remove_any(&v).unwrap());
    }
}
