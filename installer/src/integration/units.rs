//! systemd user unit: `usernetes.service` in `$XDG_CONFIG_HOME/systemd/user`, running
//! `PREFIX/current/bin/u7s up` (never a version folder, so upgrades need no rewrite). Written
//! only when a user manager answers, enabled only on request, never clobbering a file the user
//! edited (conffile rule: a changed file gets `usernetes.service.u7s-new` beside it). Removal
//! stops, disables, deletes, reloads and resets.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Serialize;

use crate::error::Result;
use crate::fsutil::write_atomic;
use crate::prefix::{Env, Prefix};
use crate::record::{Generated, Record};
use crate::run::run_with_timeout;

/// The unit's file name.
pub const UNIT_NAME: &str = "usernetes.service";

/// Quotes one word for a systemd command line (`ExecStart=`): double quotes, backslash
/// escapes, `%` and `$` doubled so specifiers and variables are not expanded.
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

/// The unit file text for `prefix`.
pub fn unit_text(prefix: &Prefix) -> String {
    let u7s = systemd_word(&prefix.current_bin().join("u7s").to_string_lossy());
    format!(
        "# Written by u7s-install. Put your changes in drop-ins ({UNIT_NAME}.d/*.conf):\n\
         # an edited copy of this file is kept, the next update then writes {UNIT_NAME}.u7s-new.\n\
         [Unit]\n\
         Description=usernetes: rootless Docker and Kubernetes in a RootlessKit session\n\
         Documentation=man:u7s(1)\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={u7s} up\n\
         ExecStop={u7s} down\n\
         Delegate=yes\n\
         KillMode=mixed\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         TimeoutStopSec=120\n\
         LimitNOFILE=infinity\n\
         LimitNPROC=infinity\n\
         LimitCORE=infinity\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n"
    )
}

/// Runs `systemctl --user ARGS`; `None` when systemctl cannot be run or times out.
fn systemctl(args: &[&str]) -> Option<std::process::Output> {
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

/// What happened to the unit.
#[derive(Serialize, Debug, Default, Clone)]
pub struct UnitOutcome {
    pub written: Vec<PathBuf>,
    /// Files the user changed: the new text went to `<file>.u7s-new`.
    pub kept_user_edits: Vec<PathBuf>,
    pub enabled: bool,
    pub warnings: Vec<String>,
}

/// Decides whether `path` may be overwritten: absent, identical, or still what we last wrote.
fn may_overwrite(path: &Path, new_text: &str, record: &Record) -> bool {
    let Ok(old) = std::fs::read(path) else {
        return true;
    };
    if old == new_text.as_bytes() {
        return true;
    }
    let on_disk = crate::verify::sha256_hex(&old);
    record
        .units
        .iter()
        .any(|g| g.path == path && g.sha256 == on_disk)
}

/// Writes the unit (when a user manager runs), reloads systemd, and enables it when asked.
pub fn install(
    env: &Env,
    prefix: &Prefix,
    record: &mut Record,
    enable: bool,
) -> Result<UnitOutcome> {
    let mut out = UnitOutcome::default();
    let path = env.systemd_user_dir()?.join(UNIT_NAME);
    let text = unit_text(prefix);
    let target = if may_overwrite(&path, &text, record) {
        path.clone()
    } else {
        out.kept_user_edits.push(path.clone());
        let mut p = path.clone().into_os_string();
        p.push(".u7s-new");
        PathBuf::from(p)
    };
    write_atomic(&target, text.as_bytes(), 0o644)?;
    if target == path {
        record.units.retain(|g| g.path != path);
        record.units.push(Generated {
            path: path.clone(),
            sha256: crate::verify::sha256_hex(text.as_bytes()),
        });
    }
    out.written.push(target);
    if systemctl(&["daemon-reload"]).is_none_or(|o| !o.status.success()) {
        out.warnings
            .push("systemctl --user daemon-reload failed".into());
    }
    if enable {
        match systemctl(&["enable", UNIT_NAME]) {
            Some(o) if o.status.success() => {
                out.enabled = true;
                record.service_enabled = true;
            }
            Some(o) => out.warnings.push(format!(
                "systemctl --user enable {UNIT_NAME} failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            None => out
                .warnings
                .push(format!("systemctl --user enable {UNIT_NAME} did not run")),
        }
    }
    Ok(out)
}

/// Stops, disables and deletes the recorded units (and ours by name), then reloads systemd.
pub fn remove(env: &Env, record: &mut Record) -> Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = record.units.iter().map(|g| g.path.clone()).collect();
    let ours = env.systemd_user_dir()?.join(UNIT_NAME);
    if !paths.contains(&ours) {
        paths.push(ours);
    }
    let present: Vec<PathBuf> = paths.into_iter().filter(|p| p.exists()).collect();
    if !present.is_empty() {
        // Best effort: without a user manager there is nothing running to stop.
        let _ = systemctl(&["disable", "--now", UNIT_NAME]);
    }
    let mut removed = Vec::new();
    for p in present {
        if crate::fsutil::remove_any(&p)? {
            removed.push(p);
        }
    }
    if !removed.is_empty() {
        let _ = systemctl(&["daemon-reload"]);
        let _ = systemctl(&["reset-failed", UNIT_NAME]);
    }
    record.units.clear();
    record.service_enabled = false;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_points_at_current_and_escapes() {
        let t = unit_text(&Prefix::at("/home/a b/.local/share/usernetes"));
        assert!(
            t.contains("ExecStart=\"/home/a b/.local/share/usernetes/current/bin/u7s\" up\n"),
            "{t}"
        );
        assert!(t.contains("Delegate=yes\n"));
        assert!(t.contains("WantedBy=default.target\n"));
        assert!(!t.contains("versions/"));
        assert_eq!(systemd_word("a%b$c\"d\\"), "\"a%%b$$c\\\"d\\\\\"");
    }

    #[test]
    fn user_edits_are_not_clobbered() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join(UNIT_NAME);
        let mut rec = Record::default();
        assert!(may_overwrite(&f, "new", &rec));
        std::fs::write(&f, "old ours").unwrap();
        assert!(!may_overwrite(&f, "new", &rec));
        rec.units.push(Generated {
            path: f.clone(),
            sha256: crate::verify::sha256_hex(b"old ours"),
        });
        assert!(may_overwrite(&f, "new", &rec));
        std::fs::write(&f, "edited by user").unwrap();
        assert!(!may_overwrite(&f, "new", &rec));
        assert!(may_overwrite(&f, "edited by user", &rec));
    }
}
