//! `u7s down`: stops the session; returns when no process of it is left.

use super::ExitStatus;
use crate::session;
use crate::session::paths::Paths;
use anyhow::Result;
use std::time::Duration;

pub fn run(timeout: u64) -> Result<ExitStatus> {
    let paths = Paths::from_process()?;
    if let session::Liveness::Live(Some(rec)) = session::liveness(&paths)? {
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
    Ok(ExitStatus::Success)
}
