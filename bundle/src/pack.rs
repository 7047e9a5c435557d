//! Packing a staged tree into the release archive, and writing `SHA256SUMS`; both land at their
//! final path only complete: written to a temporary file in the destination's folder, fsynced,
//! then renamed into place. On any error the temporary file is removed and `dest` is untouched.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use fsx::AtomicFile;

use crate::bzip::ParallelBzEncoder;
use crate::checksums::{HashingWriter, Sha256Sums};
use crate::tar_writer::write_tar;
use crate::{Error, Result};

/// Options for [`pack_to_file`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackOptions {
    /// The single top folder inside the archive ([`crate::manifest::TOP_DIR`]).
    pub top: String,
    /// The mtime of every entry (`SOURCE_DATE_EPOCH`).
    pub mtime: u64,
    /// Compression threads; 0 = one per CPU. Does not change the output.
    pub threads: usize,
}

/// What [`pack_to_file`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackReport {
    pub path: PathBuf,
    /// Lowercase hex sha256 of the archive.
    pub sha256: String,
    /// Archive size in bytes.
    pub size: u64,
}

/// tar + parallel bzip2 of `root` into `dest` (written as a temp file in dest's folder, fsynced,
/// renamed into place; on error nothing is left at `dest` nor any temp file).
pub fn pack_to_file(root: &Path, opts: &PackOptions, dest: &Path) -> Result<PackReport> {
    let temp = temp_beside(dest)?;
    let temp_path = temp.temp_path().to_path_buf();
    let file = temp
        .as_file()
        .try_clone()
        .map_err(|e| Error::io("open", &temp_path, e))?;
    let hashing = HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
    let encoder = ParallelBzEncoder::new(hashing, opts.threads);
    let encoder = write_tar(root, &opts.top, opts.mtime, encoder)?;
    let hashing = encoder.finish()?;
    let (buffered, sha256, size) = hashing.finish();
    buffered
        .into_inner()
        .map_err(|e| Error::io("write", &temp_path, e.into_error()))?;
    persist(temp)?;
    Ok(PackReport {
        path: dest.to_path_buf(),
        sha256,
        size,
    })
}

/// Writes SHA256SUMS atomically (temp + rename).
pub fn write_checksums_file(dest: &Path, sums: &Sha256Sums) -> Result<()> {
    let mut temp = temp_beside(dest)?;
    temp.write_bytes(sums.render().as_bytes())?;
    persist(temp)
}

fn temp_beside(dest: &Path) -> Result<AtomicFile> {
    if dest.file_name().is_none() {
        return Err(Error::Stage {
            path: dest.to_path_buf(),
            reason: "the destination must name a file".into(),
        });
    }
    Ok(AtomicFile::create(dest)?)
}

/// Mode 0644, fsync, rename over the destination, fsync the folder ([`AtomicFile::commit`]).
fn persist(temp: AtomicFile) -> Result<()> {
    Ok(temp.commit(0o644)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn checksums_file_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("SHA256SUMS");
        let sums = Sha256Sums {
            entries: vec![("ab".repeat(32), "usernetes-x86_64.tbz".into())],
        };
        write_checksums_file(&dest, &sums).unwrap();
        assert_eq!(fs::read_to_string(&dest).unwrap(), sums.render());
        assert_eq!(leftovers(dir.path()), ["SHA256SUMS"]);
        let mode = fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }

    #[test]
    fn failed_pack_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        let dest = out.join("a.tbz");
        let opts = PackOptions {
            top: "usernetes".into(),
            mtime: 0,
            threads: 2,
        };
        // The staged root does not exist.
        let err = pack_to_file(&dir.path().join("missing"), &opts, &dest).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));

        // The staged root holds a fifo: refused midway through writing.
        let root = dir.path().join("root");
        fs::create_dir(&root).unwrap();
        fs::write(root.join("a"), vec![1u8; 3_000_000]).unwrap();
        let fifo = std::ffi::CString::new(format!("{}/z", root.display())).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        fs::write(&dest, b"previous").unwrap();
        let err = pack_to_file(&root, &opts, &dest).unwrap_err();
        assert!(err.to_string().contains("fifo"), "{err}");
        assert_eq!(fs::read(&dest).unwrap(), b"previous");
        assert_eq!(leftovers(&out), ["a.tbz"]);
    }
}
