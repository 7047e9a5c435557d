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
//!
//! A ready daemon that serves on a socket (containerd, CRI-O, cri-dockerd, dockerd: the probes
//! with a [`Probe::socket`](crate::components::Probe::socket)) is asked again every
//! [`LIVENESS_INTERVAL`]: after [`LIVENESS_FAILURES`] unanswered probes in a row (its socket
//! removed, or the daemon hung while its process lives) it is stopped (SIGTERM, SIGKILL of its
//! group after its stop timeout) and restarted like a crash, the reason logged and shown in the
//! status (`health`) until it is ready again. Its clients (dockerd, cri-dockerd, the kubelet)
//! reconnect by themselves, so nothing else is restarted.
//!
//! This file is the state machine; every effect (processes, signals, probes, clocks, files) goes
//! through a [`Host`]: [`Linux`] in a session, a scripted fake in the unit tests.

use super::host::{Host, Launch, Linux};
use crate::components::{ComponentSpec, Job, Plan};
use crate::error::Result;
use crate::session::config::ChildConfig;
use crate::session::status::{ComponentStatus, State, SupervisorStatus};
use nix::sys::signal::Signal;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Consecutive failures (exits before ever being ready) after which a component is given up.
pub const MAX_FAILURES: u32 = 5;
/// Attempts of a one-shot job before it is reported as failed.
pub const JOB_MAX_ATTEMPTS: u32 = 4;
/// How long a component may take to become ready.
pub const START_TIMEOUT: Duration = Duration::from_secs(120);

/// How often the socket of a ready daemon is asked again.
pub const LIVENESS_INTERVAL: Duration = Duration::from_secs(2);
/// Unanswered probes in a row after which a ready daemon is restarted.
pub const LIVENESS_FAILURES: u32 = 3;

/// Lines of a failed component's log the supervisor repeats in its own output.
pub const LOG_TAIL_LINES: usize = 15;

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
    /// The running process.
    pid: Option<i32>,
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
    /// The liveness watch of a ready daemon.
    watch: Watch,
    /// What is wrong while the supervisor acts on it (shown in the status).
    health: Option<String>,
    /// Files written each time it becomes ready: (path, content).
    on_ready: Vec<(std::path::PathBuf, String)>,
}

/// Where the liveness watch of a ready daemon is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Watch {
    /// Asked every [`LIVENESS_INTERVAL`]; `failures` unanswered in a row.
    Asking { failures: u32 },
    /// Its socket stopped answering: SIGTERM sent, SIGKILL of its group at `deadline`.
    Stopping { deadline: Instant },
    /// SIGKILL sent; waiting for the exit.
    Killed,
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
    /// The running process.
    pid: Option<i32>,
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
            ns_pid: self.pid,
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
            health: None,
        }
    }
}

/// Runs the plan until a stop signal or a fatal failure; returns the exit code.
pub struct Supervisor<H: Host = Linux> {
    host: H,
    cfg: ChildConfig,
    slots: Vec<Slot>,
    jobs: Vec<JobSlot>,
    storage: String,
    rk_version: Option<String>,
    rk_ready: bool,
    ready_at: Option<f64>,
    state: State,
    error: Option<String>,
    dirty: bool,
}

impl Supervisor<Linux> {
    /// A supervisor for `plan` on this machine; installs the stop-signal handlers.
    pub fn new(cfg: ChildConfig, plan: Plan, storage: &str) -> Result<Supervisor> {
        let host = Linux::new(&cfg)?;
        Ok(Supervisor::with_host(host, cfg, plan, storage))
    }

    /// The flag that stops the supervision loop (set by the stop signals).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.host.stop_flag()
    }
}

impl<H: Host> Supervisor<H> {
    /// A supervisor for `plan` whose effects go through `host`.
    pub fn with_host(mut host: H, cfg: ChildConfig, plan: Plan, storage: &str) -> Supervisor<H> {
        let now = host.now();
        let on_ready = plan.on_ready;
        let slots = plan
            .components
            .into_iter()
            .map(|spec| Slot {
                on_ready: on_ready
                    .iter()
                    .filter(|(c, _, _)| *c == spec.name)
                    .map(|(_, p, t)| (p.clone(), t.clone()))
                    .collect(),
                log: cfg.paths.log(&spec.name),
                spec,
                state: State::Waiting,
                pid: None,
                started: None,
                started_at: None,
                ready_at: None,
                restarts: 0,
                failures: 0,
                next_start: now,
                last_probe: None,
                last_exit: None,
                last_probe_error: None,
                watch: Watch::Asking { failures: 0 },
                health: None,
            })
            .collect();
        for n in &plan.notes {
            host.say(n);
        }
        let jobs = plan
            .jobs
            .into_iter()
            .map(|job| {
                let skipped = job.once_marker.as_ref().filter(|m| host.exists(m));
                JobSlot {
                    log: cfg.paths.log(&job.name),
                    state: if skipped.is_some() {
                        JobState::Done
                    } else {
                        JobState::Waiting
                    },
                    last_exit: skipped.map(|m| format!("skipped: done before ({})", m.display())),
                    job,
                    pid: None,
                    attempts: 0,
                    next_start: now,
                    started_at: None,
                    finished_at: None,
                }
            })
            .collect();
        Supervisor {
            host,
            cfg,
            slots,
            jobs,
            storage: storage.to_string(),
            rk_version: None,
            rk_ready: false,
            ready_at: None,
            state: State::Starting,
            error: None,
            dirty: true,
        }
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
            cgroups: Some(crate::host::cgroups::CgroupMode::from_delegated(
                self.cfg.cgroup2,
            )),
            components: self
                .slots
                .iter()
                .map(|s| ComponentStatus {
                    name: s.spec.name.clone(),
                    state: s.state,
                    ns_pid: s.pid,
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
                    health: s.health.clone(),
                })
                .chain(self.jobs.iter().map(JobSlot::status))
                .collect(),
        }
    }

    /// The host the supervisor runs on.
    pub fn host(&self) -> &H {
        &self.host
    }

    fn say(&mut self, msg: &str) {
        self.host.say(msg);
    }

    fn flush(&mut self) {
        if self.dirty {
            let st = self.snapshot();
            if let Err(e) = self.host.write_status(&st) {
                self.say(&format!("cannot write the status file: {e}"));
            }
            self.dirty = false;
        }
    }

    fn spawn(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        for f in &slot.spec.remove_before_start {
            self.host.remove_file(f);
        }
        let spec = &slot.spec;
        match self.host.spawn(&Launch {
            name: &spec.name,
            attempt: slot.restarts + 1,
            program: &spec.program,
            args: &spec.args,
            env: &spec.env,
            log: &slot.log,
        }) {
            Ok(pid) => {
                slot.pid = Some(pid);
                slot.state = if slot.restarts > 0 {
                    State::Restarting
                } else {
                    State::Starting
                };
                slot.started = Some(self.host.now());
                slot.started_at = Some(self.host.unix_now());
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
        let now = self.host.now();
        for i in 0..self.jobs.len() {
            let exited = match self.jobs[i].pid.map(|p| self.host.try_wait(p)) {
                Some(Ok(Some(st))) => Some(st),
                _ => None,
            };
            if let Some(st) = exited {
                let unix_now = self.host.unix_now();
                let j = &mut self.jobs[i];
                j.pid = None;
                j.last_exit = Some(describe_exit(st));
                if st.success() {
                    j.state = JobState::Done;
                    j.finished_at = Some(unix_now);
                    if let Some(m) = &j.job.once_marker {
                        let wrote = self.host.write_marker(m, &format!("{unix_now}\n"));
                        if let Err(e) = wrote {
                            self.host.say(&format!(
                                "{}: cannot write {}: {e}",
                                j.job.name,
                                m.display()
                            ));
                        }
                    }
                    self.host.say(&format!("{} done", j.job.name));
                } else if j.attempts >= JOB_MAX_ATTEMPTS {
                    j.state = JobState::Failed;
                    self.host.say(&format!(
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
                    self.host.say(&format!(
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
            match self.host.spawn(&Launch {
                name: &j.job.name,
                attempt: j.attempts,
                program: &j.job.program,
                args: &j.job.args,
                env: &j.job.env,
                log: &j.log,
            }) {
                Ok(pid) => {
                    j.pid = Some(pid);
                    j.state = JobState::Running;
                    j.started_at = Some(self.host.unix_now());
                }
                Err(e) => {
                    j.state = JobState::Failed;
                    self.host.say(&format!("{}: {e}", j.job.name));
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
        let now = self.host.now();
        let slot = &mut self.slots[i];
        slot.pid = None;
        let how = describe_exit(st);
        let was_ready = slot.state == State::Ready;
        let unanswered = matches!(slot.watch, Watch::Stopping { .. } | Watch::Killed);
        if !unanswered {
            slot.health = None;
        }
        slot.watch = Watch::Asking { failures: 0 };
        slot.last_exit = Some(if unanswered {
            format!("{how}, restarted as its socket did not answer")
        } else {
            how.clone()
        });
        slot.restarts += 1;
        if was_ready {
            slot.failures = 0;
        }
        slot.failures += 1;
        if slot.failures >= MAX_FAILURES {
            slot.state = State::Failed;
            self.host.say(&format!(
                "{} failed {} times without getting ready ({how}); giving up, see `u7s logs {}`",
                slot.spec.name, slot.failures, slot.spec.name
            ));
            slot.health = None;
        } else {
            let wait = backoff(slot.failures);
            slot.state = State::Restarting;
            slot.next_start = now + wait;
            self.host.say(&format!(
                "{} {how}; restarting in {:.2}s (log: {})",
                slot.spec.name,
                wait.as_secs_f64(),
                slot.log.display()
            ));
        }
        self.dirty = true;
    }

    fn tick(&mut self) {
        let now = self.host.now();
        for i in 0..self.slots.len() {
            let exited = match self.slots[i].pid.map(|p| self.host.try_wait(p)) {
                Some(Ok(Some(st))) => Some(st),
                _ => None,
            };
            if let Some(st) = exited {
                self.on_exit(i, st);
            }
        }
        for i in 0..self.slots.len() {
            let s = &self.slots[i];
            let idle = s.pid.is_none() && matches!(s.state, State::Waiting | State::Restarting);
            if idle && s.next_start <= now && self.deps_ready(i) {
                self.spawn(i);
            }
        }
        for slot in &mut self.slots {
            let probing =
                matches!(slot.state, State::Starting | State::Restarting) && slot.pid.is_some();
            let due = slot
                .last_probe
                .is_none_or(|t| now.duration_since(t) >= Duration::from_millis(10));
            if !(probing && due) {
                continue;
            }
            slot.last_probe = Some(now);
            match self.host.probe(&slot.spec.name, &slot.spec.probe) {
                Ok(()) => {
                    slot.state = State::Ready;
                    slot.ready_at = Some(self.host.unix_now());
                    slot.last_probe_error = None;
                    slot.health = None;
                    slot.watch = Watch::Asking { failures: 0 };
                    let took = slot
                        .started
                        .map(|t| now.saturating_duration_since(t).as_secs_f64())
                        .unwrap_or(0.0);
                    self.host.say(&format!(
                        "{} ready in {took:.2}s ({})",
                        slot.spec.name, slot.spec.endpoint
                    ));
                    for (path, content) in &slot.on_ready {
                        if let Err(e) = self.host.write_marker(path, content) {
                            self.host.say(&format!(
                                "{}: cannot write {}: {e}",
                                slot.spec.name,
                                path.display()
                            ));
                        }
                    }
                    self.dirty = true;
                }
                Err(e) => {
                    if slot
                        .started
                        .is_some_and(|t| now.saturating_duration_since(t) > START_TIMEOUT)
                    {
                        self.host.say(&format!(
                            "{} not ready after {}s ({e}); killing it",
                            slot.spec.name,
                            START_TIMEOUT.as_secs()
                        ));
                        if let Some(pid) = slot.pid {
                            self.host.kill_group(pid);
                        }
                    }
                    slot.last_probe_error = Some(e);
                }
            }
        }
        self.watch_sockets(now);
        self.tick_jobs();
        if !self.rk_ready
            && let Some(version) = self.host.rootlesskit_version()
        {
            self.rk_ready = true;
            self.rk_version = Some(version);
            self.dirty = true;
        }
    }

    /// Asks the sockets of the ready daemons again; stops one whose socket stopped answering
    /// (its exit then restarts it, see [`Self::on_exit`]).
    fn watch_sockets(&mut self, now: Instant) {
        for slot in &mut self.slots {
            let (Some(socket), Some(pid)) = (slot.spec.probe.socket(), slot.pid) else {
                continue;
            };
            if slot.state != State::Ready {
                continue;
            }
            let failures = match slot.watch {
                Watch::Asking { failures } => failures,
                Watch::Stopping { deadline } => {
                    if now >= deadline {
                        self.host.say(&format!(
                            "{} did not stop within {}s; killing it",
                            slot.spec.name,
                            slot.spec.stop_timeout.as_secs()
                        ));
                        self.host.kill_group(pid);
                        slot.watch = Watch::Killed;
                    }
                    continue;
                }
                Watch::Killed => continue,
            };
            if slot
                .last_probe
                .is_some_and(|t| now.saturating_duration_since(t) < LIVENESS_INTERVAL)
            {
                continue;
            }
            slot.last_probe = Some(now);
            let socket = socket.display().to_string();
            match self.host.probe(&slot.spec.name, &slot.spec.probe) {
                Ok(()) => {
                    if failures > 0 {
                        self.host
                            .say(&format!("{}: {socket} answers again", slot.spec.name));
                        slot.health = None;
                        self.dirty = true;
                    }
                    slot.watch = Watch::Asking { failures: 0 };
                }
                Err(e) => {
                    let failures = failures + 1;
                    self.dirty = true;
                    if failures < LIVENESS_FAILURES {
                        slot.health = Some(format!(
                            "socket {socket} does not answer ({e}); {failures} of \
                             {LIVENESS_FAILURES} probes failed, restarting at {LIVENESS_FAILURES}"
                        ));
                        slot.watch = Watch::Asking { failures };
                        continue;
                    }
                    self.host.say(&format!(
                        "{}: socket {socket} did not answer {failures} probes in a row ({e}) \
                         while its process {pid} lives; restarting it (log: {})",
                        slot.spec.name,
                        slot.log.display()
                    ));
                    slot.health =
                        Some(format!("socket {socket} does not answer ({e}): restarting"));
                    slot.last_probe_error = Some(e);
                    self.host.terminate(pid);
                    slot.watch = Watch::Stopping {
                        deadline: now + slot.spec.stop_timeout,
                    };
                }
            }
        }
    }

    fn all_ready(&self) -> bool {
        self.rk_ready && self.slots.iter().all(|s| s.state == State::Ready)
    }

    /// The supervision loop; returns the exit code of the session.
    pub fn run(self) -> i32 {
        self.run_to_end().0
    }

    /// [`Supervisor::run`], giving back the host too (the tests read what happened to it).
    pub fn run_to_end(mut self) -> (i32, H) {
        let t0 = self.host.now();
        let mut code = 0;
        self.flush();
        while !self.host.stop_requested() {
            self.tick();
            if self.ready_at.is_none() && self.all_ready() {
                let unix_now = self.host.unix_now();
                self.ready_at = Some(unix_now);
                self.state = State::Ready;
                self.dirty = true;
                let names: Vec<&str> = self.slots.iter().map(|s| s.spec.name.as_str()).collect();
                let msg = format!(
                    "session ready: {} ({:.2}s after `u7s up`, {:.2}s in the namespace)",
                    names.join(", "),
                    unix_now - self.cfg.started_at,
                    self.host.now().saturating_duration_since(t0).as_secs_f64(),
                );
                let ready = format!("READY=1\nSTATUS=ready: {}", names.join(", "));
                self.host.say(&msg);
                self.host.notify(&ready);
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
                let tail = self.host.log_tail(&f.log, LOG_TAIL_LINES);
                if !tail.is_empty() {
                    let msg = format!(
                        "last lines of {} ({}):\n  {}",
                        f.spec.name,
                        f.log.display(),
                        tail.join("\n  ")
                    );
                    self.say(&msg);
                }
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
            self.host.sleep(if starting {
                Duration::from_millis(5)
            } else {
                Duration::from_millis(100)
            });
        }
        if self.state != State::Failed {
            self.state = State::Stopping;
            self.say("stopping (signal received)");
        }
        self.dirty = true;
        self.flush();
        self.host.notify("STOPPING=1");
        let t_stop = self.host.now();
        self.shutdown();
        let took = self.host.now().saturating_duration_since(t_stop);
        self.say(&format!("components stopped in {:.2}s", took.as_secs_f64()));
        if code == 0 {
            self.state = State::Stopped;
        }
        self.dirty = true;
        self.flush();
        (code, self.host)
    }

    /// Stops every component in reverse start order (running jobs first, killed).
    fn shutdown(&mut self) {
        for j in &mut self.jobs {
            if let Some(pid) = j.pid.take() {
                self.host.kill_group(pid);
                j.last_exit = self.host.wait(pid).map(describe_exit);
                j.state = JobState::Waiting;
                self.dirty = true;
            }
        }
        for i in (0..self.slots.len()).rev() {
            let slot = &mut self.slots[i];
            let Some(pid) = slot.pid.take() else {
                if slot.state != State::Failed {
                    slot.state = State::Stopped;
                }
                continue;
            };
            slot.state = State::Stopping;
            self.host.terminate(pid);
            let deadline = self.host.now() + slot.spec.stop_timeout;
            let st = loop {
                match self.host.try_wait(pid) {
                    Ok(Some(st)) => break Some(st),
                    Ok(None) if self.host.now() < deadline => {
                        self.host.sleep(Duration::from_millis(2))
                    }
                    Ok(None) => {
                        self.host.say(&format!(
                            "{} did not stop within {}s; killing it",
                            slot.spec.name,
                            slot.spec.stop_timeout.as_secs()
                        ));
                        self.host.kill_group(pid);
                        break self.host.wait(pid);
                    }
                    Err(_) => break None,
                }
            };
            // Whatever the component left in its process group goes too.
            self.host.kill_group(pid);
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
    use std::process::Command;

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
