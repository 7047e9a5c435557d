//! kube-apiserver: TLS only on the session's apiserver port (6443 unless `--apiserver-port`; all
//! addresses of the namespace, published on the host for host-side kubectl), `Node,RBAC`
//! authorization, no anonymous requests (readiness is asked with
//! the admin certificate), etcd over TLS with the apiserver's own etcd client certificate, the
//! kubelets reached with its own kubelet-client certificate and their serving certificates
//! verified against our CA, service accounts signed with `sa-key.pem`. Hardened as kubeadm and
//! the CIS benchmark want it: etcd's own CA, NodeRestriction, Pod Security `baseline` by default
//! ([`super::apiserver_files`]), Secrets encrypted at rest ([`crate::pki::encryption`]), an audit
//! log with rotation, no profiling, TLS 1.2 at least.

use super::apiserver_files as files;
use super::{ComponentSpec, Finder, Plan, Probe, need};
use crate::error::Result;
use crate::pki::{Leaf, Pki};
use crate::session::config::{ChildConfig, Cri};
use std::time::Duration;

/// The address of RootlessKit's tap0 inside the namespace (the `.100` of the session CIDR).
pub fn namespace_ip(cidr: &str) -> String {
    crate::rootlesskit::flags::child_ip(cidr)
        .map_or_else(|| "10.0.42.100".into(), |ip| ip.to_string())
}

/// The address the apiserver advertises (the endpoint of the `kubernetes` Service that pods
/// reach through kube-proxy). Across nodes (flannel) that is the host's address, where its port is
/// published; on a single node the namespace's own address, which the node's pods always reach
/// (the host address would need the port published on it, and ports bind 127.0.0.1 by default).
pub fn advertise_address(cfg: &ChildConfig) -> String {
    let k = &cfg.session.k8s;
    match (&k.host_ip, k.flannel) {
        (Some(ip), true) => ip.clone(),
        _ => namespace_ip(&cfg.session.cidr),
    }
}

/// kube-apiserver's arguments.
pub fn args(cfg: &ChildConfig) -> Vec<String> {
    let pki = Pki::new(cfg.paths.pki());
    let k = &cfg.session.k8s;
    let s = |p: std::path::PathBuf| p.display().to_string();
    let mut a = vec![
        format!("--secure-port={}", k.apiserver_port),
        "--bind-address=0.0.0.0".into(),
        format!("--advertise-address={}", advertise_address(cfg)),
        "--authorization-mode=Node,RBAC".into(),
        // Every client has a certificate; the readiness probe presents the admin's.
        "--anonymous-auth=false".into(),
        format!("--client-ca-file={}", s(pki.ca_cert())),
        format!("--tls-cert-file={}", s(pki.cert(Leaf::ApiServer))),
        format!("--tls-private-key-file={}", s(pki.key(Leaf::ApiServer))),
        format!(
            "--etcd-servers=https://127.0.0.1:{}",
            super::etcd::CLIENT_PORT
        ),
        format!("--etcd-cafile={}", s(pki.etcd_ca_cert())),
        format!("--etcd-certfile={}", s(pki.cert(Leaf::ApiServerEtcdClient))),
        format!("--etcd-keyfile={}", s(pki.key(Leaf::ApiServerEtcdClient))),
        format!(
            "--kubelet-client-certificate={}",
            s(pki.cert(Leaf::ApiServerKubeletClient))
        ),
        format!(
            "--kubelet-client-key={}",
            s(pki.key(Leaf::ApiServerKubeletClient))
        ),
        format!("--kubelet-certificate-authority={}", s(pki.ca_cert())),
        // A node's InternalIP is where its kubelet is reached: across hosts its host address
        // (10250 published there), never a name that other hosts may not resolve.
        "--kubelet-preferred-address-types=InternalIP,Hostname".into(),
        format!(
            "--service-account-issuer=https://kubernetes.default.svc.{}",
            k.cluster_domain
        ),
        format!("--service-account-key-file={}", s(pki.sa_pub())),
        format!("--service-account-signing-key-file={}", s(pki.sa_key())),
        // CIS 1.2.30: a pod's token lives as long as it asks (1 h by default; the kubelet
        // renews it), never the year the legacy-token transition would give it.
        "--service-account-extend-token-expiration=false".into(),
        format!("--service-cluster-ip-range={}", k.service_cidr),
        // kubeadm's value: Pod Security (baseline) refuses privileged pods outside kube-system.
        "--allow-privileged=true".into(),
        // A kubelet may change only its own Node and pods bound to it (CIS 1.2.14).
        "--enable-admission-plugins=NodeRestriction".into(),
        format!(
            "--admission-control-config-file={}",
            files::admission_path(cfg).display()
        ),
        format!(
            "--encryption-provider-config={}",
            s(pki.encryption_config())
        ),
        format!(
            "--audit-policy-file={}",
            files::audit_policy_path(cfg).display()
        ),
        format!("--audit-log-path={}", files::audit_log_path(cfg).display()),
        format!("--audit-log-maxage={}", files::AUDIT_MAXAGE),
        format!("--audit-log-maxbackup={}", files::AUDIT_MAXBACKUP),
        format!("--audit-log-maxsize={}", files::AUDIT_MAXSIZE),
        "--profiling=false".into(),
        format!("--tls-min-version={}", super::kube::TLS_MIN_VERSION),
    ];
    if cfg.session.cri == Cri::Docker {
        // cri-dockerd serves exec/attach/port-forward over plain HTTP and SPDY only: with the
        // gate on (beta, default on since v1.36) `kubectl exec` fails ("server gave HTTP
        // response to HTTPS client"; Mirantis/cri-dockerd#560).
        a.push("--feature-gates=ExtendWebSocketsToKubelet=false".into());
    }
    a
}

/// Adds kube-apiserver (after etcd).
pub fn add(plan: &mut Plan, cfg: &ChildConfig, find: Finder) -> Result<()> {
    let program = need(find, "kube-apiserver", "kube-apiserver", super::kube::HINT)?;
    let pki = Pki::new(cfg.paths.pki());
    let port = cfg.session.k8s.apiserver_port;
    plan.files.extend(files::files(cfg));
    plan.components.push(ComponentSpec {
        name: "kube-apiserver".into(),
        program,
        args: args(cfg),
        env: vec![],
        after: vec!["etcd".into()],
        probe: Probe::HttpsOk {
            port,
            path: "/readyz".into(),
            ca: pki.ca_cert(),
            cert: pki.cert(Leaf::Admin),
            key: pki.key(Leaf::Admin),
        },
        endpoint: format!("https://127.0.0.1:{port}"),
        stop_timeout: Duration::from_secs(15),
        remove_before_start: vec![],
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn tls_only_with_node_rbac_and_own_certificates() {
        let mut c = cfg(Cri::Containerd, false);
        c.session.kube = true;
        let a = args(&c);
        for must in [
            "--secure-port=6443",
            "--authorization-mode=Node,RBAC",
            "--anonymous-auth=false",
            "--advertise-address=10.0.42.100",
            "--etcd-servers=https://127.0.0.1:2379",
            "--etcd-certfile=/home/u/.config/usernetes/pki/apiserver-etcd-client.pem",
            "--tls-cert-file=/home/u/.config/usernetes/pki/apiserver.pem",
            "--kubelet-client-certificate=/home/u/.config/usernetes/pki/apiserver-kubelet-client.pem",
            "--kubelet-certificate-authority=/home/u/.config/usernetes/pki/ca.pem",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file=/home/u/.config/usernetes/pki/sa.pem",
            "--service-account-signing-key-file=/home/u/.config/usernetes/pki/sa-key.pem",
            "--service-account-extend-token-expiration=false",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            "--etcd-cafile=/home/u/.config/usernetes/pki/etcd-ca.pem",
            "--client-ca-file=/home/u/.config/usernetes/pki/ca.pem",
            "--enable-admission-plugins=NodeRestriction",
            "--encryption-provider-config=/home/u/.config/usernetes/pki/encryption-config.yaml",
            "--profiling=false",
            "--tls-min-version=VersionTLS12",
            "--audit-log-maxage=30",
            "--audit-log-maxbackup=10",
            "--audit-log-maxsize=100",
        ] {
            assert!(a.iter().any(|x| x == must), "missing {must}: {a:?}");
        }
        assert!(!a.iter().any(|x| x.contains("insecure")));
        assert!(!a.iter().any(|x| x.contains("feature-gates")));
        c.session.cri = Cri::Docker;
        c.session.k8s.host_ip = Some("192.168.1.5".into());
        assert!(args(&c).contains(&"--advertise-address=10.0.42.100".to_string()));
        c.session.k8s.flannel = true;
        let a = args(&c);
        assert!(a.contains(&"--feature-gates=ExtendWebSocketsToKubelet=false".to_string()));
        assert!(a.contains(&"--advertise-address=192.168.1.5".to_string()));
        assert!(a.contains(&"--kubelet-preferred-address-types=InternalIP,Hostname".to_string()));
    }

    #[test]
    fn namespace_address_follows_the_cidr() {
        assert_eq!(namespace_ip("10.0.42.0/24"), "10.0.42.100");
        assert_eq!(namespace_ip("10.0.100.0/24"), "10.0.100.100");
    }

    #[test]
    fn readiness_is_readyz_with_the_admin_certificate() {
        let mut p = Plan::default();
        add(&mut p, &cfg(Cri::Containerd, false), &find_all).unwrap();
        let c = &p.components[0];
        assert_eq!(c.after, ["etcd"]);
        match &c.probe {
            Probe::HttpsOk {
                port, path, cert, ..
            } => {
                assert_eq!((*port, path.as_str()), (6443, "/readyz"));
                assert!(cert.ends_with("admin.pem"));
            }
            other => panic!("{other:?}"),
        }
        let e = add(&mut p, &cfg(Cri::Containerd, false), &find_none)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("kube-apiserver") && e.contains("--no-kube"),
            "{e}"
        );
    }
}
