//! `u7s up`: starts a session in the foreground (this process becomes the top process) or, with
//! `--detach`, in the background, returning once every component is ready. A joining node
//! imports its bundle first; a joined node takes its cluster settings from `pki/join.json`.
//!
//! Before anything starts, a start that could only fail or damage data is refused with the fix:
//! certificates expired or not signed by their CA ([`crate::pki::gate`], exit 5), an etcd data
//! folder written by a newer etcd than the release's ([`crate::session::etcd_data`], exit 6).

use super::ExitStatus;
use crate::cli::{UpArgs, UpCmd};
use crate::session::config::SessionConfig;
use crate::session::paths::Paths;
use crate::session::status::SessionFile;
use crate::session::{self, Liveness};
use anyhow::{Context, Result};
use std::time::Duration;

pub fn run(args: &UpCmd) -> Result<ExitStatus> {
    let mut cfg = args.session_config()?;
    if !args.detached_leader {
        // Before anything else (a join, the check of the ports the session itself holds).
        let paths = crate::process::leader::start_paths()?;
        if let Liveness::Live(rec) = session::liveness(&paths)? {
            return already_running(args, cfg, rec.as_ref(), &paths);
        }
    }
    cluster_settings(args, &mut cfg, true)?;
    if !args.detached_leader {
        // A start that cannot happen (missing programs, busy ports) says only why.
        cfg.validate()?;
        refuse_what_cannot_start(&cfg)?;
        let paths = crate::process::leader::start_paths()?;
        crate::process::leader::preflight(
            &cfg,
            &paths,
            &crate::host::binaries::Bins::from_process(),
        )?;
        // Before the background half of --detach starts: it resolves the port again.
        if cfg.kube && cfg.k8s.role == crate::session::config::Role::Master {
            session::settings::remember_apiserver_port(
                &session::settings::file(&paths),
                cfg.k8s.apiserver_port,
            )?;
        }
    }
    if let Some(note) = cfg.firewall_note() {
        eprintln!("u7s: {note}");
    }
    if args.detach {
        let st = crate::process::detach::start(
            &cfg,
            !args.no_doctor,
            Duration::from_secs(args.timeout),
        )?;
        print_ready(&st);
        return Ok(ExitStatus::Success);
    }
    let code = crate::process::leader::run(
        cfg,
        crate::process::leader::LeaderOptions {
            doctor: !args.no_doctor,
            detached: args.detached_leader,
        },
    )?;
    Ok(ExitStatus::from_code(code))
}

/// A session runs already: nothing to do (exit 0) when it has the settings asked for, exit 4
/// naming its settings when not.
fn already_running(
    args: &UpCmd,
    mut cfg: SessionConfig,
    rec: Option<&SessionFile>,
    paths: &Paths,
) -> Result<ExitStatus> {
    let pid = rec
        .map(|r| r.leader_pid)
        .or_else(|| session::holder_pid(paths));
    let pid_note = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
    let Some(rec) = rec else {
        // Its record is not written yet: another `u7s up` is starting it.
        return Err(crate::Error::AlreadyRunning { pid }.into());
    };
    if args.join.is_none() {
        // The settings a start would take (a joined node's, the host address found).
        let _ = cluster_settings(args, &mut cfg, true);
    }
    match same_settings(&cfg, &rec.config, args.join.is_some()) {
        Ok(()) => {
            println!("usernetes: already running{pid_note} with these settings; nothing to do");
            Ok(ExitStatus::Success)
        }
        Err(running) => {
            eprintln!(
                "u7s: error: a usernetes session with other settings is already running{pid_note}: \
                 u7s up {running}; stop it with `u7s down` first"
            );
            Ok(ExitStatus::AlreadyRunning)
        }
    }
}

/// `Ok` when a start with `wanted` would run what `running` runs; else the running session's
/// settings, as `u7s up` arguments. A join is always something else.
fn same_settings(
    wanted: &SessionConfig,
    running: &SessionConfig,
    join: bool,
) -> std::result::Result<(), String> {
    if !join && wanted.up_args() == running.up_args() {
        Ok(())
    } else {
        Err(running.up_args().join(" "))
    }
}

/// Imports `--join`'s bundle, then takes the cluster settings of a joined node from the
/// recorded `pki/join.json`; finds the host address when none was given.
pub(crate) fn cluster_settings(up: &UpArgs, cfg: &mut SessionConfig, detect: bool) -> Result<()> {
    if !cfg.kube {
        return Ok(());
    }
    let paths = Paths::from_process()?;
    let pki = crate::pki::Pki::new(paths.pki());
    let record = pki.dir.join(crate::session::config::JOIN_FILE);
    if let Some(bundle) = &up.join {
        let info =
            crate::pki::join_bundle::import_node_bundle(bundle, &pki, &cfg.cidr, up.force_join)
                .context("cannot join the cluster")?;
        eprintln!(
            "u7s: joined the cluster at {} as node {}; certificates in {}",
            crate::pki::kubeconfig::server_url(&info.server, info.apiserver_port),
            info.node_name,
            pki.dir.display()
        );
    }
    if record.exists() && !pki.is_master() {
        let text = std::fs::read_to_string(&record)
            .with_context(|| format!("cannot read {}", record.display()))?;
        let info: crate::pki::join_bundle::JoinInfo =
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
        if up.apiserver_port.is_some_and(|p| p != info.apiserver_port) {
            anyhow::bail!(
                "this host is a node of the cluster at {}: its apiserver port is the master's \
                 ({}); --apiserver-port cannot change it",
                crate::pki::kubeconfig::server_url(&info.server, info.apiserver_port),
                record.display()
            );
        }
        let k = &mut cfg.k8s;
        k.role = crate::session::config::Role::Node {
            server: info.server.clone(),
        };
        k.node_name = info.node_name.clone();
        k.service_cidr = info.service_cidr.clone();
        k.cluster_dns = info.cluster_dns.clone();
        k.cluster_domain = info.cluster_domain.clone();
        k.pod_cidr = info.pod_cidr.clone();
        k.flannel = info.flannel;
        k.apiserver_port = info.apiserver_port;
        if k.host_ip.is_none() {
            k.host_ip = info.node_ips.first().map(|ip| ip.to_string());
        }
    } else if up.join.is_none() && up.force_join {
        anyhow::bail!("--force-join goes with --join BUNDLE");
    } else {
        // A master: the port asked for, else the one remembered from an earlier start.
        let remembered = crate::session::settings::load(&crate::session::settings::file(&paths))?;
        cfg.k8s.apiserver_port = remembered.apiserver_port(up.apiserver_port);
    }
    if cfg.k8s.host_ip.is_none() && detect {
        match crate::host::hostaddr::detect() {
            Ok(h) => cfg.k8s.host_ip = Some(h.addr.to_string()),
            // A single node works without: the apiserver advertises the namespace address.
            Err(e) if cfg.k8s.flannel => return Err(e.into()),
            Err(_) => {}
        }
    }
    Ok(())
}

/// Certificates no component could use, an etcd data folder from a newer etcd: refused before
/// anything starts, naming the files and the fix; nothing is written or removed.
fn refuse_what_cannot_start(cfg: &SessionConfig) -> Result<()> {
    if !(cfg.kube || cfg.etcd) {
        return Ok(());
    }
    let paths = Paths::from_process()?;
    let pki = crate::pki::Pki::new(paths.pki());
    crate::pki::gate::check(&pki, &crate::pki::PkiSpec::from_session(cfg)?)?;
    if cfg.k8s.role == crate::session::config::Role::Master {
        let release = crate::host::binaries::Bins::from_process()
            .find("etcd")
            .and_then(|b| session::etcd_data::release_version(&b));
        session::etcd_data::check(&paths, release)?;
    }
    Ok(())
}

fn print_ready(st: &crate::process::detach::Started) {
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
    for l in crate::session::inspect::next_steps(&st.status, &st.paths) {
        println!("{l}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_settings_are_nothing_to_do_and_others_are_named() {
        let a = SessionConfig {
            cri: crate::session::config::Cri::Docker,
            kube: false,
            etcd: false,
            publish: vec![],
            cidr: crate::rootlesskit::flags::DEFAULT_CIDR.into(),
            rootlesskit_flags: vec![],
            k8s: Default::default(),
        };
        assert_eq!(same_settings(&a, &a.clone(), false), Ok(()));
        assert!(same_settings(&a, &a.clone(), true).is_err(), "a join");
        let mut b = a.clone();
        b.cri = crate::session::config::Cri::Containerd;
        assert_eq!(
            same_settings(&a, &b, false),
            Err("--cri containerd --no-kube".to_string())
        );
    }
}
