//! `u7s`: runs a rootless usernetes session (RootlessKit + dockerd/containerd/CRI-O/etcd) and
//! everything around it: ports, status, logs, stop, reset, systemd units.
//!
//! This file only parses the command line, dispatches to `runtime::commands` (one file per
//! command) and renders an error once.

use anyhow::Context;
use clap::CommandFactory;
use runtime::cli::{Cli, Cmd};
use runtime::commands::{self, ExitStatus};
use std::io::Write;
use std::process::ExitCode;

fn dispatch(cmd: Cmd) -> anyhow::Result<ExitStatus> {
    match cmd {
        Cmd::Up(a) => commands::up::run(&a),
        Cmd::Down { timeout } => commands::down::run(timeout),
        Cmd::Status { json } => commands::status::run(json),
        Cmd::Reset { yes, config } => commands::reset::run(yes, config),
        Cmd::Logs {
            component,
            lines,
            follow,
        } => commands::logs::run(component.as_deref(), lines, follow),
        Cmd::Ports(p) => commands::ports::run(&p),
        Cmd::Images(runtime::cli::ImagesCmd::Load { archives }) => {
            commands::images::load(&archives)
        }
        Cmd::Registry {
            store,
            listen,
            pause,
            coredns,
        } => {
            runtime::registry::run(&store, &listen, pause.as_deref(), coredns.as_deref())?;
            Ok(ExitStatus::Success)
        }
        Cmd::Docker { args } => commands::docker::run(&args),
        Cmd::Kubectl { args } => commands::kubectl::run(&args),
        Cmd::Nsenter { command } => commands::nsenter::run(&command),
        Cmd::Units(u) => commands::units::run(&u),
        Cmd::Certs(c) => commands::certs::run(&c),
        Cmd::Child => Ok(ExitStatus::from_code(runtime::process::inside::run())),
        Cmd::OciRuntime { runc, args } => {
            runtime::process::oci_runtime::run(&runc, &args)?;
            Ok(ExitStatus::Success)
        }
        Cmd::ImportImages {
            pause,
            ctr,
            address,
            snapshotter,
            archive,
            coredns,
        } => {
            let spec = runtime::process::images::ImportSpec {
                pause,
                ctr,
                address,
                snapshotter,
                archive,
                coredns,
            };
            runtime::process::images::import_images(
                &spec,
                runtime::components::containerd::SANDBOX_IMAGE,
                runtime::components::coredns::IMAGE,
            )?;
            Ok(ExitStatus::Success)
        }
        Cmd::FlannelCni { subnet_env, out } => {
            let env = std::fs::read_to_string(&subnet_env)
                .with_context(|| format!("cannot read {}", subnet_env.display()))?;
            let text = runtime::components::cni::flannel_conflist(&env)
                .map_err(|e| anyhow::anyhow!("{}: {e}", subnet_env.display()))?;
            runtime::host::fsutil::write_atomic(&out, text.as_bytes(), 0o644)?;
            Ok(ExitStatus::Success)
        }
        Cmd::LoadDockerImage {
            pause,
            docker,
            archive,
            name,
            coredns,
        } => {
            runtime::process::images::load_pause_into_docker(&pause, &docker, &archive, &name)?;
            if let Some(c) = coredns {
                runtime::process::images::load_coredns_into_docker(
                    &c,
                    &docker,
                    runtime::components::coredns::IMAGE,
                )?;
            }
            Ok(ExitStatus::Success)
        }
    }
}

/// `u7s --version`: the crate's version and the installed release's (from its manifest).
fn version_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(
        || match runtime::host::binaries::Bins::from_process().release_version() {
            Some(r) => format!("{} (release {r})", env!("CARGO_PKG_VERSION")),
            None => env!("CARGO_PKG_VERSION").to_string(),
        },
    )
}

fn main() -> ExitCode {
    let command = || Cli::command().version(version_text());
    let cli = match command()
        .try_get_matches()
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m))
    {
        Ok(c) => c,
        Err(e) => term::exit_on_clap_error("u7s", e),
    };
    let mut stdout = std::io::stdout();
    if let Some(shell) = cli.completions {
        let mut cmd = runtime::cli::visible(&command());
        clap_complete::generate(shell, &mut cmd, "u7s", &mut stdout);
        return ExitCode::SUCCESS;
    }
    if cli.man {
        if let Err(e) = stdout.write_all(&runtime::cli::man_page(&command())) {
            term::ErrorReport::new(format!("cannot write the man page: {e}")).eprint("u7s");
            return ExitCode::from(2);
        }
        return ExitCode::SUCCESS;
    }
    let Some(cmd) = cli.command else {
        let _ = Cli::command().print_help();
        return ExitStatus::Usage.into();
    };
    match dispatch(cmd) {
        Ok(s) => s.into(),
        Err(e) => {
            error_report(&e).eprint("u7s");
            exit_status(&e).into()
        }
    }
}

/// The exit status of a failed command: 4 for a session already running, 5 for certificates
/// `u7s up` cannot use, 6 for an etcd data folder from a newer etcd, 2 for what the user typed
/// wrong (a port spec, `u7s logs` without a name), 1 otherwise.
fn exit_status(e: &anyhow::Error) -> ExitStatus {
    match e.downcast_ref::<runtime::Error>() {
        Some(runtime::Error::AlreadyRunning { .. }) => ExitStatus::AlreadyRunning,
        Some(runtime::Error::UnusableCertificates { .. }) => ExitStatus::BadCertificates,
        Some(runtime::Error::EtcdDataTooNew { .. }) => ExitStatus::DataFromNewerEtcd,
        Some(runtime::Error::PortSpec { .. } | runtime::Error::WhichLog(_)) => ExitStatus::Usage,
        _ => ExitStatus::Failure,
    }
}

/// The error for people (`u7s: error: …`, then each cause its message does not quote).
fn error_report(e: &anyhow::Error) -> term::ErrorReport {
    term::ErrorReport::from_chain(e.chain().map(|c| c.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// newcomer review L5, L6: a bad port spec and `u7s logs` without a name exited 1, though
    /// 2 is a usage error.
    #[test]
    fn what_the_user_typed_wrong_exits_2() {
        let spec = runtime::rootlesskit::portspec::PortSpec::parse("8080:80/sctp").unwrap_err();
        assert_eq!(exit_status(&anyhow::Error::new(spec)), ExitStatus::Usage);
        let spec = runtime::rootlesskit::portspec::PortSpec::parse("x").unwrap_err();
        let e = anyhow::Error::new(spec).context("in U7S_ROOTLESSKIT_PORTS");
        assert_eq!(exit_status(&e), ExitStatus::Usage);
        let e = anyhow::Error::new(runtime::Error::WhichLog("session".into()));
        assert_eq!(exit_status(&e), ExitStatus::Usage);
        let e = anyhow::Error::new(runtime::Error::AlreadyRunning { pid: Some(1) });
        assert_eq!(exit_status(&e), ExitStatus::AlreadyRunning);
        assert_eq!(exit_status(&anyhow::anyhow!("x")), ExitStatus::Failure);
    }

    /// Issue 11: certificates `u7s up` cannot use exit 5, an etcd folder from a newer etcd 6.
    #[test]
    fn refused_starts_have_their_own_codes() {
        let e = anyhow::Error::new(runtime::Error::UnusableCertificates {
            certs: vec![],
            fix: "u7s certs renew".into(),
        });
        assert_eq!(exit_status(&e), ExitStatus::BadCertificates);
        assert_eq!(
            ExitCode::from(ExitStatus::BadCertificates),
            ExitCode::from(5)
        );
        let e = anyhow::Error::new(runtime::Error::EtcdDataTooNew {
            folder: "/d/etcd".into(),
            marker: "/d/etcd.version".into(),
            written_by: "3.6.0".into(),
            release: "3.5.16".into(),
        });
        assert_eq!(exit_status(&e), ExitStatus::DataFromNewerEtcd);
        assert_eq!(
            ExitCode::from(ExitStatus::DataFromNewerEtcd),
            ExitCode::from(6)
        );
    }

    #[test]
    fn causes_already_quoted_are_left_out() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = anyhow::Error::new(runtime::Error::io("/b.tar", io)).context("cannot join");
        assert_eq!(
            error_report(&e).render("u7s", false),
            "u7s: error: cannot join\n  caused by: /b.tar: no such file\n"
        );
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = anyhow::Error::new(runtime::Error::io("/b.tar", io));
        assert_eq!(
            error_report(&e).render("u7s", false),
            "u7s: error: /b.tar: no such file\n"
        );
    }
}
