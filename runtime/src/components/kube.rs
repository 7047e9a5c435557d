//! The Kubernetes part of a session's plan, added after the CRI: on the control plane
//! (`Role::Master`) kube-apiserver (after etcd), kube-controller-manager and kube-scheduler
//! (after the apiserver) and CoreDNS's first apply; on every node the CRI shim for Docker
//! (cri-dockerd after dockerd), the kubelet (after the CRI and, on the control plane, the
//! apiserver), flannel (multi-node, after the kubelet), kube-proxy (after the kubelet) and the
//! CNI config. A joined node (`Role::Node`) runs no control plane: its kubelet, kube-proxy and
//! flanneld talk to the server through the kubeconfigs of its bootstrap bundle.

use super::{Facts, Finder, Plan};
use crate::error::Result;
use crate::session::config::{ChildConfig, Cri, Role};

/// The lowest TLS version every Kubernetes server of the session accepts (CIS 1.2.29, 4.2.12).
pub const TLS_MIN_VERSION: &str = "VersionTLS12";

/// Kubernetes objects as a multi-document YAML manifest for `kubectl apply -f`, after a
/// `# header` line.
pub fn yaml_documents(
    header: &str,
    objects: impl IntoIterator<Item = serde_json::Value>,
) -> String {
    let mut out = format!("# {header}\n");
    for o in objects {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(&o).expect("a JSON value serialises to YAML"));
    }
    out
}

/// The fix named when a Kubernetes binary is missing.
pub const HINT: &str = "install a release with Kubernetes (u7s-install), or run `u7s up --no-kube`";

/// What to do on a release without Kubernetes.
pub const WITHOUT: &str = "use `./run.sh default-docker-nokube` / `u7s up --no-kube` (the container \
     runtime alone), or install a release with Kubernetes (u7s-install)";

/// The Kubernetes programs a session runs: the control plane and kubectl (its jobs) on the
/// master, the node components everywhere, cri-dockerd on Docker, the pause program of the
/// sandbox image (not with CRI-O, which brings its own), flanneld in a multi-node cluster.
pub fn binaries(master: bool, cri: Cri, flannel: bool) -> Vec<&'static str> {
    let mut v = vec![];
    if master {
        v.extend([
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
        ]);
    }
    v.extend(["kubelet", "kube-proxy"]);
    if master {
        v.push("kubectl");
    }
    if cri == Cri::Docker {
        v.push("cri-dockerd");
    }
    if cri != Cri::Crio {
        v.push("pause");
    }
    if flannel {
        v.push("flanneld");
    }
    v
}

/// The flags kube-controller-manager and kube-scheduler share: their kubeconfig for the API,
/// authentication and authorization; serving on loopback only at `port`, TLS 1.2 at least; no
/// profiling endpoint (CIS 1.3.2, 1.4.1); no leader election (one control plane).
pub fn loopback_client_args(kubeconfig: &std::path::Path, port: u16) -> Vec<String> {
    let kc = kubeconfig.display();
    vec![
        format!("--kubeconfig={kc}"),
        format!("--authentication-kubeconfig={kc}"),
        format!("--authorization-kubeconfig={kc}"),
        "--bind-address=127.0.0.1".into(),
        format!("--secure-port={port}"),
        format!("--tls-min-version={TLS_MIN_VERSION}"),
        "--profiling=false".into(),
        "--leader-elect=false".into(),
    ]
}

/// Adds a control-plane component that runs after kube-apiserver and is ready when its
/// `/healthz` on loopback `port` answers (self-signed, unverified: see
/// [`super::kube_controller_manager`]).
pub fn add_after_apiserver(
    plan: &mut Plan,
    name: &str,
    args: Vec<String>,
    port: u16,
    find: Finder,
) -> Result<()> {
    let program = super::need(find, name, name, HINT)?;
    plan.components.push(super::ComponentSpec {
        name: name.into(),
        program,
        args,
        env: vec![],
        after: vec!["kube-apiserver".into()],
        probe: super::Probe::HttpsLoopbackOk {
            port,
            path: "/healthz".into(),
        },
        endpoint: format!("https://127.0.0.1:{port}/healthz (inside the namespace)"),
        stop_timeout: std::time::Duration::from_secs(10),
        remove_before_start: vec![],
    });
    Ok(())
}

/// Adds the Kubernetes components, jobs and files.
pub fn add(plan: &mut Plan, cfg: &ChildConfig, _facts: &Facts, find: Finder) -> Result<()> {
    let master = cfg.session.k8s.role == Role::Master;
    if master {
        super::kube_apiserver::add(plan, cfg, find)?;
        super::kube_controller_manager::add(plan, cfg, find)?;
        super::kube_scheduler::add(plan, cfg, find)?;
        super::admin_rbac::add(plan, cfg, find)?;
        super::coredns::add(plan, cfg, find)?;
    }
    if cfg.session.cri == Cri::Docker {
        super::cri_dockerd::add(plan, cfg, find)?;
    }
    let mut kubelet_after = vec![super::kubelet::cri(cfg).0.to_string()];
    // Pods need the sandbox image first (containerd would try to pull it).
    if plan
        .jobs
        .iter()
        .any(|j| j.name == crate::process::images::JOB)
    {
        kubelet_after.push(crate::process::images::JOB.into());
    }
    if master {
        // The session is ready once the admin credential works.
        kubelet_after.extend(["kube-apiserver".into(), super::admin_rbac::JOB.into()]);
    }
    if let Some(job) = super::kubelet::host_address_job(cfg, find)? {
        kubelet_after.push(job.name.clone());
        plan.jobs.push(job);
    }
    super::kubelet::add(plan, cfg, find, kubelet_after)?;
    if cfg.session.k8s.flannel {
        // After the kubelet: flanneld reads the Node the kubelet registers.
        super::flannel::add(plan, cfg, find)?;
    }
    super::kube_proxy::add(plan, cfg, find)?;
    plan.dirs.push((cfg.paths.data_dir("jobs"), 0o700));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{Probe, plan};
    use super::*;
    use crate::host::storage::Storage;
    use crate::session::config::DEFAULT_FLANNEL_CIDR;

    fn facts() -> Facts {
        Facts {
            storage: Storage::Overlay,
            containerd_major: 2,
            cgroup2: true,
            etcd_version: None,
        }
    }

    fn kube(cri: Cri) -> ChildConfig {
        let mut c = cfg(cri, false);
        c.session.kube = true;
        c
    }

    fn names(p: &Plan) -> Vec<&str> {
        p.components.iter().map(|c| c.name.as_str()).collect()
    }

    fn before(p: &Plan, a: &str, b: &str) -> bool {
        let n = names(p);
        let pos = |x: &str| {
            n.iter()
                .position(|y| *y == x)
                .unwrap_or_else(|| panic!("{x}"))
        };
        pos(a) < pos(b)
    }

    #[test]
    fn containerd_master_order() {
        let p = plan(&kube(Cri::Containerd), &facts(), &find_all).unwrap();
        assert_eq!(
            names(&p),
            [
                "etcd",
                "containerd",
                "kube-apiserver",
                "kube-controller-manager",
                "kube-scheduler",
                "kubelet",
                "kube-proxy"
            ]
        );
        let kubelet = p.components.iter().find(|c| c.name == "kubelet").unwrap();
        assert_eq!(
            kubelet.after,
            ["containerd", "pause-image", "kube-apiserver", "admin-rbac"]
        );
        let jobs: Vec<&str> = p.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(jobs, ["pause-image", "admin-rbac", "coredns-apply"]);
        assert!(
            p.files
                .iter()
                .any(|(f, _, _)| f.ends_with("10-u7s.conflist"))
        );
        assert!(p.pki.is_some());
    }

    #[test]
    fn docker_goes_through_cri_dockerd() {
        let p = plan(&kube(Cri::Docker), &facts(), &find_all).unwrap();
        assert!(before(&p, "containerd", "dockerd"));
        assert!(before(&p, "dockerd", "cri-dockerd"));
        assert!(before(&p, "cri-dockerd", "kubelet"));
        let kubelet = p.components.iter().find(|c| c.name == "kubelet").unwrap();
        assert_eq!(kubelet.after[0], "cri-dockerd");
    }

    #[test]
    fn crio_feeds_the_kubelet() {
        let p = plan(&kube(Cri::Crio), &facts(), &find_all).unwrap();
        assert!(before(&p, "crio", "kubelet"));
        assert!(before(&p, "kubelet", "kube-proxy"));
        assert!(!names(&p).contains(&"cri-dockerd"));
    }

    #[test]
    fn flannel_master_and_joined_node() {
        let mut c = kube(Cri::Containerd);
        c.session.k8s.flannel = true;
        c.session.k8s.pod_cidr = DEFAULT_FLANNEL_CIDR.into();
        let p = plan(&c, &facts(), &find_all).unwrap();
        assert!(before(&p, "kubelet", "flannel"));
        let jobs: Vec<&str> = p.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(
            jobs,
            [
                "pause-image",
                "admin-rbac",
                "coredns-apply",
                "flannel-cni-config",
                "flannel-tx-checksum-off"
            ]
        );
        assert!(
            !p.files
                .iter()
                .any(|(f, _, _)| *f == super::super::cni::path()),
            "the pod network's config comes from flannel's lease"
        );
        c.session.k8s.role = Role::Node {
            server: "10.0.100.2".into(),
        };
        let p = plan(&c, &facts(), &find_all).unwrap();
        assert_eq!(
            names(&p),
            ["containerd", "kubelet", "flannel", "kube-proxy"]
        );
        let kubelet = p.components.iter().find(|c| c.name == "kubelet").unwrap();
        assert_eq!(kubelet.after, ["containerd", "pause-image"]);
        let jobs: Vec<&str> = p.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(
            jobs,
            [
                "pause-image",
                "flannel-cni-config",
                "flannel-tx-checksum-off"
            ]
        );
        assert!(p.pki.is_none(), "a node's PKI comes from its bundle");
        assert!(matches!(p.components[2].probe, Probe::FileExists { .. }));
    }

    #[test]
    fn missing_kubernetes_binaries_name_the_component_and_fix() {
        let no_kubelet = |n: &str| (n != "kubelet").then(|| find_all(n)).flatten();
        let e = plan(&kube(Cri::Containerd), &facts(), &no_kubelet)
            .unwrap_err()
            .to_string();
        assert!(e.contains("kubelet") && e.contains("--no-kube"), "{e}");
    }
}
