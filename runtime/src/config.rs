//! What a session runs: the CRI (Docker, containerd, CRI-O), whether Kubernetes and etcd come
//! along, published ports, the CIDR; and the configuration the top process hands to the
//! supervisor inside the namespaces (`U7S_CHILD_CONFIG`, JSON).

use crate::binaries::Bins;
use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::portspec::PortSpec;
use serde::{Deserialize, Serialize};

/// The environment variable carrying [`ChildConfig`] into the namespaces.
pub const CHILD_CONFIG_ENV: &str = "U7S_CHILD_CONFIG";
/// The environment variable marking every process of one session (its id).
pub const SESSION_ENV: &str = "U7S_SESSION";

/// The container runtime of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum Cri {
    /// dockerd (with its own containerd); the Docker socket at $XDG_RUNTIME_DIR/docker.sock
    #[default]
    Docker,
    /// containerd with the CRI plugin
    Containerd,
    /// CRI-O
    Crio,
}

impl Cri {
    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Cri::Docker => "docker",
            Cri::Containerd => "containerd",
            Cri::Crio => "crio",
        }
    }
}

/// A session's choices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionConfig {
    pub cri: Cri,
    /// Kubernetes components (the next issue brings them).
    pub kube: bool,
    /// etcd (always with Kubernetes; alone with `--etcd`).
    pub etcd: bool,
    pub publish: Vec<PortSpec>,
    pub cidr: String,
    /// Extra RootlessKit flags (`U7S_ROOTLESSKIT_FLAGS`).
    pub rootlesskit_flags: Vec<String>,
    /// Kubernetes settings (used when `kube` is on).
    #[serde(default)]
    pub k8s: KubeSettings,
}

/// Default service network (the apiserver's ClusterIP is its first address, .1).
pub const DEFAULT_SERVICE_CIDR: &str = "10.0.0.0/24";
/// Default cluster DNS address (CoreDNS's Service).
pub const DEFAULT_CLUSTER_DNS: &str = "10.0.0.53";
/// Default cluster domain.
pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";
/// Pod network of a single node (CNI bridge, host-local IPAM).
pub const DEFAULT_POD_CIDR: &str = "10.88.0.0/16";
/// Pod network of a multi-node cluster (flannel VXLAN; one /24 per node).
pub const DEFAULT_FLANNEL_CIDR: &str = "10.5.0.0/16";
/// The apiserver's port (published on the host for host-side kubectl).
pub const APISERVER_PORT: u16 = 6443;
/// flannel's VXLAN port (published on every node of a multi-node cluster).
pub const VXLAN_PORT: u16 = 8472;

/// How this node takes part in a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase", tag = "role")]
pub enum Role {
    /// Control plane and node in one session (the default; single node or multi-node master).
    #[default]
    Master,
    /// A node only: kubelet, kube-proxy, flannel, talking to the control plane at `server`
    /// with the certificates of the bootstrap bundle imported by `u7s up --join BUNDLE`.
    Node {
        /// The control plane's address as nodes reach it (host address or name).
        server: String,
    },
}

/// Kubernetes settings of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeSettings {
    /// The node's name (default: the short host name, lowercase).
    pub node_name: String,
    /// The host's own address: what other nodes and host-side clients reach (certificate SANs,
    /// flannel's public IP, the apiserver's advertise address). Found at `u7s up` when empty.
    pub host_ip: Option<String>,
    pub service_cidr: String,
    pub cluster_dns: String,
    pub cluster_domain: String,
    /// The pod network: [`DEFAULT_POD_CIDR`] alone, [`DEFAULT_FLANNEL_CIDR`] with flannel.
    pub pod_cidr: String,
    /// flannel VXLAN across nodes (multi-node); off = one CNI bridge on this node.
    pub flannel: bool,
    pub role: Role,
}

impl Default for KubeSettings {
    fn default() -> Self {
        KubeSettings {
            node_name: "u7s-node".into(),
            host_ip: None,
            service_cidr: DEFAULT_SERVICE_CIDR.into(),
            cluster_dns: DEFAULT_CLUSTER_DNS.into(),
            cluster_domain: DEFAULT_CLUSTER_DOMAIN.into(),
            pod_cidr: DEFAULT_POD_CIDR.into(),
            flannel: false,
            role: Role::Master,
        }
    }
}

impl SessionConfig {
    /// Checks the combination; Kubernetes is refused until its components ship.
    pub fn validate(&self) -> Result<()> {
        crate::rkflags::validate_cidr(&self.cidr)?;
        if self.kube {
            return Err(Error::Usage(
                "Kubernetes components arrive with the next usernetes release; for now run \
                 `u7s up --no-kube` (rootless Docker, or --cri containerd|crio; add --etcd for \
                 the datastore alone)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The arguments of `u7s up` that recreate this configuration (for `--detach` and units).
    pub fn up_args(&self) -> Vec<String> {
        let mut a = vec!["--cri".to_string(), self.cri.name().to_string()];
        if !self.kube {
            a.push("--no-kube".into());
        }
        if self.etcd && !self.kube {
            a.push("--etcd".into());
        }
        for p in &self.publish {
            a.push(format!("--publish={p}"));
        }
        if self.cidr != crate::rkflags::DEFAULT_CIDR {
            a.push(format!("--cidr={}", self.cidr));
        }
        a
    }
}

/// Everything the supervisor inside the namespaces needs from the top process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildConfig {
    pub session: SessionConfig,
    pub paths: Paths,
    pub bins: Bins,
    /// Marks every process of the session (environment `U7S_SESSION`).
    pub session_id: String,
    /// Host pid of the top process.
    pub leader_pid: i32,
    /// Unix time the session started.
    pub started_at: f64,
    /// Whether RootlessKit made a cgroup namespace (cgroup v2 delegated).
    pub cgroup2: bool,
}

impl ChildConfig {
    /// Encodes for the environment.
    pub fn to_env(&self) -> String {
        serde_json::to_string(self).expect("ChildConfig serialises")
    }

    /// Decodes from the environment.
    pub fn from_env() -> Result<ChildConfig> {
        let v = std::env::var(CHILD_CONFIG_ENV).map_err(|_| {
            Error::Usage(format!(
                "{CHILD_CONFIG_ENV} is not set: `u7s __child` runs only inside a session started by `u7s up`"
            ))
        })?;
        serde_json::from_str(&v).map_err(|e| Error::Usage(format!("{CHILD_CONFIG_ENV}: {e}")))
    }
}

/// Test fixture shared by the crate's unit tests: Docker only, no Kubernetes, no etcd, the
/// default CIDR, nothing published.
#[cfg(test)]
pub(crate) fn docker_no_kube() -> SessionConfig {
    SessionConfig {
        cri: Cri::Docker,
        kube: false,
        etcd: false,
        publish: vec![],
        cidr: crate::rkflags::DEFAULT_CIDR.into(),
        rootlesskit_flags: vec![],
        k8s: KubeSettings::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_is_refused_with_the_way_forward() {
        let mut c = docker_no_kube();
        c.validate().unwrap();
        c.kube = true;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("--no-kube") && e.contains("next"), "{e}");
        let mut c = docker_no_kube();
        c.cidr = "10.0.42.1/24".into();
        assert!(c.validate().is_err());
    }

    #[test]
    fn up_args_round_trip_the_choices() {
        let mut c = docker_no_kube();
        c.cri = Cri::Containerd;
        c.etcd = true;
        c.publish = vec![PortSpec::parse("8080:80/tcp").unwrap()];
        c.cidr = "10.0.100.0/24".into();
        assert_eq!(
            c.up_args(),
            [
                "--cri",
                "containerd",
                "--no-kube",
                "--etcd",
                "--publish=127.0.0.1:8080:80/tcp",
                "--cidr=10.0.100.0/24"
            ]
        );
    }
}
