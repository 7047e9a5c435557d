//! `u7s nsenter [COMMAND…]`: replaces this process with `nsenter` into the session's namespaces
//! (default command: the user's shell), with the components' `PATH`.

use super::{ExitStatus, live_paths};
use crate::host::binaries::Bins;
use anyhow::{Context, Result};
use std::os::unix::process::CommandExt;

pub fn run(cmd: &[String]) -> Result<ExitStatus> {
    let paths = live_paths()?;
    let pid = crate::host::procfs::read_pid(&paths.child_pid_file()).with_context(|| {
        format!(
            "{} is missing: the session is still starting",
            paths.child_pid_file().display()
        )
    })?;
    let bins = Bins::from_process();
    let nsenter = bins.require("nsenter", "u7s nsenter (util-linux)")?;
    let cgroupns = crate::rootlesskit::flags::detect_cgroup2_delegated();
    let wd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let mut c = std::process::Command::new(&nsenter);
    c.args(crate::rootlesskit::flags::nsenter_args(pid, cgroupns, &wd))
        .arg("--")
        .env("PATH", bins.child_path())
        .env("ROOTLESSKIT_STATE_DIR", paths.rootlesskit());
    if cmd.is_empty() {
        c.arg(std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into()));
    } else {
        c.args(cmd);
    }
    let e = c.exec();
    Err(anyhow::anyhow!("cannot run {}: {e}", nsenter.display()))
}
