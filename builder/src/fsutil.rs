//! Small filesystem helpers shared by the stages: tree copy (symlinks kept, modes kept), tree
//! hashing for path sources, forced removal (Go leaves read-only module caches behind), and
//! atomic file writes.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use crate::error::{Error, IoContext, Result};

/// Folder names always skipped when a local `path` source is snapshotted or hashed: VCS data
/// and build output that do not belong to the source.
pub const SKIPPED_DIRS: &[&str] = &[".git", "target"];

/// Decides which entries of a local source tree belong to it: not [`SKIPPED_DIRS`], not the
/// builder's own files (`exclude`: the cache, the archive; `.u7s-build-*` work folders), and,
/// when the tree sits in a git work tree, nothing git ignores.
pub struct SourceFilter {
    repo: Option<(git2::Repository, PathBuf)>,
    exclude: Vec<PathBuf>,
}

impl SourceFilter {
    /// A filter for the tree at `root`; `exclude` may name paths that do not exist (yet).
    pub fn new(root: &Path, exclude: &[PathBuf]) -> SourceFilter {
        let repo = git2::Repository::discover(root).ok().and_then(|r| {
            let wd = r.workdir()?.canonicalize().ok()?;
            Some((r, wd))
        });
        SourceFilter {
            repo,
            exclude: exclude.iter().map(|p| absolute(p)).collect(),
        }
    }

    fn keep(&self, entry: &walkdir::DirEntry) -> bool {
        if entry.depth() == 0 {
            return true;
        }
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(".u7s-build-"))
        {
            return false;
        }
        if !self.exclude.is_empty() && self.exclude.contains(&absolute(entry.path())) {
            return false;
        }
        if entry.file_type().is_dir()
            && entry
                .file_name()
                .to_str()
                .is_some_and(|n| SKIPPED_DIRS.contains(&n))
        {
            return false;
        }
        if let Some((repo, wd)) = &self.repo
            && let Ok(abs) = entry.path().canonicalize()
            && let Ok(rel) = abs.strip_prefix(wd)
            && repo.is_path_ignored(rel).unwrap_or(false)
        {
            return false;
        }
        true
    }
}

/// `path` made absolute with symlinks resolved; for a path that does not exist, its parent is
/// resolved instead.
pub fn absolute(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => absolute(parent).join(name),
        _ => std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf()),
    }
}

/// Copies the tree `src` into `dst` (created), keeping symlinks as links and permission bits.
/// With a filter, what it rejects is left out.
pub fn copy_tree(src: &Path, dst: &Path, filter: Option<&SourceFilter>) -> Result<()> {
    fs::create_dir_all(dst).at(dst)?;
    let walker = WalkDir::new(src).follow_links(false).sort_by_file_name();
    for entry in walker
        .into_iter()
        .filter_entry(|e| filter.is_none_or(|f| f.keep(e)))
    {
        let entry = entry.map_err(|e| walk_error(src, e))?;
        let rel = entry
            .path()
            .strip_prefix(src)
            .expect("walkdir stays under its root");
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = dst.join(rel);
        let ft = entry.file_type();
        if ft.is_dir() {
            fs::create_dir_all(&target).at(&target)?;
            let mode = entry.metadata().map_err(|e| walk_error(src, e))?.mode() & 0o7777;
            fs::set_permissions(&target, fs::Permissions::from_mode(mode | 0o700)).at(&target)?;
        } else if ft.is_symlink() {
            let link = fs::read_link(entry.path()).at(entry.path())?;
            std::os::unix::fs::symlink(&link, &target).at(&target)?;
        } else if ft.is_file() {
            fs::copy(entry.path(), &target).at(&target)?;
        } else {
            return Err(Error::Stage(format!(
                "{}: not a regular file, folder or symlink",
                entry.path().display()
            )));
        }
    }
    Ok(())
}

fn walk_error(root: &Path, e: walkdir::Error) -> Error {
    let path = e.path().unwrap_or(root).to_path_buf();
    Error::io(path, e.into())
}

/// sha256 over a tree's structure and content (paths, kinds, executable bit, link targets, file
/// bytes), in sorted order, of what `filter` keeps: the pin of a `path` source.
pub fn hash_tree(root: &Path, filter: &SourceFilter) -> Result<String> {
    let mut h = Sha256::new();
    let walker = WalkDir::new(root).follow_links(false).sort_by_file_name();
    for entry in walker.into_iter().filter_entry(|e| filter.keep(e)) {
        let entry = entry.map_err(|e| walk_error(root, e))?;
        let rel = entry.path().strip_prefix(root).expect("under root");
        let rel = rel.to_string_lossy();
        let ft = entry.file_type();
        if ft.is_dir() {
            h.update(format!("d {rel}\0"));
        } else if ft.is_symlink() {
            let link = fs::read_link(entry.path()).at(entry.path())?;
            h.update(format!("l {rel}\0{}\0", link.to_string_lossy()));
        } else if ft.is_file() {
            let meta = entry.metadata().map_err(|e| walk_error(root, e))?;
            let exec = meta.mode() & 0o111 != 0;
            h.update(format!("f {rel}\0{}\0{}\0", exec as u8, meta.len()));
            let mut f = fs::File::open(entry.path()).at(entry.path())?;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = f.read(&mut buf).at(entry.path())?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// Removes a tree even when parts of it are read-only (Go module caches are); absent is fine
/// ([`fsx::remove_any`]).
pub fn remove_tree(path: &Path) -> Result<()> {
    fsx::remove_any(path)
        .map(drop)
        .map_err(|e| Error::io(e.path, e.source))
}

/// Writes `data` to `path` with permission bits `mode`, atomically and durably
/// ([`fsx::write_atomic`]: temp file in the same folder, fsync, rename, fsync of the folder).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    fsx::write_atomic(path, data, mode).map_err(|e| Error::io(e.path, e.source))
}

/// sha256 of a file's bytes, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = fs::File::open(path).at(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).at(path)?;
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_and_hash_skip_build_dirs_and_keep_links() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        fs::create_dir_all(src.join("a/target")).unwrap();
        fs::create_dir_all(src.join(".git")).unwrap();
        fs::write(src.join("a/x.sh"), "echo\n").unwrap();
        fs::set_permissions(src.join("a/x.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(src.join("a/target/big"), "junk").unwrap();
        std::os::unix::fs::symlink("a/x.sh", src.join("link")).unwrap();
        let h1 = hash_tree(&src, &SourceFilter::new(&src, &[])).unwrap();
        fs::write(src.join("a/target/big"), "other junk").unwrap();
        assert_eq!(
            h1,
            hash_tree(&src, &SourceFilter::new(&src, &[])).unwrap(),
            "target/ is not part of the hash"
        );
        fs::write(src.join("a/x.sh"), "echo 2\n").unwrap();
        assert_ne!(h1, hash_tree(&src, &SourceFilter::new(&src, &[])).unwrap());

        let dst = t.path().join("dst");
        copy_tree(&src, &dst, Some(&SourceFilter::new(&src, &[]))).unwrap();
        assert!(!dst.join("a/target").exists());
        assert!(!dst.join(".git").exists());
        assert_eq!(
            fs::read_link(dst.join("link")).unwrap(),
            Path::new("a/x.sh")
        );
        assert_eq!(
            fs::metadata(dst.join("a/x.sh")).unwrap().mode() & 0o777,
            0o755
        );
        assert_eq!(
            hash_tree(&src, &SourceFilter::new(&src, &[])).unwrap(),
            hash_tree(&dst, &SourceFilter::new(&dst, &[])).unwrap()
        );
    }

    #[test]
    fn git_ignored_files_are_not_part_of_a_path_source() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("ws");
        git2::Repository::init(&src).unwrap();
        fs::write(src.join(".gitignore"), "*.tbz\n/out/\n").unwrap();
        fs::write(src.join("main.rs"), "fn main() {}\n").unwrap();
        let h1 = hash_tree(&src, &SourceFilter::new(&src, &[])).unwrap();
        fs::write(src.join("usernetes-x86_64.tbz"), "archive").unwrap();
        fs::create_dir_all(src.join("out")).unwrap();
        fs::write(src.join("out/x"), "x").unwrap();
        assert_eq!(
            h1,
            hash_tree(&src, &SourceFilter::new(&src, &[])).unwrap(),
            "ignored files change nothing"
        );
        let dst = t.path().join("copy");
        copy_tree(&src, &dst, Some(&SourceFilter::new(&src, &[]))).unwrap();
        assert!(dst.join("main.rs").is_file() && dst.join(".gitignore").is_file());
        assert!(!dst.join("usernetes-x86_64.tbz").exists() && !dst.join("out").exists());
        // The builder's own files are left out even when git does not ignore them.
        let excluding = SourceFilter::new(&src, &[src.join("SHA256SUMS"), src.join("cache")]);
        fs::write(src.join("SHA256SUMS"), "x  y\n").unwrap();
        fs::create_dir_all(src.join("cache/git")).unwrap();
        fs::create_dir_all(src.join(".u7s-build-abc")).unwrap();
        assert_eq!(h1, hash_tree(&src, &excluding).unwrap());
        fs::write(src.join("new.rs"), "").unwrap();
        assert_ne!(
            h1,
            hash_tree(&src, &SourceFilter::new(&src, &[])).unwrap(),
            "untracked, not ignored files count"
        );
    }
}
