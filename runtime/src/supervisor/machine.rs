//! The supervisor: runs inside the namespaces (pid 2, under RootlessKit's reaper) and owns the
//! components. It starts each one when its dependencies are ready, waits on its real readiness
//! probe, restarts it with exponential backoff when it dies (giving up after repeated failures
//! without ever getting ready), writes `STATE/status.json` on every change, announces readiness
//! (stderr line, systemd `READY=1`), and on SIGTERM/SIGINT/SIGHUP stops the components in
//! reverse order: SIGTERM, then SIGKILL of the process group after the component's timeout.
//! Components get `PR_SET_PDEATHSIG=SIGKILL` and their own process group.
//!
//! One-shot [`Job`]s run once their dependencies are ready (components ready, or jobs done);
//! a failed job is retried with backoff up to [`JOB_MAX_ATTEMPTS`] times, then shown as failed
//! in the status without stopping the session. A job with a marker writes it on success and is
//! skipped while it exists. Jobs appear in the status beside the components.

use crate::components::{ComponentSpec, Job, Plan};
use crate::error::{Error, Result};
use crate::session::config::{CHILD_CONFIG_ENV, ChildConfig};
use crate::session::status::{ComponentStatus, State, SupervisorStatus, write_json};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Consecutive failures (exits before ever being ready) after which a component is given up.
pub const MAX_FAILURES: u32 = 5;
/// Attempts of a one-shot job before it is reported as failed.
pub const JOB_MAX_ATTEMPTS: u32 = 4;
/// How long a component may take to become ready.
pub const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Environment variables never passed to components.
const SCRUBBED_ENV: &[&str] = &[
    CHILD_CONFIG_ENV,
    "NOTIFY_SOCKET",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
];

/// Backoff before restart number `n` (1-based): 250 ms doubling, at most 8 s.
pub fn backoff(n: u32) -> Duration {
    let ms = 250u64.saturating_mul(1u64 << n.saturating_sub(1).min(5));
    Duration::from_millis(ms.min(8000))
}

/// Describes how a process ended.
pub fn describe_exit(st: ExitStatus) -> String {
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!(
            "killed by signal {}",
            Signal::try_from(s)
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|_| s.to_string())
        ),
        _ => "ended".into(),
    }
}

pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

struct Slot {
    spec: ComponentSpec,
    state: State,
    child: Option<Child>,
    started: Option<Instant>,
    started_at: Option<f64>,
    ready_at: Option<f64>,
    restarts: u32,
    failures: u32,
    next_start: Instant,
    last_probe: Option<Instant>,
    last_exit: Option<String>,
    last_probe_error: Option<String>,
    log: std::path::PathBuf,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobState {
    Waiting,
    Running,
    Done,
    Failed,
}

struct JobSlot {
    job: Job,
    state: JobState,
    child: Option<Child>,
    attempts: u32,
    next_start: Instant,
    started_at: Option<f64>,
    finished_at: Option<f64>,
    last_exit: Option<String>,
    log: std::path::PathBuf,
}

impl JobSlot {
    fn status(&self) -> ComponentStatus {
        ComponentStatus {
            name: self.job.name.clone(),
            state: match self.state {
                JobState::Waiting => State::Waiting,
                JobState::Running => State::Starting,
                JobState::Done => State::Stopped,
                JobState::Failed => State::Failed,
            },
            ns_pid: self.child.as_ref().map(|c| c.id() as i32),
            pid: None,
            restarts: self.attempts.saturating_sub(1),
            started_at: self.started_at,
            ready_at: self.finished_at,
            uptime_secs: None,
            endpoint: "one-shot job".into(),
            program: self.job.program.clone(),
            log: self.log.clone(),
            last_exit: self.last_exit.clone(),
            version: None,
        }
    }
}

/// Starts `program` with its output appended to `log` (after a header line), in its own
/// process group, killed when the supervisor dies.
fn launch(
    name: &str,
    attempt: u32,
    program: &std::path::Path,
    args: &[String],
    env: &[(String, String)],
    log: &std::path::Path,
    path_env: &std::ffi::OsStr,
) -> std::result::Result<Child, String> {
    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    let _ = writeln!(
        out,
        "--- u7s: starting {name} (attempt {attempt}): {} {}",
        program.display(),
        args.join(" ")
    );
    let err = out.try_clone();
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(err.map(Stdio::from).unwrap_or_else(|_| Stdio::null()))
        .env("PATH", path_env)
        .process_group(0);
    for k in SCRUBBED_ENV {
        cmd.env_remove(k);
    }
    for (k, v) in env {
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
    cmd.spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))
}

/// Sends `READY=1` (and a status line) to systemd when it started us with `Type=notify`.
fn sd_notify(msg: &str) {
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

/// Runs the plan until a stop signal or a fatal failure; returns the exit code.
pub struct Supervisor {
    cfg: ChildConfig,
    slots: Vec<Slot>,
    jobs: Vec<JobSlot>,
    stop: Arc<AtomicBool>,
    storage: String,
    rk_version: Option<String>,
    rk_ready: bool,
    ready_at: Option<f64>,
    state: State,
    error: Option<String>,
    dirty: bool,
}

fn say(msg: &str) {
    eprintln!("u7s: {msg}");
}

impl Supervisor {
    /// A supervisor for `plan`; installs the stop-signal handlers.
    pub fn new(cfg: ChildConfig, plan: Plan, storage: &str) -> Result<Supervisor> {
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
        let now = Instant::now();
        let slots = plan
            .components
            .into_iter()
            .map(|spec| Slot {
                log: cfg.paths.log(&spec.name),
                spec,
                state: State::Waiting,
                child: None,
                started: None,
                started_at: None,
                ready_at: None,
                restarts: 0,
                failures: 0,
                next_start: now,
                last_probe: None,
                last_exit: None,
                last_probe_error: None,
            })
            .collect();
        for n in &plan.notes {
            say(n);
        }
        let jobs = plan
            .jobs
            .into_iter()
            .map(|job| {
                let skipped = job.once_marker.as_ref().filter(|m| m.exists());
                JobSlot {
                    log: cfg.paths.log(&job.name),
                    state: if skipped.is_some() {
                        JobState::Done
                    } else {
                        JobState::Waiting
                    },
                    last_exit: skipped.map(|m| format!("skipped: done before ({})", m.display())),
                    job,
                    child: None,
                    attempts: 0,
                    next_start: now,
                    started_at: None,
                    finished_at: None,
                }
            })
            .collect();
        Ok(Supervisor {
            cfg,
            slots,
            jobs,
            stop,
            storage: storage.to_string(),
            rk_version: None,
            rk_ready: false,
            ready_at: None,
            state: State::Starting,
            error: None,
            dirty: true,
        })
    }

    fn snapshot(&self) -> SupervisorStatus {
        SupervisorStatus {
            session_id: self.cfg.session_id.clone(),
            leader_pid: self.cfg.leader_pid,
            state: self.state,
            started_at: self.cfg.started_at,
            ready_at: self.ready_at,
            storage: self.storage.clone(),
            error: self.error.clone(),
            rootlesskit_version: self.rk_version.clone(),
            components: self
                .slots
                .iter()
                .map(|s| ComponentStatus {
                    name: s.spec.name.clone(),
                    state: s.state,
                    ns_pid: s.child.as_ref().map(|c| c.id() as i32),
                    pid: None,
                    restarts: s.restarts,
                    started_at: s.started_at,
                    ready_at: s.ready_at,
                    uptime_secs: None,
                    endpoint: s.spec.endpoint.clone(),
                    program: s.spec.program.clone(),
                    log: s.log.clone(),
                    last_exit: s.last_exit.clone(),
                    version: None,
                })
                .chain(self.jobs.iter().map(JobSlot::status))
                .collect(),
        }
    }

    /// The flag that stops the supervision loop (set by the stop signals).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    fn flush(&mut self) {
        if self.dirty {
            if let Err(e) = write_json(&self.cfg.paths.status_file(), &self.snapshot()) {
                say(&format!("cannot write the status file: {e}"));
            }
            self.dirty = false;
        }
    }

    fn spawn(&mut self, i: usize) {
        let path_env = self.cfg.bins.child_path();
        let slot = &mut self.slots[i];
        for f in &slot.spec.remove_before_start {
            let _ = std::fs::remove_file(f);
        }
        let spec = &slot.spec;
        match launch(
            &spec.name,
            slot.restarts + 1,
            &spec.program,
            &spec.args,
            &spec.env,
            &slot.log,
            &path_env,
        ) {
            Ok(c) => {
                slot.child = Some(c);
                slot.state = if slot.restarts > 0 {
                    State::Restarting
                } else {
                    State::Starting
                };
                slot.started = Some(Instant::now());
                slot.started_at = Some(unix_now());
                slot.ready_at = None;
                slot.last_probe = None;
            }
            Err(e) => {
                slot.state = State::Failed;
                slot.last_exit = Some(e);
            }
        }
        self.dirty = true;
    }

    /// Whether the component or job `name` is ready (a job: done).
    fn is_ready(&self, name: &str) -> bool {
        self.slots
            .iter()
            .any(|s| s.spec.name == name && s.state == State::Ready)
            || self
                .jobs
                .iter()
                .any(|j| j.job.name == name && j.state == JobState::Done)
    }

    /// Starts, reaps and retries the one-shot jobs.
    fn tick_jobs(&mut self) {
        let now = Instant::now();
        let path_env = self.cfg.bins.child_path();
        for i in 0..self.jobs.len() {
            let exited = match self.jobs[i].child.as_mut().map(|c| c.try_wait()) {
                Some(Ok(Some(st))) => Some(st),
                _ => None,
            };
            if let Some(st) = exited {
                let j = &mut self.jobs[i];
                j.child = None;
                j.last_exit = Some(describe_exit(st));
                if st.success() {
                    j.state = JobState::Done;
                    j.finished_at = Some(unix_now());
                    if let Some(m) = &j.job.once_marker {
                        let wrote = m
                            .parent()
                            .map_or(Ok(()), std::fs::create_dir_all)
                            .and_then(|_| std::fs::write(m, format!("{}\n", unix_now())));
                        if let Err(e) = wrote {
                            say(&format!(
                                "{}: cannot write {}: {e}",
                                j.job.name,
                                m.display()
                            ));
                        }
                    }
                    say(&format!("{} done", j.job.name));
                } else if j.attempts >= JOB_MAX_ATTEMPTS {
                    j.state = JobState::Failed;
                    say(&format!(
                        "{} failed {} times ({}); the session goes on without it, see `u7s logs {}`",
                        j.job.name,
                        j.attempts,
                        describe_exit(st),
                        j.job.name
                    ));
                } else {
                    let wait = backoff(j.attempts);
                    j.state = JobState::Waiting;
                    j.next_start = now + wait;
                    say(&format!(
                        "{} {}; retrying in {:.2}s",
                        j.job.name,
                        describe_exit(st),
                        wait.as_secs_f64()
                    ));
                }
                self.dirty = true;
            }
        }
        for i in 0..self.jobs.len() {
            let j = &self.jobs[i];
            let due = j.state == JobState::Waiting && j.next_start <= now;
            if !(due && j.job.after.iter().all(|d| self.is_ready(d))) {
                continue;
            }
            let j = &mut self.jobs[i];
            j.attempts += 1;
            match launch(
                &j.job.name,
                j.attempts,
                &j.job.program,
                &j.job.args,
                &j.job.env,
                &j.log,
                &path_env,
            ) {
                Ok(c) => {
                    j.child = Some(c);
                    j.state = JobState::Running;
                    j.started_at = Some(unix_now());
                }
                Err(e) => {
                    j.state = JobState::Failed;
                    say(&format!("{}: {e}", j.job.name));
                    j.last_exit = Some(e);
                }
            }
            self.dirty = true;
        }
    }

    fn deps_ready(&self, i: usize) -> bool {
        self.slots[i].spec.after.iter().all(|d| self.is_ready(d))
    }

    fn on_exit(&mut self, i: usize, st: ExitStatus) {
        let slot = &mut self.slots[i];
        slot.child = None;
        let how = describe_exit(st);
        let was_ready = slot.state == State::Ready;
        slot.last_exit = Some(how.clone());
        slot.restarts += 1;
        if was_ready {
            slot.failures = 0;
        }
        slot.failures += 1;
        if slot.failures >= MAX_FAILURES {
            slot.state = State::Failed;
            say(&format!(
                "{} failed {} times without getting ready ({how}); giving up, see `u7s logs {}`",
                slot.spec.name, slot.failures, slot.spec.name
            ));
        } else {
            let wait = backoff(slot.failures);
            slot.state = State::Restarting;
            slot.next_start = Instant::now() + wait;
            say(&format!(
                "{} {how}; restarting in {:.2}s (log: {})",
                slot.spec.name,
                wait.as_secs_f64(),
                slot.log.display()
            ));
        }
        self.dirty = true;
    }

    fn tick(&mut self) {
        let now = Instant::now();
        for i in 0..self.slots.len() {
            let exited = match self.slots[i].child.as_mut().map(|c| c.try_wait()) {
                Some(Ok(Some(st))) => Some(st),
                _ => None,
            };
            if let Some(st) = exited {
                self.on_exit(i, st);
            }
        }
        for i in 0..self.slots.len() {
            let s = &self.slots[i];
            let idle = s.child.is_none() && matches!(s.state, State::Waiting | State::Restarting);
            if idle && s.next_start <= now && self.deps_ready(i) {
                self.spawn(i);
            }
        }
        for slot in &mut self.slots {
            let probing =
                matches!(slot.state, State::Starting | State::Restarting) && slot.child.is_some();
            let due = slot
                .last_probe
                .is_none_or(|t| now.duration_since(t) >= Duration::from_millis(10));
            if !(probing && due) {
                continue;
            }
            slot.last_probe = Some(now);
            match crate::probe::check(&slot.spec.probe) {
                Ok(()) => {
                    slot.state = State::Ready;
                    slot.ready_at = Some(unix_now());
                    slot.last_probe_error = None;
                    let took = slot
                        .started
                        .map(|t| t.elapsed().as_secs_f64())
                        .unwrap_or(0.0);
                    say(&format!(
                        "{} ready in {took:.2}s ({})",
                        slot.spec.name, slot.spec.endpoint
                    ));
                    self.dirty = true;
                }
                Err(e) => {
                    slot.last_probe_error = Some(e.to_string());
                    if slot.started.is_some_and(|t| t.elapsed() > START_TIMEOUT) {
                        say(&format!(
                            "{} not ready after {}s ({e}); killing it",
                            slot.spec.name,
                            START_TIMEOUT.as_secs()
                        ));
                        if let Some(c) = &slot.child {
                            let _ = killpg(Pid::from_raw(c.id() as i32), Signal::SIGKILL);
                        }
                    }
                }
            }
        }
        self.tick_jobs();
        if !self.rk_ready
            && let Ok(info) = crate::probe::rootlesskit_api(&self.cfg.paths.api_sock())
        {
            self.rk_ready = true;
            self.rk_version = Some(info.version);
            self.dirty = true;
        }
    }

    fn all_ready(&self) -> bool {
        self.rk_ready && self.slots.iter().all(|s| s.state == State::Ready)
    }

    /// The supervision loop; returns the exit code of the session.
    pub fn run(mut self) -> i32 {
        let t0 = Instant::now();
        let mut code = 0;
        self.flush();
        while !self.stop.load(Ordering::Relaxed) {
            self.tick();
            if self.ready_at.is_none() && self.all_ready() {
                self.ready_at = Some(unix_now());
                self.state = State::Ready;
                self.dirty = true;
                let names: Vec<&str> = self.slots.iter().map(|s| s.spec.name.as_str()).collect();
                say(&format!(
                    "session ready: {} ({:.2}s after `u7s up`, {:.2}s in the namespace)",
                    names.join(", "),
                    unix_now() - self.cfg.started_at,
                    t0.elapsed().as_secs_f64(),
                ));
                sd_notify(&format!("READY=1\nSTATUS=ready: {}", names.join(", ")));
            }
            if let Some(f) = self.slots.iter().find(|s| s.state == State::Failed) {
                let detail = f
                    .last_probe_error
                    .clone()
                    .or_else(|| f.last_exit.clone())
                    .unwrap_or_default();
                self.error = Some(format!(
                    "{} failed ({detail}); see `u7s logs {}` ({})",
                    f.spec.name,
                    f.spec.name,
                    f.log.display()
                ));
                self.state = State::Failed;
                self.dirty = true;
                code = 1;
                break;
            }
            if self.ready_at.is_some() {
                let now_state = if self.all_ready() {
                    State::Ready
                } else {
                    State::Restarting
                };
                if now_state != self.state {
                    self.state = now_state;
                    self.dirty = true;
                }
            }
            self.flush();
            let starting =
                self.ready_at.is_none() || self.slots.iter().any(|s| s.state != State::Ready);
            std::thread::sleep(if starting {
                Duration::from_millis(5)
            } else {
                Duration::from_millis(100)
            });
        }
        if self.state != State::Failed {
            self.state = State::Stopping;
            say("stopping (signal received)");
        }
        self.dirty = true;
        self.flush();
        sd_notify("STOPPING=1");
        let t_stop = Instant::now();
        self.shutdown();
        say(&format!(
            "components stopped in {:.2}s",
            t_stop.elapsed().as_secs_f64()
        ));
        if code == 0 {
            self.state = State::Stopped;
        }
        self.dirty = true;
        self.flush();
        code
    }

    /// Stops every component in reverse start order (running jobs first, killed).
    fn shutdown(&mut self) {
        for j in &mut self.jobs {
            if let Some(mut c) = j.child.take() {
                let _ = killpg(Pid::from_raw(c.id() as i32), Signal::SIGKILL);
                j.last_exit = c.wait().ok().map(describe_exit);
                j.state = JobState::Waiting;
                self.dirty = true;
            }
        }
        for i in (0..self.slots.len()).rev() {
            let slot = &mut self.slots[i];
            let Some(mut child) = slot.child.take() else {
                if slot.state != State::Failed {
                    slot.state = State::Stopped;
                }
                continue;
            };
            slot.state = State::Stopping;
            let pid = Pid::from_raw(child.id() as i32);
            let _ = kill(pid, Signal::SIGTERM);
            let deadline = Instant::now() + slot.spec.stop_timeout;
            let st = loop {
                match child.try_wait() {
                    Ok(Some(st)) => break Some(st),
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(2))
                    }
                    Ok(None) => {
                        say(&format!(
                            "{} did not stop within {}s; killing it",
                            slot.spec.name,
                            slot.spec.stop_timeout.as_secs()
                        ));
                        let _ = killpg(pid, Signal::SIGKILL);
                        break child.wait().ok();
                    }
                    Err(_) => break None,
                }
            };
            // Whatever the component left in its process group goes too.
            let _ = killpg(pid, Signal::SIGKILL);
            slot.last_exit = st.map(describe_exit);
            slot.state = State::Stopped;
            self.dirty = true;
            self.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_millis(250));
        assert_eq!(backoff(2), Duration::from_millis(500));
        assert_eq!(backoff(4), Duration::from_secs(2));
        assert_eq!(backoff(6), Duration::from_secs(8));
        assert_eq!(backoff(60), Duration::from_secs(8));
    }

    #[test]
    fn exits_described() {
        let st = Command::new("sh").args(["-c", "exit 3"]).status().unwrap();
        assert_eq!(describe_exit(st), "exit status 3");
        let st = Command::new("sh")
            .args(["-c", "kill -9 $$"])
            .status()
            .unwrap();
        assert_eq!(describe_exit(st), "killed by signal SIGKILL");
    }
}
