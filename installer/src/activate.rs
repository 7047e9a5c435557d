//! The `current` symlink: reads which version is active and switches it atomically (a new
//! symlink `current.tmp-*` with the relative target `versions/<version>`, renamed over
//! `current`, then an fsync of the prefix). Readers always see the old or the new target.

use crate::error::{Error, IoContext, Result};
use crate::fsutil::sync_dir;
use crate::prefix::{CURRENT_TMP_PREFIX, Prefix};

/// The version `current` points to, or `None` when there is no `current`.
pub fn current_version(prefix: &Prefix) -> Result<Option<String>> {
    let cur = prefix.current();
    match cur.symlink_metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("stat", &cur, e)),
        Ok(md) if !md.file_type().is_symlink() => return Err(Error::CurrentNotSymlink(cur)),
        Ok(_) => {}
    }
    let target = std::fs::read_link(&cur).ctx("read the link", &cur)?;
    Ok(target.file_name().map(|n| n.to_string_lossy().into_owned()))
}

/// Points `current` at `versions/<version>` (which must exist) in one rename.
pub fn activate(prefix: &Prefix, version: &str) -> Result<()> {
    let dir = prefix.version(version);
    if !dir.is_dir() {
        return Err(Error::io(
            "activate",
            &dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "version folder missing"),
        ));
    }
    // Refuse to replace something that is not our symlink.
    current_version(prefix)?;
    let target = Prefix::current_target(version);
    let tmp = tempfile::Builder::new()
        .prefix(CURRENT_TMP_PREFIX)
        .make_in(prefix.root(), |p| std::os::unix::fs::symlink(&target, p))
        .ctx("create a symlink in", prefix.root())?;
    let cur = prefix.current();
    tmp.persist(&cur)
        .map_err(|e| Error::io("rename over", &cur, e.error))?;
    sync_dir(prefix.root())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn swap_is_relative_and_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = Prefix::at(d.path());
        std::fs::create_dir_all(p.version("1")).unwrap();
        std::fs::create_dir_all(p.version("2")).unwrap();
        assert_eq!(current_version(&p).unwrap(), None);
        activate(&p, "1").unwrap();
        assert_eq!(current_version(&p).unwrap().as_deref(), Some("1"));
        activate(&p, "2").unwrap();
        assert_eq!(
            std::fs::read_link(p.current()).unwrap(),
            Path::new("versions/2")
        );
        assert!(activate(&p, "3").is_err());
        assert_eq!(current_version(&p).unwrap().as_deref(), Some("2"));
        // no temporary links left
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        assert!(
            names.iter().all(|n| !n.starts_with("current.tmp")),
            "{names:?}"
        );
    }

    #[test]
    fn refuses_a_real_current_folder() {
        let d = tempfile::tempdir().unwrap();
        let p = Prefix::at(d.path());
        std::fs::create_dir_all(p.version("1")).unwrap();
        std::fs::create_dir_all(p.current()).unwrap();
        assert!(matches!(
            activate(&p, "1").unwrap_err(),
            Error::CurrentNotSymlink(_)
        ));
    }
}
