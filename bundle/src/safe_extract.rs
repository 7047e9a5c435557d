//! The safe streaming reader the installer extracts releases with, and the check of what it
//! wrote against `manifest.json`.
//!
//! The policy (installer-anchors §2.6) is ours, not the tar crate's unpack defaults: every
//! entry is checked before anything is written and a refused entry stops the extraction with
//! [`Error::UnsafeEntry`] naming it. Accepted: directories (0755), regular files (0755 or
//! 0644) and symlinks whose target stays inside the destination, all under the single top
//! folder, each at most once, each after its parent folder. Files are created with
//! `O_CREAT|O_EXCL|O_NOFOLLOW` and hashed while written; no symlink is ever followed: a path
//! whose parent is a symlink is refused, and parent folders are re-checked on disk with
//! `lstat` before anything is created in them.

use std::collections::HashMap;
use std::fs::{self, DirBuilder, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use tar::EntryType;

use crate::bzip::ParallelBzDecoder;
use crate::checksums::{HashingReader, HashingWriter};
use crate::durable::Syncer;
use crate::manifest::Manifest;
use crate::manifest::{FileEntry, FileKind, MANIFEST_NAME, MODE_EXEC, MODE_FILE, MODE_SYMLINK};
use crate::{Error, Result};

/// Options for [`extract_tar`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtractOptions {
    /// The single top folder every entry must sit in ("usernetes"); it is stripped.
    pub top: String,
    /// Make the tree durable: fsync each file as soon as it is written (on background threads,
    /// [`crate::durable`]) and every folder (`dest` included) at the end; when
    /// [`extract_tar`] returns Ok, everything it wrote is on disk.
    pub sync: bool,
}

/// What was extracted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extracted {
    /// Every entry written, paths relative to the top folder (manifest.json included), sorted
    /// by path; sha256 computed while writing.
    pub files: Vec<FileEntry>,
}

/// How many symlinks one resolution may pass through before it is called a loop.
const MAX_LINK_HOPS: usize = 40;

/// Reads a (decompressed) tar stream and writes it under `dest` (which must exist and be empty),
/// stripping the top folder: `usernetes/bin/x` -> `dest/bin/x`. Refuses, with `Error::UnsafeEntry { entry, reason }`:
/// absolute paths, `..`, entries outside the single top folder, hard links, symlinks whose target leaves
/// `dest` (resolved lexically from the link's folder), device nodes, fifos, sockets, setuid/setgid/sticky,
/// group/world-writable modes, duplicate entries. Never follows a symlink while writing (a path whose
/// parent is a symlink is refused). Modes written as in the archive (0755/0644 only accepted).
///
/// The stream is read to its end: bytes after the end-of-archive marker must be zeros.
pub fn extract_tar<R: Read>(tar: R, dest: &Path, opts: &ExtractOptions) -> Result<Extracted> {
    check_dest(dest)?;
    let mut archive = tar::Archive::new(tar);
    let mut tree: HashMap<String, Node> = HashMap::new();
    let mut top_seen = false;
    let mut files = Vec::new();
    let mut copy_buf = vec![0u8; 256 << 10];
    let mut last = String::from("(start of archive)");
    let read_err = |last: &str, source| Error::Stream {
        context: format!("reading the archive after entry {last:?}"),
        source,
    };
    let syncer = if opts.sync {
        Some(Syncer::new()?)
    } else {
        None
    };
    let mut dirs = vec![dest.to_path_buf()];
    let entries = archive.entries().map_err(|e| read_err(&last, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| read_err(&last, e))?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let refuse = |reason: String| Error::UnsafeEntry {
            entry: name.clone(),
            reason,
        };
        let header = entry.header();
        let kind = entry_kind(header.entry_type()).map_err(refuse)?;
        let rel = split_name(&entry.path_bytes(), &opts.top, kind).map_err(refuse)?;
        let size = header.size().map_err(|e| read_err(&last, e))?;
        let mode = header.mode().map_err(|e| read_err(&last, e))? & 0o7777;
        if kind != FileKind::File && size != 0 {
            return Err(refuse(format!(
                "a {kind:?} entry must not carry data ({size} bytes)"
            )));
        }
        if kind != FileKind::Symlink {
            check_mode(kind, mode).map_err(refuse)?;
        }
        let Some(rel) = rel else {
            // The top folder itself: `dest` stands for it.
            if top_seen {
                return Err(refuse("duplicate entry".into()));
            }
            top_seen = true;
            last = name;
            continue;
        };
        if tree.contains_key(&rel) {
            return Err(refuse("duplicate entry".into()));
        }
        check_parents(&rel, &tree).map_err(refuse)?;
        check_parents_on_disk(dest, &rel).map_err(refuse)?;
        let path = dest.join(&rel);
        let record = match kind {
            FileKind::Dir => {
                DirBuilder::new()
                    .mode(MODE_EXEC)
                    .create(&path)
                    .map_err(|e| Error::io("create folder", &path, e))?;
                set_mode_nofollow(&path, mode, libc::O_DIRECTORY)?;
                tree.insert(rel.clone(), Node::Dir);
                dirs.push(path.clone());
                FileEntry {
                    path: rel,
                    kind,
                    size: 0,
                    mode,
                    sha256: None,
                    target: None,
                }
            }
            FileKind::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                let target = check_link_target(&rel, &target).map_err(refuse)?;
                std::os::unix::fs::symlink(&target, &path)
                    .map_err(|e| Error::io("create symlink", &path, e))?;
                tree.insert(rel.clone(), Node::Symlink(target.clone()));
                FileEntry {
                    path: rel,
                    kind,
                    size: 0,
                    mode: MODE_SYMLINK,
                    sha256: None,
                    target: Some(target),
                }
            }
            FileKind::File => {
                let file = File::options()
                    .write(true)
                    .create_new(true)
                    .mode(mode)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .open(&path)
                    .map_err(|e| Error::io("create", &path, e))?;
                let mut out = HashingWriter::new(file);
                let written = copy(&mut entry, &mut out, &mut copy_buf).map_err(|e| match e {
                    Copy::Read(source) => read_err(&name, source),
                    Copy::Write(source) => Error::io("write", &path, source),
                })?;
                if written != size {
                    return Err(Error::Stream {
                        context: format!("reading entry {name:?}"),
                        source: io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("archive ends inside the entry ({written} of {size} bytes)"),
                        ),
                    });
                }
                let (file, sha256, _) = out.finish();
                file.set_permissions(fs::Permissions::from_mode(mode))
                    .map_err(|e| Error::io("set permissions of", &path, e))?;
                if let Some(syncer) = &syncer {
                    syncer.sync(path.clone(), file);
                }
                tree.insert(rel.clone(), Node::File);
                FileEntry {
                    path: rel,
                    kind,
                    size,
                    mode,
                    sha256: Some(sha256),
                    target: None,
                }
            }
        };
        files.push(record);
        last = name;
    }
    drain_end(archive.into_inner())?;
    check_link_chains(&tree, &opts.top)?;
    if let Some(syncer) = syncer {
        syncer.finish(&dirs)?;
    }
    files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(Extracted { files })
}

/// Convenience: bzip2 archive file -> ParallelBzDecoder -> extract_tar. Also returns the archive sha256
/// computed while reading (HashingReader under the decoder).
pub fn extract_archive(
    archive: &Path,
    dest: &Path,
    opts: &ExtractOptions,
    threads: usize,
) -> Result<(Extracted, String)> {
    let file = File::open(archive).map_err(|e| Error::io("open", archive, e))?;
    let mut decoder = ParallelBzDecoder::new(HashingReader::new(file), threads);
    let extracted = extract_tar(&mut decoder, dest, opts).map_err(|e| match e {
        Error::Stream { context, source } => {
            let what = format!("{}: {context}", archive.display());
            match source.get_ref().map(|inner| inner.to_string()) {
                Some(message) if message.starts_with("bzip2:") => Error::Bzip2(format!(
                    "{}: {}",
                    archive.display(),
                    message.trim_start_matches("bzip2: ")
                )),
                _ => Error::Stream {
                    context: what,
                    source,
                },
            }
        }
        other => other,
    })?;
    let (sha256, _) = decoder.into_inner().finish();
    Ok((extracted, sha256))
}

/// Compare what was extracted with the manifest: same set of paths, sizes, modes, sha256, link targets.
/// Error lists the first differences (missing / extra / changed, with path).
pub fn verify_against_manifest(manifest: &Manifest, extracted: &Extracted) -> Result<()> {
    const SHOWN: usize = 20;
    let listed: HashMap<&str, &FileEntry> = manifest
        .files
        .iter()
        .map(|f| (f.path.as_str(), f))
        .collect();
    let found: HashMap<&str, &FileEntry> = extracted
        .files
        .iter()
        .filter(|f| f.path != MANIFEST_NAME)
        .map(|f| (f.path.as_str(), f))
        .collect();
    let mut differences = Vec::new();
    for want in &manifest.files {
        let Some(got) = found.get(want.path.as_str()) else {
            differences.push(format!("missing: {}", want.path));
            continue;
        };
        let mut changed = Vec::new();
        if got.kind != want.kind {
            changed.push(format!("kind {:?} (manifest: {:?})", got.kind, want.kind));
        }
        if got.size != want.size {
            changed.push(format!("size {} (manifest: {})", got.size, want.size));
        }
        if got.mode != want.mode {
            changed.push(format!("mode {:o} (manifest: {:o})", got.mode, want.mode));
        }
        if got.sha256 != want.sha256 {
            changed.push(format!(
                "sha256 {} (manifest: {})",
                got.sha256.as_deref().unwrap_or("none"),
                want.sha256.as_deref().unwrap_or("none")
            ));
        }
        if got.target != want.target {
            changed.push(format!(
                "link target {:?} (manifest: {:?})",
                got.target.as_deref().unwrap_or(""),
                want.target.as_deref().unwrap_or("")
            ));
        }
        if !changed.is_empty() {
            differences.push(format!("changed: {}: {}", want.path, changed.join(", ")));
        }
    }
    for got in &extracted.files {
        if got.path != MANIFEST_NAME && !listed.contains_key(got.path.as_str()) {
            differences.push(format!("extra: {}", got.path));
        }
    }
    if differences.is_empty() {
        return Ok(());
    }
    let total = differences.len();
    if total > SHOWN {
        differences.truncate(SHOWN);
        differences.push(format!("... and {} more", total - SHOWN));
    }
    Err(Error::ManifestMismatch { differences })
}

/// What the extraction wrote at a path, for the link and parent checks.
enum Node {
    Dir,
    File,
    Symlink(String),
}

fn check_dest(dest: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(dest).map_err(|e| Error::io("inspect", dest, e))?;
    if !meta.is_dir() {
        return Err(Error::Stage {
            path: dest.to_path_buf(),
            reason: "the extraction target must be an existing folder (not a symlink)".into(),
        });
    }
    let mut listing = fs::read_dir(dest).map_err(|e| Error::io("list", dest, e))?;
    if listing.next().is_some() {
        return Err(Error::Stage {
            path: dest.to_path_buf(),
            reason: "the extraction target must be empty".into(),
        });
    }
    Ok(())
}

fn entry_kind(t: EntryType) -> std::result::Result<FileKind, String> {
    Ok(match t {
        EntryType::Regular => FileKind::File,
        EntryType::Directory => FileKind::Dir,
        EntryType::Symlink => FileKind::Symlink,
        EntryType::Link => return Err("hard links are not allowed".into()),
        EntryType::Char => return Err("character device nodes are not allowed".into()),
        EntryType::Block => return Err("block device nodes are not allowed".into()),
        EntryType::Fifo => return Err("fifos are not allowed".into()),
        EntryType::GNUSparse => return Err("sparse files are not allowed".into()),
        other => {
            return Err(format!(
                "entry type {:?} ({:?}) is not allowed; only files, folders and symlinks are",
                other,
                char::from(other.as_byte())
            ));
        }
    })
}

/// Checks an entry name and returns its path relative to the top folder (None for the top
/// folder itself).
fn split_name(
    raw: &[u8],
    top: &str,
    kind: FileKind,
) -> std::result::Result<Option<String>, String> {
    let name = std::str::from_utf8(raw).map_err(|_| "name is not UTF-8".to_string())?;
    if name.is_empty() {
        return Err("empty name".into());
    }
    if name.chars().any(|c| c.is_control()) {
        return Err("name contains control characters".into());
    }
    if name.starts_with('/') {
        return Err("absolute path".into());
    }
    let body = match name.strip_suffix('/') {
        Some(body) if kind == FileKind::Dir => body,
        Some(_) => return Err("name ends with '/' but the entry is not a folder".into()),
        None => name,
    };
    let mut parts = body.split('/');
    for part in body.split('/') {
        match part {
            "" => return Err("empty path component ('//')".into()),
            "." => return Err("'.' path component".into()),
            ".." => return Err("'..' path component".into()),
            _ => {}
        }
    }
    if parts.next() != Some(top) {
        return Err(format!("outside the top folder {top}/"));
    }
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty() {
        if kind != FileKind::Dir {
            return Err(format!("{top} must be a folder"));
        }
        return Ok(None);
    }
    Ok(Some(rest.join("/")))
}

fn check_mode(kind: FileKind, mode: u32) -> std::result::Result<(), String> {
    if mode & 0o4000 != 0 {
        return Err(format!("setuid bit set (mode {mode:04o})"));
    }
    if mode & 0o2000 != 0 {
        return Err(format!("setgid bit set (mode {mode:04o})"));
    }
    if mode & 0o1000 != 0 {
        return Err(format!("sticky bit set (mode {mode:04o})"));
    }
    if mode & 0o022 != 0 {
        return Err(format!("group- or world-writable (mode {mode:04o})"));
    }
    let allowed = match kind {
        FileKind::Dir => mode == MODE_EXEC,
        _ => mode == MODE_EXEC || mode == MODE_FILE,
    };
    if !allowed {
        let want = if kind == FileKind::Dir {
            "0755"
        } else {
            "0755 or 0644"
        };
        return Err(format!("mode {mode:04o} is not {want}"));
    }
    Ok(())
}

/// Every parent of `rel` must be a folder extracted earlier (not a symlink, not missing).
fn check_parents(rel: &str, tree: &HashMap<String, Node>) -> std::result::Result<(), String> {
    let mut end = 0;
    while let Some(i) = rel[end..].find('/') {
        let parent = &rel[..end + i];
        match tree.get(parent) {
            Some(Node::Dir) => {}
            Some(Node::Symlink(_)) => return Err(format!("its parent {parent} is a symlink")),
            Some(Node::File) => return Err(format!("its parent {parent} is a file")),
            None => {
                return Err(format!(
                    "its parent folder {parent} does not come before it"
                ));
            }
        }
        end += i + 1;
    }
    Ok(())
}

/// The same, on disk: each parent component must be a real folder (lstat, no following).
fn check_parents_on_disk(dest: &Path, rel: &str) -> std::result::Result<(), String> {
    let mut at = dest.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for part in &parts[..parts.len() - 1] {
        at.push(part);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => return Err(format!("{} is not a folder on disk", at.display())),
            Err(e) => return Err(format!("{}: {e}", at.display())),
        }
    }
    Ok(())
}

/// A symlink target must be relative and, applied to the link's folder, stay inside the
/// destination (lexically). Returns the target as a string.
fn check_link_target(rel: &str, target: &[u8]) -> std::result::Result<String, String> {
    let target = std::str::from_utf8(target).map_err(|_| "link target is not UTF-8".to_string())?;
    if target.is_empty() {
        return Err("empty link target".into());
    }
    if target.chars().any(|c| c.is_control()) {
        return Err("link target contains control characters".into());
    }
    if target.starts_with('/') {
        return Err(format!("link target {target:?} is absolute"));
    }
    let mut depth: Vec<&str> = rel.split('/').collect();
    depth.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if depth.pop().is_none() {
                    return Err(format!("link target {target:?} leaves the destination"));
                }
            }
            name => depth.push(name),
        }
    }
    Ok(target.to_string())
}

/// After extraction: resolving every symlink through the other symlinks of the tree must stay
/// inside the destination (catches `a -> x/..` chains a lexical check of one link misses).
fn check_link_chains(tree: &HashMap<String, Node>, top: &str) -> Result<()> {
    let mut links: Vec<&String> = tree
        .iter()
        .filter(|(_, n)| matches!(n, Node::Symlink(_)))
        .map(|(p, _)| p)
        .collect();
    links.sort();
    for link in links {
        resolve_inside(link, tree).map_err(|reason| Error::UnsafeEntry {
            entry: format!("{top}/{link}"),
            reason,
        })?;
    }
    Ok(())
}

fn resolve_inside(link: &str, tree: &HashMap<String, Node>) -> std::result::Result<(), String> {
    let Some(Node::Symlink(target)) = tree.get(link) else {
        return Ok(());
    };
    let mut stack: Vec<String> = link.split('/').map(String::from).collect();
    stack.pop();
    let mut queue: std::collections::VecDeque<String> =
        target.split('/').map(String::from).collect();
    let mut hops = 0;
    while let Some(part) = queue.pop_front() {
        match part.as_str() {
            "" | "." => {}
            ".." => {
                if stack.pop().is_none() {
                    return Err(format!(
                        "link target {target:?} leaves the destination through other symlinks"
                    ));
                }
            }
            _ => {
                stack.push(part);
                if let Some(Node::Symlink(next)) = tree.get(&stack.join("/")) {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return Err(format!("link target {target:?} is a symlink loop"));
                    }
                    stack.pop();
                    if next.starts_with('/') {
                        return Err(format!("link target {target:?} reaches an absolute link"));
                    }
                    for p in next.split('/').rev() {
                        queue.push_front(p.to_string());
                    }
                }
            }
        }
    }
    Ok(())
}

fn set_mode_nofollow(path: &Path, mode: u32, extra_flags: i32) -> Result<()> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | extra_flags)
        .open(path)
        .map_err(|e| Error::io("open", path, e))?;
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("set permissions of", path, e))
}

enum Copy {
    Read(io::Error),
    Write(io::Error),
}

fn copy(
    from: &mut impl Read,
    to: &mut impl Write,
    buf: &mut [u8],
) -> std::result::Result<u64, Copy> {
    let mut total = 0;
    loop {
        let n = match from.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Copy::Read(e)),
        };
        to.write_all(&buf[..n]).map_err(Copy::Write)?;
        total += n as u64;
    }
}

/// Reads what follows the end-of-archive marker to the end of the stream (so a decoder under it
/// checks the rest of its input) and requires it to be zeros.
fn drain_end<R: Read>(mut rest: R) -> Result<()> {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match rest.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(Error::Stream {
                    context: "reading the end of the archive".into(),
                    source,
                });
            }
        };
        if buf[..n].iter().any(|&b| b != 0) {
            return Err(Error::UnsafeEntry {
                entry: "(after the end-of-archive marker)".into(),
                reason: "data follows the end of the archive".into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let top = "usernetes";
        assert_eq!(split_name(b"usernetes/", top, FileKind::Dir), Ok(None));
        assert_eq!(split_name(b"usernetes", top, FileKind::Dir), Ok(None));
        assert_eq!(
            split_name(b"usernetes/bin/x", top, FileKind::File),
            Ok(Some("bin/x".into()))
        );
        for (bad, why) in [
            (&b"/usernetes/x"[..], "absolute"),
            (b"usernetes/../x", "'..'"),
            (b"usernetes/a/..", "'..'"),
            (b"./usernetes/x", "'.'"),
            (b"usernetes//x", "empty"),
            (b"other/x", "outside"),
            (b"usernetes-x/y", "outside"),
            (b"usernetes/x\n", "control"),
            (b"usernetes/\xff", "UTF-8"),
            (b"usernetes/x/", "not a folder"),
            (b"usernetes", "must be a folder"),
        ] {
            let kind = FileKind::File;
            let err = split_name(bad, top, kind).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn link_targets() {
        assert!(check_link_target("bin/x", b"y").is_ok());
        assert!(check_link_target("bin/x", b"../share/y").is_ok());
        assert!(check_link_target("bin/x", b"./../bin/./y").is_ok());
        assert!(check_link_target("x", b"..").is_err());
        assert!(check_link_target("bin/x", b"../..").is_err());
        assert!(check_link_target("bin/x", b"../../usernetes/bin").is_err());
        assert!(check_link_target("x", b"/etc/passwd").is_err());
        assert!(check_link_target("x", b"").is_err());
    }

    #[test]
    fn modes() {
        assert!(check_mode(FileKind::File, 0o755).is_ok());
        assert!(check_mode(FileKind::File, 0o644).is_ok());
        assert!(check_mode(FileKind::Dir, 0o755).is_ok());
        assert!(check_mode(FileKind::Dir, 0o644).is_err());
        assert!(check_mode(FileKind::File, 0o600).is_err());
        assert!(
            check_mode(FileKind::File, 0o4755)
                .unwrap_err()
                .contains("setuid")
        );
        assert!(
            check_mode(FileKind::File, 0o2755)
                .unwrap_err()
                .contains("setgid")
        );
        assert!(
            check_mode(FileKind::Dir, 0o1755)
                .unwrap_err()
                .contains("sticky")
        );
        assert!(
            check_mode(FileKind::File, 0o666)
                .unwrap_err()
                .contains("writable")
        );
    }

    #[test]
    fn link_chains() {
        let mut tree = HashMap::new();
        tree.insert("d".to_string(), Node::Dir);
        tree.insert("d/s".to_string(), Node::Symlink("..".into()));
        tree.insert("ok".to_string(), Node::Symlink("d/s/d".into()));
        assert!(resolve_inside("ok", &tree).is_ok());
        assert!(resolve_inside("d/s", &tree).is_ok());
        tree.insert("t".to_string(), Node::Symlink("d/s/..".into()));
        assert!(resolve_inside("t", &tree).unwrap_err().contains("leaves"));
        tree.insert("l1".to_string(), Node::Symlink("l2".into()));
        tree.insert("l2".to_string(), Node::Symlink("l1".into()));
        assert!(resolve_inside("l1", &tree).unwrap_err().contains("loop"));
    }
}
