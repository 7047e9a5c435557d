//! Crash-only recovery: at the start of every locked run, remove what a killed run left in the
//! prefix (staging folders, trash folders, temporary `current` symlinks, temporary files).
//! Only names the installer itself creates are touched.

use std::fs;

use crate::error::{IoContext, Result};
use crate::fsutil::remove_any;
use crate::prefix::{CURRENT_TMP_PREFIX, Prefix, STAGING_PREFIX, TMP_FILE_PREFIX, TRASH_PREFIX};

/// True for the leftovers of a killed run.
pub fn is_stale_name(name: &str) -> bool {
    [
        STAGING_PREFIX,
        TRASH_PREFIX,
        CURRENT_TMP_PREFIX,
        TMP_FILE_PREFIX,
    ]
    .iter()
    .any(|p| name.starts_with(p) && name.len() > p.len())
}

/// Removes stale entries from the prefix and from `versions/`; returns their names.
/// Call only while holding the prefix lock.
pub fn remove_stale(prefix: &Prefix) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for dir in [
        prefix.root().to_path_buf(),
        prefix.versions(),
        prefix.downloads(),
    ] {
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(crate::error::Error::io("read", &dir, e)),
        };
        for entry in rd {
            let entry = entry.ctx("read", &dir)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_stale_name(&name) {
                remove_any(&entry.path())?;
                removed.push(name);
            }
        }
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_stale_name(".staging-abc123"));
        assert!(is_stale_name(".trash-x"));
        assert!(is_stale_name("current.tmp-q1"));
        assert!(is_stale_name(".tmp-zz"));
        assert!(!is_stale_name(".staging-"));
        assert!(!is_stale_name("current"));
        assert!(!is_stale_name("versions"));
        assert!(!is_stale_name("docker"));
        assert!(!is_stale_name("env"));
    }

    #[test]
    fn removes_only_leftovers() {
        let d = tempfile::tempdir().unwrap();
        let p = Prefix::at(d.path());
        fs::create_dir_all(d.path().join(".staging-abc/bin")).unwrap();
        fs::write(d.path().join(".staging-abc/bin/x"), b"x").unwrap();
        fs::create_dir_all(d.path().join("versions/1.0")).unwrap();
        fs::create_dir_all(d.path().join("docker")).unwrap();
        std::os::unix::fs::symlink("versions/1.0", d.path().join("current.tmp-1")).unwrap();
        std::os::unix::fs::symlink("versions/1.0", d.path().join("current")).unwrap();
        let removed = remove_stale(&p).unwrap();
        assert_eq!(removed, vec![".staging-abc", "current.tmp-1"]);
        assert!(d.path().join("versions/1.0").is_dir());
        assert!(d.path().join("docker").is_dir());
        assert!(d.path().join("current").exists());
    }
}
