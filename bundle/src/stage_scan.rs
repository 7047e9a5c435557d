//! Walks a staged `usernetes/` tree: the one place that decides which entries a release holds,
//! their order in the archive, their normalised modes, and (for the manifest) their sha256.

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::checksums::sha256_file;
use crate::manifest::{FileEntry, FileKind, MANIFEST_NAME, normalised_mode};
use crate::{Error, Result};

/// One entry of a staged tree, as the archive will hold it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StagedEntry {
    /// Relative to the root, '/'-separated, no trailing slash.
    pub rel: String,
    /// Where it is on disk.
    pub abs: PathBuf,
    pub kind: FileKind,
    /// Normalised mode (see [`normalised_mode`]).
    pub mode: u32,
    /// Size in bytes at scan time (0 for dirs and symlinks).
    pub size: u64,
    /// Link target, for symlinks.
    pub target: Option<String>,
}

/// Lists every entry under `root` (not `root` itself) in the order GNU `tar --sort=name`
/// writes them: the entries of a directory sorted by the bytes of their names, and each
/// subdirectory's content right after the subdirectory itself (depth first). For
/// `u/B u/a/c u/a-b u/a.txt` that is `B, a, a/c, a-b, a.txt`.
///
/// Refuses fifos, sockets, device nodes and names that are not UTF-8, naming the path.
pub fn walk_tar_order(root: &Path) -> Result<Vec<StagedEntry>> {
    let meta = fs::metadata(root).map_err(|e| Error::io("read", root, e))?;
    if !meta.is_dir() {
        return Err(Error::Stage {
            path: root.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    let mut out = Vec::new();
    walk_dir(root, "", &mut out)?;
    Ok(out)
}

fn walk_dir(dir: &Path, prefix: &str, out: &mut Vec<StagedEntry>) -> Result<()> {
    let mut names: Vec<OsString> = fs::read_dir(dir)
        .map_err(|e| Error::io("list", dir, e))?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::io("list", dir, e))?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        let abs = dir.join(&name);
        let name = name.into_string().map_err(|_| Error::Stage {
            path: abs.clone(),
            reason: "file name is not UTF-8; release paths must be".into(),
        })?;
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let meta = fs::symlink_metadata(&abs).map_err(|e| Error::io("inspect", &abs, e))?;
        let file_type = meta.file_type();
        let raw_mode = meta.permissions().mode();
        let (kind, size, target) = if file_type.is_dir() {
            (FileKind::Dir, 0, None)
        } else if file_type.is_file() {
            (FileKind::File, meta.len(), None)
        } else if file_type.is_symlink() {
            let target = fs::read_link(&abs).map_err(|e| Error::io("read link", &abs, e))?;
            let target = target
                .into_os_string()
                .into_string()
                .map_err(|_| Error::Stage {
                    path: abs.clone(),
                    reason: "symlink target is not UTF-8".into(),
                })?;
            (FileKind::Symlink, 0, Some(target))
        } else {
            let what = if file_type.is_fifo() {
                "a fifo"
            } else if file_type.is_socket() {
                "a socket"
            } else if file_type.is_block_device() || file_type.is_char_device() {
                "a device node"
            } else {
                "of an unknown file type"
            };
            return Err(Error::Stage {
                path: abs,
                reason: format!("is {what}; a release holds only files, directories and symlinks"),
            });
        };
        let entry = StagedEntry {
            mode: normalised_mode(kind, raw_mode),
            rel,
            abs,
            kind,
            size,
            target,
        };
        let descend = (kind == FileKind::Dir).then(|| (entry.abs.clone(), entry.rel.clone()));
        out.push(entry);
        if let Some((abs, rel)) = descend {
            walk_dir(&abs, &rel, out)?;
        }
    }
    Ok(())
}

/// Describes the staged `usernetes/` dir for the manifest: every entry except the top-level
/// `manifest.json`, with sha256 for files, sorted by path (byte order of the whole path, which
/// is not the archive order). Refuses fifos, devices and sockets.
pub fn scan_tree(root: &Path) -> Result<Vec<FileEntry>> {
    let mut files = Vec::new();
    for entry in walk_tar_order(root)? {
        if entry.rel == MANIFEST_NAME {
            continue;
        }
        let sha256 = match entry.kind {
            FileKind::File => Some(sha256_file(&entry.abs)?),
            _ => None,
        };
        files.push(FileEntry {
            path: entry.rel,
            kind: entry.kind,
            size: entry.size,
            mode: entry.mode,
            sha256,
            target: entry.target,
        });
    }
    files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn order_is_gnu_tar_sort_name() {
        let dir = tempfile::tempdir().unwrap();
        let u = dir.path();
        for d in ["a", "a/c"] {
            fs::create_dir(u.join(d)).unwrap();
        }
        for f in ["B", "a-b", "a.txt", "a/c/z", "a/b"] {
            fs::write(u.join(f), f).unwrap();
        }
        let order: Vec<String> = walk_tar_order(u)
            .unwrap()
            .into_iter()
            .map(|e| e.rel)
            .collect();
        assert_eq!(order, ["B", "a", "a/b", "a/c", "a/c/z", "a-b", "a.txt"]);
        let sorted: Vec<String> = scan_tree(u).unwrap().into_iter().map(|e| e.path).collect();
        assert_eq!(sorted, ["B", "a", "a-b", "a.txt", "a/b", "a/c", "a/c/z"]);
    }

    #[test]
    fn scan_describes_entries() {
        let dir = tempfile::tempdir().unwrap();
        let u = dir.path();
        fs::create_dir(u.join("bin")).unwrap();
        fs::write(u.join("bin/tool"), b"#!/bin/sh\n").unwrap();
        fs::set_permissions(u.join("bin/tool"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(u.join("README"), b"hi").unwrap();
        fs::set_permissions(u.join("README"), fs::Permissions::from_mode(0o664)).unwrap();
        fs::write(u.join(MANIFEST_NAME), b"{}").unwrap();
        symlink("bin/tool", u.join("tool")).unwrap();
        fs::create_dir(u.join("sub")).unwrap();
        fs::write(u.join("sub").join(MANIFEST_NAME), b"kept").unwrap();
        let files = scan_tree(u).unwrap();
        let by_path = |p: &str| files.iter().find(|e| e.path == p).unwrap().clone();
        assert!(!files.iter().any(|e| e.path == MANIFEST_NAME));
        assert_eq!(by_path("sub/manifest.json").kind, FileKind::File);
        assert_eq!(
            by_path("bin"),
            FileEntry {
                path: "bin".into(),
                kind: FileKind::Dir,
                size: 0,
                mode: 0o755,
                sha256: None,
                target: None
            }
        );
        let tool = by_path("bin/tool");
        assert_eq!((tool.mode, tool.size), (0o755, 10));
        assert_eq!(
            tool.sha256.as_deref(),
            Some(crate::checksums::sha256_bytes(b"#!/bin/sh\n").as_str())
        );
        assert_eq!(by_path("README").mode, 0o644);
        let link = by_path("tool");
        assert_eq!(link.kind, FileKind::Symlink);
        assert_eq!((link.mode, link.size), (0o777, 0));
        assert_eq!(link.target.as_deref(), Some("bin/tool"));
        assert_eq!(link.sha256, None);
    }

    #[test]
    fn refuses_special_files() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let err = scan_tree(dir.path()).unwrap_err().to_string();
        assert!(err.contains("pipe") && err.contains("fifo"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let _sock = std::os::unix::net::UnixListener::bind(dir.path().join("sock")).unwrap();
        let err = scan_tree(dir.path()).unwrap_err().to_string();
        assert!(err.contains("sock") && err.contains("socket"), "{err}");
    }
}
