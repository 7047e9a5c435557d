//! kube-controller-manager: its own kubeconfig for the API, authentication and authorization;
//! signs cluster certificates (CSRs) with our CA; service-account tokens with `sa-key.pem`;
//! one control plane, so no leader election; serves only on loopback. Pod CIDRs: one node uses
//! the CNI bridge's host-local range (nothing allocated); with flannel every Node gets its /24
//! of the cluster CIDR here (`--allocate-node-cidrs`), which flannel's kube subnet manager uses.
//!
//! Readiness is `GET https://127.0.0.1:10257/healthz` without verifying its self-signed serving
//! certificate: the address is loopback inside the session's own network namespace, the probe
//! sends no credential, and `/healthz` is on the component's always-allowed paths. Giving it a
//! serving certificate of our CA would need one more leaf for no gain in what is checked.

use super::{Finder, Plan};
use crate::error::Result;
use crate::pki::{Kubeconfig, Pki};
use crate::session::config::ChildConfig;

/// Its secure port (upstream default).
pub const PORT: u16 = 10257;

/// kube-controller-manager's arguments.
pub fn args(cfg: &ChildConfig) -> Vec<String> {
    let pki = Pki::new(cfg.paths.pki());
    let k = &cfg.session.k8s;
    let mut a =
        super::kube::loopback_client_args(&pki.kubeconfig(Kubeconfig::ControllerManager), PORT);
    a.extend([
        format!("--cluster-signing-cert-file={}", pki.ca_cert().display()),
        format!("--cluster-signing-key-file={}", pki.ca_key().display()),
        format!("--root-ca-file={}", pki.ca_cert().display()),
        format!(
            "--service-account-private-key-file={}",
            pki.sa_key().display()
        ),
        "--use-service-account-credentials=true".into(),
        format!("--service-cluster-ip-range={}", k.service_cidr),
        format!("--cluster-cidr={}", k.pod_cidr),
        format!("--allocate-node-cidrs={}", k.flannel),
    ]);
    a
}

/// Adds kube-controller-manager (after kube-apiserver).
pub fn add(plan: &mut Plan, cfg: &ChildConfig, find: Finder) -> Result<()> {
    super::kube::add_after_apiserver(plan, "kube-controller-manager", args(cfg), PORT, find)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::session::config::Cri;

    #[test]
    fn signs_with_the_ca_and_allocates_no_cidrs() {
        let c = cfg(Cri::Containerd, false);
        let a = args(&c);
        for must in [
            "--kubeconfig=/home/u/.config/usernetes/pki/controller-manager.kubeconfig",
            "--authorization-kubeconfig=/home/u/.config/usernetes/pki/controller-manager.kubeconfig",
            "--cluster-signing-key-file=/home/u/.config/usernetes/pki/ca-key.pem",
            "--service-account-private-key-file=/home/u/.config/usernetes/pki/sa-key.pem",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--allocate-node-cidrs=false",
            "--cluster-cidr=10.88.0.0/16",
            "--profiling=false",
            "--tls-min-version=VersionTLS12",
        ] {
            assert!(a.iter().any(|x| x == must), "missing {must}: {a:?}");
        }
        let mut f = c.clone();
        f.session.k8s.flannel = true;
        f.session.k8s.pod_cidr = crate::session::config::DEFAULT_FLANNEL_CIDR.into();
        let a = args(&f);
        assert!(
            a.contains(&"--allocate-node-cidrs=true".to_string()),
            "{a:?}"
        );
        assert!(
            a.contains(&"--cluster-cidr=10.5.0.0/16".to_string()),
            "{a:?}"
        );
        let mut p = Plan::default();
        add(&mut p, &c, &find_all).unwrap();
        assert_eq!(p.components[0].after, ["kube-apiserver"]);
    }
}
