//! u7s-doctor library: checks a host for everything rootless Docker and Kubernetes need, and
//! names the exact fix for the detected distro.
//!
//! [`run`] gathers facts through a [`Host`] (every file read under a root, `/` by default),
//! evaluates pure checks over them, adds live probes when the root is `/`, and returns a
//! [`Report`]. The installer (`u7s-install`) and the runtime (`u7s up`) call it.

pub mod accounts;
mod checks;
pub mod distro;
pub mod facts;
pub mod fixes;
pub mod host;
pub mod kmod;
pub mod mounts;
pub mod probe;
pub mod procfs;
mod render;
pub mod report;
pub mod session_lock;
pub mod subid;
pub mod user_manager;

pub use distro::{Distro, Family};
pub use host::Host;
pub use report::{CheckResult, Report, Status};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What the user wants to run (`--for`): what breaks Docker-only differs from what breaks Kubernetes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Rootless dockerd only (`u7s up --cri docker --no-kube`).
    Docker,
    /// A rootless Kubernetes node (the default).
    #[default]
    Kubernetes,
}

/// What to check and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// `/` = the live host; anything else = a fake tree, read-only, without live probes.
    pub root: PathBuf,
    /// The user to check; defaults to the current user.
    pub user: Option<String>,
    /// What the user wants to run.
    pub target: Target,
    /// Run the live probes (user namespace, overlay, tun); they never run unless root is `/`.
    pub live_probes: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            root: PathBuf::from("/"),
            user: None,
            target: Target::Kubernetes,
            live_probes: true,
        }
    }
}

/// A network usernetes uses (checked against host routes).
#[derive(Debug, Clone, Copy)]
pub struct Network {
    pub name: &'static str,
    pub cidr: &'static str,
    pub kubernetes_only: bool,
}

/// usernetes' default networks (the seed's defaults).
pub const NETWORKS: &[Network] = &[
    Network {
        name: "RootlessKit network",
        cidr: "10.0.42.0/24",
        kubernetes_only: false,
    },
    Network {
        name: "Docker bridge",
        cidr: "172.17.0.0/16",
        kubernetes_only: false,
    },
    Network {
        name: "Kubernetes services",
        cidr: "10.0.0.0/24",
        kubernetes_only: true,
    },
    Network {
        name: "flannel network",
        cidr: "10.5.0.0/16",
        kubernetes_only: true,
    },
    Network {
        name: "CNI bridge",
        cidr: "10.88.0.0/16",
        kubernetes_only: true,
    },
];

/// Runs every check. Never panics on host state: an unreadable file is a finding, not an error.
pub fn run(opts: &Options) -> Report {
    let attempt = std::panic::catch_unwind(|| run_inner(opts));
    attempt.unwrap_or_else(|_| Report {
        distro: Distro::default(),
        target: opts.target,
        user: opts.user.clone().unwrap_or_default(),
        checks: vec![CheckResult {
            id: "doctor.internal".into(),
            group: "session".into(),
            status: Status::Fail,
            finding: "internal error in u7s-doctor (please report it)".into(),
            fix: None,
            needs_root: false,
        }],
    })
}

fn run_inner(opts: &Options) -> Report {
    let host = Host::new(&opts.root);
    let mut f = facts::gather(&host, opts);
    if !host.is_live() {
        f.probe_skipped = Some("live probe: runs only on the live host (--root /)".into());
    } else if !opts.live_probes {
        f.probe_skipped = Some("live probes disabled".into());
    } else {
        match probe_input(&f) {
            Ok(input) => f.probe = Some(probe::run(&input)),
            Err(why) => f.probe_skipped = Some(why),
        }
    }
    let mut checks = checks::all(&f);
    if f.user.as_ref().is_ok_and(|u| u.uid == 0) {
        // Fixes for root's own sub-IDs, limits, ... would mislead: root does not run usernetes.
        for c in checks.iter_mut().filter(|c| c.id != "session.not_root") {
            c.fix = None;
            c.needs_root = false;
        }
    }
    Report {
        distro: f.distro.clone(),
        target: opts.target,
        user: f
            .user
            .as_ref()
            .map(|u| u.name.clone())
            .unwrap_or_else(|_| opts.user.clone().unwrap_or_default()),
        checks,
    }
}

fn probe_input(f: &facts::Facts) -> Result<probe::ProbeInput, String> {
    let u = f.user.as_ref().map_err(|e| e.clone())?;
    let euid = f.process_ids.map(|p| p.0).unwrap_or(u32::MAX);
    if u.uid == 0 {
        return Err("the probes run as an unprivileged user: pass --user NAME".into());
    }
    let drop_privileges = match euid {
        0 => true,
        e if e == u.uid => false,
        _ => return Err(format!("cannot probe as {} from another user", u.name)),
    };
    let ranges = |s: &facts::SubIdFact| -> Vec<(u64, u64)> {
        s.parsed
            .as_ref()
            .map(|p| {
                p.of_user(&u.name, u.uid)
                    .iter()
                    .map(|r| (r.start, r.count))
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(probe::ProbeInput {
        uid: u.uid,
        gid: u.gid,
        drop_privileges,
        newuidmap: f.newuidmap.as_ref().map(|h| h.path.clone()),
        newgidmap: f.newgidmap.as_ref().map(|h| h.path.clone()),
        uid_ranges: ranges(&f.subuid),
        gid_ranges: ranges(&f.subgid),
        scratch_base: facts::probe_base(f).unwrap_or_else(std::env::temp_dir),
    })
}
