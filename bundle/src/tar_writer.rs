//! Deterministic tar writer: the same tree gives the same bytes on any machine.
//!
//! "Sorted" means the order of GNU `tar --sort=name`: the entries of each directory in byte
//! order of their names, each subdirectory followed at once by its own content (depth first).
//! For `u/B u/a/c u/a-b u/a.txt` the archive holds `u/ u/B u/a/ u/a/c u/a-b u/a.txt`
//! (unlike `LC_ALL=C sort` of whole paths, which puts `u/a/c` last). The walk itself lives in
//! [`crate::stage_scan::walk_tar_order`].
//!
//! Every header is built by hand in GNU format (what Debian's GNU tar writes by default):
//! uid/gid 0, empty user and group names, one mtime for all entries, modes normalised
//! (0755 directories and executables, 0644 other files, 0777 symlinks), symlinks stored as
//! links, no pax headers. Names over 100 bytes use the GNU `././@LongLink` entry.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use tar::{EntryType, Header};

use crate::manifest::{FileKind, MODE_EXEC};
use crate::stage_scan::{StagedEntry, walk_tar_order};
use crate::{Error, Result};

/// Writes `root` (the staged `usernetes/` directory, manifest.json already inside) as a tar stream
/// whose entries are `usernetes/`, `usernetes/...`, in GNU tar --sort=name order (per directory,
/// depth first, byte order of names), uid/gid 0, empty uname/gname, mtime = `mtime`, modes normalised,
/// GNU format, symlinks as links, no pax time headers.
pub fn write_tar<W: Write>(root: &Path, top: &str, mtime: u64, out: W) -> Result<W> {
    let entries = walk_tar_order(root)?;
    let mut builder = tar::Builder::new(out);
    let stream_err = |context: String| move |source: io::Error| Error::Stream { context, source };

    let mut header = base_header(EntryType::Directory, MODE_EXEC, mtime);
    builder
        .append_data(&mut header, format!("{top}/"), io::empty())
        .map_err(stream_err(format!("writing the archive entry {top}/")))?;

    for entry in &entries {
        let name = format!("{top}/{}", entry.rel);
        match entry.kind {
            FileKind::Dir => {
                let mut header = base_header(EntryType::Directory, entry.mode, mtime);
                builder
                    .append_data(&mut header, format!("{name}/"), io::empty())
                    .map_err(stream_err(format!("writing the archive entry {name}/")))?;
            }
            FileKind::Symlink => {
                let mut header = base_header(EntryType::Symlink, entry.mode, mtime);
                let target = entry.target.as_deref().unwrap_or_default();
                builder
                    .append_link(&mut header, &name, target)
                    .map_err(stream_err(format!("writing the archive entry {name}")))?;
            }
            FileKind::File => append_file(&mut builder, entry, &name, mtime)?,
        }
    }
    builder
        .into_inner()
        .map_err(stream_err("finishing the archive".to_string()))
}

fn base_header(kind: EntryType, mode: u32, mtime: u64) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(mtime);
    header.set_size(0);
    header
}

fn append_file<W: Write>(
    builder: &mut tar::Builder<W>,
    entry: &StagedEntry,
    name: &str,
    mtime: u64,
) -> Result<()> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&entry.abs)
        .map_err(|e| Error::io("open", &entry.abs, e))?;
    let size = file
        .metadata()
        .map_err(|e| Error::io("inspect", &entry.abs, e))?
        .len();
    if size != entry.size {
        return Err(changed(entry));
    }
    let mut header = base_header(EntryType::Regular, entry.mode, mtime);
    header.set_size(size);
    let mut reader = ExactReader {
        file,
        left: size,
        short: false,
    };
    let result = builder.append_data(&mut header, name, &mut reader);
    if reader.short {
        return Err(changed(entry));
    }
    result.map_err(|source| Error::Stream {
        context: format!("adding {} to the archive", entry.abs.display()),
        source,
    })?;
    // Anything after the announced size means the file grew while we read it.
    let mut probe = [0u8; 1];
    match reader.file.read(&mut probe) {
        Ok(0) => Ok(()),
        Ok(_) => Err(changed(entry)),
        Err(e) => Err(Error::io("read", &entry.abs, e)),
    }
}

fn changed(entry: &StagedEntry) -> Error {
    Error::Stage {
        path: entry.abs.clone(),
        reason: "changed size while being packed; stop whatever writes to the staging folder"
            .into(),
    }
}

/// Yields exactly `left` bytes of the file, failing if it ends sooner.
struct ExactReader {
    file: File,
    left: u64,
    short: bool,
}

impl Read for ExactReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..want])?;
        if n == 0 {
            self.short = true;
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while being packed",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let u = dir.path();
        fs::create_dir_all(u.join("a/c")).unwrap();
        fs::write(u.join("B"), b"B").unwrap();
        fs::write(u.join("a/c/x"), vec![7u8; 5000]).unwrap();
        fs::set_permissions(u.join("a/c/x"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(u.join("a-b"), b"").unwrap();
        fs::set_permissions(u.join("a-b"), fs::Permissions::from_mode(0o666)).unwrap();
        symlink("a/c/x", u.join("a.txt")).unwrap();
        let long = "n".repeat(150);
        fs::write(u.join(&long), b"long").unwrap();
        symlink(format!("a/../{long}"), u.join("z")).unwrap();
        dir
    }

    #[test]
    fn headers_are_normalised_and_ordered() {
        let dir = tree();
        let bytes = write_tar(dir.path(), "usernetes", 1_234_567, Vec::new()).unwrap();
        assert_eq!(bytes.len() % 512, 0);
        let mut archive = tar::Archive::new(&bytes[..]);
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let h = entry.header();
            assert_eq!(h.uid().unwrap(), 0);
            assert_eq!(h.gid().unwrap(), 0);
            assert_eq!(h.mtime().unwrap(), 1_234_567);
            assert_eq!(h.username_bytes(), Some(&b""[..]));
            assert_eq!(h.groupname_bytes(), Some(&b""[..]));
            assert!(h.as_gnu().is_some());
            let path = String::from_utf8(entry.path_bytes().to_vec()).unwrap();
            let mode = h.mode().unwrap();
            let kind = h.entry_type();
            let link = entry.link_name().unwrap().map(|l| l.display().to_string());
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            seen.push((path, kind, mode, link, data.len()));
        }
        let long = "n".repeat(150);
        let expect = [
            (
                "usernetes/".to_string(),
                EntryType::Directory,
                0o755,
                None,
                0,
            ),
            ("usernetes/B".into(), EntryType::Regular, 0o644, None, 1),
            ("usernetes/a/".into(), EntryType::Directory, 0o755, None, 0),
            (
                "usernetes/a/c/".into(),
                EntryType::Directory,
                0o755,
                None,
                0,
            ),
            (
                "usernetes/a/c/x".into(),
                EntryType::Regular,
                0o755,
                None,
                5000,
            ),
            ("usernetes/a-b".into(), EntryType::Regular, 0o644, None, 0),
            (
                "usernetes/a.txt".into(),
                EntryType::Symlink,
                0o777,
                Some("a/c/x".to_string()),
                0,
            ),
            (
                format!("usernetes/{long}"),
                EntryType::Regular,
                0o644,
                None,
                4,
            ),
            (
                "usernetes/z".into(),
                EntryType::Symlink,
                0o777,
                Some(format!("a/../{long}")),
                0,
            ),
        ];
        assert_eq!(seen, expect);
        // Same tree, same bytes.
        let again = write_tar(dir.path(), "usernetes", 1_234_567, Vec::new()).unwrap();
        assert_eq!(bytes, again);
    }
}
