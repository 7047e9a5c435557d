//! flanneld for multi-node clusters (VXLAN on 8472/udp, published on every node): subnets
//! leased in the control plane's etcd under flannel's default prefix `/coreos.com/network`
//! (flannel v0.28.9 still has the etcd subnet manager), reached with flannel's own etcd client
//! certificate; `tap0` (RootlessKit's interface) for the overlay, the host's address as public
//! IP so other nodes reach this one through its published port. On the control plane a one-shot
//! job first writes the network config with `etcdctl` (v3 API); after flanneld is up another
//! job turns off `tx-checksum-ip-generic` on `flannel.1` (VXLAN behind NAT drops packets with
//! bad checksums otherwise: flannel#1279). Readiness: `/run/flannel/subnet.env` exists.

use super::{ComponentSpec, Finder, Job, Plan, Probe, need};
use crate::error::Result;
use crate::pki::{Leaf, Pki};
use crate::session::config::{ChildConfig, Role, VXLAN_PORT};
use std::path::PathBuf;
use std::time::Duration;

/// flannel's etcd prefix (its default) and the key of the network config.
pub const ETCD_PREFIX: &str = "/coreos.com/network";
/// Written by flanneld once it has its lease; read by the flannel CNI plugin.
pub const SUBNET_FILE: &str = "/run/flannel/subnet.env";
/// The job writing the network config.
pub const CONFIG_JOB: &str = "flannel-network-config";
/// The job turning off the VXLAN checksum offload.
pub const CHECKSUM_JOB: &str = "flannel-tx-checksum-off";

/// The etcd endpoint flanneld uses: the local etcd on the control plane, the server's
/// published 2379 on a joined node.
pub fn etcd_endpoint(cfg: &ChildConfig) -> String {
    let host = match &cfg.session.k8s.role {
        Role::Master => "127.0.0.1".to_string(),
        Role::Node { server } => server.clone(),
    };
    format!("https://{host}:{}", super::etcd::CLIENT_PORT)
}

/// The network config flannel reads from etcd.
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
        format!("--etcd-endpoints={}", etcd_endpoint(cfg)),
        format!("--etcd-prefix={ETCD_PREFIX}"),
        format!("--etcd-cafile={}", pki.ca_cert().display()),
        format!("--etcd-certfile={}", pki.cert(Leaf::Flannel).display()),
        format!("--etcd-keyfile={}", pki.key(Leaf::Flannel).display()),
        format!("--subnet-file={SUBNET_FILE}"),
    ];
    if let Some(ip) = &cfg.session.k8s.host_ip {
        a.insert(2, format!("--public-ip={ip}"));
    }
    a
}

/// Adds flanneld and its jobs.
pub fn add(plan: &mut Plan, cfg: &ChildConfig, find: Finder) -> Result<()> {
    let hint = "install a release that ships flanneld (multi-node clusters need it)";
    let program = need(find, "flanneld", "flannel", hint)?;
    let pki = Pki::new(cfg.paths.pki());
    let mut after = vec![];
    if cfg.session.k8s.role == Role::Master {
        let etcdctl = need(find, "etcdctl", "flannel's network config", hint)?;
        plan.jobs.push(Job {
            name: CONFIG_JOB.into(),
            program: etcdctl,
            args: vec![
                format!("--endpoints={}", etcd_endpoint(cfg)),
                format!("--cacert={}", pki.ca_cert().display()),
                format!("--cert={}", pki.cert(Leaf::EtcdClient).display()),
                format!("--key={}", pki.key(Leaf::EtcdClient).display()),
                "put".into(),
                format!("{ETCD_PREFIX}/config"),
                network_config(cfg),
            ],
            env: vec![("ETCDCTL_API".into(), "3".into())],
            after: vec!["etcd".into()],
            once_marker: None,
        });
        after = vec!["etcd".to_string(), CONFIG_JOB.to_string()];
    }
    plan.components.push(ComponentSpec {
        name: "flannel".into(),
        program,
        args: args(cfg),
        env: vec![],
        after,
        probe: Probe::FileExists {
            path: PathBuf::from(SUBNET_FILE),
        },
        endpoint: format!("vxlan {VXLAN_PORT}/udp on tap0"),
        stop_timeout: Duration::from_secs(10),
        remove_before_start: vec![PathBuf::from(SUBNET_FILE)],
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
    use crate::session::config::Cri;

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
    fn master_writes_the_network_config_first() {
        let c = flannel_cfg(Role::Master);
        let mut p = Plan::default();
        add(&mut p, &c, &find_all).unwrap();
        let job = &p.jobs[0];
        assert_eq!(job.name, CONFIG_JOB);
        assert_eq!(job.after, ["etcd"]);
        assert!(job.env.contains(&("ETCDCTL_API".into(), "3".into())));
        let cfgjson: serde_json::Value = serde_json::from_str(job.args.last().unwrap()).unwrap();
        assert_eq!(cfgjson["Network"], "10.5.0.0/16");
        assert_eq!(cfgjson["Backend"]["Type"], "vxlan");
        assert_eq!(cfgjson["Backend"]["Port"], 8472);
        assert!(job.args.contains(&"/coreos.com/network/config".to_string()));
        let f = &p.components[0];
        assert_eq!(f.after, ["etcd", CONFIG_JOB]);
        assert!(f.args.contains(&"--public-ip=192.168.5.10".into()));
        assert!(
            f.args
                .contains(&"--etcd-endpoints=https://127.0.0.1:2379".into())
        );
        assert!(
            f.args
                .contains(&"--etcd-certfile=/home/u/.config/usernetes/pki/flannel.pem".into())
        );
        assert_eq!(
            f.probe,
            Probe::FileExists {
                path: "/run/flannel/subnet.env".into()
            }
        );
        assert_eq!(p.jobs[1].name, CHECKSUM_JOB);
        assert_eq!(p.jobs[1].after, ["flannel"]);
    }

    #[test]
    fn node_reaches_the_server_and_hints_without_ethtool() {
        let c = flannel_cfg(Role::Node {
            server: "10.0.100.2".into(),
        });
        let no_ethtool = |n: &str| (n != "ethtool").then(|| find_all(n)).flatten();
        let mut p = Plan::default();
        add(&mut p, &c, &no_ethtool).unwrap();
        assert!(p.jobs.is_empty());
        assert!(p.notes[0].contains("ethtool"));
        let f = &p.components[0];
        assert!(f.after.is_empty());
        assert!(
            f.args
                .contains(&"--etcd-endpoints=https://10.0.100.2:2379".into())
        );
    }
}
