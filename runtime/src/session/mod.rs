//! One session per user: the lock the top process holds for its whole life (`flock` on
//! `STATE/session.lock`, so a crashed session never looks alive), the record of its pids, the
//! detection and cleaning of a stale session, waiting until no process of a session remains
//! (the top process, and every process carrying the session's `U7S_SESSION` marker), and stop.
//!
//! The folder owns what a session *is*, seen from outside its namespaces: what it runs
//! ([`config`]), where its files live ([`paths`]), the records and status it writes
//! ([`status`]), how `u7s status` assembles them ([`inspect`]; the node's health, [`node_health`]), `u7s reset` ([`reset`]), and the
//! settings later starts remember ([`settings`]).
//! The processes that make a session are in [`crate::process`].

pub mod config;
pub mod etcd_data;
pub mod inspect;
pub mod node_health;
pub mod paths;
pub mod reset;
pub mod settings;
pub mod status;

use crate::error::{Error, Result};
use crate::host::fsutil::{ensure_dir, remove_any};
use crate::host::procfs;
use crate::session::config::SESSION_ENV;
use crate::session::paths::Paths;
use crate::session::status::{SessionFile, read_json};
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The held session lock (released when dropped or when the process dies).
#[derive(Debug)]
pub struct Lock {
    _file: Flock<File>,
}

fn open_lock(paths: &Paths) -> Result<File> {
    ensure_dir(&paths.state, 0o700)?;
    let p = paths.lock_file();
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&p)
        .map_err(|e| Error::io(p, e))
}

/// Takes the session lock; `None` when a live session holds it.
pub fn try_lock(paths: &Paths) -> Result<Option<Lock>> {
    let f = open_lock(paths)?;
    lock_file(paths, f)
}

fn lock_file(paths: &Paths, f: File) -> Result<Option<Lock>> {
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(l) => Ok(Some(Lock { _file: l })),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(Error::io(paths.lock_file(), e.into())),
    }
}

/// The environment variable naming the descriptor of the session lock that `u7s up --detach`
/// took and hands over to the background top process.
pub const LOCK_FD_ENV: &str = "U7S_SESSION_LOCK_FD";

impl Lock {
    /// Records this process as the holder: its pid, the file's only content, for
    /// [`holder_pid`].
    pub fn record_holder(&self, paths: &Paths) -> Result<()> {
        use std::io::{Seek, Write};
        let mut f: &File = &self._file;
        f.set_len(0)
            .and_then(|()| f.rewind())
            .and_then(|()| writeln!(f, "{}", std::process::id()))
            .map_err(|e| Error::io(paths.lock_file(), e))
    }

    /// Hands the lock over to a child about to be spawned: its descriptor, inheritable from
    /// now on (for the child only: call it in `pre_exec`), and the value of [`LOCK_FD_ENV`].
    pub fn fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self._file.as_raw_fd()
    }

    /// Gives up this process's hold without unlocking: the child that inherited the descriptor
    /// keeps the lock (closing one descriptor of a shared open file never releases it, an
    /// explicit unlock would).
    pub fn release_to_child(self) {
        let fd = self.fd();
        std::mem::forget(self);
        // SAFETY: `fd` was owned by the forgotten lock and is closed exactly once.
        unsafe { libc::close(fd) };
    }
}

/// The pid recorded in the lock file by its holder ([`Lock::record_holder`]), waiting a moment
/// for one that has just taken it; `None` when none is recorded.
pub fn holder_pid(paths: &Paths) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_millis(500);
    loop {
        let pid = std::fs::read_to_string(paths.lock_file())
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
            .filter(|p| *p > 0);
        if pid.is_some() || Instant::now() >= deadline {
            return pid;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The session lock for the top process: the one handed over by `u7s up --detach` (descriptor
/// in [`LOCK_FD_ENV`]) when `inherited`, else taken here; recorded with this pid. `Err`
/// [`Error::AlreadyRunning`] when another process holds it.
pub fn take_lock(paths: &Paths, inherited: bool) -> Result<Lock> {
    let fd = inherited
        .then(|| std::env::var(LOCK_FD_ENV).ok())
        .flatten()
        .and_then(|v| v.parse::<std::os::fd::RawFd>().ok());
    let lock = match fd {
        Some(fd) => {
            use std::os::fd::FromRawFd;
            // SAFETY: the parent put its lock's descriptor there for this process alone.
            let f = unsafe { File::from_raw_fd(fd) };
            // No session process after this one inherits it.
            nix::fcntl::fcntl(
                &f,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )?;
            // The same open file as the parent's: locking it again succeeds at once.
            lock_file(paths, f)?
        }
        None => try_lock(paths)?,
    };
    let lock = lock.ok_or_else(|| Error::AlreadyRunning {
        pid: holder_pid(paths),
    })?;
    lock.record_holder(paths)?;
    Ok(lock)
}

/// What is known about the session of this user.
#[derive(Debug, Clone, PartialEq)]
pub enum Liveness {
    /// Nothing recorded.
    None,
    /// A record whose top process is gone (crash, kill -9).
    Stale(SessionFile),
    /// The lock is held.
    Live(Option<SessionFile>),
}

/// Refuses when a session other than this one (another `XDG_RUNTIME_DIR`, another host sharing
/// the home) holds the data folder's lock (`doctor::session_lock`).
pub fn check_data_free(paths: &Paths) -> Result<()> {
    let holder = doctor::session_lock::holder(&paths.data)
        .map_err(|e| Error::io(doctor::session_lock::path(&paths.data), e))?;
    match holder {
        Some(h) if !(h.is_local() && h.runtime_dir == paths.runtime_dir) => Err(Error::DataInUse {
            data: paths.data.clone(),
            holder: h,
        }),
        _ => Ok(()),
    }
}

/// Takes the data folder's lock for this process (the session's top process), creating the
/// folder; refused, naming the holder, while another session uses it.
pub fn lock_data(paths: &Paths) -> Result<doctor::session_lock::Lock> {
    if !paths.data.exists() {
        ensure_dir(&paths.data, 0o700)?;
    }
    doctor::session_lock::acquire(
        &paths.data,
        &doctor::session_lock::Holder::this_process(&paths.runtime_dir),
    )
    .map_err(|b| Error::data_lock(&paths.data, b))
}

/// Looks at the lock and the record.
pub fn liveness(paths: &Paths) -> Result<Liveness> {
    let record: Option<SessionFile> = read_json(&paths.session_file()).unwrap_or(None);
    if !paths.state.exists() {
        return Ok(Liveness::None);
    }
    match try_lock(paths)? {
        None => Ok(Liveness::Live(record)),
        Some(_lock) => Ok(match record {
            Some(r) => Liveness::Stale(r),
            None => Liveness::None,
        }),
    }
}

/// Processes of session `id` still running (marked ones; the top process is checked apart).
pub fn remaining(id: &str) -> Vec<i32> {
    procfs::pids_with_env(SESSION_ENV, id)
}

/// Waits until the top process and every marked process are gone; `false` on timeout.
pub fn wait_gone(rec: &SessionFile, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let leader = procfs::alive(rec.leader_pid, rec.leader_start);
        if !leader && remaining(&rec.id).is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// SIGKILLs whatever is left of session `rec`.
pub fn kill_all(rec: &SessionFile) {
    if procfs::alive(rec.leader_pid, rec.leader_start) {
        let _ = kill(Pid::from_raw(rec.leader_pid), Signal::SIGKILL);
    }
    for p in remaining(&rec.id) {
        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
    }
}

/// Runtime files of a session, removed when it is stale.
pub fn runtime_files(paths: &Paths) -> Vec<PathBuf> {
    vec![
        paths.rootlesskit(),
        paths.status_file(),
        paths.session_file(),
        paths.docker_pid_file(),
        paths.docker_exec_root(),
        paths.containerd_state(),
        paths.crio_state(),
        paths.state.join("containers"),
    ]
}

/// Cleans what a crashed session left: its processes, then its runtime files. Returns paths
/// that could not be removed (sub-UID owned ones need a user namespace: see `reset`).
pub fn clean_stale(paths: &Paths, rec: Option<&SessionFile>) -> Vec<(PathBuf, std::io::Error)> {
    if let Some(r) = rec {
        kill_all(r);
        wait_gone(r, Duration::from_secs(5));
    }
    let mut failed = vec![];
    for p in runtime_files(paths) {
        if let Err(e) = remove_any(&p) {
            failed.push((p, e));
        }
    }
    // The Docker socket is stale only when nobody answers on it.
    let sock = paths.docker_sock();
    if sock.exists() && std::os::unix::net::UnixStream::connect(&sock).is_err() {
        let _ = std::fs::remove_file(&sock);
    }
    failed
}

/// How `stop` went.
#[derive(Debug, Clone, PartialEq)]
pub struct Stopped {
    pub id: String,
    pub took: Duration,
    /// SIGKILL was needed.
    pub forced: bool,
}

/// Stops the live session: SIGTERM to the top process, then waits until no process of the
/// session remains (SIGKILL after `timeout`). `Ok(None)` when none was running (a stale one is
/// cleaned).
pub fn stop(paths: &Paths, timeout: Duration) -> Result<Option<Stopped>> {
    let rec = match liveness(paths)? {
        Liveness::None => return Ok(None),
        Liveness::Stale(r) => {
            clean_stale(paths, Some(&r));
            return Ok(None);
        }
        Liveness::Live(None) => {
            return Err(Error::Usage(format!(
                "a session holds {} but left no record; stop its processes, then run `u7s down` again",
                paths.lock_file().display()
            )));
        }
        Liveness::Live(Some(r)) => r,
    };
    let t0 = Instant::now();
    kill(Pid::from_raw(rec.leader_pid), Signal::SIGTERM).map_err(|e| {
        Error::os(
            format!("signalling the session's top process {}", rec.leader_pid),
            e,
        )
    })?;
    let mut forced = false;
    if !wait_gone(&rec, timeout) {
        forced = true;
        kill_all(&rec);
        wait_gone(&rec, Duration::from_secs(10));
    }
    Ok(Some(Stopped {
        id: rec.id,
        took: t0.elapsed(),
        forced,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::config::{Cri, SessionConfig};
    use crate::session::paths::Env;

    fn paths(d: &std::path::Path) -> Paths {
        Paths::resolve(
            &Env {
                home: Some(d.join("home")),
                xdg_runtime_dir: Some(d.join("run")),
                xdg_data_home: None,
                xdg_config_home: None,
                uid: 0,
            },
            |_| false,
        )
        .unwrap()
    }

    fn record(pid: i32, id: &str) -> SessionFile {
        SessionFile {
            id: id.into(),
            leader_pid: pid,
            leader_start: procfs::start_time(pid),
            rootlesskit_pid: None,
            started_at: 0.0,
            config: SessionConfig {
                cri: Cri::Docker,
                kube: false,
                etcd: false,
                publish: vec![],
                cidr: "10.0.42.0/24".into(),
                rootlesskit_flags: vec![],
                k8s: Default::default(),
            },
            detached: true,
        }
    }

    #[test]
    fn lock_decides_live_or_stale() {
        let d = tempfile::tempdir().unwrap();
        let p = paths(d.path());
        assert_eq!(liveness(&p).unwrap(), Liveness::None);
        let lock = try_lock(&p).unwrap().expect("free");
        crate::session::status::write_json(&p.session_file(), &record(1, "a")).unwrap();
        // flock is per open file: a second open in this process conflicts like another process.
        assert!(try_lock(&p).unwrap().is_none());
        assert!(matches!(liveness(&p).unwrap(), Liveness::Live(Some(_))));
        drop(lock);
        assert!(matches!(liveness(&p).unwrap(), Liveness::Stale(_)));
    }

    /// Newcomer review L10: a start that finds the lock held names the holder's real pid, even
    /// before any session record exists (two `u7s up --detach` at once), never "pid 0".
    #[test]
    fn the_lock_holder_is_named_by_its_pid() {
        let d = tempfile::tempdir().unwrap();
        let p = paths(d.path());
        assert_eq!(holder_pid(&p), None);
        let lock = take_lock(&p, false).unwrap();
        assert_eq!(holder_pid(&p), Some(std::process::id() as i32));
        assert!(!p.session_file().exists(), "no record yet");
        match take_lock(&p, false) {
            Err(Error::AlreadyRunning { pid }) => {
                assert_eq!(pid, Some(std::process::id() as i32))
            }
            other => panic!("{other:?}"),
        }
        let e = take_lock(&p, false).unwrap_err().to_string();
        assert!(e.contains(&format!("(pid {})", std::process::id())), "{e}");
        // Handed over to a child: this process's hold goes, the child's stays.
        let fd = lock.fd();
        let mut child = std::process::Command::new("sleep");
        child.arg("30");
        // SAFETY: fcntl is async-signal-safe.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut child, move || {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = child.spawn().unwrap();
        lock.release_to_child();
        assert!(try_lock(&p).unwrap().is_none(), "the child holds it");
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(try_lock(&p).unwrap().is_some(), "gone with the child");
    }

    #[test]
    fn stale_cleanup_kills_marked_processes_and_removes_files() {
        let d = tempfile::tempdir().unwrap();
        let p = paths(d.path());
        std::fs::create_dir_all(p.rootlesskit()).unwrap();
        std::fs::write(p.rootlesskit().join("child_pid"), "1").unwrap();
        std::fs::write(p.status_file(), "{}").unwrap();
        let id = format!("test-{}", std::process::id());
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .env(SESSION_ENV, &id)
            .spawn()
            .unwrap();
        let reaper = std::thread::spawn(move || child.wait().unwrap());
        let gone_leader = record(i32::MAX, &id);
        // The environment of a just-spawned program becomes readable a moment after spawn().
        let mut seen = false;
        for _ in 0..500 {
            if !remaining(&id).is_empty() {
                seen = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(seen, "the marked process is visible");
        let failed = clean_stale(&p, Some(&gone_leader));
        assert!(failed.is_empty(), "{failed:?}");
        assert!(!reaper.join().unwrap().success(), "killed");
        assert!(remaining(&id).is_empty());
        assert!(!p.rootlesskit().exists());
        assert!(!p.status_file().exists());
    }

    #[test]
    fn stop_without_session_is_none() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(
            stop(&paths(d.path()), Duration::from_secs(1)).unwrap(),
            None
        );
    }

    #[test]
    fn the_data_folder_is_refused_while_another_login_or_host_holds_it() {
        let d = tempfile::tempdir().unwrap();
        let p = paths(d.path());
        check_data_free(&p).unwrap();
        // The same login holding it (its own session): not "another" session.
        let own = lock_data(&p).unwrap();
        check_data_free(&p).unwrap();
        // A second start of the same data from another XDG_RUNTIME_DIR: refused, naming it.
        let mut other = p.clone();
        other.runtime_dir = d.path().join("run2");
        let e = lock_data(&other).unwrap_err().to_string();
        for part in [
            "another usernetes session uses".to_string(),
            p.data.display().to_string(),
            format!("pid {}", std::process::id()),
            format!("XDG_RUNTIME_DIR={}", p.runtime_dir.display()),
        ] {
            assert!(e.contains(&part), "no {part:?} in {e}");
        }
        let e = check_data_free(&other).unwrap_err().to_string();
        assert!(e.contains("another usernetes session uses"), "{e}");
        // A reset from there deletes nothing under it.
        let docker = p.data.join("docker");
        std::fs::create_dir_all(&docker).unwrap();
        let bins = crate::host::binaries::Bins {
            release_bin: None,
            path: vec![],
        };
        assert!(crate::session::reset::reset(&other, &bins, false).is_err());
        assert!(docker.is_dir());
        drop(own);
        check_data_free(&other).unwrap();
        let _again = lock_data(&other).unwrap();
    }
}
