//! flanneld for multi-node clusters (VXLAN on 8472/udp, published on every node) with the
//! Kubernetes subnet manager (`--kube-subnet-mgr`, as kubeadm's and k3s's flannel): each node's
//! /24 is the `spec.podCIDR` kube-controller-manager allocates (`--allocate-node-cidrs`), and
//! flanneld talks to the apiserver with its own credential (`flannel.kubeconfig`, user
//! `u7s:flannel`, bound by [`super::admin_rbac`] to what kube-flannel's RBAC grants: read Nodes,
//! patch their status; the kubelet's credential cannot, since the Node authorizer lets a node
//! read only its own Node). No node holds an etcd credential and etcd is never published. The network config is a file (`net-conf.json`);
//! `tap0` (RootlessKit's interface) carries the overlay, the host's address is the public IP so
//! other nodes reach this one through its published port. flanneld waits for its Node object,
//! so it starts after the kubelet registered it. Once flanneld has its lease, a job writes the
//! CNI config from it ([`super::cni::flannel_conflist`]), and a job turns off
//! `tx-checksum-ip-generic` on `flannel.1` (VXLAN behind NAT drops packets with bad checksums
//! otherwise: flannel#1279). Readiness: `/run/flannel/subnet.env` exists.

use super::{ComponentSpec, Finder, Job, Plan, Probe, need};
use crate::error::Result;
use crate::pki::{Kubeconfig, Pki};
use crate::session::config::{ChildConfig, VXLAN_PORT};
use std::path::PathBuf;
use std::time::Duration;

/// Written by flanneld once it has its lease; read by the job writing the CNI config.
pub const SUBNET_FILE: &str = "/run/flannel/subnet.env";
/// The job turning off the VXLAN checksum offload.
pub const CHECKSUM_JOB: &str = "flannel-tx-checksum-off";

/// The generated network config (`--net-config-path`).
pub fn net_conf_path(cfg: &ChildConfig) -> PathBuf {
    cfg.paths.state.join("flannel-net-conf.json")
}

/// The network config flanneld reads.
pub fn network_config(cfg: &ChildConfig) -> String {
    serde_json::json!({
        "Network": cfg.session.k8s.pod_cidr,
        "Backend": {"Type": "vxlan", "Port": VXLAN_PORT},
    })
    .to_string()
}

/// flanneld's arguments.
pub fn args(cfg: &ChildConfig) -> Vec<String> {
    let pki = Pki::new(cfg.paths.pki());
    let mut a = vec![
        "--iface=tap0".to_string(),
        "--ip-masq".into(),
        "--kube-subnet-mgr".into(),
        format!(
            "--kubeconfig-file={}",
            pki.kubeconfig(Kubeconfig::Flannel).display()
        ),
        format!("--net-config-path={}", net_conf_path(cfg).display()),
        format!("--subnet-file={SUBNET_FILE}"),
    ];
    if let Some(ip) = &cfg.session.k8s.host_ip {
        a.insert(2, format!("--public-ip={ip}"));
    }
    a
}

/// Adds flanneld (after the kubelet, which registers the Node it reads) and its job.
pub fn add(plan: &mut Plan, cfg: &ChildConfig, find: Finder) -> Result<()> {
    let hint = "install a release that ships flanneld (multi-node clusters need it)";
    let program = need(find, "flanneld", "flannel", hint)?;
    plan.files
        .push((net_conf_path(cfg), network_config(cfg), 0o644));
    plan.components.push(ComponentSpec {
        name: "flannel".into(),
        program,
        args: args(cfg),
        // The kube subnet manager's node: this node's name (else it asks for POD_NAME).
        env: vec![("NODE_NAME".into(), cfg.session.k8s.node_name.clone())],
        after: vec!["kubelet".into()],
        probe: Probe::FileExists {
            path: PathBuf::from(SUBNET_FILE),
        },
        endpoint: format!("vxlan {VXLAN_PORT}/udp on tap0"),
        stop_timeout: Duration::from_secs(10),
        // The pod network's config of the last lease goes too: the job writes it anew.
        remove_before_start: vec![PathBuf::from(SUBNET_FILE), super::cni::path()],
    });
    // The CNI config from this node's lease (what flannel's CNI plugin would delegate).
    plan.jobs.push(Job {
        name: super::cni::FLANNEL_JOB.into(),
        program: need(find, "u7s", "the pod network's config", hint)?,
        args: vec![
            "__flannel-cni".into(),
            format!("--subnet-env={SUBNET_FILE}"),
            format!("--out={}", super::cni::path().display()),
        ],
        env: vec![],
        after: vec!["flannel".into()],
        once_marker: None,
    });
    match find("ethtool") {
        Some(ethtool) => plan.jobs.push(Job {
            name: CHECKSUM_JOB.into(),
            program: ethtool,
            args: ["-K", "flannel.1", "tx-checksum-ip-generic", "off"]
                .map(String::from)
                .to_vec(),
            env: vec![],
            after: vec!["flannel".into()],
            once_marker: None,
        }),
        None => plan.notes.push(
            "ethtool is not installed: VXLAN checksum offload stays on flannel.1, which can drop \
             pod traffic between nodes behind NAT (flannel#1279); install ethtool"
                .into(),
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::session::config::{Cri, Role};

    fn flannel_cfg(role: Role) -> ChildConfig {
        let mut c = cfg(Cri::Containerd, false);
        c.session.kube = true;
        c.session.k8s.flannel = true;
        c.session.k8s.pod_cidr = crate::session::config::DEFAULT_FLANNEL_CIDR.into();
        c.session.k8s.host_ip = Some("192.168.5.10".into());
        c.session.k8s.role = role;
        c
    }

    #[test]
    fn kube_subnet_manager_with_the_kubelet_credential_never_etcd() {
        for role in [
            Role::Master,
            Role::Node {
                server: "10.0.100.2".into(),
            },
        ] {
            let c = flannel_cfg(role);
            let mut p = Plan::default();
            add(&mut p, &c, &find_all).unwrap();
            let f = &p.components[0];
            for must in [
                "--kube-subnet-mgr",
                "--public-ip=192.168.5.10",
                "--iface=tap0",
                "--kubeconfig-file=/home/u/.config/usernetes/pki/flannel.kubeconfig",
                "--subnet-file=/run/flannel/subnet.env",
            ] {
                assert!(f.args.iter().any(|a| a == must), "{must}: {:?}", f.args);
            }
            assert!(!f.args.iter().any(|a| a.contains("etcd")), "{:?}", f.args);
            assert_eq!(f.after, ["kubelet"]);
            assert_eq!(
                f.env,
                [("NODE_NAME".to_string(), c.session.k8s.node_name.clone())]
            );
            let (path, text, _) = &p.files[0];
            assert_eq!(*path, net_conf_path(&c));
            assert!(
                f.args
                    .contains(&format!("--net-config-path={}", path.display()))
            );
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(v["Network"], "10.5.0.0/16");
            assert_eq!(v["Backend"]["Type"], "vxlan");
            assert_eq!(v["Backend"]["Port"], 8472);
            assert_eq!(
                f.probe,
                Probe::FileExists {
                    path: "/run/flannel/subnet.env".into()
                }
            );
            assert_eq!(p.jobs[0].name, super::super::cni::FLANNEL_JOB);
            assert_eq!(p.jobs[0].args[0], "__flannel-cni");
            assert_eq!(p.jobs[0].after, ["flannel"]);
            assert_eq!(p.jobs[1].name, CHECKSUM_JOB);
            assert_eq!(p.jobs[1].after, ["flannel"]);
        }
    }

    #[test]
    fn hints_without_ethtool() {
        let c = flannel_cfg(Role::Master);
        let no_ethtool = |n: &str| (n != "ethtool").then(|| find_all(n)).flatten();
        let mut p = Plan::default();
        add(&mut p, &c, &no_ethtool).unwrap();
        assert!(p.jobs.iter().all(|j| j.name != CHECKSUM_JOB));
        assert!(p.notes[0].contains("ethtool"));
    }
}
