//! `u7s docker ARGS…`: replaces this process with the release's docker CLI, `DOCKER_HOST` set to
//! the session's socket. Arguments go through unchanged (`--help` is docker's); when the
//! command needs the daemon and nothing answers on the socket, it says why (no session: the
//! command that starts one) instead of docker's "Cannot connect to the Docker daemon".

use super::ExitStatus;
use crate::host::binaries::Bins;
use crate::session::config::Cri;
use crate::session::paths::Paths;
use crate::session::{self, Liveness};
use anyhow::Result;
use std::os::unix::process::CommandExt;

pub fn run(args: &[String]) -> Result<ExitStatus> {
    let paths = Paths::from_process()?;
    let bins = Bins::from_process();
    let bin = bins.require("docker", "u7s docker")?;
    if needs_daemon(args) && std::os::unix::net::UnixStream::connect(paths.docker_sock()).is_err() {
        return Err(no_daemon(&paths, &bins)?);
    }
    let e = std::process::Command::new(&bin)
        .args(args)
        .env("DOCKER_HOST", paths.docker_host())
        .exec();
    Err(anyhow::anyhow!("cannot run {}: {e}", bin.display()))
}

/// Whether docker's `args` talk to the daemon: not docker's usage (no arguments), help
/// (`--help`, `-h`, `help`), version flag, `completion` or `context` (client-only).
pub fn needs_daemon(args: &[String]) -> bool {
    let Some(first) = args.first() else {
        return false;
    };
    if args.iter().any(|a| a == "--help" || a == "-h") {
        return false;
    }
    !matches!(
        first.as_str(),
        "--version" | "-v" | "help" | "completion" | "context"
    )
}

/// Why nothing answers on the Docker socket, and what to do.
fn no_daemon(paths: &Paths, bins: &Bins) -> Result<anyhow::Error> {
    Ok(match session::liveness(paths)? {
        Liveness::Live(Some(rec)) if rec.config.cri != Cri::Docker => anyhow::anyhow!(
            "the running session has no dockerd (it runs --cri {}); start it with --cri docker \
             (`u7s down`, then `u7s up --cri docker`)",
            rec.config.cri.name()
        ),
        Liveness::Live(_) => anyhow::anyhow!(
            "the session's dockerd does not answer on {}; see `u7s status` and `u7s logs dockerd`",
            paths.docker_sock().display()
        ),
        _ => crate::Error::NotRunning(paths.state.clone(), bins.start_hint()).into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn help_version_and_usage_need_no_daemon() {
        for a in [
            &[][..],
            &["--help"],
            &["-h"],
            &["run", "--help"],
            &["help", "run"],
            &["--version"],
            &["-v"],
            &["completion", "bash"],
            &["context", "ls"],
        ] {
            assert!(!needs_daemon(&v(a)), "{a:?}");
        }
        for a in [
            &["info"][..],
            &["run", "--rm", "img"],
            &["version"],
            &["ps"],
        ] {
            assert!(needs_daemon(&v(a)), "{a:?}");
        }
    }
}
