//! etcd with client TLS: its own CA (`etcd-ca.pem`, as kubeadm: no certificate of the cluster CA
//! is an etcd credential), a server certificate for 127.0.0.1/localhost, client certificates
//! required (`--client-cert-auth`), peers over TLS too; data under `DATA/etcd` (0700, as etcd
//! wants). Listens on loopback inside the namespace only, multi-node too (flanneld uses the
//! Kubernetes API), so 2379 is never published.

use super::{ComponentSpec, Facts, Finder, Plan, Probe, need};
use crate::error::Result;
use crate::pki::{Leaf, Pki};
use crate::session::config::ChildConfig;
use std::time::Duration;

/// etcd's client port.
pub const CLIENT_PORT: u16 = 2379;
/// etcd's peer port.
pub const PEER_PORT: u16 = 2380;

/// etcd's TLS flags: our server and peer certificates, client certificates required on both.
pub fn tls_args(pki: &Pki) -> Vec<String> {
    let s = |p: std::path::PathBuf| p.display().to_string();
    vec![
        format!("--cert-file={}", s(pki.cert(Leaf::EtcdServer))),
        format!("--key-file={}", s(pki.key(Leaf::EtcdServer))),
        format!("--trusted-ca-file={}", s(pki.etcd_ca_cert())),
        "--client-cert-auth".into(),
        format!("--peer-cert-file={}", s(pki.cert(Leaf::EtcdPeer))),
        format!("--peer-key-file={}", s(pki.key(Leaf::EtcdPeer))),
        format!("--peer-trusted-ca-file={}", s(pki.etcd_ca_cert())),
        "--peer-client-cert-auth".into(),
    ]
}

/// etcd's arguments.
pub fn args(cfg: &ChildConfig) -> Vec<String> {
    let pki = Pki::new(cfg.paths.pki());
    let client = format!("https://127.0.0.1:{CLIENT_PORT}");
    let peer = format!("https://127.0.0.1:{PEER_PORT}");
    let mut a = vec![
        "--name=u7s".into(),
        format!("--data-dir={}", cfg.paths.data_dir("etcd").display()),
        format!("--listen-client-urls={client}"),
        format!("--advertise-client-urls={client}"),
        format!("--listen-peer-urls={peer}"),
        format!("--initial-advertise-peer-urls={peer}"),
        format!("--initial-cluster=u7s={peer}"),
    ];
    a.extend(tls_args(&pki));
    a
}

/// Adds etcd to the plan; once ready, its version is recorded beside its data folder.
pub fn add(plan: &mut Plan, cfg: &ChildConfig, facts: &Facts, find: Finder) -> Result<()> {
    let program = need(
        find,
        "etcd",
        "etcd",
        "install the release again (it ships etcd), or Debian's etcd-server",
    )?;
    let pki = Pki::new(cfg.paths.pki());
    plan.dirs.push((cfg.paths.data_dir("etcd"), 0o700));
    plan.pki = Some(pki.dir.clone());
    plan.components.push(ComponentSpec {
        name: "etcd".into(),
        program,
        args: args(cfg),
        env: vec![],
        after: vec![],
        probe: Probe::EtcdHealth {
            port: CLIENT_PORT,
            ca: pki.etcd_ca_cert(),
            cert: pki.cert(Leaf::EtcdClient),
            key: pki.key(Leaf::EtcdClient),
        },
        endpoint: format!("https://127.0.0.1:{CLIENT_PORT} (inside the namespace)"),
        stop_timeout: Duration::from_secs(10),
        remove_before_start: vec![],
    });
    if let Some(v) = &facts.etcd_version {
        plan.on_ready.push((
            "etcd".into(),
            crate::session::etcd_data::marker(&cfg.paths),
            format!("{v}\n"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::session::config::Cri;

    #[test]
    fn tls_everywhere_and_client_certs_required() {
        let a = args(&cfg(Cri::Docker, true));
        for must in [
            "--client-cert-auth",
            "--peer-client-cert-auth",
            "--listen-client-urls=https://127.0.0.1:2379",
            "--trusted-ca-file=/home/u/.config/usernetes/pki/etcd-ca.pem",
            "--peer-trusted-ca-file=/home/u/.config/usernetes/pki/etcd-ca.pem",
            "--cert-file=/home/u/.config/usernetes/pki/etcd-server.pem",
            "--key-file=/home/u/.config/usernetes/pki/etcd-server-key.pem",
            "--peer-cert-file=/home/u/.config/usernetes/pki/etcd-peer.pem",
            "--peer-key-file=/home/u/.config/usernetes/pki/etcd-peer-key.pem",
            "--data-dir=/home/u/.local/share/usernetes/etcd",
        ] {
            assert!(a.iter().any(|x| x == must), "missing {must}: {a:?}");
        }
        assert!(
            !a.iter().any(|x| x.contains("http://")),
            "no plaintext listener"
        );
    }

    #[test]
    fn flannel_clusters_keep_etcd_on_loopback() {
        let mut c = cfg(Cri::Containerd, true);
        c.session.kube = true;
        c.session.k8s.flannel = true;
        c.session.k8s.host_ip = Some("192.168.5.10".into());
        let a = args(&c);
        assert!(a.contains(&"--listen-client-urls=https://127.0.0.1:2379".into()));
        assert!(a.contains(&"--advertise-client-urls=https://127.0.0.1:2379".into()));
        assert!(
            !a.iter()
                .any(|x| x.contains("0.0.0.0") || x.contains("192.168.5.10"))
        );
        assert!(!a.iter().any(|x| x.ends_with("/pki/ca.pem")), "{a:?}");
    }

    #[test]
    fn probe_uses_the_client_certificate() {
        let mut p = Plan::default();
        add(&mut p, &cfg(Cri::Docker, true), &facts(), &find_all).unwrap();
        match &p.components[0].probe {
            Probe::EtcdHealth { cert, port, .. } => {
                assert!(cert.ends_with("etcd-client.pem"));
                assert_eq!(*port, 2379);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            p.dirs
                .contains(&("/home/u/.local/share/usernetes/etcd".into(), 0o700))
        );
        // Without a known version nothing is recorded.
        assert!(p.on_ready.is_empty());
    }

    #[test]
    fn its_version_is_recorded_beside_its_data_once_ready() {
        let mut p = Plan::default();
        let f = Facts {
            etcd_version: Some("3.5.16".into()),
            ..facts()
        };
        add(&mut p, &cfg(Cri::Docker, true), &f, &find_all).unwrap();
        assert_eq!(
            p.on_ready,
            [(
                "etcd".to_string(),
                "/home/u/.local/share/usernetes/etcd.version".into(),
                "3.5.16\n".to_string()
            )]
        );
    }
}
