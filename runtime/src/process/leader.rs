//! The top process of a session (`u7s up`, foreground or the background half of `--detach`):
//! takes the session lock, cleans a stale session, refuses to start beside a live one or a
//! foreign dockerd, starts RootlessKit with `u7s __child` as its child (own process group,
//! `PR_SET_PDEATHSIG=SIGKILL`, so killing this process takes the whole session down: RootlessKit
//! kills its child, pid 1 of the session's pid namespace), runs the doctor beside it, forwards
//! stop signals, and cleans its record when the session ends.

use crate::error::{Error, Result};
use crate::host::binaries::Bins;
use crate::host::fsutil::ensure_dir;
use crate::rootlesskit::flags::{self, RkOptions};
use crate::session;
use crate::session::config::{CHILD_CONFIG_ENV, ChildConfig, Cri, SESSION_ENV, SessionConfig};
use crate::session::paths::Paths;
use crate::session::status::{SessionFile, write_json};
use crate::supervisor::unix_now;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// How the top process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderOptions {
    /// Run the doctor's checks beside the start.
    pub doctor: bool,
    /// Started by `u7s up --detach` (output goes to the session log).
    pub detached: bool,
}

/// The doctor's verdict, as text for people; `None` when nothing failed.
pub fn doctor_failures(kube: bool) -> Option<String> {
    let opts = doctor::Options {
        target: if kube {
            doctor::Target::Kubernetes
        } else {
            doctor::Target::Docker
        },
        ..Default::default()
    };
    let mut text = render_failures(&doctor::run(&opts))?;
    if kube {
        let docker = doctor::Options {
            target: doctor::Target::Docker,
            ..Default::default()
        };
        if !doctor::run(&docker).has_failures() {
            text.push_str(
                "\n  (what fails is needed by Kubernetes only: `u7s up --no-kube` runs the \
                 container runtime alone on this host)",
            );
        }
    }
    Some(text)
}

/// The doctor running beside a start. Dropping it waits (at most 10 s) until the doctor has
/// finished, so that a start failing early never exits in the middle of a probe and leaves its
/// scratch folder behind.
pub struct DoctorThread {
    /// The verdict ([`doctor_failures`]), once.
    pub verdict: mpsc::Receiver<Option<String>>,
    done: mpsc::Receiver<()>,
}

impl DoctorThread {
    /// Starts the doctor's checks for a session with or without Kubernetes.
    pub fn spawn(kube: bool) -> DoctorThread {
        let (tx, verdict) = mpsc::channel();
        let (done_tx, done) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            let _ = tx.send(doctor_failures(kube));
            drop(done_tx);
        });
        DoctorThread { verdict, done }
    }
}

impl Drop for DoctorThread {
    fn drop(&mut self) {
        let _ = self.done.recv_timeout(Duration::from_secs(10));
    }
}

/// Why root gets no session, and what to do instead.
pub const ROOT_REFUSAL: &str = "running as root: usernetes runs as an unprivileged user; log in \
     as that user (ssh USER@localhost, or machinectl shell USER@) and run it there";

/// The paths of a session about to start; for root without `XDG_RUNTIME_DIR`, the error is
/// being root, not the variable.
pub fn start_paths() -> Result<Paths> {
    match Paths::from_process() {
        Err(Error::Env { .. }) if nix::unistd::geteuid().is_root() => {
            Err(Error::Usage(ROOT_REFUSAL.into()))
        }
        other => other,
    }
}

/// Refuses to run a session as root, before anything is written.
pub fn refuse_root() -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        return Err(Error::Usage(ROOT_REFUSAL.into()));
    }
    Ok(())
}

/// Every program the session's plan needs is there and every `-p` port can be published:
/// checked before anything starts or is written, with the same one-line error in the
/// foreground and with `--detach`. The plan is computed with provisional facts, only for its
/// missing-binary errors.
pub fn preflight(cfg: &SessionConfig, paths: &Paths, bins: &Bins) -> Result<()> {
    bins.require("rootlesskit", "the session")?;
    bins.require("slirp4netns", "the session's network")?;
    let cgroup2 = flags::detect_cgroup2_delegated();
    let child = ChildConfig {
        session: cfg.clone(),
        paths: paths.clone(),
        bins: bins.clone(),
        session_id: String::new(),
        leader_pid: 0,
        started_at: 0.0,
        cgroup2,
    };
    let provisional = crate::components::Facts {
        storage: crate::host::storage::Storage::Overlay,
        containerd_major: 2,
        cgroup2,
        etcd_version: None,
    };
    crate::components::plan(&child, &provisional, &|n: &str| bins.find(n))?;
    check_publish(cfg)
}

/// The ports the session publishes (`-p` and its own): no two on the same host port, none
/// already taken on the host; a taken one is named with who holds it and what to change.
pub fn check_publish(cfg: &SessionConfig) -> Result<()> {
    let publish = cfg.all_publish();
    for (i, p) in publish.iter().enumerate() {
        if let Some(q) = publish[..i].iter().find(|q| q.same_parent(p)) {
            return Err(Error::Usage(format!(
                "-p {p} and -p {q} use the same host port: give each its own"
            )));
        }
        let fix = if cfg.publish.contains(p) {
            crate::rootlesskit::portspec::FIX.to_string()
        } else if p.proto == "tcp" && p.parent_port == cfg.k8s.apiserver_port {
            format!(
                "start this session's apiserver on another port with `--apiserver-port PORT` \
                 (each user of a shared host needs their own; later starts remember it), or \
                 stop what listens on {}",
                p.parent_port
            )
        } else {
            "the other nodes of the cluster reach this host there: stop what listens there"
                .to_string()
        };
        p.check_host_port_free(&fix)?;
    }
    Ok(())
}

/// The failing checks of `report` with their fixes, for people; `None` when nothing failed.
pub fn render_failures(report: &doctor::Report) -> Option<String> {
    if !report.has_failures() {
        return None;
    }
    let mut out = format!(
        "the host is not ready for a rootless session ({}):\n",
        report.summary_line()
    );
    for c in report
        .checks
        .iter()
        .filter(|c| c.status == doctor::Status::Fail)
    {
        out.push_str(&format!("  [{}] {}\n", c.id, c.finding));
        if let Some(fix) = &c.fix {
            let who = if c.needs_root { "as root" } else { "as you" };
            out.push_str(&format!(
                "      fix ({who}): {}\n",
                fix.replace('\n', "\n        ")
            ));
        }
    }
    out.push_str(
        "  (run `u7s-doctor` for the full report, or `u7s up --no-doctor` to start anyway)",
    );
    Some(out)
}

/// Rotates `NAME.log` to `NAME.log.1` for every log, except `keep`.
pub fn rotate_logs(paths: &Paths, keep: Option<&str>) {
    let Ok(rd) = std::fs::read_dir(paths.logs()) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".log") && Some(name.trim_end_matches(".log")) != keep {
            let _ = std::fs::rename(e.path(), paths.logs().join(format!("{name}.1")));
        }
    }
}

/// Refuses to start when something else answers on the Docker socket.
fn check_foreign_dockerd(paths: &Paths, cri: Cri) -> Result<()> {
    if cri == Cri::Docker && std::os::unix::net::UnixStream::connect(paths.docker_sock()).is_ok() {
        return Err(Error::Usage(format!(
            "another dockerd already answers on {} (dockerd-rootless.sh or a previous session?); \
             stop it first (e.g. `systemctl --user stop docker`)",
            paths.docker_sock().display()
        )));
    }
    Ok(())
}

/// Runs a session in this process until it ends; returns the exit code.
pub fn run(cfg: SessionConfig, opts: LeaderOptions) -> Result<i32> {
    cfg.validate()?;
    let paths = start_paths()?;
    preflight(&cfg, &paths, &Bins::from_process())?;
    refuse_root()?;
    // With --detach, the foreground process took the lock before touching the logs and hands
    // it over; a second start finds it held and names its holder.
    let lock = session::take_lock(&paths, opts.detached)?;
    // The data folder may be shared with a session of another XDG_RUNTIME_DIR or host: its own
    // lock decides, before anything there (logs included) is touched.
    let data_lock = session::lock_data(&paths)?;
    // We hold the lock: a record left behind belongs to a crashed session.
    let old: Option<SessionFile> =
        crate::session::status::read_json(&paths.session_file()).unwrap_or(None);
    if let Some(old) = &old {
        eprintln!(
            "u7s: cleaning up a stale session ({}, its top process {} is gone)",
            old.id, old.leader_pid
        );
    }
    let left: Vec<_> = session::clean_stale(&paths, old.as_ref())
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    if !left.is_empty() {
        // Files of sub-UIDs: removed from inside a user namespace.
        if let Err(e) = crate::session::reset::remove_all(&Bins::from_process(), &left) {
            eprintln!("u7s: warning: {e} (`u7s reset` retries)");
        }
    }
    check_foreign_dockerd(&paths, cfg.cri)?;
    ensure_dir(&paths.state, 0o700)?;
    ensure_dir(&paths.logs(), 0o700)?;
    if !opts.detached {
        rotate_logs(&paths, None);
    }

    let bins = Bins::from_process();
    let rootlesskit = bins.require("rootlesskit", "the session")?;
    let slirp = bins.require("slirp4netns", "the session's network")?;
    let exe = std::env::current_exe().map_err(|e| Error::os("locating the u7s executable", e))?;
    let cgroup2 = flags::detect_cgroup2_delegated();
    let leader_pid = std::process::id() as i32;
    let started_at = unix_now();
    let id = format!("{leader_pid}-{}", (started_at * 1000.0) as u64);
    let child = ChildConfig {
        session: cfg.clone(),
        paths: paths.clone(),
        bins: bins.clone(),
        session_id: id.clone(),
        leader_pid,
        started_at,
        cgroup2,
    };
    let args = flags::args(
        &RkOptions {
            state_dir: paths.rootlesskit(),
            cidr: cfg.cidr.clone(),
            cgroup2_delegated: cgroup2,
            slirp4netns: Some(slirp),
            publish: cfg.all_publish(),
            extra: cfg.rootlesskit_flags.clone(),
        },
        &[exe.display().to_string(), "__child".into()],
    );
    let mut cmd = Command::new(&rootlesskit);
    cmd.args(&args)
        .env("PATH", bins.child_path())
        .env(SESSION_ENV, &id)
        .env(CHILD_CONFIG_ENV, child.to_env())
        .env_remove(session::LOCK_FD_ENV)
        .stdin(Stdio::null())
        // Through a filter (rootlesskit::output), with the session's own output.
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut rk = cmd
        .spawn()
        .map_err(|e| Error::os(format!("starting {}", rootlesskit.display()), e))?;
    let rk_pid = rk.id() as i32;
    let (output_done, output_finished) = mpsc::channel::<()>();
    if let Some(err) = rk.stderr.take() {
        std::thread::spawn(move || {
            crate::rootlesskit::output::forward(err, std::io::stderr());
            drop(output_done);
        });
    }
    write_json(
        &paths.session_file(),
        &SessionFile {
            id: id.clone(),
            leader_pid,
            leader_start: crate::host::procfs::start_time(leader_pid),
            rootlesskit_pid: Some(rk_pid),
            started_at,
            config: cfg.clone(),
            detached: opts.detached,
        },
    )?;

    // Stop signals go to RootlessKit, which forwards them to the supervisor.
    let target = Arc::new(AtomicI32::new(rk_pid));
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGQUIT,
    ])
    .map_err(|e| Error::os("installing signal handlers", e))?;
    let t = Arc::clone(&target);
    std::thread::spawn(move || {
        for sig in signals.forever() {
            let pid = t.load(Ordering::SeqCst);
            if pid > 0 {
                let s = Signal::try_from(sig).unwrap_or(Signal::SIGTERM);
                let _ = kill(Pid::from_raw(pid), s);
            }
        }
    });

    let doctor = opts.doctor.then(|| DoctorThread::spawn(cfg.kube));

    let mut code = None;
    // In the foreground, the next steps once the session is first ready (`--detach` prints
    // them itself).
    let mut next_steps_due = !opts.detached;
    let mut polls = 0u32;
    let status = loop {
        match rk.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => return Err(Error::os("waiting for RootlessKit", e)),
        }
        polls = polls.wrapping_add(1);
        if next_steps_due && polls.is_multiple_of(20) {
            let st: Option<crate::session::status::SupervisorStatus> =
                crate::session::status::read_json(&paths.status_file()).unwrap_or(None);
            if let Some(st) = st.filter(|s| {
                s.leader_pid == leader_pid && s.state == crate::session::status::State::Ready
            }) {
                next_steps_due = false;
                for l in crate::session::inspect::next_steps(&st, &paths) {
                    eprintln!("{l}");
                }
            }
        }
        if let Some(Ok(Some(failures))) = doctor.as_ref().map(|d| d.verdict.try_recv()) {
            eprintln!("u7s: {failures}");
            code = Some(1);
            let _ = kill(Pid::from_raw(rk_pid), Signal::SIGTERM);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    target.store(0, Ordering::SeqCst);
    // The session's last words (why it ended) are out before this process is.
    let _ = output_finished.recv_timeout(Duration::from_secs(2));
    let _ = std::fs::remove_file(paths.session_file());
    drop(data_lock);
    drop(lock);
    let rc = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    Ok(code.unwrap_or(rc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootlesskit::portspec::PortSpec;

    fn check(id: &str, status: doctor::Status, fix: Option<&str>) -> doctor::CheckResult {
        doctor::CheckResult {
            id: id.into(),
            group: "subid".into(),
            status,
            finding: format!("finding of {id}"),
            fix: fix.map(str::to_string),
            needs_root: true,
        }
    }

    #[test]
    fn publish_refuses_a_duplicate_and_a_busy_host_port_at_once() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let a = PortSpec::parse(&format!("127.0.0.1:{port}:80/tcp")).unwrap();
        let b = PortSpec::parse(&format!("{port}:81")).unwrap();
        let mut cfg = crate::session::config::docker_no_kube();
        cfg.publish = vec![a, b];
        let e = check_publish(&cfg).unwrap_err().to_string();
        assert!(e.contains("use the same host port"), "{e}");
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        cfg.publish = vec![PortSpec::parse(&format!("{port}:80")).unwrap()];
        let e = check_publish(&cfg).unwrap_err().to_string();
        let me = std::process::id();
        assert!(
            e.contains("already in use by")
                && e.contains(&format!("pid {me}"))
                && e.contains("choose another host port"),
            "{e}"
        );
    }

    #[test]
    fn a_taken_apiserver_port_names_its_holder_and_the_flag() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let mut cfg = crate::session::config::docker_no_kube();
        cfg.kube = true;
        cfg.k8s.apiserver_port = port;
        let e = check_publish(&cfg).unwrap_err().to_string();
        let uid = nix::unistd::getuid().as_raw();
        assert!(
            e.contains(&format!(
                "host port 127.0.0.1:{port}/tcp is already in use by"
            )) && e.contains(&format!("(uid {uid})"))
                && e.contains("--apiserver-port PORT"),
            "{e}"
        );
        drop(taken);
        check_publish(&cfg).unwrap();
    }

    #[test]
    fn doctor_failures_name_the_check_and_the_fix() {
        let mut report = doctor::Report {
            distro: Default::default(),
            target: doctor::Target::Docker,
            user: "alice".into(),
            checks: vec![
                check("subuid.range", doctor::Status::Pass, None),
                check("sysctl.x", doctor::Status::Warn, Some("sysctl -w x=1")),
            ],
        };
        assert_eq!(
            render_failures(&report),
            None,
            "warnings do not stop a start"
        );
        report.checks.push(check(
            "subuid.present",
            doctor::Status::Fail,
            Some("usermod --add-subuids 100000-165535 alice"),
        ));
        let text = render_failures(&report).unwrap();
        assert!(
            text.contains("[subuid.present] finding of subuid.present"),
            "{text}"
        );
        assert!(
            text.contains("fix (as root): usermod --add-subuids"),
            "{text}"
        );
        assert!(!text.contains("sysctl.x"), "only failures: {text}");
        assert!(text.contains("--no-doctor"));
    }
}
