//! `u7s ports add|rm|ls`: publishes ports of the namespace on the host through RootlessKit's
//! REST API. Bad specs are refused before the session is asked anything.

use super::{ExitStatus, live_paths};
use crate::cli::PortsCmd;
use crate::rootlesskit::api::Client;
use crate::rootlesskit::portspec::{PortRef, PortSpec, render_table};
use anyhow::Result;

pub fn run(cmd: &PortsCmd) -> Result<ExitStatus> {
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
                spec.check_host_port_free(crate::rootlesskit::portspec::FIX)?;
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
    Ok(ExitStatus::Success)
}
