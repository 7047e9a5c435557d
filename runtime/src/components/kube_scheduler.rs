//! kube-scheduler: its own kubeconfig for the API, authentication and authorization; no leader
//! election (one control plane); serves only on loopback. Readiness as the controller-manager's
//! (see [`super::kube_controller_manager`]): `/healthz` on loopback, self-signed, unverified.

use super::{ComponentSpec, Finder, Plan, Probe, need};
use crate::config::ChildConfig;
use crate::error::Result;
use crate::pki::{Kubeconfig, Pki};
use std::time::Duration;

/// Its secure port (upstream default).
pub const PORT: u16 = 10259;

/// kube-scheduler's arguments.
pub fn args(cfg: &ChildConfig) -> Vec<String> {
    let kc = Pki::new(cfg.paths.pki())
        .kubeconfig(Kubeconfig::Scheduler)
        .display()
        .to_string();
    vec![
        format!("--kubeconfig={kc}"),
        format!("--authentication-kubeconfig={kc}"),
        format!("--authorization-kubeconfig={kc}"),
        "--bind-address=127.0.0.1".into(),
        format!("--secure-port={PORT}"),
        "--leader-elect=false".into(),
    ]
}

/// Adds kube-scheduler (after kube-apiserver).
pub fn add(plan: &mut Plan, cfg: &ChildConfig, find: Finder) -> Result<()> {
    let program = need(find, "kube-scheduler", "kube-scheduler", super::kube::HINT)?;
    plan.components.push(ComponentSpec {
        name: "kube-scheduler".into(),
        program,
        args: args(cfg),
        env: vec![],
        after: vec!["kube-apiserver".into()],
        probe: Probe::HttpsLoopbackOk {
            port: PORT,
            path: "/healthz".into(),
        },
        endpoint: format!("https://127.0.0.1:{PORT}/healthz (inside the namespace)"),
        stop_timeout: Duration::from_secs(10),
        remove_before_start: vec![],
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::config::Cri;

    #[test]
    fn own_kubeconfig_no_leader_election() {
        let a = args(&cfg(Cri::Crio, false));
        assert_eq!(
            a[0],
            "--kubeconfig=/home/u/.config/usernetes/pki/scheduler.kubeconfig"
        );
        assert!(a.contains(&"--leader-elect=false".to_string()));
        assert!(a.contains(&"--bind-address=127.0.0.1".to_string()));
    }
}
