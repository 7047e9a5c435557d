//! File helpers with the guarantees the runtime promises: files written to a temp name then
//! renamed (nothing half-written after a crash), modes set at creation (keys 0600 from the first
//! byte), private folders 0700, and the tail of a log for error messages.

use crate::error::{Error, Result};
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` (and parents) and sets its mode.
pub fn ensure_dir(dir: &Path, mode: u32) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .map_err(|e| Error::io(dir, e))?;
    let m = fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if m.permissions().mode() & 0o7777 != mode {
        fs::set_permissions(dir, fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}

/// Writes `bytes` to `path` with `mode`, atomically and durably ([`fsx::write_atomic`]: a temp
/// file in the same folder, created exclusively and private until its mode is set, fsynced,
/// renamed, then the folder fsynced); errors name `path`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    fsx::write_atomic(path, bytes, mode).map_err(|e| Error::io(path, e.source))
}

/// Removes `path` when it is a symlink (what RootlessKit's copy-up leaves in /run, /etc, …).
pub fn remove_symlink(path: &Path) -> Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::remove_file(path).map_err(|e| Error::io(path, e))?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Removes a file or a whole tree; absent is fine. Folders that cannot be entered (dockerd
/// leaves `drw-------` ones) are opened up first ([`fsx::remove_any`]).
pub fn remove_any(path: &Path) -> std::io::Result<()> {
    fsx::remove_any(path).map(drop).map_err(|e| e.source)
}

/// The last `lines` lines of a (log) file, at most 64 KiB read; empty when unreadable.
pub fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut f) = fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(64 * 1024);
    let _ = f.seek(SeekFrom::Start(start));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    let from = all.len().saturating_sub(lines);
    all[from..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn atomic_write_sets_mode_and_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("key.pem");
        write_atomic(&p, b"one", 0o600).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        write_atomic(&p, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1, "no temp left");
        let e = write_atomic(&d.path().join("no/such/dir/f"), b"x", 0o644).unwrap_err();
        assert!(e.to_string().contains("no/such/dir/f"));
    }

    #[test]
    fn a_symlink_is_never_followed() {
        // Temp names are random and created exclusively (fsx), so nothing planted is written
        // through; a symlink at the destination is replaced.
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        std::os::unix::fs::symlink(&victim, d.path().join("out")).unwrap();
        write_atomic(&d.path().join("out"), b"new", 0o600).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(fs::read(d.path().join("out")).unwrap(), b"new");
    }

    #[test]
    fn dirs_symlinks_tails() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("a/b");
        ensure_dir(&sub, 0o700).unwrap();
        assert_eq!(fs::metadata(&sub).unwrap().mode() & 0o777, 0o700);
        let l = d.path().join("link");
        std::os::unix::fs::symlink(&sub, &l).unwrap();
        assert!(!remove_symlink(&sub).unwrap());
        assert!(remove_symlink(&l).unwrap());
        assert!(sub.exists());
        let log = d.path().join("x.log");
        fs::write(&log, "1\n2\n3\n4\n").unwrap();
        assert_eq!(tail(&log, 2), "3\n4");
        assert_eq!(tail(&d.path().join("none"), 2), "");
        // A folder without x/r for its owner still goes.
        let locked = d.path().join("a/locked");
        fs::create_dir_all(locked.join("deep")).unwrap();
        fs::write(locked.join("deep/f"), "x").unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o600)).unwrap();
        remove_any(&d.path().join("a")).unwrap();
        remove_any(&d.path().join("a")).unwrap();
        assert!(!d.path().join("a").exists());
    }
}
