//! The command line: the clap definition (with examples, completions and man page), the
//! dispatch to install / list / rollback / uninstall, the human and `--json` renderings of the
//! results, and the exit codes.

use std::io::Write;
use std::path::PathBuf;

use clap::{CommandFactory, Parser};
use serde::Serialize;

use crate::error::Error;
use crate::install::{InstallOptions, InstallReport, RollbackReport, install, rollback};
use crate::integration::Wanted;
use crate::integration::path::shell_word;
use crate::prefix::{Env, Prefix};
use crate::record::Record;
use crate::ui::Ui;
use crate::uninstall::{UninstallReport, uninstall};
use crate::versions;

const EXAMPLES: &str = "\
EXAMPLES:
  # Install (or upgrade to) a release; SHA256SUMS beside it is checked first
  u7s-install usernetes-x86_64.tbz

  # Straight from a release URL (resumes an interrupted download)
  u7s-install https://example.org/releases/v1/usernetes-x86_64.tbz

  # Checksums from elsewhere, another prefix, no shell edits, start at login
  u7s-install usernetes-x86_64.tbz --checksums ~/SHA256SUMS --prefix ~/opt/u7s \\
      --no-modify-path --enable-service

  # See the installed versions, go back to the previous one
  u7s-install --list
  u7s-install --rollback

  # Remove it; --purge also deletes containers, images, etcd data and config
  u7s-install --uninstall
  u7s-install --uninstall --purge --yes

EXIT STATUS:
  0 done, 1 error, 2 usage error, 3 archive refused (checksum, unsafe entry, manifest),
  4 another u7s-install is running on this prefix

FILES:
  PREFIX/versions/<version>/  one folder per installed release (PREFIX: $XDG_DATA_HOME/usernetes)
  PREFIX/current              symlink to the active version, swapped atomically
  PREFIX/env                  sourced by your shell startup files to put current/bin on PATH
  PREFIX/install-record.json  what the installer wrote, for rollback and uninstall
  $XDG_CONFIG_HOME/systemd/user/u7s.{target,service}  by `u7s units install`, when a systemd
                              user manager runs (default prefix only)";

/// Verified, safe, atomic install of a usernetes release under $HOME.
#[derive(Parser, Debug)]
#[command(name = "u7s-install", version, after_help = EXAMPLES)]
pub struct Cli {
    /// The release archive: a path or an https:// URL [default: ./usernetes-x86_64.tbz]
    #[arg(value_name = "ARCHIVE|URL", conflicts_with_all = ["list", "rollback", "uninstall"])]
    pub archive: Option<String>,

    /// SHA256SUMS to check the archive against [default: the one beside the archive]
    #[arg(long, value_name = "FILE|URL")]
    pub checksums: Option<String>,

    /// The release's minisign public key (base64 RW... or a .pub file): SHA256SUMS must then
    /// carry a good signature by it (SHA256SUMS.minisig beside it)
    #[arg(long, value_name = "KEY|FILE", env = "U7S_PUBLIC_KEY")]
    pub public_key: Option<String>,

    /// Install prefix [default: $XDG_DATA_HOME/usernetes, else ~/.local/share/usernetes]
    #[arg(long, value_name = "DIR")]
    pub prefix: Option<PathBuf>,

    /// With --uninstall --purge: delete the data without asking (the only question
    /// u7s-install asks; needed when stdin is not a terminal). It never skips a checksum: see
    /// --insecure-skip-checksum
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// Install an archive that has no SHA256SUMS (its hash goes unchecked; only its own
    /// manifest is checked, which proves nothing about where it came from)
    #[arg(long)]
    pub insecure_skip_checksum: bool,

    /// Print only warnings and errors
    #[arg(short, long)]
    pub quiet: bool,

    /// Print the result as JSON on stdout (messages stay on stderr)
    #[arg(long)]
    pub json: bool,

    /// Do not run u7s-doctor's checks after installing
    #[arg(long)]
    pub no_doctor: bool,

    /// Do not write PREFIX/env nor add it to ~/.profile, ~/.bashrc, ~/.zshenv
    #[arg(long)]
    pub no_modify_path: bool,

    /// Do not install the systemd user units (u7s units install)
    #[arg(long)]
    pub no_systemd: bool,

    /// Start the systemd user units now too (u7s units install --now)
    #[arg(long, conflicts_with = "no_systemd")]
    pub enable_service: bool,

    /// Do not install shell completions for the release's commands
    #[arg(long)]
    pub no_completions: bool,

    /// How many previous versions to keep after an upgrade
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub keep: usize,

    /// Threads used to decompress [default: number of CPUs]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// List installed versions (* marks the current one) with their sizes
    #[arg(long, conflicts_with_all = ["rollback", "uninstall", "completions", "man"])]
    pub list: bool,

    /// Make the previously current version current again (or VERSION)
    #[arg(long, value_name = "VERSION", num_args = 0..=1, conflicts_with_all = ["uninstall", "completions", "man"])]
    pub rollback: Option<Option<String>>,

    /// Stop a running session and remove the installed versions, unit, completions and PATH lines
    #[arg(long, conflicts_with_all = ["completions", "man"])]
    pub uninstall: bool,

    /// With --uninstall: also delete all data (containers, images, etcd) and config
    #[arg(long, requires = "uninstall")]
    pub purge: bool,

    /// Print a completion script for SHELL on stdout
    #[arg(long, value_name = "SHELL", conflicts_with = "man")]
    pub completions: Option<clap_complete::Shell>,

    /// Print the man page (roff) on stdout
    #[arg(long)]
    pub man: bool,
}

/// Exit status for an error.
pub fn exit_code(e: &Error) -> i32 {
    match e {
        Error::Locked { .. } => 4,
        e if e.is_refusal() => 3,
        _ => 1,
    }
}

#[derive(Serialize)]
struct JsonError<'a> {
    error: String,
    hint: Option<String>,
    exit_code: i32,
    prefix: Option<&'a std::path::Path>,
}

#[derive(Serialize)]
struct ListReport {
    prefix: PathBuf,
    current: Option<String>,
    versions: Vec<versions::VersionInfo>,
}

fn print_json<T: Serialize>(v: &T) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, v);
    let _ = writeln!(out);
}

fn tilde(p: &std::path::Path, env: &Env) -> String {
    match env.home.as_deref().and_then(|h| p.strip_prefix(h).ok()) {
        Some(rest) => format!("~/{}", rest.display()),
        None => p.display().to_string(),
    }
}

fn render_install(r: &InstallReport, env: &Env, prefix: &Prefix) -> String {
    let mut s = String::new();
    let was = match &r.previous {
        Some(p) if *p != r.version => format!(" (was {p})"),
        _ => String::new(),
    };
    s.push_str(&format!(
        "installed usernetes {} in {}{was}\n",
        r.version,
        tilde(&r.path, env)
    ));
    if r.verified_with.is_none() {
        s.push_str("  (archive hash not checked: no SHA256SUMS)\n");
    }
    let i = &r.integration;
    match &i.path {
        Some(p) => {
            let now = format!(". {}", shell_word(&p.env_file, env.home.as_deref()));
            if !p.edited.is_empty() {
                let files: Vec<String> = p.edited.iter().map(|f| tilde(f, env)).collect();
                s.push_str(&format!("PATH: added a line to {}\n", files.join(", ")));
            }
            s.push_str(&format!(
                "PATH: new shells find u7s; in this shell run: {now}\n"
            ));
        }
        None => s.push_str(&format!(
            "PATH: not changed (--no-modify-path); the commands are in {}\n",
            tilde(&prefix.current_bin(), env)
        )),
    }
    if let Some(u) = &i.units {
        for w in &u.written {
            s.push_str(&format!("systemd: wrote {}\n", tilde(w, env)));
        }
        if u.started {
            s.push_str("systemd: u7s.target enabled and started (systemctl --user status u7s)\n");
        } else {
            s.push_str(
                "systemd: u7s.target enabled (starts at login); start now with: \
                 systemctl --user start u7s.target\n",
            );
        }
        s.push_str(
            "systemd: to keep it running after logout: sudo loginctl enable-linger \"$USER\"\n",
        );
    }
    for f in &i.completions {
        let needs = if f.to_string_lossy().contains("bash-completion") {
            " (bash loads it through the bash-completion package)"
        } else {
            ""
        };
        s.push_str(&format!("completions: wrote {}{needs}\n", tilde(f, env)));
    }
    if r.session_running {
        s.push_str(
            "a running session still uses the previous version: restart it to switch \
             (u7s down && u7s up, or: systemctl --user restart u7s.service)\n",
        );
    }
    match &r.doctor {
        Some(c) => s.push_str(&crate::checkup::render(c)),
        None => s.push_str(&format!(
            "next: {}\n",
            crate::checkup::next_step(
                crate::checkup::has_kubernetes(&prefix.current_bin()),
                false,
                false
            )
        )),
    }
    s
}

fn render_uninstall(r: &UninstallReport, env: &Env) -> String {
    let mut s = String::new();
    if r.session_stopped {
        s.push_str("stopped the running session\n");
    }
    if r.versions_removed.is_empty() {
        s.push_str(&format!(
            "no version was installed in {}\n",
            tilde(&r.prefix, env)
        ));
    } else {
        s.push_str(&format!(
            "removed versions: {}\n",
            r.versions_removed.join(", ")
        ));
    }
    for (what, list) in [
        ("removed unit", &r.units_removed),
        ("removed completions", &r.completions_removed),
        ("removed the PATH line from", &r.rc_files_edited),
        ("deleted", &r.purged),
    ] {
        for p in list {
            s.push_str(&format!("{what} {}\n", tilde(p, env)));
        }
    }
    if !r.kept.is_empty() && r.kept_shared {
        let kept: Vec<String> = r.kept.iter().map(|p| tilde(p, env)).collect();
        s.push_str(&format!(
            "kept data and config, which every install of this user shares: {} (delete them \
             with: u7s-install --uninstall --purge, without --prefix)\n",
            kept.join(", ")
        ));
    } else if !r.kept.is_empty() {
        let kept: Vec<String> = r.kept.iter().map(|p| tilde(p, env)).collect();
        s.push_str(&format!(
            "kept data and config: {} (delete with: u7s-install --uninstall --purge)\n",
            kept.join(", ")
        ));
    }
    s
}

/// Sets the message printed when Ctrl-C arrives.
fn on_interrupt(msg: &'static str) {
    let _ = ctrlc::set_handler(move || {
        eprintln!("\nu7s-install: interrupted: {msg}");
        std::process::exit(130);
    });
}

/// Runs the command line; returns the process exit status.
pub fn run(cli: Cli) -> i32 {
    if let Some(shell) = cli.completions {
        let mut cmd = Cli::command();
        clap_complete::generate(shell, &mut cmd, "u7s-install", &mut std::io::stdout());
        return 0;
    }
    if cli.man {
        let man = clap_mangen::Man::new(Cli::command());
        let mut out = Vec::new();
        if man.render(&mut out).is_err() || std::io::stdout().write_all(&out).is_err() {
            return 1;
        }
        return 0;
    }
    let ui = Ui::new(cli.quiet, cli.json);
    let env = Env::from_process();
    let prefix = match Prefix::resolve(cli.prefix.as_deref(), &env) {
        Ok(p) => p,
        Err(e) => return fail(&ui, &e, None, cli.json),
    };
    let result = if cli.list {
        list(&prefix, cli.json)
    } else if let Some(to) = &cli.rollback {
        on_interrupt("`current` points to the old or the new version, never to a partial one");
        rollback(&prefix, &env, to.as_deref(), !cli.no_completions, &ui).map(|r| {
            print_rollback(&r, &ui, cli.json);
        })
    } else if cli.uninstall {
        on_interrupt("run `u7s-install --uninstall` again to finish");
        uninstall(&prefix, &env, cli.purge, cli.yes, &ui).map(|r| {
            for w in &r.warnings {
                ui.warn(w);
            }
            if cli.json {
                print_json(&r);
            } else if !cli.quiet {
                print!("{}", render_uninstall(&r, &env));
            }
        })
    } else {
        on_interrupt(
            "the previous version stays current; no partial version is visible, and leftovers are removed by the next run",
        );
        let opts = InstallOptions {
            archive: cli
                .archive
                .clone()
                .unwrap_or_else(|| bundle::manifest::ARCHIVE_NAME.to_string()),
            checksums: cli.checksums.clone(),
            skip_checksum: cli.insecure_skip_checksum,
            public_key: cli.public_key.clone(),
            keep: cli.keep,
            integration: Wanted {
                modify_path: !cli.no_modify_path,
                systemd: !cli.no_systemd,
                enable_service: cli.enable_service,
                completions: !cli.no_completions,
            },
            threads: cli
                .threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        };
        if rustix::process::geteuid().is_root() {
            ui.warn(
                "installing for root: usernetes runs as an unprivileged user, so run \
                 u7s-install as that user (ssh USER@localhost)",
            );
        }
        install(&prefix, &env, &opts, &ui).map(|mut r| {
            if !cli.no_doctor {
                ui.info("checking the host (u7s-doctor)…");
                r.doctor = Some(crate::checkup::run(&prefix.current_bin()));
            }
            if cli.json {
                print_json(&r);
            } else if !cli.quiet {
                print!("{}", render_install(&r, &env, &prefix));
            }
        })
    };
    match result {
        Ok(()) => 0,
        Err(e) => fail(&ui, &e, Some(prefix.root()), cli.json),
    }
}

fn print_rollback(r: &RollbackReport, ui: &Ui, json: bool) {
    if json {
        print_json(r);
    } else if !ui.quiet {
        match &r.previous {
            Some(p) if *p != r.version => println!("current is now {} (was {p})", r.version),
            _ => println!("current is now {}", r.version),
        }
    }
}

fn list(prefix: &Prefix, json: bool) -> crate::error::Result<()> {
    let history = Record::load(&prefix.record_file())
        .map(|r| r.history)
        .unwrap_or_default();
    let infos = versions::list(prefix, &history)?;
    if json {
        print_json(&ListReport {
            prefix: prefix.root().to_path_buf(),
            current: infos.iter().find(|i| i.current).map(|i| i.version.clone()),
            versions: infos,
        });
    } else if infos.is_empty() {
        return Err(Error::NotInstalled(prefix.root().to_path_buf()));
    } else {
        print!("{}", versions::render_list(&infos));
    }
    Ok(())
}

fn fail(ui: &Ui, e: &Error, prefix: Option<&std::path::Path>, json: bool) -> i32 {
    let code = exit_code(e);
    let report = term::ErrorReport::from_error(e).with_hint(e.hint());
    ui.error(&report);
    if json {
        print_json(&JsonError {
            error: report.one_line(),
            hint: e.hint(),
            exit_code: code,
            prefix,
        });
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_actions() {
        let c = Cli::try_parse_from(["u7s-install", "--rollback"]).unwrap();
        assert_eq!(c.rollback, Some(None));
        let c = Cli::try_parse_from(["u7s-install", "--rollback", "0.1.0"]).unwrap();
        assert_eq!(c.rollback, Some(Some("0.1.0".into())));
        let c = Cli::try_parse_from(["u7s-install", "a.tbz", "-y", "-q", "--keep", "0"]).unwrap();
        assert_eq!(c.archive.as_deref(), Some("a.tbz"));
        assert!(c.yes && c.quiet && c.keep == 0);
        assert!(Cli::try_parse_from(["u7s-install", "--purge"]).is_err());
        assert!(Cli::try_parse_from(["u7s-install", "a.tbz", "--list"]).is_err());
        assert!(Cli::try_parse_from(["u7s-install", "--list", "--uninstall"]).is_err());
        assert!(Cli::try_parse_from(["u7s-install", "--uninstall", "--purge"]).is_ok());
    }

    #[test]
    fn exit_codes() {
        assert_eq!(
            exit_code(&Error::Locked {
                pid: "1".into(),
                prefix: "/p".into()
            }),
            4
        );
        assert_eq!(exit_code(&Error::BadVersion("..".into())), 3);
        assert_eq!(exit_code(&Error::NoHome), 1);
    }
}
