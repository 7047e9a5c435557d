//! `u7s status [--json]`: the session's components, pids, readiness, versions, uptime and ports;
//! exits 3 (LSB "not running") when no session runs.

use super::ExitStatus;
use crate::session::paths::Paths;
use anyhow::Result;

pub fn run(json: bool) -> Result<ExitStatus> {
    let paths = Paths::from_process()?;
    let r = crate::session::inspect::report(&paths)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", r.render());
    }
    // LSB: 3 = not running.
    Ok(if r.running {
        ExitStatus::Success
    } else {
        ExitStatus::NotRunning
    })
}
