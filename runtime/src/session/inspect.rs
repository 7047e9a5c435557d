//! Assembles `u7s status`: the session record, the supervisor's status file, host pids of the
//! components (mapped from their pids inside the session's pid namespace), uptimes, versions
//! (`PROGRAM --version`, run in parallel) and the published ports from RootlessKit's API; and
//! the next steps shown once a session is ready (foreground and `--detach` alike).

use crate::error::Result;
use crate::host::procfs;
use crate::rootlesskit::api::Client;
use crate::session::paths::Paths;
use crate::session::status::{Report, SessionReport, State, SupervisorStatus, read_json};
use crate::session::{self, Liveness};
use crate::supervisor::unix_now;
use std::path::Path;
use std::time::Duration;

/// What to do with a ready session, one line each: `export DOCKER_HOST=…` when it runs
/// dockerd, then the commands to try next as a sentence (no shell syntax: pasting it runs
/// nothing).
pub fn next_steps(status: &SupervisorStatus, paths: &Paths) -> Vec<String> {
    let names: Vec<&str> = status.components.iter().map(|c| c.name.as_str()).collect();
    let mut out = vec![];
    if names.contains(&"dockerd") {
        out.push(format!("  export DOCKER_HOST={}", paths.docker_host()));
    }
    let log = names
        .iter()
        .find(|c| **c == "dockerd")
        .or_else(|| names.first())
        .copied()
        .unwrap_or("session");
    out.push(format!(
        "  next: u7s status, u7s logs {log}, u7s down (to stop)"
    ));
    out
}

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
                start_blockers: start_blockers(paths),
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
    // The PKI read once for both certificate lines.
    let certs = if cfg.kube || cfg.etcd {
        crate::pki::inventory::current(&crate::pki::Pki::new(paths.pki()))
    } else {
        vec![]
    };
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
        cert_expiry: crate::pki::inventory::earliest_expiry(&certs)
            .map(|(role, days_left)| crate::session::status::CertExpiry { role, days_left }),
        cert_problems: crate::pki::inventory::problem_lines(&certs),
        node: node_health(cfg, paths).map(|mut h| {
            let states: Vec<_> = components
                .iter()
                .map(|c| (c.name.clone(), c.state))
                .collect();
            crate::session::node_health::explain_unstarted_kubelet(&mut h, &states);
            h
        }),
    };
    Ok(Report {
        running: true,
        session: Some(session),
        components,
        ports,
        start_blockers: vec![],
    })
}

/// What `u7s up` would refuse now, as its error says it: certificates it cannot use (checked
/// against the recorded spec) and an etcd data folder from a newer etcd than the release's.
fn start_blockers(paths: &Paths) -> Vec<String> {
    let mut out = vec![];
    let pki = crate::pki::Pki::new(paths.pki());
    if let Ok(Some(spec)) = pki.load_spec()
        && let Err(e) = crate::pki::gate::check(&pki, &spec)
    {
        out.push(e.to_string());
    }
    let release = crate::host::binaries::Bins::from_process()
        .find("etcd")
        .and_then(|b| crate::session::etcd_data::release_version(&b));
    if let Err(e) = crate::session::etcd_data::check(paths, release) {
        out.push(e.to_string());
    }
    out
}

/// A master's node as its apiserver sees it; `None` without Kubernetes, on a joined node (its
/// apiserver is elsewhere) or when the apiserver does not answer.
fn node_health(
    cfg: &crate::session::config::SessionConfig,
    paths: &Paths,
) -> Option<crate::session::node_health::NodeHealth> {
    use crate::session::config::{Cri, Role};
    if !cfg.kube || cfg.k8s.role != Role::Master {
        return None;
    }
    let cri_log = match cfg.cri {
        Cri::Docker => "cri-dockerd",
        Cri::Containerd => "containerd",
        Cri::Crio => "crio",
    };
    crate::session::node_health::fetch(
        &crate::pki::Pki::new(paths.pki()),
        cfg.k8s.apiserver_port,
        &cfg.k8s.node_name,
        cri_log,
    )
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

    fn ready(components: &[&str]) -> SupervisorStatus {
        let comps: Vec<serde_json::Value> = components
            .iter()
            .map(|n| {
                serde_json::json!({"name": n, "state": "ready", "ns_pid": 2, "restarts": 0,
                    "started_at": 1.0, "ready_at": 2.0, "endpoint": "e", "program": "/p",
                    "log": "/l", "last_exit": null})
            })
            .collect();
        serde_json::from_value(serde_json::json!({"session_id": "s", "leader_pid": 1,
            "state": "ready", "started_at": 1.0, "ready_at": 2.0, "storage": "overlayfs",
            "components": comps, "error": null, "rootlesskit_version": null}))
        .unwrap()
    }

    fn paths() -> Paths {
        let env = crate::session::paths::Env {
            home: Some("/home/u".into()),
            xdg_runtime_dir: Some("/run/user/1000".into()),
            xdg_data_home: None,
            xdg_config_home: None,
            uid: 1000,
        };
        Paths::resolve(&env, |_| false).unwrap()
    }

    #[test]
    fn next_steps_name_docker_host_only_with_dockerd() {
        let p = paths();
        let s = next_steps(&ready(&["containerd", "dockerd"]), &p);
        assert_eq!(
            s,
            [
                "  export DOCKER_HOST=unix:///run/user/1000/docker.sock".to_string(),
                "  next: u7s status, u7s logs dockerd, u7s down (to stop)".to_string(),
            ]
        );
        let s = next_steps(&ready(&["containerd"]), &p);
        assert_eq!(
            s,
            ["  next: u7s status, u7s logs containerd, u7s down (to stop)"]
        );
    }

    #[test]
    fn the_next_step_hint_runs_nothing_when_pasted() {
        let h = next_steps(&ready(&["containerd", "dockerd"]), &paths())[1].clone();
        assert!(h.contains("u7s logs dockerd"), "{h}");
        // Pasted into a shell, with a `u7s` on PATH that leaves a mark when run.
        let d = tempfile::tempdir().unwrap();
        let fake = d.path().join("u7s");
        std::fs::write(&fake, "#!/bin/sh\ntouch \"$0.ran\"\n").unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let _ = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(h.trim())
            .env("PATH", d.path())
            .output()
            .unwrap();
        assert!(!d.path().join("u7s.ran").exists(), "pasting {h:?} ran u7s");
    }
}
