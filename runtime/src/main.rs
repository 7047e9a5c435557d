//! `u7s`: runs a rootless usernetes session (RootlessKit + dockerd/containerd/CRI-O/etcd) and
//! everything around it: ports, status, logs, stop, reset, systemd units.

mod cli;

use anyhow::{Context, Result};
use clap::CommandFactory;
use cli::{CertsCmd, Cli, Cmd, PortsCmd, UnitsCmd};
use runtime::binaries::Bins;
use runtime::config::SessionConfig;
use runtime::paths::Paths;
use runtime::portspec::{PortRef, PortSpec, render_table};
use runtime::rkapi::Client;
use runtime::session::{self, Liveness};
use std::io::{IsTerminal, Write};
use std::os::unix::process::CommandExt;
use std::process::ExitCode;
use std::time::Duration;

fn session_config(up: &cli::UpArgs) -> Result<SessionConfig> {
    let mut publish = Vec::new();
    for p in &up.publish {
        publish.push(PortSpec::parse(p)?);
    }
    if let Ok(extra) = std::env::var("U7S_ROOTLESSKIT_PORTS") {
        for p in extra.split_whitespace() {
            publish.push(PortSpec::parse(p).context("in U7S_ROOTLESSKIT_PORTS")?);
        }
    }
    let flags = std::env::var("U7S_ROOTLESSKIT_FLAGS")
        .map(|f| f.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    Ok(SessionConfig {
        cri: up.cri,
        kube: !up.no_kube,
        etcd: up.etcd,
        publish,
        cidr: up.cidr.clone(),
        rootlesskit_flags: flags,
        k8s: kube_settings(up)?,
    })
}

/// Imports `--join`'s bundle, then takes the cluster settings of a joined node from the
/// recorded `pki/join.json`; finds the host address when none was given.
fn cluster_settings(up: &cli::UpArgs, cfg: &mut SessionConfig, detect: bool) -> Result<()> {
    if !cfg.kube {
        return Ok(());
    }
    let paths = Paths::from_process()?;
    let pki = runtime::pki::Pki::new(paths.pki());
    let record = pki.dir.join(runtime::config::JOIN_FILE);
    if let Some(bundle) = &up.join {
        let info = runtime::bootstrap::import_node_bundle(bundle, &pki, &cfg.cidr, up.force_join)
            .context("cannot join the cluster")?;
        eprintln!(
            "u7s: joined the cluster at https://{}:{} as node {}; certificates in {}",
            info.server,
            runtime::config::APISERVER_PORT,
            info.node_name,
            pki.dir.display()
        );
    }
    if record.exists() && !pki.is_master() {
        let text = std::fs::read_to_string(&record)
            .with_context(|| format!("cannot read {}", record.display()))?;
        let info: runtime::bootstrap::JoinInfo =
            serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is damaged; join again with `u7s up --join BUNDLE` (a new bundle from \
                 `u7s certs bundle` on the master)",
                    record.display()
                )
            })?;
        if up.node_name.as_ref().is_some_and(|n| *n != info.node_name) {
            anyhow::bail!(
                "this host joined the cluster as node {:?} ({}); --node-name cannot change that \
                 (make a bundle for the new name on the master and join with it)",
                info.node_name,
                record.display()
            );
        }
        let k = &mut cfg.k8s;
        k.role = runtime::config::Role::Node {
            server: info.server.clone(),
        };
        k.node_name = info.node_name.clone();
        k.service_cidr = info.service_cidr.clone();
        k.cluster_dns = info.cluster_dns.clone();
        k.cluster_domain = info.cluster_domain.clone();
        k.pod_cidr = info.pod_cidr.clone();
        k.flannel = info.flannel;
        if k.host_ip.is_none() {
            k.host_ip = info.node_ips.first().map(|ip| ip.to_string());
        }
    } else if up.join.is_none() && up.force_join {
        anyhow::bail!("--force-join goes with --join BUNDLE");
    }
    if cfg.k8s.host_ip.is_none() && detect {
        match runtime::hostaddr::detect() {
            Ok(h) => cfg.k8s.host_ip = Some(h.addr.to_string()),
            // A single node works without: the apiserver advertises the namespace address.
            Err(e) if cfg.k8s.flannel => return Err(e.into()),
            Err(_) => {}
        }
    }
    Ok(())
}

/// The Kubernetes settings from the flags: node name (else the host name), host address,
/// flannel.
fn kube_settings(up: &cli::UpArgs) -> Result<runtime::config::KubeSettings> {
    let node_name = match &up.node_name {
        Some(n) => n.clone(),
        None => {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            runtime::config::KubeSettings::node_name_from_hostname(&host)
        }
    };
    let defaults = runtime::config::KubeSettings::default();
    Ok(runtime::config::KubeSettings {
        node_name,
        host_ip: up.host_ip.clone(),
        flannel: up.flannel,
        pod_cidr: if up.flannel {
            runtime::config::DEFAULT_FLANNEL_CIDR.into()
        } else {
            defaults.pod_cidr.clone()
        },
        ..defaults
    })
}

fn live_paths() -> Result<Paths> {
    let paths = Paths::from_process()?;
    match session::liveness(&paths)? {
        Liveness::Live(_) => Ok(paths),
        _ => Err(runtime::Error::NotRunning(paths.state.clone()).into()),
    }
}

fn print_ready(st: &runtime::detach::Started) {
    let names: Vec<String> = st
        .status
        .components
        .iter()
        .map(|c| format!("{} ({})", c.name, c.endpoint))
        .collect();
    println!(
        "usernetes: ready in {:.2}s: {}",
        st.took.as_secs_f64(),
        names.join(", ")
    );
    if st.status.components.iter().any(|c| c.name == "dockerd") {
        println!("  export DOCKER_HOST={}", st.paths.docker_host());
    }
    println!("{}", next_hint(&names_only(&st.status)));
}

fn names_only(st: &runtime::status::SupervisorStatus) -> Vec<String> {
    st.components.iter().map(|c| c.name.clone()).collect()
}

/// The commands to try next, as a sentence (no shell syntax: pasting it runs nothing).
fn next_hint(components: &[String]) -> String {
    let log = components
        .iter()
        .find(|c| *c == "dockerd")
        .or_else(|| components.first())
        .map_or("session", String::as_str);
    format!("  next: u7s status, u7s logs {log}, u7s down (to stop)")
}

fn up(args: &cli::UpCmd) -> Result<ExitCode> {
    let mut cfg = session_config(args)?;
    cluster_settings(args, &mut cfg, true)?;
    if args.detach {
        let st = runtime::detach::start(&cfg, !args.no_doctor, Duration::from_secs(args.timeout))?;
        print_ready(&st);
        return Ok(ExitCode::SUCCESS);
    }
    let code = runtime::leader::run(
        cfg,
        runtime::leader::LeaderOptions {
            doctor: !args.no_doctor,
            detached: std::env::var_os(runtime::detach::LEADER_ENV).is_some_and(|v| v == "1"),
        },
    )?;
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

fn down(timeout: u64) -> Result<ExitCode> {
    let paths = Paths::from_process()?;
    if let Liveness::Live(Some(rec)) = session::liveness(&paths)? {
        // dockerd alone may wait 10 s for running containers: say what the wait is.
        eprintln!(
            "usernetes: stopping session {} (pid {}): components get up to {timeout}s \
             (dockerd waits up to 10s for running containers)…",
            rec.id, rec.leader_pid
        );
    }
    match session::stop(&paths, Duration::from_secs(timeout))? {
        None => println!("usernetes: no session running"),
        Some(s) => println!(
            "usernetes: session {} stopped in {:.2}s{}",
            s.id,
            s.took.as_secs_f64(),
            if s.forced {
                " (some processes had to be killed)"
            } else {
                ""
            }
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn status(json: bool) -> Result<ExitCode> {
    let paths = Paths::from_process()?;
    let r = runtime::inspect::report(&paths)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", r.render());
    }
    // LSB: 3 = not running.
    Ok(if r.running {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

fn ports(cmd: &PortsCmd) -> Result<ExitCode> {
    // Bad specs are reported before anything else.
    let specs: Vec<PortSpec> = match cmd {
        PortsCmd::Add { specs, .. } => specs
            .iter()
            .map(|s| PortSpec::parse(s))
            .collect::<Result<_, _>>()?,
        PortsCmd::Rm { refs } => {
            for r in refs {
                PortRef::parse(r)?;
            }
            vec![]
        }
        PortsCmd::Ls { .. } => vec![],
    };
    let paths = live_paths()?;
    let c = Client::new(paths.api_sock());
    match cmd {
        PortsCmd::Add { json, .. } => {
            let mut added = vec![];
            for spec in &specs {
                spec.check_host_port_free()?;
                added.push(c.add(spec)?);
            }
            if *json {
                println!("{}", serde_json::to_string_pretty(&added)?);
            } else {
                for a in added {
                    println!("{}\t{}", a.id, a.spec);
                }
            }
        }
        PortsCmd::Rm { refs } => {
            let list = c.list()?;
            for r in refs {
                let id = PortRef::parse(r)?.resolve(&list, r)?;
                c.remove(id)?;
                println!("removed {id}");
            }
        }
        PortsCmd::Ls { json } => {
            let mut list = c.list()?;
            list.sort_by_key(|p| p.id);
            if *json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print!("{}", render_table(&list));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn logs(name: &str, lines: Option<usize>, follow: bool) -> Result<ExitCode> {
    use std::io::{Read, Seek, SeekFrom};
    let paths = Paths::from_process()?;
    let p = paths.log(name);
    let mut f = std::fs::File::open(&p).map_err(|e| {
        let known: Vec<String> = std::fs::read_dir(paths.logs())
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()?
                            .strip_suffix(".log")
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        anyhow::anyhow!(
            "{}: {e}; logs here: {}",
            p.display(),
            if known.is_empty() {
                "none yet".into()
            } else {
                known.join(", ")
            }
        )
    })?;
    let mut out = std::io::stdout().lock();
    match lines {
        Some(n) => {
            writeln!(out, "{}", runtime::fsutil::tail(&p, n))?;
            f.seek(SeekFrom::End(0))?;
        }
        None => {
            std::io::copy(&mut f, &mut out)?;
        }
    }
    if !follow {
        return Ok(ExitCode::SUCCESS);
    }
    loop {
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        if buf.is_empty() {
            std::thread::sleep(Duration::from_millis(200));
        } else {
            out.write_all(&buf)?;
            out.flush()?;
        }
    }
}

fn docker(args: &[String]) -> Result<ExitCode> {
    let paths = Paths::from_process()?;
    let bin = Bins::from_process().require("docker", "u7s docker")?;
    let e = std::process::Command::new(&bin)
        .args(args)
        .env("DOCKER_HOST", paths.docker_host())
        .exec();
    Err(anyhow::anyhow!("cannot run {}: {e}", bin.display()))
}

fn kubectl(args: &[String]) -> Result<ExitCode> {
    let paths = Paths::from_process()?;
    let kubeconfig =
        runtime::pki::Pki::new(paths.pki()).kubeconfig(runtime::pki::Kubeconfig::Admin);
    if !kubeconfig.exists() {
        anyhow::bail!(
            "{} does not exist: the admin kubeconfig is written by the first `u7s up` with Kubernetes \
             on the control plane (on a joined node, run kubectl on the master)",
            kubeconfig.display()
        );
    }
    let bin = Bins::from_process().require("kubectl", "u7s kubectl")?;
    let e = std::process::Command::new(&bin)
        .args(args)
        .env("KUBECONFIG", &kubeconfig)
        .exec();
    Err(anyhow::anyhow!("cannot run {}: {e}", bin.display()))
}

/// CONTAINERD_ADDRESS (ctr), CONTAINER_RUNTIME_ENDPOINT (crictl) and DOCKER_HOST for the
/// sockets the session has.
fn session_tool_env(paths: &Paths) -> Vec<(&'static str, String)> {
    let mut env = vec![];
    let containerd = paths.containerd_sock();
    if containerd.exists() {
        env.push(("CONTAINERD_ADDRESS", containerd.display().to_string()));
    }
    let cri = [paths.crio_sock(), containerd]
        .into_iter()
        .find(|s| s.exists());
    if let Some(s) = cri {
        env.push((
            "CONTAINER_RUNTIME_ENDPOINT",
            format!("unix://{}", s.display()),
        ));
    }
    if paths.docker_sock().exists() {
        env.push(("DOCKER_HOST", paths.docker_host()));
    }
    env
}

fn nsenter(cmd: &[String]) -> Result<ExitCode> {
    let paths = live_paths()?;
    let pid = runtime::procfs::read_pid(&paths.child_pid_file()).with_context(|| {
        format!(
            "{} is missing: the session is still starting",
            paths.child_pid_file().display()
        )
    })?;
    let bins = Bins::from_process();
    let nsenter = bins.require("nsenter", "u7s nsenter (util-linux)")?;
    let cgroupns = runtime::rkflags::detect_cgroup2_delegated();
    let wd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let mut c = std::process::Command::new(&nsenter);
    c.args(runtime::rkflags::nsenter_args(pid, cgroupns, &wd))
        .arg("--")
        .env("PATH", bins.child_path())
        .env("ROOTLESSKIT_STATE_DIR", paths.rootlesskit());
    // The session's sockets for the tools run there (ctr, crictl, docker), not the rootful
    // defaults (/run/containerd/containerd.sock, /var/run/docker.sock).
    for (k, v) in session_tool_env(&paths) {
        c.env(k, v);
    }
    if cmd.is_empty() {
        c.arg(std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into()));
    } else {
        c.args(cmd);
    }
    let e = c.exec();
    Err(anyhow::anyhow!("cannot run {}: {e}", nsenter.display()))
}

fn reset(yes: bool, with_config: bool) -> Result<ExitCode> {
    let paths = Paths::from_process()?;
    let targets = paths.reset_targets(with_config);
    if !yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!(
                "reset removes all usernetes data (images, containers, etcd); confirm with --yes"
            );
        }
        eprintln!("This stops usernetes and removes:");
        for t in targets.iter().filter(|t| t.exists()) {
            eprintln!("  {}", t.display());
        }
        eprint!("Continue? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing removed");
            return Ok(ExitCode::from(1));
        }
    }
    let out = runtime::reset::reset(&paths, &Bins::from_process(), with_config)?;
    if let Some(s) = &out.stopped {
        println!("stopped session {} in {:.2}s", s.id, s.took.as_secs_f64());
    }
    for p in &out.removed {
        println!("removed {}", p.display());
    }
    for p in &out.removed_in_userns {
        println!(
            "removed {} (inside a user namespace: sub-UID owned files)",
            p.display()
        );
    }
    if !with_config {
        println!(
            "kept {} (config and TLS material; --config removes it)",
            paths.config.display()
        );
    }
    println!("kept the installed versions");
    Ok(ExitCode::SUCCESS)
}

fn units(cmd: &UnitsCmd) -> Result<ExitCode> {
    let paths = Paths::from_process()?;
    let config_home = paths
        .config
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| paths.home.join(".config"));
    let dir = runtime::units::unit_dir(&config_home);
    let (files, warnings) = match cmd {
        UnitsCmd::Install { up, now } => {
            if up.join.is_some() {
                anyhow::bail!(
                    "join first (`u7s up --join BUNDLE`), then install the units: a joined host \
                     remembers its cluster"
                );
            }
            let mut cfg = session_config(up)?;
            // The host address is found at every start (it may change), not written into the unit.
            cluster_settings(up, &mut cfg, false)?;
            let u7s = paths.data.join("current/bin/u7s");
            runtime::units::install(&dir, &u7s, &cfg, *now)?
        }
        UnitsCmd::Remove => runtime::units::remove(&dir)?,
    };
    for f in files {
        println!("{}", f.display());
    }
    for w in warnings {
        eprintln!("u7s: warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

fn certs(cmd: &CertsCmd) -> Result<ExitCode> {
    use runtime::pki::Pki;
    let paths = Paths::from_process()?;
    let pki = Pki::new(paths.pki());
    let recorded = || -> Result<runtime::pki::PkiSpec> {
        pki.load_spec()?.ok_or_else(|| {
            anyhow::anyhow!(
                "{}: no record of what the certificates are for; start a session once \
                 (`u7s up`), which issues them",
                pki.spec_file().display()
            )
        })
    };
    match cmd {
        CertsCmd::Check { json } => {
            let list = runtime::certs::inventory(&pki)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print!("{}", runtime::certs::render_table(&list));
            }
            if list.iter().any(|c| !c.issues.is_empty()) {
                if !*json && !pki.ca_cert().exists() {
                    eprintln!(
                        "u7s: no TLS material in {} yet; `u7s up` creates it (a joined node \
                         imports its bundle with `u7s up --join FILE`)",
                        pki.dir.display()
                    );
                } else if !*json {
                    eprintln!(
                        "u7s: certificate problems in {}; fix with `u7s certs renew` on a master, \
                         or a new bundle (`u7s certs bundle NODE` on the master) on a joined node",
                        pki.dir.display()
                    );
                }
                return Ok(ExitCode::from(1));
            }
        }
        CertsCmd::Renew { all, ca } => {
            let spec = recorded()?;
            let w =
                runtime::certs::renew(&pki, &spec, runtime::certs::Renew { all: *all, ca: *ca })?;
            for p in &w {
                println!("wrote {}", p.display());
            }
            if w.is_empty() {
                println!("nothing to renew (see `u7s certs check`)");
            } else {
                println!("restart the session (`u7s down && u7s up`) so the components load them");
            }
            if *ca {
                eprintln!(
                    "u7s: a new CA: every joined node needs a new bundle (`u7s certs bundle NODE \
                     --ip ADDR` here, `u7s up --join FILE` there)"
                );
            }
        }
        CertsCmd::Bundle {
            node,
            ip,
            server,
            output,
            node_cidr,
        } => {
            runtime::rkflags::validate_cidr(node_cidr)?;
            let spec = pki.load_spec()?;
            let server = match (server, spec.as_ref().and_then(|s| s.host_ips.first())) {
                (Some(s), _) => s.clone(),
                (None, Some(a)) => a.to_string(),
                (None, None) => anyhow::bail!(
                    "no host address of the master is known; give --server ADDR (the master's \
                     address as the node reaches it)"
                ),
            };
            // The running master's cluster settings; without a session, the defaults of
            // `u7s up --flannel`.
            let settings = match session::liveness(&paths)? {
                Liveness::Live(Some(rec)) if rec.config.kube => {
                    if !rec.config.k8s.flannel {
                        anyhow::bail!(
                            "the running master has no pod network across hosts: restart it with \
                             `u7s up --flannel` (flannel VXLAN) before nodes join"
                        );
                    }
                    rec.config.k8s.clone()
                }
                _ => runtime::config::KubeSettings {
                    flannel: true,
                    pod_cidr: runtime::config::DEFAULT_FLANNEL_CIDR.into(),
                    ..Default::default()
                },
            };
            let out = output
                .clone()
                .unwrap_or_else(|| format!("{node}.bundle.tar").into());
            let req = runtime::bootstrap::NodeRequest {
                name: node.clone(),
                ips: ip.clone(),
                server,
                cidr: node_cidr.clone(),
            };
            runtime::bootstrap::write_node_bundle(&pki, &req, &settings, &out)?;
            println!("{}", out.display());
            eprintln!(
                "u7s: copy it to {node} (it holds private keys) and start there with `u7s up --join {}`",
                out.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run(cli: Cli) -> Result<ExitCode> {
    let Some(cmd) = cli.command else {
        Cli::command().print_help()?;
        return Ok(ExitCode::from(2));
    };
    match cmd {
        Cmd::Up(a) => up(&a),
        Cmd::Down { timeout } => down(timeout),
        Cmd::Status { json } => status(json),
        Cmd::Reset { yes, config } => reset(yes, config),
        Cmd::Logs {
            component,
            lines,
            follow,
        } => logs(&component, lines, follow),
        Cmd::Ports(p) => ports(&p),
        Cmd::Docker { args } => docker(&args),
        Cmd::Kubectl { args } => kubectl(&args),
        Cmd::Nsenter { command } => nsenter(&command),
        Cmd::Units(u) => units(&u),
        Cmd::Certs(c) => certs(&c),
    }
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
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
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
/// its lines kept as written.
fn man_page(cmd: clap::Command) -> Vec<u8> {
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
        .get_after_long_help()
        .or(cmd.get_after_help())
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

/// `u7s --version`: the crate's version and the installed release's (from its manifest).
fn version_text() -> &'static str {
    let v = match Bins::from_process().release_version() {
        Some(r) => format!("{} (release {r})", env!("CARGO_PKG_VERSION")),
        None => env!("CARGO_PKG_VERSION").to_string(),
    };
    Box::leak(v.into_boxed_str())
}

fn main() -> ExitCode {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == cli::CHILD_ARG)
    {
        return ExitCode::from(runtime::child::run().clamp(0, 255) as u8);
    }
    let cli = match Cli::command()
        .version(version_text())
        .try_get_matches()
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m))
    {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let mut stdout = std::io::stdout();
    if let Some(shell) = cli.completions {
        clap_complete::generate(shell, &mut Cli::command(), "u7s", &mut stdout);
        return ExitCode::SUCCESS;
    }
    if cli.man {
        if let Err(e) = stdout.write_all(&man_page(Cli::command().version(version_text()))) {
            eprintln!("u7s: cannot write the man page: {e}");
            return ExitCode::from(2);
        }
        return ExitCode::SUCCESS;
    }
    match run(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("u7s: error: {}", render_error(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line, leaving out a cause its parent already quoted.
fn render_error(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_already_quoted_are_left_out() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = anyhow::Error::new(runtime::Error::io("/b.tar", io)).context("cannot join");
        assert_eq!(render_error(&e), "cannot join: /b.tar: no such file");
    }

    #[test]
    fn the_next_step_hint_runs_nothing_when_pasted() {
        let h = next_hint(&["containerd".into(), "dockerd".into()]);
        assert!(h.contains("u7s logs dockerd"), "{h}");
        // Pasted into a shell, with a `u7s` on PATH that leaves a mark when run.
        let d = tempfile::tempdir().unwrap();
        let fake = d.path().join("u7s");
        std::fs::write(&fake, "#!/bin/sh\ntouch \"$0.ran\"\n").unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let _ = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(h.trim())
            .env("PATH", d.path())
            .output()
            .unwrap();
        assert!(!d.path().join("u7s.ran").exists(), "pasting {h:?} ran u7s");
    }

    #[test]
    fn the_release_version_comes_from_the_manifest_beside_bin() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("bin")).unwrap();
        let bins = Bins {
            release_bin: Some(d.path().join("bin")),
            path: vec![],
        };
        assert_eq!(bins.release_version(), None);
        std::fs::write(
            d.path().join("manifest.json"),
            r#"{"format":1,"version":"20261203.0","components":[]}"#,
        )
        .unwrap();
        assert_eq!(bins.release_version().as_deref(), Some("20261203.0"));
    }

    #[test]
    fn the_man_page_holds_every_command_and_renders_cleanly() {
        let page = man_page(Cli::command());
        let text = String::from_utf8(page.clone()).unwrap();
        assert!(text.contains(".SS \"u7s up\""), "{text}");
        assert!(text.contains(".SS \"u7s ports add\""), "{text}");
        assert!(text.contains("no\\-kube"), "up's options are in: {text}");
        assert!(
            !text.contains("(1)"),
            "no references to pages that do not exist"
        );
        assert!(!text.contains("__child"));
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
