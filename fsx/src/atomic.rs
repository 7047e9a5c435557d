//! Atomic, durable file writes: the one way the tools put a file in place. The bytes go to a
//! temporary file in the destination's folder (created exclusively, so a planted symlink is
//! never followed, and private until its mode is set), which gets its mode, is fsynced and
//! renamed over the destination; then the folder is fsynced so the new name survives a crash
//! (this matters most for keys and certificates). Readers see the old file or the whole new one,
//! never a part; on any error the temporary file is removed and the destination is untouched.
//!
//! Temporary names are `.tmp-<name>.<random>`: hidden, and recognisable by their owner's
//! crash cleanup (the installer removes `.tmp-*` leftovers in its prefix).

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::{Error, Result};

/// Prefix of every temporary file of [`AtomicFile`] (`.tmp-<name>.<random>`).
pub const TEMP_PREFIX: &str = ".tmp-";

/// The folder `path` is in (`.` for a bare name).
pub fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// fsyncs a folder so the names created, renamed or removed in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::new("sync", dir, e))
}

/// A file being written to a temporary name beside its destination; [`AtomicFile::commit`]
/// puts it in place, dropping it without a commit removes it.
#[derive(Debug)]
pub struct AtomicFile {
    temp: NamedTempFile,
    dest: PathBuf,
}

impl AtomicFile {
    /// Creates the temporary file for `dest` in `dest`'s folder (which must exist), mode 0600.
    pub fn create(dest: &Path) -> Result<AtomicFile> {
        let dir = parent_of(dest);
        let name = dest.file_name().ok_or_else(|| {
            Error::new(
                "write",
                dest,
                io::Error::new(io::ErrorKind::InvalidInput, "the path must name a file"),
            )
        })?;
        let temp = tempfile::Builder::new()
            .prefix(&format!("{TEMP_PREFIX}{}.", name.to_string_lossy()))
            .tempfile_in(dir)
            .map_err(|e| Error::new("create a temporary file in", dir, e))?;
        Ok(AtomicFile {
            temp,
            dest: dest.to_path_buf(),
        })
    }

    /// The temporary file (for a writer of its own, e.g. through `try_clone`).
    pub fn as_file(&self) -> &File {
        self.temp.as_file()
    }

    /// Where the temporary file is.
    pub fn temp_path(&self) -> &Path {
        self.temp.path()
    }

    /// Where the file goes.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Sets the mode now (before the content is written, so a secret is never readable by
    /// others; [`AtomicFile::commit`] sets it again).
    pub fn set_mode(&self, mode: u32) -> Result<()> {
        self.as_file()
            .set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| Error::new("set permissions of", self.temp.path(), e))
    }

    /// Writes all of `bytes` (for callers that want the error with the temp file's name).
    pub fn write_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.temp
            .write_all(bytes)
            .map_err(|e| Error::new("write", self.temp.path().to_path_buf(), e))
    }

    /// Gives the file `mode`, fsyncs it, renames it over the destination and fsyncs the folder.
    pub fn commit(self, mode: u32) -> Result<()> {
        self.set_mode(mode)?;
        self.temp
            .as_file()
            .sync_all()
            .map_err(|e| Error::new("sync", self.temp.path(), e))?;
        let dest = self.dest;
        self.temp
            .persist(&dest)
            .map_err(|e| Error::new("rename into place", &dest, e.error))?;
        sync_dir(parent_of(&dest))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.temp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.temp.flush()
    }
}

/// Writes `bytes` to `path` atomically and durably with permission bits `mode` (see the module
/// doc). `path`'s folder must exist.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.set_mode(mode)?;
    f.write_bytes(bytes)?;
    f.commit(mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_replaces_and_sets_the_mode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("key.pem");
        write_atomic(&p, b"one", 0o600).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        write_atomic(&p, b"two!", 0o644).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two!");
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o644);
        assert_eq!(names(d.path()), ["key.pem"], "no temp left");
    }

    #[test]
    fn a_missing_folder_names_it_and_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let e = write_atomic(&d.path().join("no/such/f"), b"x", 0o644).unwrap_err();
        assert_eq!(e.path, d.path().join("no/such"));
        assert!(e.to_string().contains("no/such"), "{e}");
        assert!(names(d.path()).is_empty());
        let e = write_atomic(Path::new("/"), b"x", 0o644).unwrap_err();
        assert_eq!(e.source.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn a_symlink_at_the_destination_is_replaced_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let out = d.path().join("out");
        std::os::unix::fs::symlink(&victim, &out).unwrap();
        write_atomic(&out, b"new", 0o600).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(!fs::symlink_metadata(&out).unwrap().file_type().is_symlink());
        assert_eq!(fs::read(&out).unwrap(), b"new");
    }

    #[test]
    fn streaming_and_abandoning() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("a.tbz");
        fs::write(&dest, b"previous").unwrap();
        let mut f = AtomicFile::create(&dest).unwrap();
        assert!(
            f.temp_path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".tmp-a.tbz.")
        );
        assert_eq!(f.as_file().metadata().unwrap().mode() & 0o777, 0o600);
        f.write_all(b"half").unwrap();
        drop(f);
        assert_eq!(fs::read(&dest).unwrap(), b"previous");
        assert_eq!(names(d.path()), ["a.tbz"]);

        let mut f = AtomicFile::create(&dest).unwrap();
        writeln!(f, "whole").unwrap();
        assert_eq!(f.dest(), dest);
        f.commit(0o640).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"whole\n");
        assert_eq!(fs::metadata(&dest).unwrap().mode() & 0o777, 0o640);
        assert_eq!(names(d.path()), ["a.tbz"]);
    }

    #[test]
    fn sync_dir_names_a_missing_folder() {
        let d = tempfile::tempdir().unwrap();
        sync_dir(d.path()).unwrap();
        let e = sync_dir(&d.path().join("gone")).unwrap_err();
        assert_eq!(e.op, "sync");
        assert!(e.to_string().contains("gone"), "{e}");
    }
}
