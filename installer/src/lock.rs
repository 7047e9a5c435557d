//! The prefix lock: one `u7s-install` at a time per prefix. An exclusive `flock(2)` on
//! `PREFIX/.lock` (released by the kernel when the process dies, even by kill -9), with the
//! holder's pid written inside so a second run can name it. A prefix folder the lock itself
//! created is removed again when the lock is dropped holding nothing but the lock file (a failed
//! first install leaves no empty prefix behind).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use fs4::FileExt;

use crate::error::{Error, IoContext, Result};
use crate::prefix::Prefix;

/// Held for the whole run; dropping it releases the lock.
#[derive(Debug)]
pub struct PrefixLock {
    _file: File,
    path: PathBuf,
    /// The folders `acquire` created (the prefix, then its parents), deepest first.
    created: Vec<PathBuf>,
}

/// `dir` and those of its parents that do not exist, deepest first (what `create_dir_all`
/// would create), by `exists` (pure).
pub fn missing_dirs(dir: &Path, exists: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    dir.ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !exists(d))
        .map(Path::to_path_buf)
        .collect()
}

impl PrefixLock {
    /// Creates the prefix folder if needed and takes the lock without waiting.
    pub fn acquire(prefix: &Prefix) -> Result<PrefixLock> {
        let created = missing_dirs(prefix.root(), |d| d.symlink_metadata().is_ok());
        std::fs::create_dir_all(prefix.root()).ctx("create", prefix.root())?;
        let mut lock = PrefixLock::open(prefix).inspect_err(|_| {
            for d in &created {
                let _ = std::fs::remove_dir(d);
            }
        })?;
        lock.created = created;
        Ok(lock)
    }

    fn open(prefix: &Prefix) -> Result<PrefixLock> {
        let path = prefix.lock_file();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .ctx("open the lock file", &path)?;
        match FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(Error::Locked {
                    pid: if pid.is_empty() {
                        "unknown".into()
                    } else {
                        pid.to_string()
                    },
                    prefix: prefix.root().to_path_buf(),
                });
            }
            Err(fs4::TryLockError::Error(e)) => return Err(Error::io("lock", &path, e)),
        }
        file.set_len(0).ctx("write", &path)?;
        file.seek(SeekFrom::Start(0)).ctx("write", &path)?;
        writeln!(file, "{}", std::process::id()).ctx("write", &path)?;
        Ok(PrefixLock {
            _file: file,
            path,
            created: vec![],
        })
    }
}

impl Drop for PrefixLock {
    /// Removes the folders `acquire` created when the prefix holds only the lock file.
    fn drop(&mut self) {
        let Some(root) = self.created.first() else {
            return;
        };
        let only_lock = std::fs::read_dir(root).is_ok_and(|rd| {
            rd.flatten()
                .all(|e| Some(e.file_name().as_os_str()) == self.path.file_name())
        });
        if !only_lock || std::fs::remove_file(&self.path).is_err() {
            return;
        }
        for d in &self.created {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = Prefix::at(dir.path().join("p"));
        let held = PrefixLock::acquire(&prefix).unwrap();
        // flock locks belong to the open file description: a second open conflicts even in-process.
        let err = PrefixLock::acquire(&prefix).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!(
                "another u7s-install is running (pid {})",
                std::process::id()
            )),
            "{msg}"
        );
        drop(held);
        PrefixLock::acquire(&prefix).unwrap();
    }

    /// newcomer review L17: a failed install left a new, empty prefix holding only `.lock`.
    #[test]
    fn a_prefix_the_lock_created_goes_when_only_the_lock_is_in_it() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("a");
        let prefix = Prefix::at(top.join("b/p"));
        assert_eq!(
            missing_dirs(prefix.root(), |d| d.exists()),
            [top.join("b/p"), top.join("b"), top.clone()]
        );
        drop(PrefixLock::acquire(&prefix).unwrap());
        assert!(!top.exists(), "the created folders are gone");
        // Something else was written: the prefix stays.
        let held = PrefixLock::acquire(&prefix).unwrap();
        std::fs::write(prefix.root().join("env"), "x").unwrap();
        drop(held);
        assert!(prefix.root().join(".lock").exists() && prefix.root().join("env").exists());
        // A prefix that was there before stays, even empty.
        std::fs::remove_file(prefix.root().join("env")).unwrap();
        drop(PrefixLock::acquire(&prefix).unwrap());
        assert!(prefix.root().is_dir());
    }
}
