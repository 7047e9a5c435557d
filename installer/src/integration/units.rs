//! systemd user units, written by the release itself: `PREFIX/current/bin/u7s units install
//! [--now]` (Kubernetes on rootless Docker, `u7s up`'s default) writes and enables `u7s.target` and `u7s.service` (ExecStart through
//! `current`, so upgrades need no rewrite) and `u7s units remove` stops, disables and deletes
//! them. The installer only decides when to call it and records the files it reports.
//! `u7s units` writes units for the default prefix (`$XDG_DATA_HOME/usernetes`) only.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde::Serialize;

use crate::prefix::{Env, Prefix};
use crate::record::{Generated, Record};
use crate::run::run_with_timeout;

/// The unit the runtime's units are started through.
pub const TARGET: &str = "u7s.target";
/// The unit earlier installers wrote themselves; removed when found in the record.
pub const LEGACY_UNIT: &str = "usernetes.service";

/// Runs `systemctl --user ARGS`; `None` when systemctl cannot be run or times out.
fn systemctl(args: &[&str]) -> Option<Output> {
    let mut cmd = Command::new("systemctl");
    cmd.arg("--user").args(args).stdin(Stdio::null());
    run_with_timeout(cmd, Duration::from_secs(30)).ok()
}

/// True when a systemd user manager answers `systemctl --user is-system-running`.
pub fn user_manager_running() -> bool {
    systemctl(&["is-system-running"]).is_some_and(|o| {
        let state = String::from_utf8_lossy(&o.stdout);
        matches!(
            state.trim(),
            "running" | "degraded" | "starting" | "initializing" | "maintenance"
        )
    })
}

/// What happened to the units.
#[derive(Serialize, Debug, Default, Clone)]
pub struct UnitOutcome {
    pub written: Vec<PathBuf>,
    /// `u7s.target` is enabled (always, by `u7s units install`).
    pub enabled: bool,
    /// Started now (`--enable-service`).
    pub started: bool,
    pub warnings: Vec<String>,
}

/// The arguments of the `u7s units install` call.
pub fn install_args(start: bool) -> Vec<&'static str> {
    let mut a = vec!["units", "install"];
    if start {
        a.push("--now");
    }
    a
}

/// The absolute paths `u7s units` printed, one a line.
pub fn printed_paths(stdout: &[u8]) -> Vec<PathBuf> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('/'))
        .map(PathBuf::from)
        .collect()
}

/// The `u7s: warning: …` lines of its stderr.
fn printed_warnings(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("u7s: warning: "))
        .map(str::to_string)
        .collect()
}

/// Runs `u7s ARGS` with the installer's view of the user's folders.
fn u7s(env: &Env, u7s: &Path, args: &[&str], limit: Duration) -> Result<Output, String> {
    let mut cmd = Command::new(u7s);
    cmd.args(args).stdin(Stdio::null());
    crate::session::apply_env(&mut cmd, env);
    let shown = format!("{} {}", u7s.display(), args.join(" "));
    match run_with_timeout(cmd, limit) {
        Ok(o) if o.status.success() => Ok(o),
        Ok(o) => Err(format!(
            "{shown} exited with {}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("{shown}: {e}")),
    }
}

/// Why `u7s units install` cannot serve this prefix, if it cannot.
pub fn unsupported_prefix(env: &Env, prefix: &Prefix) -> Option<String> {
    match env.default_prefix() {
        Ok(d) if d == prefix.root() => None,
        _ => Some(format!(
            "`u7s units install` writes units for the default prefix ($XDG_DATA_HOME/usernetes) \
             only, not {}",
            prefix.root().display()
        )),
    }
}

/// Calls `u7s units install` (with `--now` when `start`), recording the files it wrote.
pub fn install(
    env: &Env,
    prefix: &Prefix,
    record: &mut Record,
    start: bool,
) -> Result<UnitOutcome, String> {
    let bin = prefix.current_bin().join("u7s");
    // `--now` waits for the session to report ready (TimeoutStartSec=300).
    let limit = Duration::from_secs(if start { 360 } else { 60 });
    let o = u7s(env, &bin, &install_args(start), limit)?;
    let written = printed_paths(&o.stdout);
    for p in &written {
        let sha256 = std::fs::read(p)
            .map(|b| crate::verify::sha256_hex(&b))
            .unwrap_or_default();
        record.units.retain(|g| &g.path != p);
        record.units.push(Generated {
            path: p.clone(),
            sha256,
        });
    }
    record.service_enabled = true;
    Ok(UnitOutcome {
        written,
        enabled: true,
        started: start,
        warnings: printed_warnings(&o.stderr),
    })
}

/// Calls `u7s units remove` (when the release is there), then deletes whatever recorded unit
/// is left (an earlier installer's `usernetes.service`). Returns the files removed and warnings.
pub fn remove(env: &Env, prefix: &Prefix, record: &mut Record) -> (Vec<PathBuf>, Vec<String>) {
    let mut removed = Vec::new();
    let mut warnings = Vec::new();
    let bin = prefix.current_bin().join("u7s");
    // `u7s units` manages the default prefix's units only: another prefix's uninstall must not
    // remove them; and with no unit recorded or on disk, there is nothing to ask systemd.
    let ours = unsupported_prefix(env, prefix).is_none();
    let unit_files = env.systemd_user_dir().ok().is_some_and(|d| {
        [TARGET, "u7s.service"]
            .iter()
            .any(|n| d.join(n).symlink_metadata().is_ok())
    });
    if ours && bin.is_file() && (!record.units.is_empty() || unit_files) {
        match u7s(env, &bin, &["units", "remove"], Duration::from_secs(180)) {
            Ok(o) => {
                removed.extend(printed_paths(&o.stdout));
                warnings.extend(printed_warnings(&o.stderr));
            }
            Err(e) => warnings.push(e),
        }
    }
    let left: Vec<PathBuf> = record
        .units
        .iter()
        .map(|g| g.path.clone())
        .filter(|p| p.symlink_metadata().is_ok())
        .collect();
    // Without a user manager there is nothing running to stop, nor to reload: systemctl
    // would only fail to connect to the bus.
    let manager = !left.is_empty() && user_manager_running();
    for p in left {
        if manager && let Some(name) = p.file_name().and_then(|n| n.to_str()) {
            let _ = systemctl(&["disable", "--now", name]);
        }
        match crate::fsutil::remove_any(&p) {
            Ok(true) => {
                if manager {
                    let _ = systemctl(&["daemon-reload"]);
                }
                removed.push(p);
            }
            Ok(false) => {}
            Err(e) => warnings.push(e.to_string()),
        }
    }
    record.units.clear();
    record.service_enabled = false;
    (removed, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_starts_only_when_asked() {
        assert_eq!(install_args(false), ["units", "install"]);
        assert_eq!(install_args(true), ["units", "install", "--now"]);
    }

    #[test]
    fn reads_what_u7s_printed() {
        let out = b"/h/.config/systemd/user/u7s.target\n/h/.config/systemd/user/u7s.service\n";
        assert_eq!(
            printed_paths(out),
            [
                PathBuf::from("/h/.config/systemd/user/u7s.target"),
                PathBuf::from("/h/.config/systemd/user/u7s.service")
            ]
        );
        assert!(printed_paths(b"nothing\n").is_empty());
        assert_eq!(
            printed_warnings(b"u7s: warning: systemctl --user start u7s.target: x\nother\n"),
            ["systemctl --user start u7s.target: x"]
        );
    }

    #[test]
    fn only_the_default_prefix_is_served() {
        let env = Env {
            home: Some("/h".into()),
            ..Default::default()
        };
        let p = Prefix::at("/h/.local/share/usernetes");
        assert!(unsupported_prefix(&env, &p).is_none());
        assert!(unsupported_prefix(&env, &Prefix::at("/h/opt/u7s")).is_some());
    }
}
