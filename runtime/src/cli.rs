//! The command line of `u7s` (clap derive); `--help`, completions and the man page come from it.
//! Also what `u7s up`'s flags mean: [`UpArgs::session_config`] turns them (and the
//! `U7S_ROOTLESSKIT_*` environment) into the [`SessionConfig`] a session runs.

use crate::rootlesskit::portspec::PortSpec;
use crate::session::config::{Cri, DEFAULT_FLANNEL_CIDR, KubeSettings, SessionConfig};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};

/// Ports to publish at start, space separated (added to `--publish`).
pub const PORTS_ENV: &str = "U7S_ROOTLESSKIT_PORTS";
/// Extra RootlessKit flags, space separated (added to `--rootlesskit-flag`).
pub const FLAGS_ENV: &str = "U7S_ROOTLESSKIT_FLAGS";
/// Every environment variable `u7s up` takes a choice from. A process started with
/// [`SessionConfig::up_args`] (the background half of `--detach`, the systemd unit) runs without
/// them: its arguments carry every choice, and the two above would be added a second time.
pub const UP_ENV: &[&str] = &[
    "U7S_CRI",
    "U7S_NO_KUBE",
    "U7S_NODE_NAME",
    "U7S_HOST_IP",
    "U7S_APISERVER_PORT",
    PORTS_ENV,
    FLAGS_ENV,
];

const EXAMPLES: &str = "\
EXAMPLES:
  u7s up --detach                     Kubernetes on rootless Docker
  u7s up --cri containerd --detach    ... on containerd (or --cri crio)
  u7s up --no-kube --detach           rootless Docker alone, once it answers
  u7s up --cri containerd --no-kube --etcd --detach
                                      containerd (CRI) and etcd (client TLS)
  u7s status                          components, pids, readiness, ports
  u7s docker run --rm -p 8080:80 nginx
                                      the release's docker CLI, DOCKER_HOST set
  u7s kubectl get nodes               kubectl with the admin kubeconfig
  u7s ports add 8080:80               port 80 of the namespace on 127.0.0.1:8080
  u7s ports add 0.0.0.0:8443:443/tcp  ... on every interface
  u7s ports ls                        published ports (u7s ports rm ID)
  u7s nsenter ip addr                 a command inside the session's namespaces
  u7s images load app.tar             an image archive into the session
  u7s logs dockerd -n 50 -f           a component's log
  u7s down                            stop; returns when no process is left
  u7s reset --yes                     stop, remove images, containers and data
  u7s units install --no-kube --now   systemd user units (u7s.target)
  u7s certs check                     certificates: role, expiry, problems
  u7s up --cri containerd --flannel -d
                                      master of a cluster (flannel VXLAN)
  u7s certs bundle node1 --ip 192.168.1.11 --server 192.168.1.10 -o node1.tar
                                      on the master: a node's certificates
  u7s up --cri crio --join node1.tar  on node1: join the cluster

FILES:
  $XDG_RUNTIME_DIR/usernetes/         state: RootlessKit API, status, sockets
  $XDG_RUNTIME_DIR/docker.sock        the Docker socket
  $XDG_DATA_HOME/usernetes/           data (docker, containerd, etcd), logs/
  $XDG_DATA_HOME/usernetes/session.lock
                                      held by the running session (host, pid)
  $XDG_CONFIG_HOME/usernetes/pki/     TLS material and kubeconfigs (u7s certs)
  $XDG_CONFIG_HOME/usernetes/pki/join.json
                                      on a node: the cluster it joined
  $XDG_CONFIG_HOME/usernetes/pki/admin.kubeconfig
                                      KUBECONFIG for kubectl on the host
  $XDG_CONFIG_HOME/usernetes/settings.json
                                      remembered choices (--apiserver-port)

ENVIRONMENT:
  U7S_CRI, U7S_NO_KUBE                defaults of --cri and --no-kube
  U7S_NODE_NAME, U7S_HOST_IP          defaults of --node-name and --host-ip
  U7S_APISERVER_PORT                  default of --apiserver-port
  U7S_ROOTLESSKIT_FLAGS               extra RootlessKit flags (space sep.)
  U7S_ROOTLESSKIT_PORTS               ports to publish at start (space sep.)

EXIT STATUS:
  0 success, 1 failure, 2 usage error; `status` exits 3 when no session runs;
  `up` exits 0 when a session with the same settings already runs, 4 when one
  with other settings runs (or another `u7s up` is starting one), 5 when a
  certificate has expired or is not signed by its CA (`u7s certs renew`), 6
  when the etcd data folder was written by a newer etcd than this release's";

/// Runs Kubernetes and Docker, containerd or CRI-O rootless in a RootlessKit session (user,
/// mount, network and pid namespaces; slirp4netns network), supervised with real readiness checks.
#[derive(Debug, Parser)]
#[command(name = "u7s", version, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,

    /// Print shell completions for SHELL to stdout and exit
    #[arg(long, value_name = "SHELL", exclusive = true)]
    pub completions: Option<clap_complete::Shell>,

    /// Print the man page (roff) to stdout and exit
    #[arg(long, exclusive = true)]
    pub man: bool,
}

/// `u7s images`.
#[derive(Debug, Subcommand)]
pub enum ImagesCmd {
    /// Load image archives (`docker save`, `ctr images export`, an OCI archive) into the
    /// running session: containerd's CRI namespace, dockerd, or for CRI-O the session's image
    /// store that its loopback registry serves (Docker 25+ `docker save` or an OCI archive)
    Load {
        /// The archives
        #[arg(required = true, value_name = "ARCHIVE")]
        archives: Vec<std::path::PathBuf>,
    },
}

/// What `u7s up` (and the units) start.
#[derive(Debug, Args, Clone)]
pub struct UpArgs {
    /// Container runtime
    #[arg(long, value_enum, default_value = "docker", env = "U7S_CRI")]
    pub cri: Cri,

    /// Without Kubernetes: the container runtime alone (rootless Docker, containerd or CRI-O)
    #[arg(long, env = "U7S_NO_KUBE")]
    pub no_kube: bool,

    /// Multi-node master: flannel VXLAN pod network (10.5.0.0/16); publishes 6443/tcp
    /// and 8472/udp for the nodes on the host address (--host-ip)
    #[arg(long, conflicts_with_all = ["no_kube", "join"])]
    pub flannel: bool,

    /// Join a cluster as a node, with the bundle `u7s certs bundle` made on the master (imported
    /// once into $XDG_CONFIG_HOME/usernetes; later starts remember it)
    #[arg(long, value_name = "BUNDLE", conflicts_with = "no_kube")]
    pub join: Option<std::path::PathBuf>,

    /// With --join: replace a CA already in the PKI folder (this host moves to another cluster)
    #[arg(long, requires = "join")]
    pub force_join: bool,

    /// The Kubernetes node name (default: the short host name, lowercase)
    #[arg(long, value_name = "NAME", env = "U7S_NODE_NAME")]
    pub node_name: Option<String>,

    /// The host's address as other machines reach it (default: the address of the route to the
    /// outside); goes into certificates, flannel's public IP and the apiserver's advertise address,
    /// and the ports other nodes need (6443, 10250/tcp, 8472/udp) are published on it only
    #[arg(long, value_name = "ADDR", env = "U7S_HOST_IP")]
    pub host_ip: Option<String>,

    /// The apiserver's port, in the namespace and on the host (default 6443): each user of a
    /// shared host takes their own; remembered in $XDG_CONFIG_HOME/usernetes/settings.json, so
    /// later starts, `u7s certs bundle` and the kubeconfigs keep it
    #[arg(long, value_name = "PORT", env = "U7S_APISERVER_PORT", conflicts_with_all = ["no_kube", "join"])]
    pub apiserver_port: Option<u16>,

    /// Also run etcd (client TLS, client certificates required); always on with Kubernetes
    #[arg(long)]
    pub etcd: bool,

    /// Publish a port from the start: [IP:]PORT:PORT[/PROTO] (tcp and 127.0.0.1 unless given)
    #[arg(long, short = 'p', value_name = "SPEC")]
    pub publish: Vec<String>,

    /// Network of the namespace (slirp4netns)
    #[arg(long, default_value = crate::rootlesskit::flags::DEFAULT_CIDR)]
    pub cidr: String,

    /// An extra RootlessKit flag (repeat for several; U7S_ROOTLESSKIT_FLAGS adds space-separated
    /// ones)
    #[arg(long, value_name = "FLAG", allow_hyphen_values = true)]
    pub rootlesskit_flag: Vec<String>,
}

impl UpArgs {
    /// The session these flags ask for, with the ports of `U7S_ROOTLESSKIT_PORTS` and the flags
    /// of `U7S_ROOTLESSKIT_FLAGS` from this process's environment.
    pub fn session_config(&self) -> anyhow::Result<SessionConfig> {
        self.session_config_from(&|k| std::env::var(k).ok(), &|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default()
        })
    }

    /// [`UpArgs::session_config`] with the environment and the host name given: the
    /// environment's ports and RootlessKit flags come after those of the command line.
    pub fn session_config_from(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        hostname: &dyn Fn() -> String,
    ) -> anyhow::Result<SessionConfig> {
        let mut publish = Vec::new();
        for p in &self.publish {
            publish.push(PortSpec::parse(p)?);
        }
        // The environment's ports are defaults (an image's, say): a --publish of the same host
        // port and protocol replaces one, rather than asking RootlessKit for it twice.
        if let Some(extra) = env(PORTS_ENV) {
            for p in extra.split_whitespace() {
                let p = PortSpec::parse(p).context("in U7S_ROOTLESSKIT_PORTS")?;
                if !publish
                    .iter()
                    .any(|q: &PortSpec| q.parent_port == p.parent_port && q.proto == p.proto)
                {
                    publish.push(p);
                }
            }
        }
        let mut flags = self.rootlesskit_flag.clone();
        if let Some(extra) = env(FLAGS_ENV) {
            flags.extend(extra.split_whitespace().map(str::to_string));
        }
        Ok(SessionConfig {
            cri: self.cri,
            kube: !self.no_kube,
            etcd: self.etcd,
            publish,
            cidr: self.cidr.clone(),
            rootlesskit_flags: flags,
            k8s: self.kube_settings(hostname),
        })
    }

    /// The Kubernetes settings from the flags: node name (else the host name), host address,
    /// flannel.
    fn kube_settings(&self, hostname: &dyn Fn() -> String) -> KubeSettings {
        let node_name = match &self.node_name {
            Some(n) => n.clone(),
            None => KubeSettings::node_name_from_hostname(&hostname()),
        };
        let defaults = KubeSettings::default();
        KubeSettings {
            node_name,
            host_ip: self.host_ip.clone(),
            flannel: self.flannel,
            apiserver_port: self.apiserver_port.unwrap_or(defaults.apiserver_port),
            pod_cidr: if self.flannel {
                DEFAULT_FLANNEL_CIDR.into()
            } else {
                defaults.pod_cidr.clone()
            },
            ..defaults
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Start a session (foreground unless --detach)
    #[command(
        after_help = "EXAMPLES:\n  u7s up --detach\n  u7s up --cri containerd --flannel --detach\n  u7s up --cri crio --join node1.tar\n  u7s up --no-kube --detach\n  u7s up --cri containerd --no-kube --etcd -p 2379:2379/tcp\n  u7s up --apiserver-port 16443 --detach"
    )]
    Up(UpCmd),

    /// Stop the session; returns when no process of it is left
    Down {
        /// Seconds to wait before killing what is left
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },

    /// Show the session: components, pids, readiness, versions, uptime, ports
    Status {
        /// As JSON
        #[arg(long)]
        json: bool,
    },

    /// Stop, then remove runtime state and data (images, containers, etcd); keeps installed versions
    Reset {
        /// Do not ask
        #[arg(long, short = 'y')]
        yes: bool,
        /// Also remove the config and TLS material ($XDG_CONFIG_HOME/usernetes)
        #[arg(long)]
        config: bool,
    },

    /// Show a component's log (session, dockerd, containerd, etcd, crio, …)
    Logs {
        /// The log to show; without it, the list of logs there are
        component: Option<String>,
        /// Only the last N lines
        #[arg(long, short = 'n')]
        lines: Option<usize>,
        /// Keep printing new lines
        #[arg(long, short = 'f')]
        follow: bool,
    },

    /// Publish ports of the namespace on the host (RootlessKit's port driver)
    #[command(subcommand)]
    Ports(PortsCmd),

    /// Run the release's docker CLI against the session (DOCKER_HOST set)
    ///
    /// Every argument goes to docker unchanged, `--help` included: `u7s docker --help` and
    /// `u7s docker run --help` are docker's own help; `u7s help docker` shows this text. With no
    /// session running, commands that need the daemon stop with the command that starts one.
    #[command(disable_help_flag = true)]
    Docker {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },

    /// The release's kubectl with the admin kubeconfig (KUBECONFIG set; the apiserver is published
    /// on 127.0.0.1:6443, so host-side kubectl works with that file too)
    Kubectl {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },

    /// Run a command (default: your shell) inside the session's namespaces
    Nsenter {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },

    /// Write or remove systemd user units (u7s.target, u7s.service)
    #[command(subcommand)]
    Units(UnitsCmd),

    /// TLS material: check, renew, export a joining node's bootstrap bundle
    #[command(subcommand, after_help = CERTS_EXAMPLES)]
    Certs(CertsCmd),

    /// Images without a registry: load image archives into the session's container runtime
    #[command(subcommand)]
    Images(ImagesCmd),

    /// (internal) the supervisor inside the namespaces
    #[command(name = "__child", hide = true)]
    Child,

    /// (internal) CRI-O's image registry on the namespace's loopback, serving the session's
    /// image store (the pause and CoreDNS images made from these binaries added first)
    #[command(name = "__registry", hide = true)]
    Registry {
        #[arg(long)]
        store: std::path::PathBuf,
        #[arg(long)]
        listen: String,
        #[arg(long)]
        pause: Option<std::path::PathBuf>,
        #[arg(long)]
        coredns: Option<std::path::PathBuf>,
    },

    /// (internal) the OCI runtime of a session without writable cgroups: runc without the
    /// bundle's cgroup settings
    #[command(name = "__oci-runtime", hide = true)]
    OciRuntime {
        /// The real runc
        #[arg(long)]
        runc: std::path::PathBuf,
        /// runc's arguments
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },

    /// (internal) the job importing the pod sandbox image into containerd
    #[command(name = "__import-images", hide = true)]
    ImportImages {
        #[arg(long)]
        pause: std::path::PathBuf,
        #[arg(long)]
        ctr: std::path::PathBuf,
        #[arg(long)]
        address: std::path::PathBuf,
        #[arg(long)]
        snapshotter: String,
        #[arg(long)]
        archive: std::path::PathBuf,
        /// The coredns binary, made into the CoreDNS image (with Kubernetes)
        #[arg(long)]
        coredns: Option<std::path::PathBuf>,
    },

    /// (internal) the job writing a multi-node session's CNI config from flannel's lease
    #[command(name = "__flannel-cni", hide = true)]
    FlannelCni {
        #[arg(long)]
        subnet_env: std::path::PathBuf,
        #[arg(long)]
        out: std::path::PathBuf,
    },

    /// (internal) the job loading the pod sandbox image into dockerd (for cri-dockerd)
    #[command(name = "__load-docker-image", hide = true)]
    LoadDockerImage {
        #[arg(long)]
        pause: std::path::PathBuf,
        #[arg(long)]
        docker: std::path::PathBuf,
        #[arg(long)]
        archive: std::path::PathBuf,
        #[arg(long)]
        name: String,
        /// The coredns binary, made into the CoreDNS image (the cluster DNS)
        #[arg(long)]
        coredns: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct UpCmd {
    #[command(flatten)]
    pub up: UpArgs,

    /// Start in the background; return once every component is ready
    #[arg(long, short = 'd')]
    pub detach: bool,

    /// Seconds --detach waits for readiness
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,

    /// Skip the host checks (u7s-doctor)
    #[arg(long)]
    pub no_doctor: bool,

    /// (internal) the background top process of --detach
    #[arg(long, hide = true)]
    pub detached_leader: bool,
}

impl std::ops::Deref for UpCmd {
    type Target = UpArgs;
    fn deref(&self) -> &UpArgs {
        &self.up
    }
}

#[derive(Debug, Subcommand)]
pub enum PortsCmd {
    /// Publish: [IP:]PORT:[IP:]PORT[/PROTO] (host side first; tcp and 127.0.0.1 unless given)
    Add {
        /// [IP:]PORT:[IP:]PORT[/PROTO], host side first: tcp (any case; or udp, tcp6, …) and
        /// 127.0.0.1 unless given, e.g. 8080:80, 0.0.0.0:5353:53/udp
        #[arg(required = true, value_name = "SPEC")]
        specs: Vec<String>,
        /// Print the new forwardings as JSON
        #[arg(long)]
        json: bool,
    },
    /// Unpublish by id or by spec
    Rm {
        #[arg(required = true, value_name = "SPEC|ID")]
        refs: Vec<String>,
    },
    /// List published ports
    Ls {
        /// As JSON (an array, empty when none)
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UnitsCmd {
    /// Write the units (ExecStart: $XDG_DATA_HOME/usernetes/current/bin/u7s up …) and enable u7s.target
    Install {
        #[command(flatten)]
        up: UpArgs,
        /// Start now too
        #[arg(long, conflicts_with = "write_only")]
        now: bool,
        /// Write the unit files only: no systemctl call (e.g. before a user manager runs; without
        /// one, `units install` refuses otherwise)
        #[arg(long)]
        write_only: bool,
    },
    /// Stop, disable and delete the units (without a systemd user manager: delete the files)
    Remove,
}

const CERTS_EXAMPLES: &str = "\
EXAMPLES:
  u7s certs check                      table: role, subject, expiry, days left, problems
  u7s certs check --json
  u7s certs renew                      re-issue the leaves flagged by `check`
  u7s certs renew --all                re-issue every leaf (same CA)
  u7s certs renew --ca                 a new CA and everything under it (nodes need new bundles)
  u7s certs bundle node-1 --ip 192.168.1.21 --server 192.168.1.10 -o node-1.tar

FILES:
  $XDG_CONFIG_HOME/usernetes/pki/      CA, one certificate per role, sa keys, kubeconfigs, spec.json";

#[derive(Debug, Subcommand)]
pub enum CertsCmd {
    /// Check every certificate (chain to the CA, expiry, subject and SANs); exit 1 on a problem
    Check {
        /// As JSON (an array)
        #[arg(long)]
        json: bool,
    },
    /// Re-issue leaf certificates (master only): the flagged ones, or all
    Renew {
        /// Every leaf, not only the flagged ones
        #[arg(long)]
        all: bool,
        /// A new CA too, then every leaf; joined nodes need new bundles afterwards
        #[arg(long)]
        ca: bool,
    },
    /// Export a joining node's bootstrap bundle (master only; never holds the CA key)
    Bundle {
        /// The node's name (its kubelet registers as system:node:NODE)
        node: String,
        /// The node's host address (repeat for several); goes in its serving certificate
        #[arg(long, required = true, value_name = "ADDR")]
        ip: Vec<std::net::IpAddr>,
        /// The master's address as the node reaches it (default: the master's recorded host address)
        #[arg(long, value_name = "ADDR")]
        server: Option<String>,
        /// Output file (default: NODE.bundle.tar), written 0600
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<std::path::PathBuf>,
        /// The node's session network, when it starts with another `--cidr` (its .100 address
        /// goes in the kubelet's serving certificate)
        #[arg(long, value_name = "CIDR", default_value = crate::rootlesskit::flags::DEFAULT_CIDR)]
        node_cidr: String,
        /// Issue another bundle for a node name issued before (the earlier one stays valid)
        #[arg(long)]
        reissue: bool,
    },
}

/// `cmd` without what is hidden (internal commands such as `__child`, internal flags such as
/// `--detached-leader`): what completions and the man page offer.
pub fn visible(cmd: &clap::Command) -> clap::Command {
    // clap takes names as &'static str (its "string" feature is off): a few bytes per command,
    // once per process.
    let leak = |s: &str| -> &'static str { s.to_string().leak() };
    let mut out = clap::Command::new(leak(cmd.get_name()))
        .args(cmd.get_arguments().filter(|a| !a.is_hide_set()).cloned())
        .subcommands(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(visible),
        );
    if let Some(v) = cmd.get_version() {
        out = out.version(leak(v));
    }
    if let Some(a) = cmd.get_about() {
        out = out.about(a.clone());
    }
    if let Some(a) = cmd.get_long_about() {
        out = out.long_about(a.clone());
    }
    if let Some(a) = cmd.get_after_help() {
        out = out.after_help(a.clone());
    }
    out
}

/// Text as roff: no line starts a request, backslashes stay literal.
fn roff_text(text: &str) -> String {
    text.lines()
        .map(|l| {
            let l = l.replace('\\', "\\e");
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

/// The commands of `cmd` (and theirs), each with its options, as man page subsections.
fn man_commands(cmd: &clap::Command, path: &str, out: &mut Vec<u8>) {
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("{path} {}", sub.get_name());
        out.extend(format!(".SS \"{name}\"\n").as_bytes());
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            out.extend(roff_text(&about.to_string()).as_bytes());
        }
        // The subcommand's OPTIONS section, without its heading (it belongs to this one).
        let mut opts = Vec::new();
        if clap_mangen::Man::new(sub.clone())
            .render_options_section(&mut opts)
            .is_ok()
        {
            let text = String::from_utf8_lossy(&opts);
            for line in text.lines().filter(|l| !l.starts_with(".SH")) {
                out.extend(line.as_bytes());
                out.push(b'\n');
            }
        }
        man_commands(sub, &name, out);
    }
}

/// `u7s --man`: one page with every command and its options (no `u7s-up(1)` pages to look
/// for), then the examples, files, environment and exit status, each a section of its own with
/// its lines kept as written (`.nf`).
pub fn man_page(cmd: &clap::Command) -> Vec<u8> {
    let cmd = visible(cmd);
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    let _ = man.render_title(&mut out);
    let _ = man.render_name_section(&mut out);
    let _ = man.render_synopsis_section(&mut out);
    let _ = man.render_description_section(&mut out);
    let _ = man.render_options_section(&mut out);
    out.extend(b".SH COMMANDS\n");
    man_commands(&cmd, "u7s", &mut out);
    let extra = cmd
        .get_after_help()
        .map(|s| s.to_string())
        .unwrap_or_default();
    for block in extra.split("\n\n") {
        let mut lines = block.lines();
        let Some(head) = lines.next() else { continue };
        let body: Vec<&str> = lines.collect();
        out.extend(format!(".SH \"{}\"\n.nf\n", head.trim_end_matches(':')).as_bytes());
        out.extend(roff_text(&body.join("\n")).as_bytes());
        out.extend(b".fi\n");
    }
    let _ = man.render_version_section(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn up_cmd(argv: &[&str]) -> UpCmd {
        match Cli::try_parse_from(argv).unwrap().command {
            Some(Cmd::Up(u)) => u,
            other => panic!("{other:?}"),
        }
    }

    /// The environment of the foreground `u7s up` in these tests.
    fn user_env(k: &str) -> Option<String> {
        match k {
            PORTS_ENV => Some("8080:80/tcp 0.0.0.0:5353:53/udp".into()),
            FLAGS_ENV => Some("--debug --mtu=1500".into()),
            _ => None,
        }
    }

    /// `U7S_ROOTLESSKIT_PORTS` gives defaults (compose/Dockerfile sets 0.0.0.0:6443): a
    /// `--publish` of the same host port and protocol replaces one instead of doubling it.
    #[test]
    fn a_publish_replaces_the_environments_port_of_the_same_host_port() {
        let env = |k: &str| (k == PORTS_ENV).then(|| "0.0.0.0:6443:6443/tcp 8472:8472/udp".into());
        let host = || "h".to_string();
        let show = |argv: &[&str]| -> Vec<String> {
            let Some(Cmd::Up(u)) = Cli::try_parse_from(argv).unwrap().command else {
                panic!()
            };
            let c = u.up.session_config_from(&env, &host).unwrap();
            c.publish.iter().map(|p| p.to_string()).collect()
        };
        assert_eq!(
            show(&["u7s", "up"]),
            ["0.0.0.0:6443:6443/tcp", "127.0.0.1:8472:8472/udp"]
        );
        assert_eq!(
            show(&["u7s", "up", "-p", "10.0.0.1:6443:6443/tcp"]),
            ["10.0.0.1:6443:6443/tcp", "127.0.0.1:8472:8472/udp"]
        );
    }

    /// `u7s up --detach`: what the foreground computes from its command line and environment is
    /// what the background top process computes from the command line and environment it is
    /// started with (through clap, as the real process parses it). `U7S_ROOTLESSKIT_PORTS`
    /// used to come twice: once as `--publish` and again from the inherited environment.
    #[test]
    fn detach_hands_the_background_process_the_same_session() {
        let host = || "build-host".to_string();
        for argv in [
            &["u7s", "up", "--detach"][..],
            &[
                "u7s",
                "up",
                "-d",
                "--cri",
                "containerd",
                "--no-kube",
                "--etcd",
            ],
            &[
                "u7s",
                "up",
                "-d",
                "--cri",
                "crio",
                "-p",
                "2379:2379/tcp",
                "--etcd",
            ],
            &[
                "u7s",
                "up",
                "-d",
                "--flannel",
                "--node-name",
                "n1",
                "--host-ip",
                "192.168.1.10",
                "--cidr",
                "10.0.100.0/24",
                "--rootlesskit-flag",
                "--port-driver=slirp4netns",
            ],
        ] {
            let fg = up_cmd(argv);
            let cfg = fg.session_config_from(&user_env, &host).unwrap();
            assert!(
                cfg.rootlesskit_flags
                    .ends_with(&["--debug".into(), "--mtu=1500".into()])
            );

            let mut bg_argv = vec!["u7s".to_string()];
            bg_argv.extend(crate::process::detach::leader_args(&cfg));
            let bg = match Cli::try_parse_from(&bg_argv).unwrap().command {
                Some(Cmd::Up(u)) => u,
                other => panic!("{other:?}"),
            };
            assert!(
                bg.detached_leader && bg.no_doctor && !bg.detach,
                "{bg_argv:?}"
            );
            let removed = crate::process::detach::LEADER_ENV_REMOVED;
            let bg_env = |k: &str| user_env(k).filter(|_| !removed.contains(&k));
            let back = bg.session_config_from(&bg_env, &host).unwrap();
            assert_eq!(back, cfg, "{argv:?} -> {bg_argv:?}");
            let ports = back.all_publish();
            for (i, p) in ports.iter().enumerate() {
                assert!(!ports[..i].contains(p), "{p} published twice: {bg_argv:?}");
            }
        }
    }

    /// Every environment variable `u7s up` reads through clap is one the background process and
    /// the units go without.
    #[test]
    fn every_up_environment_variable_is_listed() {
        let cmd = Cli::command();
        let up = cmd.find_subcommand("up").unwrap();
        for a in up.get_arguments() {
            if let Some(e) = a.get_env() {
                let e = e.to_str().unwrap();
                assert!(UP_ENV.contains(&e), "{e} is not in UP_ENV");
            }
        }
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn docker_args_pass_through() {
        let c = Cli::try_parse_from(["u7s", "docker", "run", "--rm", "-p", "1:2", "img"]).unwrap();
        match c.command {
            Some(Cmd::Docker { args }) => assert_eq!(args, ["run", "--rm", "-p", "1:2", "img"]),
            other => panic!("{other:?}"),
        }
        // Newcomer review L4: `--help` is docker's, not the wrapper's.
        for argv in [&["--help"][..], &["-h"], &["run", "--help"]] {
            let mut full = vec!["u7s", "docker"];
            full.extend(argv);
            match Cli::try_parse_from(&full).map(|c| c.command) {
                Ok(Some(Cmd::Docker { args })) => assert_eq!(args, argv, "{full:?}"),
                other => panic!("{full:?}: {other:?}"),
            }
        }
        let help = Cli::command()
            .find_subcommand_mut("docker")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains("u7s help docker"), "{help}");
    }

    #[test]
    fn up_flags() {
        let c = Cli::try_parse_from([
            "u7s",
            "up",
            "--cri",
            "containerd",
            "--no-kube",
            "--etcd",
            "-p",
            "8080:80/tcp",
            "--detach",
        ])
        .unwrap();
        match c.command {
            Some(Cmd::Up(u)) => {
                assert_eq!(u.cri, Cri::Containerd);
                assert!(u.no_kube && u.etcd && u.detach);
                assert_eq!(u.publish, ["8080:80/tcp"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["u7s", "up", "--cri", "podman"]).is_err());
    }

    #[test]
    fn certs_subcommands() {
        let c = Cli::try_parse_from(["u7s", "certs", "check", "--json"]).unwrap();
        assert!(matches!(
            c.command,
            Some(Cmd::Certs(CertsCmd::Check { json: true }))
        ));
        let c = Cli::try_parse_from(["u7s", "certs", "renew", "--ca"]).unwrap();
        assert!(matches!(
            c.command,
            Some(Cmd::Certs(CertsCmd::Renew {
                all: false,
                ca: true
            }))
        ));
        let c = Cli::try_parse_from([
            "u7s",
            "certs",
            "bundle",
            "n1",
            "--ip",
            "192.168.1.21",
            "--ip",
            "fd00::21",
            "-o",
            "x.tar",
        ])
        .unwrap();
        match c.command {
            Some(Cmd::Certs(CertsCmd::Bundle {
                node,
                ip,
                server,
                output,
                node_cidr,
                reissue,
            })) => {
                assert!(!reissue, "never implied");
                assert_eq!(node_cidr, "10.0.42.0/24");
                assert_eq!(node, "n1");
                assert_eq!(ip.len(), 2);
                assert!(server.is_none());
                assert_eq!(output.unwrap(), std::path::Path::new("x.tar"));
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["u7s", "certs", "bundle", "n1"]).is_err());
        assert!(Cli::try_parse_from(["u7s", "certs", "bundle", "n1", "--ip", "nope"]).is_err());
    }

    #[test]
    fn completions_leave_out_internal_commands_and_flags() {
        use clap::CommandFactory;
        let mut cmd = visible(&Cli::command());
        let mut out = Vec::new();
        clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, "u7s", &mut out);
        let script = String::from_utf8(out).unwrap();
        for hidden in [
            "__child",
            "__oci-runtime",
            "__import-images",
            "__flannel-cni",
            "detached-leader",
        ] {
            assert!(!script.contains(hidden), "completion offers {hidden}");
        }
        for shown in ["--no-kube", "--detach", "nsenter", "--completions"] {
            assert!(script.contains(shown), "completion lost {shown}");
        }
    }

    #[test]
    fn the_help_examples_fit_80_columns_without_duplicates() {
        let mut seen = std::collections::HashSet::new();
        for l in EXAMPLES.lines() {
            assert!(l.chars().count() <= 80, "{l:?} is wider than 80 columns");
            let cmd = l.trim();
            if cmd.starts_with("u7s ") {
                let key = cmd.split("  ").next().unwrap().to_string();
                assert!(seen.insert(key.clone()), "{key:?} twice");
            }
            assert!(
                !l.contains(" | u7s"),
                "a pipe that does nothing useful: {l:?}"
            );
        }
    }

    #[test]
    fn the_man_page_holds_every_command_and_renders_cleanly() {
        use clap::CommandFactory;
        use std::io::Write;
        let page = man_page(&Cli::command());
        let text = String::from_utf8(page.clone()).unwrap();
        assert!(text.contains(".SS \"u7s up\""), "{text}");
        assert!(text.contains(".SS \"u7s ports add\""), "{text}");
        assert!(text.contains("no\\-kube"), "up's options are in: {text}");
        assert!(
            !text.contains("(1)"),
            "references to pages that do not exist"
        );
        assert!(!text.contains("__child") && !text.contains("detached"));
        assert!(text.contains(".SH \"EXAMPLES\"\n.nf\n"), "{text}");
        // groff (groff-base, installed by scripts/ci-setup.sh) renders it without a warning.
        let mut groff = std::process::Command::new("groff")
            .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("groff is not installed (Debian: groff-base; scripts/ci-setup.sh)");
        groff.stdin.take().unwrap().write_all(&page).unwrap();
        let out = groff.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "groff warnings");
    }
}
