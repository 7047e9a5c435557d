//! `u7s up`: starts a session in the foreground (this process becomes the top process) or, with
//! `--detach`, in the background, returning once every component is ready. A joining node
//! imports its bundle first; a joined node takes its cluster settings from `pki/join.json`.

use super::ExitStatus;
use crate::cli::{UpArgs, UpCmd};
use crate::session::config::SessionConfig;
use crate::session::paths::Paths;
use anyhow::{Context, Result};
use std::time::Duration;

pub fn run(args: &UpCmd) -> Result<ExitStatus> {
    let mut cfg = args.session_config()?;
    cluster_settings(args, &mut cfg, true)?;
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
            "u7s: joined the cluster at https://{}:{} as node {}; certificates in {}",
            info.server,
            crate::session::config::APISERVER_PORT,
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
        if k.host_ip.is_none() {
            k.host_ip = info.node_ips.first().map(|ip| ip.to_string());
        }
    } else if up.join.is_none() && up.force_join {
        anyhow::bail!("--force-join goes with --join BUNDLE");
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
    if st.status.components.iter().any(|c| c.name == "dockerd") {
        println!("  export DOCKER_HOST={}", st.paths.docker_host());
    }
    let names: Vec<String> = st
        .status
        .components
        .iter()
        .map(|c| c.name.clone())
        .collect();
    println!("{}", next_hint(&names));
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
