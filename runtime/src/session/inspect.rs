//! Assembles `u7s status`: the session record, the supervisor's status file, host pids of the
//! components (mapped from their pids inside the session's pid namespace), uptimes, versions
//! (`PROGRAM --version`, run in parallel) and the published ports from RootlessKit's API.

use crate::error::Result;
use crate::host::procfs;
use crate::rootlesskit::api::Client;
use crate::session::paths::Paths;
use crate::session::status::{Report, SessionReport, State, SupervisorStatus, read_json};
use crate::session::{self, Liveness};
use crate::supervisor::unix_now;
use std::path::Path;
use std::time::Duration;

/// The first line of `program --version`, or `None` (2 s at most).
pub fn version_of(program: &Path) -> Option<String> {
    version_within(program, Duration::from_secs(2))
}

/// The first line of `program --version` printed within `limit`.
pub fn version_within(program: &Path, limit: Duration) -> Option<String> {
    let child = std::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let (tx, rx) = std::sync::mpsc::channel();
    let pid = child.id() as i32;
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(o)) => String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty()),
        _ => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            None
        }
    }
}

/// The report of the current session (or of none).
pub fn report(paths: &Paths) -> Result<Report> {
    let rec = match session::liveness(paths)? {
        Liveness::Live(Some(r)) => r,
        _ => {
            return Ok(Report {
                running: false,
                session: None,
                components: vec![],
                ports: vec![],
            });
        }
    };
    let sup: Option<SupervisorStatus> = read_json(&paths.status_file())
        .unwrap_or(None)
        .filter(|s: &SupervisorStatus| s.session_id == rec.id);
    let child_pid = procfs::read_pid(&paths.child_pid_file());
    let mut components = sup
        .as_ref()
        .map(|s| s.components.clone())
        .unwrap_or_default();
    let inner: Vec<i32> = components.iter().filter_map(|c| c.ns_pid).collect();
    let map = child_pid
        .map(|c| procfs::host_pids(c, &inner))
        .unwrap_or_default();
    let now = unix_now();
    let versions: Vec<_> = components
        .iter()
        .map(|c| {
            let p = c.program.clone();
            std::thread::spawn(move || version_of(&p))
        })
        .collect();
    for (c, v) in components.iter_mut().zip(versions) {
        c.pid = c
            .ns_pid
            .and_then(|n| map.iter().find(|(i, _)| *i == n).map(|(_, h)| *h));
        c.uptime_secs = c.started_at.filter(|_| c.ns_pid.is_some()).map(|s| now - s);
        c.version = v.join().ok().flatten();
    }
    let ports = Client::new(paths.api_sock())
        .with_timeout(Duration::from_secs(2))
        .list()
        .unwrap_or_default();
    let cfg = &rec.config;
    let session = SessionReport {
        id: rec.id.clone(),
        state: sup.as_ref().map_or(State::Starting, |s| s.state),
        pid: rec.leader_pid,
        rootlesskit_pid: rec.rootlesskit_pid,
        child_pid,
        started_at: rec.started_at,
        uptime_secs: now - rec.started_at,
        cri: cfg.cri.name().into(),
        kube: cfg.kube,
        etcd: cfg.etcd || cfg.kube,
        storage: sup
            .as_ref()
            .map(|s| s.storage.clone())
            .filter(|s| !s.is_empty()),
        cgroups: sup.as_ref().and_then(|s| s.cgroups),
        rootlesskit_version: sup.as_ref().and_then(|s| s.rootlesskit_version.clone()),
        error: sup.as_ref().and_then(|s| s.error.clone()),
        docker_host: (cfg.cri == crate::session::config::Cri::Docker).then(|| paths.docker_host()),
        state_dir: paths.state.clone(),
        data_dir: paths.data.clone(),
        config_dir: paths.config.clone(),
        cert_expiry: (cfg.kube || cfg.etcd)
            .then(|| crate::pki::inventory::earliest_expiry(&crate::pki::Pki::new(paths.pki())))
            .flatten()
            .map(|(role, days_left)| crate::session::status::CertExpiry { role, days_left }),
    };
    Ok(Report {
        running: true,
        session: Some(session),
        components,
        ports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_first_line_or_nothing() {
        let d = tempfile::tempdir().unwrap();
        let mk = |name: &str, body: &str| {
            let p = d.path().join(name);
            testkit::write_executable(&p, format!("#!/bin/sh\n{body}\n").as_bytes());
            p
        };
        let good = mk("good", "echo 'tool version 1.2.3'; echo second line");
        assert_eq!(version_of(&good).as_deref(), Some("tool version 1.2.3"));
        let slow = mk("slow", "exec sleep 10");
        assert_eq!(version_within(&slow, Duration::from_millis(200)), None);
        let silent = mk("silent", "exit 1");
        assert_eq!(version_of(&silent), None);
        assert_eq!(version_of(Path::new("/no/such/program")), None);
    }
}
