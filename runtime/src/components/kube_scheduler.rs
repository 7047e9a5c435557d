//! kube-scheduler: its own kubeconfig for the API, authentication and authorization; no leader
//! election (one control plane); serves only on loopback. Readiness as the controller-manager's
//! (see [`super::kube_controller_manager`]): `/healthz` on loopback, self-signed, unverified.

use super::{Finder, Plan};
use crate::error::Result;
use crate::pki::{Kubeconfig, Pki};
use crate::session::config::ChildConfig;

/// Its secure port (upstream default).
pub const PORT: u16 = 10259;

/// kube-scheduler's arguments.
pub fn args(cfg: &ChildConfig) -> Vec<String> {
    let kc = Pki::new(cfg.paths.pki()).kubeconfig(Kubeconfig::Scheduler);
    super::kube::loopback_client_args(&kc, PORT)
}

/// Adds kube-scheduler (after kube-apiserver).
pub fn add(plan: &mut Plan, cfg: &ChildConfig, find: Finder) -> Result<()> {
    super::kube::add_after_apiserver(plan, "kube-scheduler", args(cfg), PORT, find)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::session::config::Cri;

    #[test]
    fn own_kubeconfig_no_leader_election() {
        let a = args(&cfg(Cri::Crio, false));
        assert_eq!(
            a[0],
            "--kubeconfig=/home/u/.config/usernetes/pki/scheduler.kubeconfig"
        );
        assert!(a.contains(&"--leader-elect=false".to_string()));
        assert!(a.contains(&"--bind-address=127.0.0.1".to_string()));
        assert!(a.contains(&"--profiling=false".to_string()));
        assert!(a.contains(&"--tls-min-version=VersionTLS12".to_string()));
    }
}
