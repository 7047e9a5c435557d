//! `u7s nsenter [COMMAND…]`: replaces this process with `nsenter` into the session's namespaces
//! (default command: the user's shell), with the components' `PATH`.

use super::{ExitStatus, live_paths};
use crate::host::binaries::Bins;
use crate::session::paths::Paths;
use anyhow::{Context, Result};
use std::os::unix::process::CommandExt;
use std::path::Path;

pub fn run(cmd: &[String]) -> Result<ExitStatus> {
    let paths = live_paths()?;
    let mut c = command(&paths, cmd)?;
    let e = c.exec();
    Err(anyhow::anyhow!(
        "cannot run {}: {e}",
        c.get_program().to_string_lossy()
    ))
}

/// `nsenter` into the namespaces of the session at `paths`, running `cmd` (default: the user's
/// shell) with the components' `PATH` and the session's sockets in the environment.
pub fn command(paths: &Paths, cmd: &[String]) -> Result<std::process::Command> {
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
    // The session's sockets for the tools run there (ctr, crictl, docker), not the rootful
    // defaults (/run/containerd/containerd.sock, /var/run/docker.sock).
    for (k, v) in session_tool_env(paths, |p| p.exists()) {
        c.env(k, v);
    }
    if cmd.is_empty() {
        c.arg(std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into()));
    } else {
        c.args(cmd);
    }
    Ok(c)
}

/// CONTAINERD_ADDRESS (ctr), CONTAINER_RUNTIME_ENDPOINT (crictl) and DOCKER_HOST for the
/// sockets of the session that `exists`.
pub fn session_tool_env(
    paths: &Paths,
    exists: impl Fn(&Path) -> bool,
) -> Vec<(&'static str, String)> {
    let mut env = vec![];
    let containerd = paths.containerd_sock();
    if exists(&containerd) {
        env.push(("CONTAINERD_ADDRESS", containerd.display().to_string()));
    }
    let cri = [paths.crio_sock(), containerd]
        .into_iter()
        .find(|s| exists(s));
    if let Some(s) = cri {
        env.push((
            "CONTAINER_RUNTIME_ENDPOINT",
            format!("unix://{}", s.display()),
        ));
    }
    if exists(&paths.docker_sock()) {
        env.push(("DOCKER_HOST", paths.docker_host()));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::paths::Env;

    #[test]
    fn tools_inside_dial_the_sessions_sockets() {
        let p = Paths::resolve(
            &Env {
                home: Some("/home/a".into()),
                xdg_runtime_dir: Some("/run/user/1000".into()),
                xdg_data_home: None,
                xdg_config_home: None,
                uid: 1000,
            },
            |_| true,
        )
        .unwrap();
        let all = session_tool_env(&p, |_| true);
        let get = |k: &str| all.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        assert_eq!(
            get("CONTAINERD_ADDRESS"),
            Some(p.containerd_sock().display().to_string())
        );
        assert_eq!(
            get("CONTAINER_RUNTIME_ENDPOINT"),
            Some(format!("unix://{}", p.crio_sock().display()))
        );
        assert_eq!(get("DOCKER_HOST"), Some(p.docker_host()));
        let docker_only = session_tool_env(&p, |s| s == p.docker_sock());
        assert_eq!(docker_only, vec![("DOCKER_HOST", p.docker_host())]);
    }
}
