//! `u7s-doctor`: checks this host for rootless Docker and Kubernetes and prints the exact fixes
//! for its distro. Exit 0 when no check fails, 1 when one does, 2 on a usage error.

use clap::{CommandFactory, Parser, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum For {
    /// Rootless dockerd only (u7s up --cri docker --no-kube)
    Docker,
    /// A rootless Kubernetes node
    Kubernetes,
}

const EXAMPLES: &str = "\
EXAMPLES:
  u7s-doctor                        check this host for the current user (Kubernetes)
  u7s-doctor --for docker           only what rootless Docker needs
  u7s-doctor --json | jq '.checks[] | select(.status == \"fail\")'
  sudo u7s-doctor --user alice      check alice's set-up (the probes run as alice)
  u7s-doctor --root /srv/images/rootfs --user alice
                                    check a distro tree (files only, no live probes)
  u7s-doctor --completions bash > ~/.local/share/bash-completion/completions/u7s-doctor

EXIT STATUS:
  0 no check failed (warnings allowed), 1 a check failed, 2 usage error";

/// Checks every prerequisite of rootless Docker and Kubernetes (sub-IDs and their helpers,
/// user namespaces, sysctls, modules, devices, cgroup delegation, storage, network, limits),
/// probes a real user namespace, and prints the exact fix commands for this distro.
#[derive(Debug, Parser)]
#[command(name = "u7s-doctor", version, after_help = EXAMPLES)]
struct Cli {
    /// Print the report as JSON (stable check ids, status, finding, fix, distro)
    #[arg(long)]
    json: bool,

    /// Read every file under DIR instead of / (a distro tree); skips the live probes
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,

    /// Check this user (default: the current user)
    #[arg(long, value_name = "NAME")]
    user: Option<String>,

    /// What you want to run: severities differ for Docker only and Kubernetes
    #[arg(
        long = "for",
        value_enum,
        value_name = "TARGET",
        default_value = "kubernetes"
    )]
    target: For,

    /// Skip the live probes (user namespace, overlay mount, TAP device)
    #[arg(long)]
    no_probes: bool,

    /// Print shell completions for SHELL to stdout and exit
    #[arg(long, value_name = "SHELL", exclusive = true)]
    completions: Option<clap_complete::Shell>,

    /// Print the man page (roff) to stdout and exit
    #[arg(long, exclusive = true)]
    man: bool,
}

fn main() {
    let cli = Cli::try_parse().unwrap_or_else(|e| term::exit_on_clap_error("u7s-doctor", e));
    let mut stdout = std::io::stdout();
    if let Some(shell) = cli.completions {
        clap_complete::generate(shell, &mut Cli::command(), "u7s-doctor", &mut stdout);
        return;
    }
    if cli.man {
        if let Err(e) = clap_mangen::Man::new(Cli::command()).render(&mut stdout) {
            term::ErrorReport::new(format!("cannot write the man page: {e}")).eprint("u7s-doctor");
            std::process::exit(2);
        }
        return;
    }
    if !cli.root.is_dir() {
        term::ErrorReport::new(format!(
            "--root {}: not a directory (give the top of a distro tree, or / for this host)",
            cli.root.display()
        ))
        .eprint("u7s-doctor");
        std::process::exit(2);
    }
    if let Some(name) = &cli.user {
        let passwd = cli.root.join("etc/passwd");
        let known = std::fs::read_to_string(&passwd).is_ok_and(|t| {
            doctor::accounts::parse_passwd(&t)
                .iter()
                .any(|u| &u.name == name || u.uid.to_string() == *name)
        });
        if !known {
            term::ErrorReport::new(format!(
                "--user {name}: no such user in {} (give a user name or uid)",
                passwd.display()
            ))
            .eprint("u7s-doctor");
            std::process::exit(2);
        }
    }
    let opts = doctor::Options {
        root: cli.root.clone(),
        user: cli.user.clone(),
        target: match cli.target {
            For::Docker => doctor::Target::Docker,
            For::Kubernetes => doctor::Target::Kubernetes,
        },
        live_probes: !cli.no_probes,
    };
    let report = doctor::run(&opts);
    let text = if cli.json {
        let mut j = report.to_json();
        j.push('\n');
        j
    } else {
        let color = stdout.is_terminal() && term::color_allowed_here();
        report.render_table(color)
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
    std::process::exit(if report.has_failures() { 1 } else { 0 });
}
