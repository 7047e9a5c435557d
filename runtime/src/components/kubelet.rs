//! The kubelet, rootless: a generated `KubeletConfiguration` (kubelet.config.k8s.io/v1beta1)
//! at `$XDG_RUNTIME_DIR/usernetes/kubelet-config.yaml` with the settings a kubelet needs in a
//! user namespace (research §5.1–§5.2: `KubeletInUserNamespace`, cgroupfs, no swap check, no
//! node-allocatable enforcement, no local-storage isolation, relaxed disk eviction), x509 +
//! webhook authentication and webhook authorization, its serving certificate from our PKI, the
//! CRI socket of the session's runtime, and its folders under our data folder. Without writable
//! cgroups ([`crate::host::cgroups`]) it runs without QoS cgroups and accepts cgroup v1. Readiness is
//! its healthz on loopback (`GET http://127.0.0.1:10248/healthz` says `ok`).

use super::{ComponentSpec, Finder, Plan, Probe, need};
use crate::error::Result;
use crate::host::cgroups::CgroupMode;
use crate::pki::{Kubeconfig, Leaf, Pki};
use crate::session::config::{ChildConfig, Cri};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// The kubelet's healthz port (upstream default, loopback only).
pub const HEALTHZ_PORT: u16 = 10248;

/// Most processes a pod may have (`podPidsLimit`).
pub const POD_PIDS_LIMIT: u32 = 4096;

/// The generated configuration file.
pub fn config_path(cfg: &ChildConfig) -> PathBuf {
    cfg.paths.state.join("kubelet-config.yaml")
}

/// The CRI the kubelet talks to: (component name, socket).
pub fn cri(cfg: &ChildConfig) -> (&'static str, PathBuf) {
    match cfg.session.cri {
        Cri::Containerd => ("containerd", cfg.paths.containerd_sock()),
        Cri::Crio => ("crio", cfg.paths.crio_sock()),
        Cri::Docker => ("cri-dockerd", super::cri_dockerd::socket(&cfg.paths)),
    }
}

/// The configuration, as a YAML document.
pub fn config(cfg: &ChildConfig) -> String {
    let pki = Pki::new(cfg.paths.pki());
    let k = &cfg.session.k8s;
    let s = |p: PathBuf| p.display().to_string();
    let mut v = json!({
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        // Alpha since v1.22 and still accepted: ignores the sysctl, rlimit and /dev/kmsg
        // errors of a user namespace.
        "featureGates": {"KubeletInUserNamespace": true},
        // Cgroups are driven directly inside the namespace (no systemd there).
        "cgroupDriver": "cgroupfs",
        "cgroupsPerQOS": true,
        "enforceNodeAllocatable": [],
        "failSwapOn": false,
        // Root file system stats fail on fuse-overlayfs/btrfs homes (usernetes PR #157).
        "localStorageCapacityIsolation": false,
        "evictionHard": {"nodefs.available": "3%"},
        "authentication": {
            "anonymous": {"enabled": false},
            "webhook": {"enabled": true},
            "x509": {"clientCAFile": s(pki.ca_cert())},
        },
        "authorization": {"mode": "Webhook"},
        // CIS 4.2: no unauthenticated port, TLS 1.2 at least, a pod cannot fork-bomb the
        // user's pids budget, RuntimeDefault seccomp unless a pod asks otherwise.
        // protectKernelDefaults stays false: in a user namespace the kubelet cannot set the
        // kernel's sysctls, and with it on it refuses to start whenever they differ.
        "readOnlyPort": 0,
        "tlsMinVersion": super::kube::TLS_MIN_VERSION,
        "podPidsLimit": POD_PIDS_LIMIT,
        "seccompDefault": true,
        "tlsCertFile": s(pki.cert(Leaf::KubeletServing)),
        "tlsPrivateKeyFile": s(pki.key(Leaf::KubeletServing)),
        "clusterDNS": [k.cluster_dns],
        "clusterDomain": k.cluster_domain,
        "containerRuntimeEndpoint": format!("unix://{}", cri(cfg).1.display()),
        "volumePluginDir": s(cfg.paths.data_dir("kubelet-plugins-exec")),
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": HEALTHZ_PORT,
        // The namespace's own resolv.conf (RootlessKit's, pointing at slirp4netns's DNS):
        // never the host's systemd-resolved stub, which is unreachable from pods.
        "resolvConf": "/etc/resolv.conf",
    });
    if CgroupMode::from_delegated(cfg.cgroup2) == CgroupMode::Unenforced {
        // No writable cgroups (crate::host::cgroups): no QoS or pod cgroups, nothing enforced, and
        // on cgroup v1 the start the kubelet refuses by default since 1.35 (KEP-5573).
        v["failCgroupV1"] = json!(false);
        v["cgroupsPerQOS"] = json!(false);
    }
    if cfg.session.cri == Cri::Docker {
        // cri-dockerd serves exec/attach/port-forward over SPDY only: with the gate on (beta,
        // default on since v1.36) the node declares WebSocket support and the apiserver sends
        // `kubectl exec` through as WebSockets, which fails (Mirantis/cri-dockerd#560, #569).
        // Decided per node: the apiserver reads the kubelet's declared features, so a
        // containerd master with a Docker node needs it here, not on the apiserver.
        v["featureGates"]["ExtendWebSocketsToKubelet"] = json!(false);
    }
    format!(
        "# Generated by u7s on every start; edits are overwritten.\n{}",
        serde_yaml_ng::to_string(&v).expect("a JSON value serialises to YAML")
    )
}

/// The kubelet's arguments.
pub fn args(cfg: &ChildConfig) -> Vec<String> {
    let pki = Pki::new(cfg.paths.pki());
    vec![
        format!("--config={}", config_path(cfg).display()),
        format!(
            "--kubeconfig={}",
            pki.kubeconfig(Kubeconfig::Kubelet).display()
        ),
        format!("--root-dir={}", cfg.paths.data_dir("kubelet").display()),
        format!("--hostname-override={}", cfg.session.k8s.node_name),
        format!("--node-ip={}", node_ip(cfg)),
    ]
}

/// The address the node reports (its InternalIP, where the apiserver reaches the kubelet for
/// logs, exec and port-forward): across hosts (flannel) the host's own address, where 10250 is
/// published (no name resolution between hosts is assumed; the kubelet wants it on an interface
/// of the namespace: [`HOST_ADDRESS_JOB`] puts it on `lo`); on a single node the namespace's.
pub fn node_ip(cfg: &ChildConfig) -> String {
    match cfg.session.host_addrs().first() {
        Some(ip) if cfg.session.k8s.flannel => ip.to_string(),
        _ => super::kube_apiserver::namespace_ip(&cfg.session.cidr),
    }
}

/// The job giving the namespace's `lo` the host's address (a /32 or /128) before the kubelet
/// starts, so that `--node-ip` names an address of the namespace.
pub const HOST_ADDRESS_JOB: &str = "host-address";

/// [`HOST_ADDRESS_JOB`] when the node reports the host's address; `None` otherwise.
pub fn host_address_job(cfg: &ChildConfig, find: Finder) -> Result<Option<super::Job>> {
    let ip = node_ip(cfg);
    if ip == super::kube_apiserver::namespace_ip(&cfg.session.cidr) {
        return Ok(None);
    }
    let prefix = if ip.contains(':') { 128 } else { 32 };
    Ok(Some(super::Job {
        name: HOST_ADDRESS_JOB.into(),
        program: need(find, "ip", "the node's address", "install iproute2")?,
        args: vec![
            "addr".into(),
            "replace".into(),
            format!("{ip}/{prefix}"),
            "dev".into(),
            "lo".into(),
        ],
        env: vec![],
        after: vec![],
        once_marker: None,
    }))
}

/// Adds the kubelet, its folders and its configuration; `after`: what must be ready first.
pub fn add(plan: &mut Plan, cfg: &ChildConfig, find: Finder, after: Vec<String>) -> Result<()> {
    let program = need(find, "kubelet", "kubelet", super::kube::HINT)?;
    plan.dirs.push((cfg.paths.data_dir("kubelet"), 0o700));
    plan.dirs
        .push((cfg.paths.data_dir("kubelet-plugins-exec"), 0o700));
    plan.files.push((config_path(cfg), config(cfg), 0o600));
    plan.components.push(ComponentSpec {
        name: "kubelet".into(),
        program,
        args: args(cfg),
        env: vec![],
        after,
        probe: Probe::HttpOk {
            port: HEALTHZ_PORT,
            path: "/healthz".into(),
            want_ok: true,
        },
        endpoint: "https://127.0.0.1:10250 (healthz http://127.0.0.1:10248, inside the namespace)"
            .into(),
        stop_timeout: Duration::from_secs(15),
        remove_before_start: vec![],
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    fn parsed(c: &ChildConfig) -> serde_json::Value {
        serde_yaml_ng::from_str(&config(c)).unwrap()
    }

    #[test]
    fn rootless_settings_and_our_pki() {
        let c = cfg(Cri::Containerd, false);
        let v = parsed(&c);
        assert_eq!(v["kind"], "KubeletConfiguration");
        assert_eq!(v["featureGates"]["KubeletInUserNamespace"], true);
        assert_eq!(v["cgroupDriver"], "cgroupfs");
        assert_eq!(v["failSwapOn"], false);
        assert_eq!(v["enforceNodeAllocatable"], json!([]));
        assert_eq!(v["localStorageCapacityIsolation"], false);
        assert_eq!(v["evictionHard"]["nodefs.available"], "3%");
        assert_eq!(v["authentication"]["anonymous"]["enabled"], false);
        assert_eq!(v["authentication"]["webhook"]["enabled"], true);
        assert_eq!(v["authorization"]["mode"], "Webhook");
        assert_eq!(
            v["authentication"]["x509"]["clientCAFile"],
            "/home/u/.config/usernetes/pki/ca.pem"
        );
        assert_eq!(
            v["tlsCertFile"],
            "/home/u/.config/usernetes/pki/kubelet-serving.pem"
        );
        assert_eq!(v["clusterDNS"], json!(["10.0.0.53"]));
        assert_eq!(
            v["containerRuntimeEndpoint"],
            "unix:///run/user/1000/usernetes/containerd/containerd.sock"
        );
        assert_eq!(v["healthzPort"], 10248);
        assert_eq!(v["healthzBindAddress"], "127.0.0.1");
        assert_eq!(v["readOnlyPort"], 0);
        assert_eq!(v["tlsMinVersion"], "VersionTLS12");
        assert_eq!(v["podPidsLimit"], 4096);
        assert_eq!(v["seccompDefault"], true);
        assert!(
            v.get("protectKernelDefaults").is_none(),
            "rootless deviation"
        );
    }

    #[test]
    fn cgroup_fields_follow_the_mode() {
        let mut c = cfg(Cri::Containerd, false);
        c.cgroup2 = true;
        let v = parsed(&c);
        assert_eq!(v["cgroupsPerQOS"], true);
        assert!(v.get("failCgroupV1").is_none(), "upstream's default");
        c.cgroup2 = false;
        let v = parsed(&c);
        assert_eq!(v["cgroupsPerQOS"], false);
        assert_eq!(v["failCgroupV1"], false);
        assert_eq!(v["enforceNodeAllocatable"], json!([]));
    }

    #[test]
    fn runtime_endpoint_per_cri() {
        let v = parsed(&cfg(Cri::Crio, false));
        assert_eq!(
            v["containerRuntimeEndpoint"],
            "unix:///run/user/1000/usernetes/crio/crio.sock"
        );
        let v = parsed(&cfg(Cri::Docker, false));
        assert_eq!(
            v["containerRuntimeEndpoint"],
            "unix:///run/user/1000/usernetes/cri-dockerd.sock"
        );
    }

    #[test]
    fn websockets_to_the_kubelet_off_only_for_cri_dockerd() {
        let v = parsed(&cfg(Cri::Docker, false));
        assert_eq!(v["featureGates"]["ExtendWebSocketsToKubelet"], false);
        assert_eq!(v["featureGates"]["KubeletInUserNamespace"], true);
        for cri in [Cri::Containerd, Cri::Crio] {
            let v = parsed(&cfg(cri, false));
            assert!(v["featureGates"].get("ExtendWebSocketsToKubelet").is_none());
        }
    }

    #[test]
    fn across_hosts_the_node_reports_the_host_address_and_has_it_on_lo() {
        let mut c = cfg(Cri::Containerd, false);
        c.session.k8s.host_ip = Some("192.168.78.2".into());
        // A single node: the namespace's address, no job.
        assert_eq!(node_ip(&c), "10.0.42.100");
        assert!(host_address_job(&c, &find_all).unwrap().is_none());
        c.session.k8s.flannel = true;
        assert_eq!(node_ip(&c), "192.168.78.2");
        assert!(args(&c).contains(&"--node-ip=192.168.78.2".to_string()));
        let job = host_address_job(&c, &find_all).unwrap().unwrap();
        assert_eq!(job.name, HOST_ADDRESS_JOB);
        assert_eq!(
            job.args,
            ["addr", "replace", "192.168.78.2/32", "dev", "lo"]
        );
        c.session.k8s.host_ip = Some("fd00::2".into());
        let job = host_address_job(&c, &find_all).unwrap().unwrap();
        assert_eq!(job.args[2], "fd00::2/128");
    }

    #[test]
    fn flags_and_plan() {
        let c = cfg(Cri::Containerd, false);
        assert_eq!(
            args(&c),
            [
                "--config=/run/user/1000/usernetes/kubelet-config.yaml",
                "--kubeconfig=/home/u/.config/usernetes/pki/kubelet.kubeconfig",
                "--root-dir=/home/u/.local/share/usernetes/kubelet",
                "--hostname-override=u7s-node",
                "--node-ip=10.0.42.100",
            ]
        );
        let mut p = Plan::default();
        add(&mut p, &c, &find_all, vec!["containerd".into()]).unwrap();
        assert_eq!(p.files[0].0, config_path(&c));
        assert_eq!(p.files[0].2, 0o600);
        assert_eq!(
            p.components[0].probe,
            Probe::HttpOk {
                port: 10248,
                path: "/healthz".into(),
                want_ok: true
            }
        );
    }
}
