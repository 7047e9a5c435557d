//! Files a test writes and then runs (a copy of a workspace binary, a stand-in script), made
//! so that running them can never fail with `ETXTBSY` ("Text file busy").
//!
//! # The race
//!
//! Linux refuses to execute a file while any descriptor anywhere is open for writing it. A
//! test binary runs its tests on several threads. While one thread writes an executable (its
//! descriptor is `O_CLOEXEC`, as every descriptor Rust opens), another thread may fork to start
//! a process: the child gets a copy of every descriptor, including that write descriptor, and
//! keeps it until its own `exec` closes it. If the first thread meanwhile closes its descriptor
//! and runs the file (or asks `runuser`, `docker` or a shell to run it), the exec fails with
//! `ETXTBSY` for as long as the other child has not reached its `exec`: a few microseconds
//! normally, milliseconds on a loaded machine. See golang/go#22315 and rust-lang/rust#114554.
//!
//! # The mechanism
//!
//! After writing, the writer takes an exclusive `flock` on its descriptor before closing it. A
//! `flock` belongs to the open file description, which every forked copy of the descriptor
//! shares, so the lock stays held exactly as long as any copy of that write descriptor exists
//! anywhere. The writer then opens the file again read-only and waits until a shared lock is
//! granted: at that moment no write descriptor is left, and none can appear since nobody opens
//! the file for writing again. From then on, the file can be executed by anyone, any number of
//! times; the functions here return only then.
//!
//! Retrying the exec on `ETXTBSY` (what Go's and cargo's own test runners do) is not enough
//! here: the exec is often done by another program (`runuser`, `dockerd`, a shell script),
//! which cannot be asked to retry. Writing the file from a child process would also work, but
//! needs a tool such as `cp` and a process per file; the lock needs neither.

use rustix::fs::{FlockOperation, flock};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

/// Mode of the files written here: world-readable and executable, so that the unprivileged test
/// user can run a copy made by root.
pub const MODE: u32 = 0o755;

/// How long a forked child may keep an inherited write descriptor before this is called a bug
/// (a child that forked without ever exec-ing or exiting). A safety net, never reached normally.
const PATIENCE: Duration = Duration::from_secs(60);

/// Writes `contents` to `path` (mode 0755, replacing a file there) and returns once the file
/// can be executed without `ETXTBSY`. Panics on any error, naming the file.
pub fn write_executable(path: &Path, contents: &[u8]) {
    write_then_settle(path, |f| f.write_all(contents));
}

/// Copies the file `src` to `dest` (mode 0755, replacing a file there) and returns once `dest`
/// can be executed without `ETXTBSY`. Panics on any error, naming the files.
pub fn copy_executable(src: &Path, dest: &Path) {
    let mut from = File::open(src).unwrap_or_else(|e| panic!("open {}: {e}", src.display()));
    write_then_settle(dest, |f| std::io::copy(&mut from, f).map(drop));
}

fn write_then_settle(path: &Path, fill: impl FnOnce(&mut File) -> std::io::Result<()>) {
    let fail = |what: &str, e: std::io::Error| -> ! {
        panic!("{what} {}: {e}", path.display());
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(MODE)
        .open(path)
        .unwrap_or_else(|e| fail("create", e));
    fill(&mut f).unwrap_or_else(|e| fail("write", e));
    // The mode given at creation passes through the umask, and an existing file keeps its own.
    f.set_permissions(std::fs::Permissions::from_mode(MODE))
        .unwrap_or_else(|e| fail("chmod", e));
    // Held by this open file description until its last copy (ours, or one a fork inherited)
    // is closed.
    flock(&f, FlockOperation::LockExclusive).unwrap_or_else(|e| fail("lock", e.into()));
    drop(f);
    wait_until_unwritten(path);
}

/// Waits until no descriptor open for writing `path` by [`write_then_settle`] remains anywhere.
fn wait_until_unwritten(path: &Path) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let f = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        match flock(&f, FlockOperation::NonBlockingLockShared) {
            Ok(()) => return,
            Err(rustix::io::Errno::WOULDBLOCK) => {}
            Err(e) => panic!("lock {}: {e}", path.display()),
        }
        assert!(
            Instant::now() < deadline,
            "{}: a forked process kept a write descriptor to it for {PATIENCE:?} \
             (a child that neither execs nor exits?)",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn a_written_script_runs_and_has_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let p = d.join("hello");
        write_executable(&p, b"#!/bin/sh\necho hello \"$1\"\n");
        let out = Command::new(&p).arg("there").output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello there\n");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777,
            MODE
        );
        // Replacing it works the same way.
        write_executable(&p, b"#!/bin/sh\nexit 7\n");
        assert_eq!(Command::new(&p).status().unwrap().code(), Some(7));
        let copy = d.join("copy");
        copy_executable(&p, &copy);
        assert_eq!(Command::new(&copy).status().unwrap().code(), Some(7));
    }

    /// The race itself: while other threads keep forking (and so keep inheriting whatever
    /// descriptors are open), files written here are executed at once, many times. Without the
    /// lock this fails with ETXTBSY within a few hundred rounds on a loaded machine.
    #[test]
    fn execs_never_see_text_file_busy_while_others_fork() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        Command::new("true").status().unwrap();
                    }
                });
            }
            let writers: Vec<_> = (0..2)
                .map(|t| {
                    s.spawn(move || {
                        for i in 0..150 {
                            let p = d.join(format!("s{t}-{i}"));
                            write_executable(&p, b"#!/bin/sh\nexit 0\n");
                            let st = Command::new(&p)
                                .status()
                                .unwrap_or_else(|e| panic!("round {i}: {e}"));
                            assert!(st.success());
                        }
                    })
                })
                .collect();
            let results: Vec<_> = writers.into_iter().map(|w| w.join()).collect();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            for r in results {
                r.unwrap();
            }
        });
    }
}
