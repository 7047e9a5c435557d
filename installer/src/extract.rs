//! Unpacking a verified archive into a fresh staging folder `PREFIX/.staging-*` (same
//! filesystem as `versions/`) through bundle's parallel bzip2 decoder and safe entry filter,
//! hashing the archive again as it is read, capping the unpacked size at the free space, then
//! fsyncing each file as soon as it is written (bundle's background syncer; the folders at the
//! end), then checking every file against `manifest.json` and renaming the tree to
//! `versions/<version>`. Any failure removes the staging folder; a kill leaves it for the next
//! run's cleanup. A version folder therefore only ever appears complete.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bundle::bzip::ParallelBzDecoder;
use bundle::manifest::{MANIFEST_NAME, Manifest, TOP_DIR};
use bundle::safe_extract::{ExtractOptions, Extracted, extract_tar, verify_against_manifest};
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::fsutil::sync_dir;
use crate::prefix::{Prefix, STAGING_PREFIX, TRASH_PREFIX, check_version_name};
use crate::ui::Progress;
use crate::verify::hex;

/// The newest release format this installer understands.
pub const FORMAT: u32 = 1;
/// Largest manifest.json read.
const MANIFEST_LIMIT: u64 = 64 << 20;

/// A release now present in `versions/`.
#[derive(Debug)]
pub struct Unpacked {
    pub version: String,
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// SHA-256 of the archive bytes actually unpacked.
    pub archive_sha256: String,
    /// The same version was already installed intact; the new copy was discarded.
    pub reused: bool,
    /// A damaged copy of the same version was replaced.
    pub repaired: bool,
}

/// The archive reader shared between the decoder and us: hashes and counts every byte, so that
/// after the tar end we can hash the remainder through the same state.
struct Shared {
    file: File,
    hasher: Sha256,
    pos: u64,
    progress: Progress,
}

#[derive(Clone)]
struct SharedReader(Arc<Mutex<Shared>>);

impl Read for SharedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut s = self.0.lock().expect("reader lock");
        let n = s.file.read(buf)?;
        s.hasher.update(&buf[..n]);
        s.pos += n as u64;
        s.progress.inc(n as u64);
        Ok(n)
    }
}

/// Stops the unpacked stream past `limit` bytes (decompression bombs, full disks).
struct CapReader<R> {
    inner: R,
    left: u64,
    hit: Arc<AtomicBool>,
}

impl<R: Read> Read for CapReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            self.hit.store(true, Ordering::SeqCst);
            return Err(io::Error::other("unpacked size limit reached"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Options of [`unpack`].
pub struct UnpackOptions<'a> {
    /// The hash the archive was verified to have (re-checked while unpacking).
    pub verified_sha256: Option<&'a str>,
    pub threads: usize,
    pub progress: Progress,
    /// Upper bound of unpacked bytes; default: the free space of the prefix's filesystem.
    pub limit: Option<u64>,
}

/// Unpacks, verifies and publishes `archive` as `versions/<version>`.
pub fn unpack(prefix: &Prefix, archive: &Path, opts: UnpackOptions<'_>) -> Result<Unpacked> {
    let staging = tempfile::Builder::new()
        .prefix(STAGING_PREFIX)
        .tempdir_in(prefix.root())
        .ctx("create a staging folder in", prefix.root())?;
    let sdir = staging.path().to_path_buf();
    fs::set_permissions(&sdir, fs::Permissions::from_mode(0o755)).ctx("chmod", &sdir)?;
    let file = File::open(archive).ctx("open", archive)?;
    let limit = match opts.limit {
        Some(l) => l,
        None => fs4::available_space(prefix.root()).ctx("read the free space of", prefix.root())?,
    };
    let shared = Arc::new(Mutex::new(Shared {
        file,
        hasher: Sha256::new(),
        pos: 0,
        progress: opts.progress.clone(),
    }));
    let hit = Arc::new(AtomicBool::new(false));
    let capped = CapReader {
        inner: ParallelBzDecoder::new(SharedReader(shared.clone()), opts.threads.max(1)),
        left: limit,
        hit: hit.clone(),
    };
    let refused = |source: bundle::Error| Error::Bundle {
        archive: archive.to_path_buf(),
        source,
    };
    let extracted = match extract_tar(
        capped,
        &sdir,
        &ExtractOptions {
            top: TOP_DIR.to_string(),
            sync: true,
        },
    ) {
        Ok(x) => x,
        Err(_) if hit.load(Ordering::SeqCst) => {
            return Err(Error::TooLarge {
                archive: archive.to_path_buf(),
                limit,
                prefix: prefix.root().to_path_buf(),
            });
        }
        Err(e) => return Err(refused(e)),
    };
    // Hash whatever follows the end of the tar stream, so the hash covers the whole file.
    let archive_sha256 = {
        let mut s = shared.lock().expect("reader lock");
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = s.file.read(&mut buf).ctx("read", archive)?;
            if n == 0 {
                break;
            }
            s.hasher.update(&buf[..n]);
        }
        hex(&std::mem::take(&mut s.hasher).finalize())
    };
    opts.progress.finish();
    if let Some(before) = opts.verified_sha256.filter(|b| *b != archive_sha256) {
        return Err(Error::ArchiveChanged {
            file: archive.to_path_buf(),
            before: before.to_string(),
            after: archive_sha256,
        });
    }

    crate::ui::lap("decompress+unpack+fsync");
    let manifest = read_manifest(&sdir, archive)?;
    verify_against_manifest(&manifest, &extracted).map_err(refused)?;
    let version = manifest.version.clone();
    check_version_name(&version)?;

    crate::ui::lap("manifest check");

    let versions = prefix.versions();
    fs::create_dir_all(&versions).ctx("create", &versions)?;
    let dest = prefix.version(&version);
    let mut reused = false;
    let mut repaired = false;
    if dest.symlink_metadata().is_ok() {
        if existing_is_intact(&dest, &sdir, &manifest) {
            reused = true;
        } else {
            replace_dir(&sdir, &dest, prefix.root())?;
            repaired = true;
        }
        // `staging` (now the discarded copy) is removed when dropped.
    } else {
        fs::rename(&sdir, &dest).ctx("rename into place", &dest)?;
        let _ = staging.keep();
    }
    sync_dir(&versions)?;
    crate::ui::lap("publish");
    Ok(Unpacked {
        version,
        dir: dest,
        manifest,
        archive_sha256,
        reused,
        repaired,
    })
}

/// Reads and checks `manifest.json` from the unpacked tree.
fn read_manifest(dir: &Path, archive: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST_NAME);
    let bad = |reason: String| Error::Manifest {
        archive: archive.to_path_buf(),
        reason,
    };
    let md = path
        .symlink_metadata()
        .map_err(|_| bad(format!("{TOP_DIR}/{MANIFEST_NAME} is missing")))?;
    if !md.is_file() {
        return Err(bad(format!(
            "{TOP_DIR}/{MANIFEST_NAME} is not a regular file"
        )));
    }
    if md.len() > MANIFEST_LIMIT {
        return Err(bad(format!(
            "{TOP_DIR}/{MANIFEST_NAME} is larger than {MANIFEST_LIMIT} bytes"
        )));
    }
    let text =
        fs::read_to_string(&path).map_err(|e| bad(format!("{TOP_DIR}/{MANIFEST_NAME}: {e}")))?;
    let m = Manifest::from_json(&text).map_err(|e| bad(e.to_string()))?;
    if m.format != FORMAT {
        return Err(bad(format!(
            "release format {} is not supported by this u7s-install (format {FORMAT}): use the u7s-install of that release",
            m.format
        )));
    }
    Ok(m)
}

/// True when an already installed copy of the version has the same manifest and its files
/// still match it.
fn existing_is_intact(existing: &Path, fresh: &Path, manifest: &Manifest) -> bool {
    let same_manifest = match (
        fs::read(existing.join(MANIFEST_NAME)),
        fs::read(fresh.join(MANIFEST_NAME)),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    same_manifest
        && bundle::stage_scan::scan_tree(existing)
            .is_ok_and(|files| verify_against_manifest(manifest, &Extracted { files }).is_ok())
}

/// Puts `fresh` at `dest` in place of a damaged copy: an atomic exchange where the filesystem
/// supports it, else move-aside then rename. Afterwards `fresh` holds the old copy.
fn replace_dir(fresh: &Path, dest: &Path, prefix_root: &Path) -> Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    if renameat_with(CWD, fresh, CWD, dest, RenameFlags::EXCHANGE).is_ok() {
        return Ok(());
    }
    let aside = tempfile::Builder::new()
        .prefix(TRASH_PREFIX)
        .tempdir_in(prefix_root)
        .ctx("create a trash folder in", prefix_root)?
        .keep();
    fs::rename(dest, aside.join("old")).ctx("move away", dest)?;
    fs::rename(fresh, dest).ctx("rename into place", dest)?;
    // Let the caller's staging guard find something to delete at `fresh`.
    fs::rename(aside.join("old"), fresh).ctx("move", fresh)?;
    let _ = fs::remove_dir(&aside);
    Ok(())
}
