//! The supervisor's effects, behind one trait (as youki's `Syscall`): starting processes,
//! reaping them, signals, readiness probes, clocks, the status file, systemd notification, the
//! stop signal and the few files it touches. [`Linux`] is the real machine; the state machine in
//! [`machine`](super::machine) only ever talks to a [`Host`], so its tests run it on a scripted
//! fake in milliseconds.

use crate::components::Probe;
use crate::error::{Error, Result};
use crate::session::config::{CHILD_CONFIG_ENV, ChildConfig};
use crate::session::status::{SupervisorStatus, write_json};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Environment variables never passed to components.
const SCRUBBED_ENV: &[&str] = &[
    CHILD_CONFIG_ENV,
    "NOTIFY_SOCKET",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
];

/// A process to start: a component or a job, with its output appended to `log`.
#[derive(Debug, Clone, Copy)]
pub struct Launch<'a> {
    pub name: &'a str,
    /// 1 for the first start.
    pub attempt: u32,
    pub program: &'a Path,
    pub args: &'a [String],
    pub env: &'a [(String, String)],
    pub log: &'a Path,
}

/// Everything the supervisor does to the world. Processes are named by their pid (inside the
/// session's pid namespace).
pub trait Host {
    /// The monotonic clock.
    fn now(&self) -> Instant;
    /// The wall clock, as Unix time (what the status file shows).
    fn unix_now(&self) -> f64;
    /// Waits `d` (the loop's cadence).
    fn sleep(&mut self, d: Duration);
    /// Whether a stop was asked for (SIGTERM, SIGINT, SIGHUP, SIGQUIT).
    fn stop_requested(&self) -> bool;
    /// Starts a process in its own process group; the error is a sentence for the status.
    fn spawn(&mut self, l: &Launch) -> std::result::Result<i32, String>;
    /// The exit status once the process has ended (reaped then), `Ok(None)` while it runs.
    fn try_wait(&mut self, pid: i32) -> std::io::Result<Option<ExitStatus>>;
    /// Waits for the process to end (after [`Host::kill_group`]).
    fn wait(&mut self, pid: i32) -> Option<ExitStatus>;
    /// SIGTERM to the process.
    fn terminate(&mut self, pid: i32);
    /// SIGKILL to the process's group.
    fn kill_group(&mut self, pid: i32);
    /// Asks the component `name` whether it is ready.
    fn probe(&mut self, name: &str, probe: &Probe) -> std::result::Result<(), String>;
    /// RootlessKit's version once its API answers.
    fn rootlesskit_version(&mut self) -> Option<String>;
    /// Whether a file exists (a job's marker).
    fn exists(&self, path: &Path) -> bool;
    /// Removes a file if it is there (a stale socket before a start).
    fn remove_file(&mut self, path: &Path);
    /// Writes a job's marker, with `content`.
    fn write_marker(&mut self, path: &Path, content: &str) -> std::result::Result<(), String>;
    /// Writes the status file.
    fn write_status(&mut self, st: &SupervisorStatus) -> Result<()>;
    /// Tells systemd (`READY=1`, `STOPPING=1`) when it started us with `Type=notify`.
    fn notify(&mut self, msg: &str);
    /// A line for the session log.
    fn say(&mut self, msg: &str);
    /// The last `n` lines of a component's log (none when unreadable).
    fn log_tail(&self, log: &Path, n: usize) -> Vec<String>;
}

/// The real machine.
pub struct Linux {
    stop: Arc<AtomicBool>,
    children: HashMap<i32, Child>,
    path_env: OsString,
    status_file: PathBuf,
    api_sock: PathBuf,
}

impl Linux {
    /// Installs the stop-signal handlers.
    pub fn new(cfg: &ChildConfig) -> Result<Linux> {
        let stop = Arc::new(AtomicBool::new(false));
        for sig in [
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGHUP,
            signal_hook::consts::SIGQUIT,
        ] {
            signal_hook::flag::register(sig, Arc::clone(&stop))
                .map_err(|e| Error::os("installing signal handlers", e))?;
        }
        Ok(Linux {
            stop,
            children: HashMap::new(),
            path_env: cfg.bins.child_path(),
            status_file: cfg.paths.status_file(),
            api_sock: cfg.paths.api_sock(),
        })
    }

    /// The flag the stop signals set.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }
}

impl Host for Linux {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn unix_now(&self) -> f64 {
        super::unix_now()
    }

    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }

    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Starts `program` with its output appended to `log` (after a header line), in its own
    /// process group, killed when the supervisor dies.
    fn spawn(&mut self, l: &Launch) -> std::result::Result<i32, String> {
        let mut out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(l.log)
            .map_err(|e| format!("cannot open {}: {e}", l.log.display()))?;
        let _ = writeln!(
            out,
            "--- u7s: starting {} (attempt {}): {} {}",
            l.name,
            l.attempt,
            l.program.display(),
            l.args.join(" ")
        );
        let err = out.try_clone();
        let mut cmd = Command::new(l.program);
        cmd.args(l.args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(err.map(Stdio::from).unwrap_or_else(|_| Stdio::null()))
            .env("PATH", &self.path_env)
            .process_group(0);
        for k in SCRUBBED_ENV {
            cmd.env_remove(k);
        }
        for (k, v) in l.env {
            cmd.env(k, v);
        }
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", l.program.display()))?;
        let pid = child.id() as i32;
        self.children.insert(pid, child);
        Ok(pid)
    }

    fn try_wait(&mut self, pid: i32) -> std::io::Result<Option<ExitStatus>> {
        let Some(c) = self.children.get_mut(&pid) else {
            return Err(std::io::Error::other(format!("pid {pid} is not ours")));
        };
        let st = c.try_wait()?;
        if st.is_some() {
            self.children.remove(&pid);
        }
        Ok(st)
    }

    fn wait(&mut self, pid: i32) -> Option<ExitStatus> {
        self.children.remove(&pid)?.wait().ok()
    }

    fn terminate(&mut self, pid: i32) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }

    fn kill_group(&mut self, pid: i32) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }

    fn probe(&mut self, _name: &str, probe: &Probe) -> std::result::Result<(), String> {
        crate::probe::check(probe).map_err(|e| e.to_string())
    }

    fn rootlesskit_version(&mut self) -> Option<String> {
        crate::probe::rootlesskit_api(&self.api_sock)
            .ok()
            .map(|i| i.version)
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn remove_file(&mut self, path: &Path) {
        let _ = std::fs::remove_file(path);
    }

    fn write_marker(&mut self, path: &Path, content: &str) -> std::result::Result<(), String> {
        path.parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::write(path, content))
            .map_err(|e| e.to_string())
    }

    fn write_status(&mut self, st: &SupervisorStatus) -> Result<()> {
        write_json(&self.status_file, st)
    }

    /// Sends `msg` to systemd's socket (abstract or path) when `NOTIFY_SOCKET` is set.
    fn notify(&mut self, msg: &str) {
        let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
            return;
        };
        let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
            return;
        };
        let p = path.to_string_lossy();
        if let Some(abs) = p.strip_prefix('@') {
            use std::os::linux::net::SocketAddrExt;
            if let Ok(addr) = std::os::unix::net::SocketAddr::from_abstract_name(abs.as_bytes()) {
                let _ = sock.send_to_addr(msg.as_bytes(), &addr);
            }
        } else {
            let _ = sock.send_to(msg.as_bytes(), &*p);
        }
    }

    fn say(&mut self, msg: &str) {
        eprintln!("u7s: {msg}");
    }

    fn log_tail(&self, log: &Path, n: usize) -> Vec<String> {
        let t = crate::host::fsutil::tail(log, n);
        t.lines().map(str::to_string).collect()
    }
}
