//! Turns a downloaded file into a source tree (design.md §2): a `.tar.gz`/`.tgz`, `.tar.xz`/
//! `.txz`, `.tar.bz2`/`.tbz2`/`.tbz` or `.tar` is unpacked, with its single top folder stripped
//! when it has one; any other file is placed in the tree under its name.
//!
//! Unpacking is safe: absolute paths, `..`, device nodes and fifos are refused with an error
//! naming the entry; links may not point out of the tree; setuid/setgid/sticky bits are dropped.

use std::fs;
use std::io::Read;
use std::path::{Component, Path};

use crate::error::{Error, IoContext, Result};

/// The compression of a tar archive, from its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Tar,
    Gzip,
    Xz,
    Bzip2,
}

/// `Some(kind)` for the archive names we unpack, `None` for plain files.
pub fn archive_kind(file_name: &str) -> Option<ArchiveKind> {
    let n = file_name.to_ascii_lowercase();
    if n.ends_with(".tar.gz") || n.ends_with(".tgz") {
        Some(ArchiveKind::Gzip)
    } else if n.ends_with(".tar.xz") || n.ends_with(".txz") {
        Some(ArchiveKind::Xz)
    } else if n.ends_with(".tar.bz2") || n.ends_with(".tbz2") || n.ends_with(".tbz") {
        Some(ArchiveKind::Bzip2)
    } else if n.ends_with(".tar") {
        Some(ArchiveKind::Tar)
    } else {
        None
    }
}

/// Fills `dest` (which must not exist) from the cached file `file`, whose upstream name is
/// `file_name`.
pub fn prepare(file: &Path, file_name: &str, dest: &Path) -> Result<()> {
    match archive_kind(file_name) {
        None => {
            fs::create_dir_all(dest).at(dest)?;
            let target = dest.join(file_name);
            fs::copy(file, &target).at(&target)?;
            Ok(())
        }
        Some(kind) => {
            let parent = dest.parent().unwrap_or(Path::new("."));
            let tmp = tempfile::Builder::new()
                .prefix(".unpack-")
                .tempdir_in(parent)
                .at(parent)?;
            let input = fs::File::open(file).at(file)?;
            let reader: Box<dyn Read> = match kind {
                ArchiveKind::Tar => Box::new(input),
                ArchiveKind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
                ArchiveKind::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(input)),
                ArchiveKind::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(input)),
            };
            unpack_tar(reader, tmp.path(), file)?;
            let mut top = fs::read_dir(tmp.path()).at(tmp.path())?;
            let first = top.next().transpose().at(tmp.path())?;
            let single = top.next().is_none();
            match first {
                Some(e) if single && e.file_type().at(e.path())?.is_dir() => {
                    fs::rename(e.path(), dest).at(dest)?;
                }
                _ => {
                    let kept = tmp.keep();
                    fs::rename(&kept, dest).at(dest)?;
                }
            }
            Ok(())
        }
    }
}

fn unpack_tar(reader: impl Read, dest: &Path, archive_path: &Path) -> Result<()> {
    let fail = |entry: &str, reason: &str| Error::Unpack {
        archive: archive_path.to_path_buf(),
        entry: entry.to_string(),
        reason: reason.to_string(),
    };
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(false);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    let entries = archive
        .entries()
        .map_err(|e| fail("(archive)", &e.to_string()))?;
    for entry in entries {
        crate::cancel::check()?;
        let mut entry = entry.map_err(|e| fail("(archive)", &e.to_string()))?;
        let path = entry
            .path()
            .map_err(|e| fail("(entry name)", &e.to_string()))?
            .into_owned();
        let name = path.to_string_lossy().into_owned();
        for c in path.components() {
            match c {
                Component::Normal(_) | Component::CurDir => {}
                Component::ParentDir => return Err(fail(&name, "path contains '..'")),
                Component::RootDir | Component::Prefix(_) => {
                    return Err(fail(&name, "absolute path"));
                }
            }
        }
        let kind = entry.header().entry_type();
        use tar::EntryType as T;
        match kind {
            T::Regular | T::Continuous | T::Directory | T::Symlink | T::Link | T::GNUSparse => {}
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => continue,
            T::Char | T::Block | T::Fifo => {
                return Err(fail(
                    &name,
                    "device nodes and fifos are not allowed in a source archive",
                ));
            }
            other => return Err(fail(&name, &format!("unsupported entry type {other:?}"))),
        }
        if matches!(kind, T::Symlink | T::Link)
            && let Some(target) = entry.link_name().ok().flatten()
        {
            let base = if kind == T::Symlink {
                path.parent().unwrap_or(Path::new(""))
            } else {
                Path::new("")
            };
            if !stays_inside(base, &target) {
                return Err(fail(
                    &name,
                    &format!("link target '{}' leaves the source tree", target.display()),
                ));
            }
        }
        let unpacked = entry
            .unpack_in(dest)
            .map_err(|e| fail(&name, &e.to_string()))?;
        if !unpacked {
            return Err(fail(&name, "refused: the path leaves the source tree"));
        }
        // Drop setuid/setgid/sticky and group/world write on regular files and folders.
        let target = dest.join(&path);
        if let Ok(meta) = fs::symlink_metadata(&target)
            && !meta.file_type().is_symlink()
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o7777;
            let clean = (mode & 0o755) | 0o600 | if meta.is_dir() { 0o700 } else { 0 };
            if clean != mode {
                fs::set_permissions(&target, fs::Permissions::from_mode(clean)).at(&target)?;
            }
        }
    }
    Ok(())
}

/// Whether `target`, resolved lexically from folder `base` (relative to the tree root), stays
/// inside the tree.
fn stays_inside(base: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: i64 = base
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count() as i64;
    for c in target.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::CurDir => {}
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_gz(entries: &[(&str, &[u8], u32)], links: &[(&str, &str)]) -> Vec<u8> {
        let enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut b = tar::Builder::new(enc);
        for (p, data, mode) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(*mode);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, p, *data).unwrap();
        }
        for (p, t) in links {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, p, t).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn kinds() {
        assert_eq!(archive_kind("a.tar.gz"), Some(ArchiveKind::Gzip));
        assert_eq!(archive_kind("a.TGZ"), Some(ArchiveKind::Gzip));
        assert_eq!(archive_kind("a.tar.xz"), Some(ArchiveKind::Xz));
        assert_eq!(archive_kind("a.tar.bz2"), Some(ArchiveKind::Bzip2));
        assert_eq!(archive_kind("a.tar"), Some(ArchiveKind::Tar));
        assert_eq!(archive_kind("slirp4netns-x86_64"), None);
        assert_eq!(archive_kind("a.gz"), None);
    }

    #[test]
    fn strips_a_single_top_folder_and_keeps_exec_bits() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("x.tgz");
        fs::write(
            &f,
            tar_gz(
                &[
                    ("etcd-v1/etcd", b"bin", 0o4755),
                    ("etcd-v1/README", b"r", 0o666),
                ],
                &[],
            ),
        )
        .unwrap();
        let dest = t.path().join("src");
        prepare(&f, "x.tgz", &dest).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let m = fs::metadata(dest.join("etcd"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(m, 0o755, "setuid dropped, exec kept");
        let m = fs::metadata(dest.join("README"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(m, 0o644, "world write dropped");
        assert_eq!(fs::read(dest.join("README")).unwrap(), b"r");
    }

    #[test]
    fn keeps_several_top_entries() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("x.tar.gz");
        fs::write(&f, tar_gz(&[("a/x", b"1", 0o644), ("b", b"2", 0o644)], &[])).unwrap();
        let dest = t.path().join("src");
        prepare(&f, "x.tar.gz", &dest).unwrap();
        assert!(dest.join("a/x").is_file() && dest.join("b").is_file());
    }

    #[test]
    fn plain_files_are_placed_by_name() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("cached");
        fs::write(&f, b"ELF").unwrap();
        let dest = t.path().join("src");
        prepare(&f, "slirp4netns-x86_64", &dest).unwrap();
        assert_eq!(fs::read(dest.join("slirp4netns-x86_64")).unwrap(), b"ELF");
    }

    #[test]
    fn refuses_links_out_of_the_tree() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("x.tgz");
        fs::write(
            &f,
            tar_gz(
                &[("top/a", b"1", 0o644)],
                &[("top/evil", "../../etc/passwd")],
            ),
        )
        .unwrap();
        let e = prepare(&f, "x.tgz", &t.path().join("src"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("top/evil") && e.contains("leaves the source tree"),
            "{e}"
        );
    }

    #[test]
    fn lexical_containment() {
        assert!(stays_inside(Path::new("a/b"), Path::new("../c")));
        assert!(stays_inside(Path::new("a"), Path::new("../c")));
        assert!(!stays_inside(Path::new("a"), Path::new("../../c")));
        assert!(!stays_inside(Path::new(""), Path::new("/etc")));
    }
}
