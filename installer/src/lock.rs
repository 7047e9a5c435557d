//! The prefix lock: one `u7s-install` at a time per prefix. An exclusive `flock(2)` on
//! `PREFIX/.lock` (released by the kernel when the process dies, even by kill -9), with the
//! holder's pid written inside so a second run can name it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;

use fs4::FileExt;

use crate::error::{Error, IoContext, Result};
use crate::prefix::Prefix;

/// Held for the whole run; dropping it releases the lock.
#[derive(Debug)]
pub struct PrefixLock {
    _file: File,
}

impl PrefixLock {
    /// Creates the prefix folder if needed and takes the lock without waiting.
    pub fn acquire(prefix: &Prefix) -> Result<PrefixLock> {
        std::fs::create_dir_all(prefix.root()).ctx("create", prefix.root())?;
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
        Ok(PrefixLock { _file: file })
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
}
