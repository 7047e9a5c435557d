//! The status model: what the supervisor writes to `STATE/status.json` on every change
//! ([`SupervisorStatus`]), what the top process writes to `STATE/session.json`
//! ([`SessionFile`]), and what `u7s status [--json]` prints ([`Report`]), with its text form.

use crate::error::{Error, Result};
use crate::host::cgroups::CgroupMode;
use crate::rootlesskit::portspec::PortStatus;
use crate::session::config::SessionConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The life cycle of the session and of each component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Waiting,
    Starting,
    Ready,
    Restarting,
    Stopping,
    Stopped,
    Failed,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Starting => "starting",
            State::Ready => "ready",
            State::Restarting => "restarting",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
            State::Failed => "failed",
        }
    }
}

/// One component as the supervisor sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentStatus {
    pub name: String,
    pub state: State,
    /// Pid inside the session's pid namespace.
    pub ns_pid: Option<i32>,
    /// Pid on the host (filled in by `u7s status`).
    #[serde(default)]
    pub pid: Option<i32>,
    pub restarts: u32,
    pub started_at: Option<f64>,
    pub ready_at: Option<f64>,
    /// Seconds since the current process started (filled in by `u7s status`).
    #[serde(default)]
    pub uptime_secs: Option<f64>,
    pub endpoint: String,
    pub program: PathBuf,
    pub log: PathBuf,
    /// How the last run ended (`exit status 1`, `signal 9`).
    pub last_exit: Option<String>,
    /// `program --version`, first line (filled in by `u7s status`).
    #[serde(default)]
    pub version: Option<String>,
    /// What is wrong with a running component while the supervisor acts on it: its socket that
    /// stopped answering, the restart that follows (the supervisor's liveness probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
}

/// The supervisor's view, in `STATE/status.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupervisorStatus {
    pub session_id: String,
    pub leader_pid: i32,
    pub state: State,
    pub started_at: f64,
    pub ready_at: Option<f64>,
    pub storage: String,
    pub components: Vec<ComponentStatus>,
    /// Why the session failed.
    pub error: Option<String>,
    /// RootlessKit's version (from its API).
    pub rootlesskit_version: Option<String>,
    /// Whether resource limits are enforced (decided at `u7s up`).
    #[serde(default)]
    pub cgroups: Option<CgroupMode>,
}

/// The top process's record, in `STATE/session.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionFile {
    pub id: String,
    pub leader_pid: i32,
    /// Start time of the top process (clock ticks), against pid reuse.
    pub leader_start: Option<u64>,
    pub rootlesskit_pid: Option<i32>,
    pub started_at: f64,
    pub config: SessionConfig,
    pub detached: bool,
}

/// The session in `u7s status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionReport {
    pub id: String,
    pub state: State,
    /// The top process (what `u7s down` signals).
    pub pid: i32,
    pub rootlesskit_pid: Option<i32>,
    /// Host pid of pid 1 of the session's namespaces.
    pub child_pid: Option<i32>,
    pub started_at: f64,
    pub uptime_secs: f64,
    pub cri: String,
    pub kube: bool,
    pub etcd: bool,
    pub storage: Option<String>,
    /// Whether resource limits are enforced ([`CgroupMode`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroups: Option<CgroupMode>,
    pub rootlesskit_version: Option<String>,
    pub error: Option<String>,
    pub docker_host: Option<String>,
    pub state_dir: PathBuf,
    pub data_dir: PathBuf,
    pub config_dir: PathBuf,
    /// The certificate that expires first: its role and the days left (`u7s certs renew`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_expiry: Option<CertExpiry>,
    /// Certificates with problems (expired, not signed by this CA, wrong names…), one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cert_problems: Vec<String>,
    /// A master's Kubernetes node as the apiserver sees it (Ready, or what is wrong).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<crate::session::node_health::NodeHealth>,
}

/// The certificate closest to expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertExpiry {
    pub role: String,
    pub days_left: i64,
}

/// `u7s status --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub running: bool,
    pub session: Option<SessionReport>,
    pub components: Vec<ComponentStatus>,
    pub ports: Vec<PortStatus>,
    /// When no session runs: what would make `u7s up` refuse to start (certificates expired
    /// or of another CA, an etcd data folder from a newer etcd), each with its fix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub start_blockers: Vec<String>,
}

/// Reads a JSON file; `None` when absent.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|source| Error::Json {
                path: path.to_path_buf(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Writes a JSON file atomically.
pub fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    let mut b = serde_json::to_vec_pretty(v).expect("status serialises");
    b.push(b'\n');
    crate::host::fsutil::write_atomic(path, &b, 0o600)
}

/// Seconds as `1h02m`, `3m04s`, `5.2s`.
pub fn human_duration(secs: f64) -> String {
    let s = secs.max(0.0);
    if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{}h{:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

impl Report {
    /// The text of `u7s status`.
    pub fn render(&self) -> String {
        let Some(s) = &self.session else {
            let mut out = format!(
                "usernetes: no session running (start one with `{}`)\n",
                crate::host::binaries::Bins::from_process().start_hint()
            );
            for b in &self.start_blockers {
                out.push_str(&format!("  `u7s up` would refuse to start: {b}\n"));
            }
            return out;
        };
        let mut out = format!(
            "usernetes session {}: {} (up {}), cri {}{}{}\n",
            s.id,
            s.state.name(),
            human_duration(s.uptime_secs),
            s.cri,
            if s.etcd { ", etcd" } else { "" },
            if s.kube {
                ", kubernetes"
            } else {
                ", no kubernetes"
            },
        );
        out.push_str(&format!(
            "  top process pid {}, rootlesskit pid {}, namespace pid 1 = host pid {}{}\n",
            s.pid,
            s.rootlesskit_pid.map_or("-".into(), |p| p.to_string()),
            s.child_pid.map_or("-".into(), |p| p.to_string()),
            s.rootlesskit_version
                .as_ref()
                .map_or(String::new(), |v| format!(" (RootlessKit {v})")),
        ));
        if let Some(st) = &s.storage {
            out.push_str(&format!("  storage: {st}\n"));
        }
        if let Some(c) = s.cgroups {
            out.push_str(&format!("  cgroups: {}\n", c.describe()));
        }
        if let Some(e) = &s.error {
            out.push_str(&format!("  error: {e}\n"));
        }
        for c in self.components.iter() {
            if let Some(h) = &c.health {
                out.push_str(&format!(
                    "  {}: {h}\n    fix: none needed while it restarts; should it keep failing: \
                     `u7s logs {}`, then `u7s down` and `u7s up`\n",
                    c.name, c.name
                ));
            }
        }
        if let Some(n) = &s.node {
            if n.ready {
                out.push_str(&format!("  node: {} Ready\n", n.name));
            } else {
                out.push_str(&format!(
                    "  node: {} NOT Ready ({}: {})\n",
                    n.name, n.reason, n.message
                ));
                if let Some(fix) = &n.fix {
                    out.push_str(&format!("    fix: {fix}\n"));
                }
            }
        }
        if !s.cert_problems.is_empty() {
            out.push_str(&format!(
                "  certificates with problems: {}\n    fix: `u7s certs renew` on the master (a \
                 node: a new bundle from the master, `u7s up --join`); `u7s certs check` lists \
                 them all\n",
                s.cert_problems.join(", ")
            ));
        }
        if let Some(c) = &s.cert_expiry {
            let hint = if c.days_left < 30 {
                " — renew: u7s certs renew"
            } else {
                ""
            };
            out.push_str(&format!(
                "  certificates: first to expire is {} in {} days{hint}\n",
                c.role, c.days_left
            ));
        }
        let mut rows = vec![[
            "COMPONENT".to_string(),
            "STATE".into(),
            "PID".into(),
            "UPTIME".into(),
            "RESTARTS".into(),
            "VERSION".into(),
            "ENDPOINT".into(),
        ]];
        for c in &self.components {
            rows.push([
                c.name.clone(),
                c.state.name().into(),
                c.pid.or(c.ns_pid).map_or("-".into(), |p| p.to_string()),
                c.uptime_secs.map_or("-".into(), human_duration),
                c.restarts.to_string(),
                c.version.as_deref().map_or("-".into(), short_version),
                c.endpoint.clone(),
            ]);
        }
        let widths: Vec<usize> = (0..7)
            .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
            .collect();
        for r in &rows {
            let cells: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            out.push_str("  ");
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        if self.ports.is_empty() {
            out.push_str("  ports: none published (u7s ports add 8080:80/tcp)\n");
        } else {
            out.push_str("  ports:\n");
            for line in crate::rootlesskit::portspec::render_table(&self.ports).lines() {
                out.push_str("    ");
                out.push_str(line);
                out.push('\n');
            }
        }
        if let Some(d) = &s.docker_host {
            out.push_str(&format!("  DOCKER_HOST={d}\n"));
        }
        out
    }
}

/// The version number in a `--version` line, for the table (`--json` keeps the whole line):
/// "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3" → "1.6.20".
pub fn short_version(line: &str) -> String {
    for token in line.split_whitespace() {
        let t = token.trim_start_matches('v');
        if t.starts_with(|c: char| c.is_ascii_digit()) && t.contains('.') {
            let end = t
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(t.len());
            return t[..end].trim_end_matches('.').to_string();
        }
    }
    line.chars().take(24).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_versions_for_the_table() {
        for (line, want) in [
            (
                "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3",
                "1.6.20",
            ),
            ("Docker version 20.10.24+dfsg1, build 297e128", "20.10.24"),
            ("rootlesskit version 1.1.0", "1.1.0"),
            ("etcd Version: 3.4.23", "3.4.23"),
            ("Kubernetes v1.31.2", "1.31.2"),
            ("something", "something"),
        ] {
            assert_eq!(short_version(line), want, "{line}");
        }
    }
    use crate::rootlesskit::portspec::PortSpec;

    fn comp(name: &str, state: State) -> ComponentStatus {
        ComponentStatus {
            name: name.into(),
            state,
            ns_pid: Some(7),
            pid: Some(4242),
            restarts: 1,
            started_at: Some(1.0),
            ready_at: Some(2.0),
            uptime_secs: Some(65.0),
            endpoint: "unix:///run/user/1000/docker.sock".into(),
            program: "/bin/dockerd".into(),
            log: "/l/dockerd.log".into(),
            last_exit: None,
            version: Some("Docker version 20.10".into()),
            health: None,
        }
    }

    fn report() -> Report {
        Report {
            running: true,
            session: Some(SessionReport {
                id: "s1".into(),
                state: State::Ready,
                pid: 100,
                rootlesskit_pid: Some(101),
                child_pid: Some(102),
                started_at: 0.0,
                uptime_secs: 3725.0,
                cri: "docker".into(),
                kube: false,
                etcd: true,
                storage: Some("overlay".into()),
                cgroups: Some(CgroupMode::Unenforced),
                rootlesskit_version: Some("1.1.0".into()),
                error: None,
                docker_host: Some("unix:///run/user/1000/docker.sock".into()),
                state_dir: "/run/user/1000/usernetes".into(),
                data_dir: "/d".into(),
                config_dir: "/c".into(),
                cert_expiry: Some(CertExpiry {
                    role: "etcd-server".into(),
                    days_left: 12,
                }),
                cert_problems: vec![],
                node: None,
            }),
            components: vec![comp("etcd", State::Ready), comp("dockerd", State::Starting)],
            ports: vec![PortStatus {
                id: 1,
                spec: PortSpec::parse("8080:80/tcp").unwrap(),
            }],
            start_blockers: vec![],
        }
    }

    #[test]
    fn json_round_trip_and_stable_names() {
        let r = report();
        let j = serde_json::to_string(&r).unwrap();
        assert!(j.contains("\"state\":\"ready\""));
        assert!(j.contains("\"uptime_secs\":3725.0"));
        let back: Report = serde_json::from_str(&j).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn text_has_components_ports_and_uptime() {
        let t = report().render();
        assert!(t.contains("ready (up 1h02m)"), "{t}");
        assert!(t.contains("etcd"));
        assert!(t.contains("dockerd    starting  4242"), "{t}");
        assert!(t.contains("127.0.0.1"), "{t}");
        assert!(t.contains("RootlessKit 1.1.0"));
        assert!(
            t.contains("cgroups: no writable cgroups") && t.contains("without resource limits"),
            "{t}"
        );
        assert!(
            t.contains("first to expire is etcd-server in 12 days — renew: u7s certs renew"),
            "{t}"
        );
        let mut r = report();
        let s = r.session.as_mut().unwrap();
        s.node = crate::session::node_health::from_response(
            "n1",
            200,
            r#"{"status":{"conditions":[{"type":"Ready","status":"False","reason":"KubeletNotReady","message":"cni plugin not initialized"}]}}"#,
            "containerd",
        );
        let t = r.render();
        assert!(
            t.contains("node: n1 NOT Ready (KubeletNotReady: cni plugin not initialized)\n    fix: the pod network is not ready"),
            "{t}"
        );
        r.session.as_mut().unwrap().node.as_mut().unwrap().ready = true;
        assert!(r.render().contains("  node: n1 Ready\n"));
        r.session.as_mut().unwrap().cert_problems = vec!["kubelet: expired".into()];
        let t = r.render();
        assert!(
            t.contains("certificates with problems: kubelet: expired\n    fix: `u7s certs renew`"),
            "{t}"
        );
        let mut none = Report {
            running: false,
            session: None,
            components: vec![],
            ports: vec![],
            start_blockers: vec![],
        };
        assert!(none.render().contains("no session running"));
        assert!(
            !serde_json::to_string(&none)
                .unwrap()
                .contains("start_blockers")
        );
        none.start_blockers = vec!["/d/etcd was written by etcd 3.6.0 … Fix: …".into()];
        let t = none.render();
        assert!(
            t.contains("\n  `u7s up` would refuse to start: /d/etcd was written by etcd 3.6.0"),
            "{t}"
        );
    }

    #[test]
    fn a_component_whose_socket_stopped_answering_is_named_with_the_fix() {
        let mut r = report();
        r.components[1].state = State::Restarting;
        r.components[1].health = Some(
            "unix:///run/user/1000/docker.sock does not answer (connection refused): restarting"
                .into(),
        );
        let t = r.render();
        assert!(
            t.contains(
                "  dockerd: unix:///run/user/1000/docker.sock does not answer (connection refused): \
                 restarting\n    fix: none needed while it restarts; should it keep failing: \
                 `u7s logs dockerd`, then `u7s down` and `u7s up`"
            ),
            "{t}"
        );
        let j = serde_json::to_string(&r).unwrap();
        assert!(j.contains("\"health\":\"unix:///run/user/1000/docker.sock does not answer"));
        assert!(!serde_json::to_string(&report()).unwrap().contains("health"));
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(5.24), "5.2s");
        assert_eq!(human_duration(184.0), "3m04s");
        assert_eq!(human_duration(-1.0), "0.0s");
    }

    #[test]
    fn json_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.json");
        assert!(read_json::<Report>(&p).unwrap().is_none());
        write_json(&p, &report()).unwrap();
        assert_eq!(read_json::<Report>(&p).unwrap(), Some(report()));
        std::fs::write(&p, "{").unwrap();
        assert!(
            read_json::<Report>(&p)
                .unwrap_err()
                .to_string()
                .contains("s.json")
        );
    }
}
