//! `u7s docker ARGS…`: replaces this process with the release's docker CLI, `DOCKER_HOST` set to
//! the session's socket.

use super::ExitStatus;
use crate::host::binaries::Bins;
use crate::session::paths::Paths;
use anyhow::Result;
use std::os::unix::process::CommandExt;

pub fn run(args: &[String]) -> Result<ExitStatus> {
    let paths = Paths::from_process()?;
    let bin = Bins::from_process().require("docker", "u7s docker")?;
    let e = std::process::Command::new(&bin)
        .args(args)
        .env("DOCKER_HOST", paths.docker_host())
        .exec();
    Err(anyhow::anyhow!("cannot run {}: {e}", bin.display()))
}
