//! `u7s certs check|renew|bundle`: the inventory of the TLS material (exit 1 on a problem),
//! renewal of leaves (and of the CA on request), and a joining node's bootstrap bundle, made with
//! the running master's cluster settings (or those of `u7s up --flannel` when none runs).

use super::ExitStatus;
use crate::cli::CertsCmd;
use crate::pki::Pki;
use crate::session::paths::Paths;
use crate::session::{self, Liveness};
use anyhow::Result;

pub fn run(cmd: &CertsCmd) -> Result<ExitStatus> {
    let paths = Paths::from_process()?;
    let pki = Pki::new(paths.pki());
    let recorded = || -> Result<crate::pki::PkiSpec> {
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
            let list = crate::pki::inventory::inventory(&pki)?;
            let none_yet = !pki.ca_cert().exists();
            if *json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if !none_yet {
                // Without any material, a table of one missing CA says less than the line below.
                print!("{}", crate::pki::inventory::render_table(&list));
            }
            if list.iter().any(|c| !c.issues.is_empty()) {
                if !*json && none_yet {
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
                return Ok(ExitStatus::Failure);
            }
        }
        CertsCmd::Renew { all, ca } => {
            let spec = recorded()?;
            let w = crate::pki::inventory::renew(
                &pki,
                &spec,
                crate::pki::inventory::Renew { all: *all, ca: *ca },
            )?;
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
            reissue,
        } => {
            crate::rootlesskit::flags::validate_cidr(node_cidr)?;
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
            // `u7s up --flannel` with the remembered apiserver port.
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
                _ => crate::session::config::KubeSettings {
                    flannel: true,
                    pod_cidr: crate::session::config::DEFAULT_FLANNEL_CIDR.into(),
                    apiserver_port: session::settings::load(&session::settings::file(&paths))?
                        .apiserver_port(None),
                    ..Default::default()
                },
            };
            let out = output
                .clone()
                .unwrap_or_else(|| format!("{node}.bundle.tar").into());
            let req = crate::pki::join_bundle::NodeRequest {
                name: node.clone(),
                ips: ip.clone(),
                server,
                cidr: node_cidr.clone(),
            };
            crate::pki::join_bundle::write_node_bundle(&pki, &req, &settings, &out, *reissue)?;
            println!("{}", out.display());
            eprintln!(
                "u7s: copy it to {node} (it holds private keys) and start there with `u7s up --join {}`",
                out.display()
            );
        }
    }
    Ok(ExitStatus::Success)
}
