//! Removing a path of any kind, whole trees included, even when folders in it cannot be entered
//! or written: Go's module cache makes its folders read-only, and dockerd leaves `drw-------`
//! ones. Symlinks are removed, never followed.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::{Error, Result};

/// Removes `path` (a file, a symlink or a folder with everything in it). Returns whether it
/// existed. When a folder tree cannot be removed as it is, its folders are given owner rwx
/// (where this user may change them) and the removal is tried once more; the first error is
/// the one reported if that fails too.
pub fn remove_any(path: &Path) -> Result<bool> {
    let meta = match fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::new("inspect", path, e)),
        Ok(m) => m,
    };
    if !meta.is_dir() {
        return fs::remove_file(path)
            .map(|()| true)
            .map_err(|e| Error::new("remove", path, e));
    }
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(true),
        Err(first) => {
            open_up(path);
            fs::remove_dir_all(path)
                .map(|()| true)
                .map_err(|_| Error::new("remove", path, first))
        }
    }
}

/// Adds owner rwx to `dir` and to every folder under it, each before it is listed (errors are
/// left to the removal that follows).
fn open_up(dir: &Path) {
    let Ok(m) = fs::symlink_metadata(dir) else {
        return;
    };
    if !m.is_dir() {
        return;
    }
    let mode = m.permissions().mode() & 0o7777;
    if mode & 0o700 != 0o700 {
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o700));
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                open_up(&e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_links_and_locked_trees() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        assert!(!remove_any(&root.join("absent")).unwrap());

        fs::write(root.join("f"), b"x").unwrap();
        assert!(remove_any(&root.join("f")).unwrap());

        // A link to a folder goes; the folder stays.
        fs::create_dir(root.join("kept")).unwrap();
        fs::write(root.join("kept/a"), b"a").unwrap();
        std::os::unix::fs::symlink(root.join("kept"), root.join("link")).unwrap();
        assert!(remove_any(&root.join("link")).unwrap());
        assert!(root.join("kept/a").exists());

        // Read-only folders (Go's module cache) and one that cannot even be listed (dockerd).
        let tree = root.join("tree");
        fs::create_dir_all(tree.join("ro/deeper")).unwrap();
        fs::create_dir_all(tree.join("closed/inner")).unwrap();
        fs::write(tree.join("ro/deeper/file"), b"x").unwrap();
        fs::write(tree.join("closed/inner/file"), b"x").unwrap();
        for (d, mode) in [
            ("ro/deeper", 0o555),
            ("ro", 0o555),
            ("closed/inner", 0o500),
            ("closed", 0o600),
        ] {
            fs::set_permissions(tree.join(d), fs::Permissions::from_mode(mode)).unwrap();
        }
        assert!(remove_any(&tree).unwrap());
        assert!(!tree.exists());
    }

    /// The retry's preparation, checked on its own: as root (CI's unit tests) the first removal
    /// never fails, so the modes are what proves it.
    #[test]
    fn open_up_gives_the_owner_rwx_on_every_folder() {
        let t = tempfile::tempdir().unwrap();
        let tree = t.path().join("tree");
        fs::create_dir_all(tree.join("a/b")).unwrap();
        fs::write(tree.join("a/file"), b"x").unwrap();
        fs::set_permissions(tree.join("a/file"), fs::Permissions::from_mode(0o444)).unwrap();
        for (d, mode) in [("a/b", 0o055), ("a", 0o500), ("", 0o600)] {
            fs::set_permissions(tree.join(d), fs::Permissions::from_mode(mode)).unwrap();
        }
        open_up(&tree);
        let mode = |p: &str| {
            fs::symlink_metadata(tree.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!([mode(""), mode("a"), mode("a/b")], [0o700, 0o700, 0o755]);
        assert_eq!(mode("a/file"), 0o444, "files keep their mode");
    }
}
