//! `u7s reset [--yes] [--config]`: asks (or takes `--yes`), then stops the session and removes its
//! state and data; says what it removed and what it kept.

use super::ExitStatus;
use crate::host::binaries::Bins;
use crate::session::paths::Paths;
use anyhow::Result;
use std::io::IsTerminal;

pub fn run(yes: bool, with_config: bool) -> Result<ExitStatus> {
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
            return Ok(ExitStatus::Failure);
        }
    }
    let out = crate::session::reset::reset(&paths, &Bins::from_process(), with_config)?;
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
    Ok(ExitStatus::Success)
}
