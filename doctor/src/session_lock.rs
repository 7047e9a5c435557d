//! The data-folder lock: `$XDG_DATA_HOME/usernetes/session.lock`, held (`flock`) by a session's
//! top process for its whole life and naming it (host, pid, `XDG_RUNTIME_DIR`, executable) in
//! JSON. It guards what two sessions must never share: the data (images, containers, etcd,
//! logs), also when they run with different `XDG_RUNTIME_DIR`s or on two hosts sharing a home.
//! `u7s up` takes it, `u7s reset` and `u7s-install --uninstall --purge` refuse while it is held,
//! and the doctor reports who holds it. The lock dies with its process, so a crash never
//! leaves the folder looking busy.

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The lock's file name inside the data folder.
pub const FILE_NAME: &str = "session.lock";

/// Who uses the data folder, as the holder wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The host name of the machine the session runs on.
    pub host: String,
    /// The session's top process (on `host`).
    pub pid: i32,
    /// The session's `XDG_RUNTIME_DIR` (its state and sockets live below).
    pub runtime_dir: PathBuf,
    /// The `u7s` executable the session runs (which install it belongs to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<PathBuf>,
}

impl Holder {
    /// This process, as the holder of a session with `runtime_dir`.
    pub fn this_process(runtime_dir: &Path) -> Holder {
        Holder {
            host: hostname(),
            pid: std::process::id() as i32,
            runtime_dir: runtime_dir.to_path_buf(),
            exe: std::env::current_exe().ok(),
        }
    }

    /// "host H, pid N, XDG_RUNTIME_DIR=R", for messages.
    pub fn describe(&self) -> String {
        format!(
            "host {}, pid {}, XDG_RUNTIME_DIR={}",
            self.host,
            self.pid,
            self.runtime_dir.display()
        )
    }

    /// True when the holder runs on this host (its pid means something here).
    pub fn is_local(&self) -> bool {
        self.host == hostname()
    }
}

/// The kernel's host name (`/proc/sys/kernel/hostname`), `?` when unreadable.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "?".into())
}

/// The lock file of the data folder `data`.
pub fn path(data: &Path) -> PathBuf {
    data.join(FILE_NAME)
}

/// The held lock; released when dropped or when the process ends.
#[derive(Debug)]
pub struct Lock {
    _file: Flock<File>,
}

/// Why the lock could not be taken.
#[derive(Debug)]
pub enum Busy {
    /// Another live process holds it; what it wrote (`None`: unreadable or not yet written).
    Held(Option<Holder>),
    /// The file could not be opened or locked.
    Io(std::io::Error),
}

fn read_holder(f: &mut File) -> Option<Holder> {
    let mut text = String::new();
    f.seek(SeekFrom::Start(0)).ok()?;
    f.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// `flock` without waiting: the locked file, or the file back when another holds it.
fn try_flock(f: File, exclusive: bool) -> std::io::Result<Result<Flock<File>, File>> {
    let arg = if exclusive {
        FlockArg::LockExclusiveNonblock
    } else {
        FlockArg::LockSharedNonblock
    };
    match Flock::lock(f, arg) {
        Ok(l) => Ok(Ok(l)),
        Err((f, nix::errno::Errno::EWOULDBLOCK)) => Ok(Err(f)),
        Err((_, e)) => Err(e.into()),
    }
}

/// Takes the lock of data folder `data` (which must exist) for `holder` and records it in the
/// file; `Busy::Held` names the live holder.
pub fn acquire(data: &Path, holder: &Holder) -> Result<Lock, Busy> {
    let p = path(data);
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&p)
        .map_err(Busy::Io)?;
    // A prober holds a shared lock for an instant: retry briefly before calling it busy.
    let mut attempt = 0;
    loop {
        match try_flock(f, true).map_err(Busy::Io)? {
            Ok(mut l) => {
                let text = serde_json::to_string(holder).expect("a holder serializes");
                l.set_len(0).map_err(Busy::Io)?;
                l.seek(SeekFrom::Start(0)).map_err(Busy::Io)?;
                l.write_all(text.as_bytes()).map_err(Busy::Io)?;
                return Ok(Lock { _file: l });
            }
            Err(back) => f = back,
        }
        let seen = read_holder(&mut f);
        attempt += 1;
        if seen.is_some() || attempt == 20 {
            return Err(Busy::Held(seen));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The live holder of data folder `data`, if any (a record left by a dead process is not one).
pub fn holder(data: &Path) -> std::io::Result<Option<Holder>> {
    let f = match File::open(path(data)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut f = match try_flock(f, false)? {
        // Nobody holds it; the shared lock is released at once.
        Ok(_shared) => return Ok(None),
        Err(f) => f,
    };
    Ok(Some(read_holder(&mut f).unwrap_or(Holder {
        host: "?".into(),
        pid: 0,
        runtime_dir: PathBuf::from("?"),
        exe: None,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pid: i32) -> Holder {
        Holder {
            host: "node1".into(),
            pid,
            runtime_dir: "/run/user/1000".into(),
            exe: Some("/home/a/.local/share/usernetes/versions/1/bin/u7s".into()),
        }
    }

    #[test]
    fn held_until_dropped_and_names_the_holder() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(holder(d.path()).unwrap(), None, "no file: nobody");
        let lock = acquire(d.path(), &h(42)).unwrap();
        // flock is per open file: a second open in this process conflicts like another process.
        assert_eq!(holder(d.path()).unwrap(), Some(h(42)));
        match acquire(d.path(), &h(43)) {
            Err(Busy::Held(Some(who))) => assert_eq!(who, h(42)),
            other => panic!("expected busy: {other:?}"),
        }
        drop(lock);
        assert_eq!(holder(d.path()).unwrap(), None, "a dead holder's record");
        let _again = acquire(d.path(), &h(44)).unwrap();
        assert_eq!(holder(d.path()).unwrap().unwrap().pid, 44);
    }

    #[test]
    fn describes_where_the_session_runs() {
        assert_eq!(
            h(7).describe(),
            "host node1, pid 7, XDG_RUNTIME_DIR=/run/user/1000"
        );
    }
}
