//! Starting processes while other threads write files that will be executed, without
//! `ETXTBSY` ("Text file busy").
//!
//! Builds run in parallel threads ([`crate::plan::run_parallel`]): one thread writes a source
//! tree (checkout, unpacked archive, copy) whose scripts its build then executes, while another
//! thread starts a process. A fork copies every descriptor of the process, the write
//! descriptors of the first thread included, and the child keeps them until its `exec`. If the
//! first thread's build executes one of those files in that window (`./configure`,
//! `hack/make.sh`), Linux refuses with `ETXTBSY`, in a script we cannot retry (see
//! golang/go#22315, rust-lang/rust#114554).
//!
//! The rule, after Go's `syscall.ForkLock`: a thread writes files that may be executed while
//! holding [`writing`] (shared: many writers at once), and every process of the builder is
//! started through [`spawn`] (exclusive). `Command::spawn` returns only once the child has
//! executed its program (std waits for the exec on a close-on-exec pipe, or uses a vfork-style
//! `posix_spawn`), so no child holds an inherited write descriptor after the lock is released,
//! and no write descriptor exists while the lock is held. The cost: a process start waits for
//! the source trees being written at that moment.
//!
//! The tests use another mechanism for the same race (`u7s-testkit`'s `exec` module), because
//! there every thread of the test harness may fork, not only this module's callers.

use std::cell::Cell;
use std::process::{Child, Command};
use std::sync::{RwLock, RwLockReadGuard};

static FORK_LOCK: RwLock<()> = RwLock::new(());

thread_local! {
    /// How many [`Writing`] guards this thread holds (a thread that writes must not spawn: it
    /// would wait for itself).
    static WRITING: Cell<usize> = const { Cell::new(0) };
}

/// Held while the thread writes files that a build may execute; see the module comment.
pub struct Writing {
    _guard: RwLockReadGuard<'static, ()>,
}

impl Drop for Writing {
    fn drop(&mut self) {
        WRITING.with(|w| w.set(w.get() - 1));
    }
}

/// Takes the shared side of the lock: no process starts until the guard is dropped.
pub fn writing() -> Writing {
    let guard = FORK_LOCK.read().unwrap_or_else(|p| p.into_inner());
    WRITING.with(|w| w.set(w.get() + 1));
    Writing { _guard: guard }
}

/// Starts `cmd` while no thread writes files that may be executed. Panics when called by a
/// thread that holds [`writing`] itself (that would wait forever): a programming error.
pub fn spawn(cmd: &mut Command) -> std::io::Result<Child> {
    assert_eq!(
        WRITING.with(Cell::get),
        0,
        "forklock::spawn while this thread holds forklock::writing: drop it first"
    );
    let _exclusive = FORK_LOCK.write().unwrap_or_else(|p| p.into_inner());
    cmd.spawn()
}

/// [`spawn`], then the exit status (stdin, stdout and stderr as `cmd` sets them, inherited
/// otherwise).
pub fn status(cmd: &mut Command) -> std::io::Result<std::process::ExitStatus> {
    spawn(cmd)?.wait()
}

/// [`spawn`] with stdout and stderr captured, then both and the exit status (what
/// `Command::output` does).
pub fn output(cmd: &mut Command) -> std::io::Result<std::process::Output> {
    use std::process::Stdio;
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    spawn(cmd)?.wait_with_output()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    /// Threads that each write a script under `writing` and then run it, while others keep
    /// starting processes through `spawn`: no run fails with ETXTBSY.
    #[test]
    fn scripts_written_under_the_lock_always_run() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        status(&mut Command::new("true")).unwrap();
                    }
                });
            }
            let writers: Vec<_> = (0..2)
                .map(|t| {
                    s.spawn(move || {
                        for i in 0..150 {
                            let p = d.join(format!("s{t}-{i}"));
                            {
                                let _w = writing();
                                let mut f = std::fs::File::create(&p).unwrap();
                                f.write_all(b"#!/bin/sh\nexit 0\n").unwrap();
                                f.set_permissions(std::fs::Permissions::from_mode(0o755))
                                    .unwrap();
                            }
                            let st = status(&mut Command::new(&p))
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

    #[test]
    #[should_panic(expected = "forklock::spawn while this thread holds forklock::writing")]
    fn spawning_while_writing_is_refused() {
        let _w = writing();
        let _ = spawn(&mut Command::new("true"));
    }

    #[test]
    fn output_captures() {
        let o = output(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"])).unwrap();
        assert_eq!(
            (&o.stdout[..], &o.stderr[..]),
            (&b"out\n"[..], &b"err\n"[..])
        );
        assert_eq!(o.status.code(), Some(3));
    }
}
