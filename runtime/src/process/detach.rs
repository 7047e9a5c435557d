//! `u7s up --detach`: starts the top process in the background (its own session, output to
//! `DATA/logs/session.log`), runs the doctor meanwhile, and returns only once the supervisor
//! reports every component ready; on failure or timeout it stops what started and shows the
//! failing component's log tail.

use crate::error::{Error, Result};
use crate::host::fsutil::{ensure_dir, tail};
use crate::session;
use crate::session::config::SessionConfig;
use crate::session::paths::Paths;
use crate::session::status::{State, SupervisorStatus, read_json};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The hidden flag that makes `u7s up` the background top process.
pub const LEADER_FLAG: &str = "--detached-leader";

/// The arguments of the background top process (after the program): `up`, every choice of
/// `cfg`, no doctor (the foreground runs it), the hidden [`LEADER_FLAG`].
pub fn leader_args(cfg: &SessionConfig) -> Vec<String> {
    let mut a = vec!["up".to_string()];
    a.extend(cfg.up_args());
    a.push("--no-doctor".into());
    a.push(LEADER_FLAG.into());
    a
}

/// The environment variables the background top process does not inherit: its arguments carry
/// every choice (ports and RootlessKit flags from the environment would come twice).
pub const LEADER_ENV_REMOVED: &[&str] = crate::cli::UP_ENV;

/// What a detached start produced.
#[derive(Debug)]
pub struct Started {
    pub took: Duration,
    pub status: SupervisorStatus,
    pub paths: Paths,
}

fn describe_failure(paths: &Paths, status: Option<&SupervisorStatus>, why: &str) -> String {
    let mut out = format!("the session did not start: {why}");
    if let Some(st) = status {
        if let Some(e) = &st.error {
            out.push_str(&format!("\n  {e}"));
        }
        for c in st.components.iter().filter(|c| c.state != State::Ready) {
            let t = tail(&c.log, 15);
            if !t.is_empty() {
                out.push_str(&format!(
                    "\n--- last lines of {} ({}):\n{t}",
                    c.name,
                    c.log.display()
                ));
            }
        }
    }
    let t = tail(&paths.log("session"), 15);
    if !t.is_empty() {
        out.push_str(&format!(
            "\n--- last lines of the session log ({}):\n{t}",
            paths.log("session").display()
        ));
    }
    out
}

fn terminate(child: &mut std::process::Child) {
    let pid = Pid::from_raw(child.id() as i32);
    let _ = kill(pid, Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = kill(pid, Signal::SIGKILL);
    let _ = child.wait();
}

/// Starts a detached session and waits for it to be ready (at most `timeout`).
pub fn start(cfg: &SessionConfig, doctor: bool, timeout: Duration) -> Result<Started> {
    cfg.validate()?;
    let t0 = Instant::now();
    // The checks the top process makes first, here too: their one-line errors, not a log tail.
    let paths = crate::process::leader::start_paths()?;
    crate::process::leader::preflight(cfg, &paths, &crate::host::binaries::Bins::from_process())?;
    crate::process::leader::refuse_root()?;
    // The session lock, taken here before the logs are touched and handed over to the top
    // process: of two starts at once, the second stops here, naming the first.
    let lock = session::take_lock(&paths, false)?;
    // Another session on the same data folder (another XDG_RUNTIME_DIR, another host): refused
    // before its logs are rotated.
    session::check_data_free(&paths)?;
    if !paths.data.exists() {
        ensure_dir(&paths.data, 0o700)?;
    }
    ensure_dir(&paths.logs(), 0o700)?;
    crate::process::leader::rotate_logs(&paths, None);
    let log_path = paths.log("session");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| Error::io(&log_path, e))?;
    let log2 = log.try_clone().map_err(|e| Error::io(&log_path, e))?;
    let exe = std::env::current_exe().map_err(|e| Error::os("locating the u7s executable", e))?;
    let mut cmd = Command::new(exe);
    cmd.args(leader_args(cfg))
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2));
    for k in LEADER_ENV_REMOVED {
        cmd.env_remove(k);
    }
    let lock_fd = lock.fd();
    cmd.env(session::LOCK_FD_ENV, lock_fd.to_string());
    // SAFETY: setsid and fcntl are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            // The lock's descriptor survives the exec, in the child only.
            if libc::fcntl(lock_fd, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::os("starting the session", e))?;
    lock.release_to_child();
    let leader = child.id() as i32;

    let doctor_thread = doctor.then(|| crate::process::leader::DoctorThread::spawn(cfg.kube));

    // Ctrl-C while waiting stops what started rather than leaving it half up.
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, std::sync::Arc::clone(&interrupted))
            .map_err(|e| Error::os("installing signal handlers", e))?;
    }
    let deadline = t0 + timeout;
    let mut doctor_pending = doctor;
    loop {
        if interrupted.load(std::sync::atomic::Ordering::Relaxed) {
            terminate(&mut child);
            return Err(Error::Usage(
                "interrupted: the session was stopped again".into(),
            ));
        }
        let status: Option<SupervisorStatus> = read_json(&paths.status_file())
            .unwrap_or(None)
            .filter(|s: &SupervisorStatus| s.leader_pid == leader);
        if let Some(st) = &status {
            if st.state == State::Ready && !doctor_pending {
                return Ok(Started {
                    took: t0.elapsed(),
                    status: st.clone(),
                    paths,
                });
            }
            if st.state == State::Failed {
                terminate(&mut child);
                return Err(Error::Usage(describe_failure(
                    &paths,
                    Some(st),
                    "a component failed",
                )));
            }
        }
        if let Ok(Some(st)) = child.try_wait() {
            return Err(Error::Usage(describe_failure(
                &paths,
                status.as_ref(),
                &format!(
                    "the top process ended ({})",
                    crate::supervisor::describe_exit(st)
                ),
            )));
        }
        match doctor_thread.as_ref().map(|d| d.verdict.try_recv()) {
            Some(Ok(Some(failures))) => {
                terminate(&mut child);
                return Err(Error::Usage(failures));
            }
            None | Some(Ok(None)) | Some(Err(mpsc::TryRecvError::Disconnected)) => {
                doctor_pending = false
            }
            Some(Err(mpsc::TryRecvError::Empty)) => {}
        }
        if Instant::now() >= deadline {
            terminate(&mut child);
            return Err(Error::Usage(describe_failure(
                &paths,
                status.as_ref(),
                &format!(
                    "not ready within {}s (raise it with --timeout)",
                    timeout.as_secs()
                ),
            )));
        }
        std::thread::sleep(Duration::from_millis(3));
    }
}
