//! systemd user units for a session: `u7s.target` (wanted by `default.target`) and
//! `u7s.service` (`Type=notify`: the supervisor reports readiness; `Delegate=yes` for cgroup v2;
//! `KillMode=mixed`: SIGTERM to the top process, which stops everything in order, SIGKILL to the
//! rest after the timeout; generous `LimitNOFILE`). `ExecStart` points at the installed
//! `current` release, so upgrades need no rewrite. systemctl is called only when a systemd user
//! manager runs ([`doctor::user_manager`]): without one, `install` refuses (or, asked to, writes
//! the files only) and `remove` deletes the files without a word about the bus.

use crate::error::{Error, Result};
use crate::host::fsutil::{ensure_dir, write_atomic};
use crate::session::config::SessionConfig;
use doctor::user_manager::UserManager;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The unit file names.
pub const TARGET: &str = "u7s.target";
pub const SERVICE: &str = "u7s.service";

/// Quotes one word for `ExecStart=` (double quotes; `\`, `"` escaped; `%` and `$` doubled).
pub fn systemd_word(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The two unit files: (name, text).
pub fn render(u7s: &Path, cfg: &SessionConfig) -> Vec<(&'static str, String)> {
    let mut exec = vec![systemd_word(&u7s.display().to_string()), "up".into()];
    exec.extend(cfg.up_args().iter().map(|a| systemd_word(a)));
    let target = format!(
        "# Written by `u7s units install`; `u7s units remove` deletes it.\n\
         [Unit]\n\
         Description=usernetes (rootless Docker and Kubernetes)\n\
         Documentation=man:u7s(1)\n\
         Requires={SERVICE}\n\
         After={SERVICE}\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n"
    );
    let service = format!(
        "# Written by `u7s units install`; `u7s units remove` deletes it.\n\
         [Unit]\n\
         Description=usernetes session: RootlessKit and its components\n\
         Documentation=man:u7s(1)\n\
         PartOf={TARGET}\n\
         \n\
         [Service]\n\
         Type=notify\n\
         NotifyAccess=all\n\
         UnsetEnvironment={}\n\
         ExecStart={}\n\
         Delegate=yes\n\
         KillMode=mixed\n\
         Restart=on-failure\n\
         RestartSec=2\n\
         TimeoutStartSec=300\n\
         TimeoutStopSec=120\n\
         LimitNOFILE=1048576\n\
         LimitNPROC=infinity\n\
         LimitCORE=infinity\n\
         TasksMax=infinity\n\
         \n\
         [Install]\n\
         WantedBy={TARGET}\n",
        crate::cli::UP_ENV.join(" "),
        exec.join(" ")
    );
    vec![(TARGET, target), (SERVICE, service)]
}

/// `$XDG_CONFIG_HOME/systemd/user`.
pub fn unit_dir(config_home: &Path) -> PathBuf {
    config_home.join("systemd/user")
}

fn systemctl(args: &[&str]) -> std::result::Result<(), String> {
    match Command::new("systemctl")
        .arg("--user")
        .args(args)
        .stdin(Stdio::null())
        .output()
    {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// What `u7s units install` does with the files it writes (pure).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstallPlan {
    /// Write, reload systemd, enable the target (and start it with `--now`).
    WriteAndEnable,
    /// Write the files only (`--write-only`): no systemctl call.
    WriteOnly,
}

/// Decides `u7s units install` from the user manager and `--write-only` (pure): without a user
/// manager the units could never start, so it refuses unless only the files are asked for.
pub fn install_plan(manager: UserManager, write_only: bool) -> Result<InstallPlan> {
    match (write_only, manager.absence()) {
        (true, _) => Ok(InstallPlan::WriteOnly),
        (false, None) => Ok(InstallPlan::WriteAndEnable),
        (false, Some(why)) => Err(Error::NoUserManager(why)),
    }
}

/// Writes the units, reloads systemd and enables the target (`now`: starts it too), as `plan`
/// says. Returns the files written and warnings (a failed systemctl call).
pub fn install(
    dir: &Path,
    u7s: &Path,
    cfg: &SessionConfig,
    now: bool,
    plan: InstallPlan,
) -> Result<(Vec<PathBuf>, Vec<String>)> {
    let written = write_units(dir, u7s, cfg)?;
    let mut warnings = vec![];
    if plan == InstallPlan::WriteOnly {
        return Ok((written, warnings));
    }
    let mut run = |args: &[&str]| {
        if let Err(e) = systemctl(args) {
            warnings.push(format!("systemctl --user {}: {e}", args.join(" ")));
        }
    };
    run(&["daemon-reload"]);
    run(&["enable", TARGET]);
    if now {
        run(&["start", TARGET]);
    }
    Ok((written, warnings))
}

/// Writes the unit files (no systemctl).
pub fn write_units(dir: &Path, u7s: &Path, cfg: &SessionConfig) -> Result<Vec<PathBuf>> {
    cfg.validate()?;
    ensure_dir(dir, 0o755)?;
    let mut written = vec![];
    for (name, text) in render(u7s, cfg) {
        let p = dir.join(name);
        write_atomic(&p, text.as_bytes(), 0o644)?;
        written.push(p);
    }
    Ok(written)
}

/// Deletes the unit files (no systemctl).
pub fn delete_units(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = vec![];
    for name in [TARGET, SERVICE] {
        let p = dir.join(name);
        match std::fs::remove_file(&p) {
            Ok(()) => removed.push(p),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(p, e)),
        }
    }
    Ok(removed)
}

/// Stops and disables the units, deletes them, reloads systemd; with no user manager there is
/// nothing to stop nor reload: the files are deleted, and systemctl is not called.
pub fn remove(dir: &Path, manager: UserManager) -> Result<(Vec<PathBuf>, Vec<String>)> {
    let mut warnings = vec![];
    if !manager.running() {
        return Ok((delete_units(dir)?, warnings));
    }
    for args in [
        &["stop", TARGET, SERVICE][..],
        &["disable", TARGET, SERVICE][..],
    ] {
        if let Err(e) = systemctl(args) {
            warnings.push(format!("systemctl --user {}: {e}", args.join(" ")));
        }
    }
    let removed = delete_units(dir)?;
    if let Err(e) = systemctl(&["daemon-reload"]) {
        warnings.push(format!("systemctl --user daemon-reload: {e}"));
    }
    Ok((removed, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::config::docker_no_kube;

    #[test]
    fn service_has_the_required_settings() {
        let u = render(
            Path::new("/home/a/.local/share/usernetes/current/bin/u7s"),
            &docker_no_kube(),
        );
        let (_, svc) = u.iter().find(|(n, _)| *n == SERVICE).unwrap();
        for must in [
            "Delegate=yes",
            "KillMode=mixed",
            "LimitNOFILE=1048576",
            "Type=notify",
            "ExecStart=\"/home/a/.local/share/usernetes/current/bin/u7s\" up \"--cri\" \"docker\" \"--no-kube\"",
            "WantedBy=u7s.target",
        ] {
            assert!(svc.contains(must), "missing {must}:\n{svc}");
        }
        let (_, tgt) = u.iter().find(|(n, _)| *n == TARGET).unwrap();
        assert!(tgt.contains("WantedBy=default.target") && tgt.contains("Requires=u7s.service"));
    }

    /// The words of an `ExecStart=` line as systemd splits them: bare words, or double-quoted
    /// words with `\\`, `\"`, `%%` and `$$` escaped.
    fn unquote_words(line: &str) -> Vec<String> {
        let mut words = vec![];
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                ' ' => {}
                '"' => {
                    let mut w = String::new();
                    loop {
                        match chars.next().unwrap() {
                            '"' => break,
                            '\\' => w.push(chars.next().unwrap()),
                            c @ ('%' | '$') => {
                                assert_eq!(chars.next(), Some(c), "{line}");
                                w.push(c);
                            }
                            c => w.push(c),
                        }
                    }
                    words.push(w);
                }
                c => {
                    let mut w = c.to_string();
                    while let Some(c) = chars.next_if(|c| *c != ' ') {
                        assert!(!matches!(c, '"' | '\\' | '%' | '$'), "{line}");
                        w.push(c);
                    }
                    words.push(w);
                }
            }
        }
        words
    }

    /// What the unit starts, parsed back through clap in the environment systemd gives it (the
    /// user's, minus `UnsetEnvironment=`), is the session `u7s units install` was asked for:
    /// `U7S_ROOTLESSKIT_FLAGS` used to be dropped, the environment's ports could come twice.
    #[test]
    fn the_unit_starts_the_same_session() {
        use crate::cli::{Cli, Cmd, FLAGS_ENV, PORTS_ENV};
        use clap::Parser;
        let user_env = |k: &str| match k {
            PORTS_ENV => Some("8080:80/tcp".to_string()),
            FLAGS_ENV => Some("--debug --mtu=1500".to_string()),
            _ => None,
        };
        let host = || "build-host".to_string();
        let Some(Cmd::Units(crate::cli::UnitsCmd::Install { up, .. })) = Cli::try_parse_from([
            "u7s",
            "units",
            "install",
            "--cri",
            "containerd",
            "-p",
            "2379:2379/tcp",
        ])
        .unwrap()
        .command
        else {
            panic!()
        };
        let cfg = up.session_config_from(&user_env, &host).unwrap();
        assert_eq!(cfg.rootlesskit_flags, ["--debug", "--mtu=1500"]);
        let (_, svc) = render(Path::new("/x/u7s"), &cfg)
            .into_iter()
            .find(|(n, _)| *n == SERVICE)
            .unwrap();
        let line = |key: &str| {
            svc.lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or_else(|| panic!("no {key} in {svc}"))
                .to_string()
        };
        let unset: Vec<String> = line("UnsetEnvironment=")
            .split(' ')
            .map(str::to_string)
            .collect();
        let mut words = unquote_words(&line("ExecStart="));
        assert_eq!(words[0], "/x/u7s");
        words[0] = "u7s".into();
        let Some(Cmd::Up(started)) = Cli::try_parse_from(&words).unwrap().command else {
            panic!("{words:?}")
        };
        let unit_env = |k: &str| user_env(k).filter(|_| !unset.iter().any(|u| u == k));
        assert_eq!(
            started.session_config_from(&unit_env, &host).unwrap(),
            cfg,
            "{words:?}"
        );
    }

    /// newcomer review M13: without a user manager `units install` refused nothing (it wrote
    /// units that never start and warned "Failed to connect to bus").
    #[test]
    fn install_needs_a_user_manager_unless_only_files_are_asked_for() {
        assert_eq!(
            install_plan(UserManager::Running, false).unwrap(),
            InstallPlan::WriteAndEnable
        );
        for m in [UserManager::NoSystemd, UserManager::NotForThisUser] {
            let e = install_plan(m, false).unwrap_err().to_string();
            assert!(
                e.contains("would never start") && e.contains("--write-only"),
                "{e}"
            );
            assert_eq!(install_plan(m, true).unwrap(), InstallPlan::WriteOnly);
        }
        let e = install_plan(UserManager::NoSystemd, false)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("systemd is not running on this host"), "{e}");
    }

    #[test]
    fn without_a_user_manager_remove_only_deletes_files() {
        let d = tempfile::tempdir().unwrap();
        let dir = unit_dir(d.path());
        write_units(&dir, Path::new("/x/u7s"), &docker_no_kube()).unwrap();
        let (removed, warnings) = remove(&dir, UserManager::NoSystemd).unwrap();
        assert_eq!(removed.len(), 2);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(!dir.join(SERVICE).exists());
    }

    #[test]
    fn words_are_quoted_for_systemd() {
        assert_eq!(systemd_word("a b"), "\"a b\"");
        assert_eq!(systemd_word("100%$x\"\\"), "\"100%%$$x\\\"\\\\\"");
    }

    #[test]
    fn install_and_remove_files() {
        let d = tempfile::tempdir().unwrap();
        let dir = unit_dir(d.path());
        let w = write_units(&dir, Path::new("/x/u7s"), &docker_no_kube()).unwrap();
        assert_eq!(w.len(), 2);
        assert!(dir.join(SERVICE).exists() && dir.join(TARGET).exists());
        assert_eq!(delete_units(&dir).unwrap().len(), 2);
        assert!(!dir.join(SERVICE).exists());
        assert!(delete_units(&dir).unwrap().is_empty());
        let mut k = docker_no_kube();
        k.kube = true;
        k.k8s.node_name = "n1".into();
        write_units(&dir, Path::new("/x/u7s"), &k).unwrap();
        let service = std::fs::read_to_string(dir.join(SERVICE)).unwrap();
        assert!(
            service.contains("up \"--cri\" \"docker\" \"--node-name=n1\""),
            "{service}"
        );
        k.k8s.node_name = "Not A Name".into();
        let e = write_units(&dir, Path::new("/x/u7s"), &k).unwrap_err();
        assert!(e.to_string().contains("--node-name"), "{e}");
    }
}
