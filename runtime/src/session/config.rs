//! What a session runs: the CRI (Docker, containerd, CRI-O), whether Kubernetes and etcd come
//! along, published ports, the CIDR; and the configuration the top process hands to the
//! supervisor inside the namespaces (`U7S_CHILD_CONFIG`, JSON).

use crate::error::{Error, Result};
use crate::host::binaries::Bins;
use crate::rootlesskit::portspec::PortSpec;
use crate::session::paths::Paths;
use serde::{Deserialize, Serialize};

/// The environment variable carrying [`ChildConfig`] into the namespaces.
pub const CHILD_CONFIG_ENV: &str = "U7S_CHILD_CONFIG";
/// The environment variable marking every process of one session (its id).
pub const SESSION_ENV: &str = "U7S_SESSION";

/// The container runtime of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum Cri {
    /// dockerd; the Docker socket at $XDG_RUNTIME_DIR/docker.sock; the kubelet reaches it
    /// through cri-dockerd
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
    /// Extra RootlessKit flags (`--rootlesskit-flag`, `U7S_ROOTLESSKIT_FLAGS`).
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
/// The apiserver's port unless `--apiserver-port` (or the remembered setting) says otherwise:
/// it listens there in the namespace and is published there on the host (loopback for
/// host-side kubectl, the host address for the nodes of a multi-node cluster).
pub const DEFAULT_APISERVER_PORT: u16 = 6443;
/// flannel's VXLAN port (published on every node of a multi-node cluster).
pub const VXLAN_PORT: u16 = 8472;
/// The kubelet's port (published on joined nodes: logs, exec, port-forward from the apiserver).
pub const KUBELET_PORT: u16 = 10250;
/// The file recording that this host joined a cluster (under `$XDG_CONFIG_HOME/usernetes`).
pub const JOIN_FILE: &str = "join.json";

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
    /// The cluster's apiserver port: where this master's apiserver listens and is published,
    /// or, on a joined node, the master's (from its bundle). Users sharing a host each take
    /// their own (`--apiserver-port`, remembered).
    #[serde(default = "default_apiserver_port")]
    pub apiserver_port: u16,
}

/// serde's default of the apiserver port in records written before it existed.
pub(crate) fn default_apiserver_port() -> u16 {
    DEFAULT_APISERVER_PORT
}

impl KubeSettings {
    /// Whether `n` is a valid node name: a DNS subdomain (RFC 1123), as Kubernetes wants it.
    pub fn valid_node_name(n: &str) -> bool {
        !n.is_empty()
            && n.len() <= 253
            && n.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            })
    }

    /// Checks the node name (a DNS subdomain, as Kubernetes wants it) and the networks.
    pub fn validate(&self) -> Result<()> {
        let n = &self.node_name;
        if !Self::valid_node_name(n) {
            return Err(Error::Usage(format!(
                "node name {n:?} is not a valid Kubernetes node name (lowercase letters, digits, '-' \
                 and '.'); give one with --node-name"
            )));
        }
        let svc: ipnet::Ipv4Net = self.service_cidr.parse().map_err(|_| {
            Error::Usage(format!(
                "service CIDR {:?} is not an IPv4 network",
                self.service_cidr
            ))
        })?;
        let dns: std::net::Ipv4Addr = self.cluster_dns.parse().map_err(|_| {
            Error::Usage(format!(
                "cluster DNS {:?} is not an IPv4 address",
                self.cluster_dns
            ))
        })?;
        if !svc.contains(&dns) {
            return Err(Error::Usage(format!(
                "cluster DNS {dns} is outside the service network {svc}"
            )));
        }
        let pods: ipnet::Ipv4Net = self.pod_cidr.parse().map_err(|_| {
            Error::Usage(format!(
                "pod CIDR {:?} is not an IPv4 network",
                self.pod_cidr
            ))
        })?;
        if pods.contains(&svc.network()) || svc.contains(&pods.network()) {
            return Err(Error::Usage(format!(
                "the pod network {pods} overlaps the service network {svc}"
            )));
        }
        if let Some(ip) = &self.host_ip {
            ip.parse::<std::net::IpAddr>().map_err(|_| {
                Error::Usage(format!(
                    "host address {ip:?} is not an IP address (--host-ip)"
                ))
            })?;
        }
        if self.apiserver_port == 0 {
            return Err(Error::Usage(
                "--apiserver-port 0 is not a port: give one between 1 and 65535".into(),
            ));
        }
        if [VXLAN_PORT, KUBELET_PORT].contains(&self.apiserver_port) {
            return Err(Error::Usage(format!(
                "--apiserver-port {} is the port of another component of the session (kubelet \
                 {KUBELET_PORT}/tcp, flannel {VXLAN_PORT}/udp): choose another",
                self.apiserver_port
            )));
        }
        Ok(())
    }

    /// The apiserver's service address: the first host of the service network (10.0.0.1).
    pub fn service_ip(&self) -> Option<std::net::Ipv4Addr> {
        let n: ipnet::Ipv4Net = self.service_cidr.parse().ok()?;
        n.hosts().next()
    }

    /// A node name from a host name: the first label, lowercase, anything else turned into '-'.
    pub fn node_name_from_hostname(host: &str) -> String {
        let first = host
            .trim()
            .split('.')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let cleaned: String = first
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let t = cleaned.trim_matches('-');
        if t.is_empty() {
            "u7s-node".into()
        } else {
            t.chars().take(63).collect()
        }
    }
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
            apiserver_port: DEFAULT_APISERVER_PORT,
        }
    }
}

impl SessionConfig {
    /// Checks the combination: the CIDR, and with Kubernetes the node name and the networks.
    pub fn validate(&self) -> Result<()> {
        crate::rootlesskit::flags::validate_cidr(&self.cidr)?;
        if !self.kube {
            if self.k8s.flannel || matches!(self.k8s.role, Role::Node { .. }) {
                return Err(Error::Usage(
                    "--flannel and --join need Kubernetes: drop --no-kube".into(),
                ));
            }
            return Ok(());
        }
        self.k8s.validate()
    }

    /// The addresses other nodes reach this host at (`--host-ip`, given or found at `u7s up`;
    /// several separated by ','): the published ports of a multi-node session bind there.
    /// Empty when unknown or unparsable (validate() names the latter).
    pub fn host_addrs(&self) -> Vec<std::net::IpAddr> {
        self.k8s
            .host_ip
            .iter()
            .flat_map(|s| s.split(','))
            .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
            .filter(|a| !a.is_unspecified())
            .collect()
    }

    /// Ports published whatever the user asked: the apiserver for host-side kubectl (loopback),
    /// and for the other nodes of a multi-node cluster the apiserver and VXLAN (master) or the
    /// kubelet and VXLAN (joined node), bound to the host address (`--host-ip`), on every
    /// interface only when no host address is known. etcd never: no node holds an etcd
    /// credential. A port the user publishes on the same host port and protocol wins.
    pub fn implicit_publish(&self) -> Vec<PortSpec> {
        if !self.kube {
            return vec![];
        }
        let mut addrs = self.host_addrs();
        if addrs.is_empty() {
            addrs.push(std::net::Ipv4Addr::UNSPECIFIED.into());
        }
        let for_nodes = |port: u16, proto: &str| {
            addrs
                .iter()
                .map(|ip| PortSpec {
                    proto: proto.to_string(),
                    parent_ip: Some(*ip),
                    parent_port: port,
                    child_ip: None,
                    child_port: port,
                })
                .collect::<Vec<_>>()
        };
        let api = self.k8s.apiserver_port;
        let loopback_apiserver = PortSpec::parse(&format!("127.0.0.1:{api}:{api}/tcp"))
            .expect("built-in port spec parses");
        match (&self.k8s.role, self.k8s.flannel) {
            (Role::Master, false) => vec![loopback_apiserver],
            (Role::Master, true) => {
                let mut v = vec![loopback_apiserver];
                for p in for_nodes(api, "tcp") {
                    if !p.same_parent(&v[0]) {
                        v.push(p);
                    }
                }
                v.extend(for_nodes(VXLAN_PORT, "udp"));
                v
            }
            (Role::Node { .. }, _) => {
                let mut v = for_nodes(KUBELET_PORT, "tcp");
                v.extend(for_nodes(VXLAN_PORT, "udp"));
                v
            }
        }
    }

    /// What `u7s up` says when the session publishes ports for the other nodes (multi-node):
    /// which ones on which address, and that they must be firewalled to the nodes' addresses
    /// (VXLAN carries no authentication). None when everything is on loopback.
    pub fn firewall_note(&self) -> Option<String> {
        let all = self.all_publish();
        let outside: Vec<&PortSpec> = all
            .iter()
            .filter(|p| p.parent_ip.is_none_or(|ip| !ip.is_loopback()))
            .collect();
        if outside.is_empty() {
            return None;
        }
        let mut ports: Vec<String> = vec![];
        let mut where_: Vec<String> = vec![];
        for p in &outside {
            let port = format!("{}/{}", p.parent_port, p.proto);
            if !ports.contains(&port) {
                ports.push(port);
            }
            let at = match p.parent_ip {
                Some(ip) if !ip.is_unspecified() => ip.to_string(),
                _ => "every interface".to_string(),
            };
            if !where_.contains(&at) {
                where_.push(at);
            }
        }
        let hint = if where_.iter().any(|w| w == "every interface") {
            " (give --host-ip ADDR to bind them to the host address only)"
        } else {
            ""
        };
        Some(format!(
            "published for the other nodes on {}: {}{hint}; firewall them so that only the \
             cluster's hosts reach them (flannel's VXLAN has no authentication: anyone reaching \
             8472/udp can inject traffic into the pod network), e.g. with your host's firewall",
            where_.join(", "),
            ports.join(", ")
        ))
    }

    /// Everything RootlessKit publishes at start: the user's specs, then the implicit ones whose
    /// host port and protocol the user did not take.
    pub fn all_publish(&self) -> Vec<PortSpec> {
        let mut all = self.publish.clone();
        for p in self.implicit_publish() {
            if !self
                .publish
                .iter()
                .any(|q| q.parent_port == p.parent_port && q.proto == p.proto)
            {
                all.push(p);
            }
        }
        all
    }

    /// The arguments of `u7s up` that recreate this configuration (for `--detach` and units),
    /// every choice included: run them without the environment variables `u7s up` reads
    /// (`cli::UP_ENV`), or the environment's ports and flags come a second time.
    pub fn up_args(&self) -> Vec<String> {
        let mut a = vec!["--cri".to_string(), self.cri.name().to_string()];
        if !self.kube {
            a.push("--no-kube".into());
        }
        if self.etcd {
            a.push("--etcd".into());
        }
        for p in &self.publish {
            a.push(format!("--publish={p}"));
        }
        if self.cidr != crate::rootlesskit::flags::DEFAULT_CIDR {
            a.push(format!("--cidr={}", self.cidr));
        }
        for f in &self.rootlesskit_flags {
            a.push(format!("--rootlesskit-flag={f}"));
        }
        if self.kube {
            a.push(format!("--node-name={}", self.k8s.node_name));
            if let Some(ip) = &self.k8s.host_ip {
                a.push(format!("--host-ip={ip}"));
            }
            if self.k8s.flannel && self.k8s.role == Role::Master {
                a.push("--flannel".into());
            }
            if self.k8s.role == Role::Master && self.k8s.apiserver_port != DEFAULT_APISERVER_PORT {
                a.push(format!("--apiserver-port={}", self.k8s.apiserver_port));
            }
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
        cidr: crate::rootlesskit::flags::DEFAULT_CIDR.into(),
        rootlesskit_flags: vec![],
        k8s: KubeSettings::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_flag_to_fix() {
        let mut c = docker_no_kube();
        c.validate().unwrap();
        c.k8s.flannel = true;
        assert!(c.validate().unwrap_err().to_string().contains("--no-kube"));
        c.kube = true;
        c.validate().unwrap();
        c.k8s.node_name = "Bad_Name".into();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("--node-name")
        );
        c.k8s.node_name = "node-1.example".into();
        c.k8s.cluster_dns = "10.1.0.53".into();
        assert!(c.validate().unwrap_err().to_string().contains("outside"));
        c.k8s.cluster_dns = "10.0.0.53".into();
        c.k8s.pod_cidr = "10.0.0.0/16".into();
        assert!(c.validate().unwrap_err().to_string().contains("overlaps"));
        c.k8s.pod_cidr = DEFAULT_POD_CIDR.into();
        c.k8s.host_ip = Some("not-an-ip".into());
        assert!(c.validate().unwrap_err().to_string().contains("--host-ip"));
        let mut c = docker_no_kube();
        c.cidr = "10.0.42.1/24".into();
        assert!(c.validate().is_err());
    }

    #[test]
    fn node_names_from_host_names() {
        assert_eq!(
            KubeSettings::node_name_from_hostname("Build_Host.example.org"),
            "build-host"
        );
        assert_eq!(KubeSettings::node_name_from_hostname("--"), "u7s-node");
        assert_eq!(
            KubeSettings::default().service_ip().unwrap().to_string(),
            "10.0.0.1"
        );
    }

    #[test]
    fn another_apiserver_port_is_published_remembered_in_up_args_and_checked() {
        let mut c = docker_no_kube();
        c.kube = true;
        c.k8s.apiserver_port = 16443;
        let show = |c: &SessionConfig| -> Vec<String> {
            c.all_publish().iter().map(|p| p.to_string()).collect()
        };
        assert_eq!(show(&c), ["127.0.0.1:16443:16443/tcp"]);
        c.k8s.flannel = true;
        c.k8s.host_ip = Some("192.168.1.10".into());
        assert_eq!(
            show(&c),
            [
                "127.0.0.1:16443:16443/tcp",
                "192.168.1.10:16443:16443/tcp",
                "192.168.1.10:8472:8472/udp"
            ]
        );
        assert!(c.up_args().contains(&"--apiserver-port=16443".to_string()));
        c.k8s.apiserver_port = DEFAULT_APISERVER_PORT;
        assert!(
            !c.up_args()
                .iter()
                .any(|a| a.starts_with("--apiserver-port"))
        );
        // A joined node's port is the master's (from its bundle): never an argument of its own.
        c.k8s.apiserver_port = 16443;
        c.k8s.role = Role::Node {
            server: "192.168.1.10".into(),
        };
        assert!(
            !c.up_args()
                .iter()
                .any(|a| a.starts_with("--apiserver-port"))
        );
        for bad in [0, KUBELET_PORT] {
            c.k8s.apiserver_port = bad;
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains("--apiserver-port"), "{e}");
        }
        // Records written before the setting existed read as the default.
        let mut v = serde_json::to_value(KubeSettings::default()).unwrap();
        v.as_object_mut().unwrap().remove("apiserver_port");
        let k: KubeSettings = serde_json::from_value(v).unwrap();
        assert_eq!(k.apiserver_port, DEFAULT_APISERVER_PORT);
    }

    #[test]
    fn implicit_ports_per_role_and_user_ports_win() {
        let mut c = docker_no_kube();
        assert!(c.all_publish().is_empty());
        c.kube = true;
        let show = |c: &SessionConfig| -> Vec<String> {
            c.all_publish().iter().map(|p| p.to_string()).collect()
        };
        assert_eq!(show(&c), ["127.0.0.1:6443:6443/tcp"]);
        assert_eq!(
            c.firewall_note(),
            None,
            "a single node publishes on loopback only"
        );
        c.publish = vec![PortSpec::parse("0.0.0.0:6443:6443/tcp").unwrap()];
        assert_eq!(show(&c), ["0.0.0.0:6443:6443/tcp"]);
        c.publish.clear();
        c.k8s.flannel = true;
        // No host address known: every interface, and the note says how to bind them.
        assert_eq!(
            show(&c),
            [
                "127.0.0.1:6443:6443/tcp",
                "0.0.0.0:6443:6443/tcp",
                "0.0.0.0:8472:8472/udp"
            ]
        );
        let note = c.firewall_note().unwrap();
        assert!(
            note.contains("every interface: 6443/tcp, 8472/udp")
                && note.contains("--host-ip")
                && !note.contains("2379"),
            "{note}"
        );
        // --host-ip: the nodes' ports on that address only, never 0.0.0.0; kubectl on loopback.
        c.k8s.host_ip = Some("192.168.1.10".into());
        assert_eq!(
            show(&c),
            [
                "127.0.0.1:6443:6443/tcp",
                "192.168.1.10:6443:6443/tcp",
                "192.168.1.10:8472:8472/udp"
            ]
        );
        let note = c.firewall_note().unwrap();
        assert!(
            note.contains("on 192.168.1.10: 6443/tcp, 8472/udp")
                && note.contains("firewall")
                && !note.contains("every interface"),
            "{note}"
        );
        // Several addresses: each one, and the RootlessKit API gets the parent IP.
        c.k8s.host_ip = Some("192.168.1.10,fd00::10".into());
        assert_eq!(
            show(&c),
            [
                "127.0.0.1:6443:6443/tcp",
                "192.168.1.10:6443:6443/tcp",
                "[fd00::10]:6443:6443/tcp",
                "192.168.1.10:8472:8472/udp",
                "[fd00::10]:8472:8472/udp"
            ]
        );
        let json = serde_json::to_value(&c.all_publish()[1]).unwrap();
        assert_eq!(json["parentIP"], "192.168.1.10", "{json}");
        // A user's spec on the same port and protocol still wins over every implicit one.
        c.publish = vec![PortSpec::parse("10.1.1.1:6443:6443/tcp").unwrap()];
        assert_eq!(
            show(&c),
            [
                "10.1.1.1:6443:6443/tcp",
                "192.168.1.10:8472:8472/udp",
                "[fd00::10]:8472:8472/udp"
            ]
        );
        c.publish.clear();
        c.k8s.host_ip = Some("192.168.1.11".into());
        c.k8s.role = Role::Node {
            server: "192.168.1.10".into(),
        };
        assert_eq!(
            show(&c),
            ["192.168.1.11:10250:10250/tcp", "192.168.1.11:8472:8472/udp"]
        );
        assert!(
            c.firewall_note()
                .unwrap()
                .contains("on 192.168.1.11: 10250/tcp, 8472/udp")
        );
        c.k8s.host_ip = None;
        assert_eq!(
            show(&c),
            ["0.0.0.0:10250:10250/tcp", "0.0.0.0:8472:8472/udp"]
        );
        assert!(
            c.firewall_note()
                .unwrap()
                .contains("every interface: 10250/tcp, 8472/udp")
        );
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
