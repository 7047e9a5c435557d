//! A scripted [`Host`] for the state machine's unit tests: a virtual clock that `sleep` moves
//! on, processes that become ready, stop answering their probe, exit or ignore SIGTERM as their
//! script says, logs to tail, and a record of everything the supervisor did (starts, signals,
//! status files, files written, log lines, notifications).

use super::host::{Host, Launch};
use crate::components::Probe;
use crate::error::Result;
use crate::session::status::SupervisorStatus;
use std::collections::{BTreeSet, HashMap};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// How one start of a program behaves.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Its probe answers this long after the start (never when `None`).
    pub ready_after: Option<Duration>,
    /// It exits by itself this long after the start, with this code.
    pub exits_after: Option<(Duration, i32)>,
    /// SIGTERM does not stop it (only SIGKILL of its group does).
    pub ignores_term: bool,
    /// The start itself fails (program missing).
    pub fails_to_start: bool,
    /// Its probe stops answering this long after the start while it runs on (its socket
    /// removed, or hung).
    pub unanswering_after: Option<Duration>,
    /// … and answers again this long after the start.
    pub answers_again_after: Option<Duration>,
}

/// Ready `ms` milliseconds after the start; runs until stopped.
pub fn ready(ms: u64) -> Behaviour {
    Behaviour {
        ready_after: Some(Duration::from_millis(ms)),
        ..Behaviour::default()
    }
}

/// Exits with `code` `ms` milliseconds after the start, never ready (a job, or a crash).
pub fn exits(ms: u64, code: i32) -> Behaviour {
    Behaviour {
        exits_after: Some((Duration::from_millis(ms), code)),
        ..Behaviour::default()
    }
}

/// Never ready, never exits by itself.
pub fn hangs() -> Behaviour {
    Behaviour::default()
}

/// What the supervisor did, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Spawned(String),
    Term(String),
    KillGroup(String),
    Exited(String),
}

struct Proc {
    name: String,
    started: Duration,
    b: Behaviour,
    /// When and how it ended (decided by a signal, or by its script once the clock passes it).
    end: Option<(Duration, ExitStatus)>,
}

impl Proc {
    /// How it ended by time `t`: the earlier of its script's own exit and a signal's end.
    fn end_at(&self, t: Duration) -> Option<(Duration, ExitStatus)> {
        let own = self
            .b
            .exits_after
            .map(|(after, code)| (self.started + after, ExitStatus::from_raw(code << 8)));
        let end = match (self.end, own) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        };
        end.filter(|(at, _)| *at <= t)
    }
}

/// When the fake's stop signal comes.
pub type StopWhen = Box<dyn Fn(&SupervisorStatus, Duration) -> bool>;

/// The scripted machine.
pub struct Fake {
    base: Instant,
    /// Virtual time since the start.
    pub t: Duration,
    scripts: HashMap<String, Vec<Behaviour>>,
    starts: HashMap<String, usize>,
    procs: HashMap<i32, Proc>,
    next_pid: i32,
    /// RootlessKit's API answers from this time on.
    pub rootlesskit_after: Duration,
    stop_when: StopWhen,
    pub events: Vec<(Duration, Event)>,
    pub statuses: Vec<SupervisorStatus>,
    pub said: Vec<String>,
    pub notified: Vec<String>,
    pub files: BTreeSet<PathBuf>,
    /// What each file the supervisor wrote holds.
    pub written: HashMap<PathBuf, String>,
    pub removed: Vec<PathBuf>,
    /// The logs' content, by path.
    pub logs: HashMap<PathBuf, Vec<String>>,
}

/// Virtual time after which a test gives up (a safety net: far beyond every timeout).
pub const LIMIT: Duration = Duration::from_secs(3600);

impl Fake {
    /// Each program runs its list of behaviours, one per start (the last one repeats). The stop
    /// comes once `stop_when` holds for the last status written, or at [`LIMIT`].
    pub fn new(scripts: &[(&str, Vec<Behaviour>)], stop_when: StopWhen) -> Fake {
        Fake {
            base: Instant::now(),
            t: Duration::ZERO,
            scripts: scripts
                .iter()
                .map(|(n, b)| (n.to_string(), b.clone()))
                .collect(),
            starts: HashMap::new(),
            procs: HashMap::new(),
            next_pid: 100,
            rootlesskit_after: Duration::ZERO,
            stop_when,
            events: vec![],
            statuses: vec![],
            said: vec![],
            notified: vec![],
            files: BTreeSet::new(),
            written: HashMap::new(),
            removed: vec![],
            logs: HashMap::new(),
        }
    }

    /// The last status written.
    pub fn last(&self) -> &SupervisorStatus {
        self.statuses.last().expect("a status was written")
    }

    /// The events about `name`, with their times.
    pub fn of(&self, name: &str) -> Vec<(Duration, Event)> {
        self.events
            .iter()
            .filter(|(_, e)| match e {
                Event::Spawned(n) | Event::Term(n) | Event::KillGroup(n) | Event::Exited(n) => {
                    n == name
                }
            })
            .cloned()
            .collect()
    }

    /// When `name` was started, each time.
    pub fn starts(&self, name: &str) -> Vec<Duration> {
        self.of(name)
            .into_iter()
            .filter(|(_, e)| matches!(e, Event::Spawned(_)))
            .map(|(t, _)| t)
            .collect()
    }

    /// The events of one kind, in order: `kind(name)` picks them.
    pub fn names(&self, kind: fn(&Event) -> Option<&str>) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|(_, e)| kind(e).map(str::to_string))
            .collect()
    }

    fn proc_named(&self, name: &str) -> Option<&Proc> {
        self.procs
            .values()
            .find(|p| p.name == name && p.end_at(self.t).is_none())
    }
}

impl Host for Fake {
    fn now(&self) -> Instant {
        self.base + self.t
    }

    fn unix_now(&self) -> f64 {
        1_000_000.0 + self.t.as_secs_f64()
    }

    fn sleep(&mut self, d: Duration) {
        self.t += d;
    }

    fn stop_requested(&self) -> bool {
        self.t >= LIMIT
            || self
                .statuses
                .last()
                .is_some_and(|st| (self.stop_when)(st, self.t))
    }

    fn spawn(&mut self, l: &Launch) -> std::result::Result<i32, String> {
        let n = self.starts.entry(l.name.to_string()).or_default();
        let script = self
            .scripts
            .get(l.name)
            .unwrap_or_else(|| panic!("no script for {}", l.name));
        let b = script[(*n).min(script.len() - 1)].clone();
        *n += 1;
        assert_eq!(
            l.attempt as usize, *n,
            "{}: attempt numbers count starts",
            l.name
        );
        if b.fails_to_start {
            return Err(format!(
                "cannot start {}: No such file or directory",
                l.program.display()
            ));
        }
        let pid = self.next_pid;
        self.next_pid += 1;
        self.events
            .push((self.t, Event::Spawned(l.name.to_string())));
        self.procs.insert(
            pid,
            Proc {
                name: l.name.to_string(),
                started: self.t,
                b,
                end: None,
            },
        );
        Ok(pid)
    }

    fn try_wait(&mut self, pid: i32) -> std::io::Result<Option<ExitStatus>> {
        let t = self.t;
        let p = self
            .procs
            .get_mut(&pid)
            .ok_or_else(|| std::io::Error::other("not a child"))?;
        match p.end_at(t) {
            Some((_, st)) => {
                let name = p.name.clone();
                self.procs.remove(&pid);
                self.events.push((t, Event::Exited(name)));
                Ok(Some(st))
            }
            None => Ok(None),
        }
    }

    fn wait(&mut self, pid: i32) -> Option<ExitStatus> {
        let p = self.procs.remove(&pid)?;
        let (at, st) = p.end_at(Duration::MAX).expect("wait only after SIGKILL");
        self.t = self.t.max(at);
        self.events.push((self.t, Event::Exited(p.name)));
        Some(st)
    }

    fn terminate(&mut self, pid: i32) {
        let t = self.t;
        if let Some(p) = self.procs.get_mut(&pid) {
            self.events.push((t, Event::Term(p.name.clone())));
            if !p.b.ignores_term && p.end_at(t).is_none() {
                p.end = Some((t + Duration::from_millis(1), ExitStatus::from_raw(0)));
            }
        }
    }

    fn kill_group(&mut self, pid: i32) {
        let t = self.t;
        if let Some(p) = self.procs.get_mut(&pid) {
            self.events.push((t, Event::KillGroup(p.name.clone())));
            if p.end_at(t).is_none() {
                p.end = Some((t, ExitStatus::from_raw(libc::SIGKILL)));
            }
        }
    }

    fn probe(&mut self, name: &str, _probe: &Probe) -> std::result::Result<(), String> {
        let t = self.t;
        let p = self
            .proc_named(name)
            .ok_or_else(|| format!("{name}: not running"))?;
        let again = p.b.answers_again_after.is_some_and(|d| p.started + d <= t);
        if p.b.unanswering_after.is_some_and(|d| p.started + d <= t) && !again {
            return Err(format!("{name}.sock: No such file or directory"));
        }
        match p.b.ready_after {
            Some(d) if p.started + d <= t => Ok(()),
            _ => Err("connection refused".into()),
        }
    }

    fn rootlesskit_version(&mut self) -> Option<String> {
        (self.t >= self.rootlesskit_after).then(|| "3.1.0".into())
    }

    fn exists(&self, path: &Path) -> bool {
        self.files.contains(path)
    }

    fn remove_file(&mut self, path: &Path) {
        self.files.remove(path);
        self.removed.push(path.to_path_buf());
    }

    fn write_marker(&mut self, path: &Path, content: &str) -> std::result::Result<(), String> {
        self.files.insert(path.to_path_buf());
        self.written.insert(path.to_path_buf(), content.to_string());
        Ok(())
    }

    fn write_status(&mut self, st: &SupervisorStatus) -> Result<()> {
        self.statuses.push(st.clone());
        Ok(())
    }

    fn notify(&mut self, msg: &str) {
        self.notified.push(msg.to_string());
    }

    fn say(&mut self, msg: &str) {
        self.said.push(msg.to_string());
    }

    fn log_tail(&self, log: &Path, n: usize) -> Vec<String> {
        let l = self.logs.get(log).cloned().unwrap_or_default();
        l[l.len().saturating_sub(n)..].to_vec()
    }
}
