//! The installed release's links into the user's session, each optional: PATH (env file and
//! shell startup lines), the systemd user units (written by the release's `u7s units`), and
//! shell completions. Failures here are
//! warnings: the release itself is already installed and active.

pub mod completions;
pub mod path;
pub mod units;

use std::path::PathBuf;

use serde::Serialize;

use crate::prefix::{Env, Prefix};
use crate::record::Record;

/// Which integrations to set up.
#[derive(Clone, Debug)]
pub struct Wanted {
    pub modify_path: bool,
    pub systemd: bool,
    pub enable_service: bool,
    pub completions: bool,
}

/// What was set up, for the summary and `--json`.
#[derive(Serialize, Debug, Default, Clone)]
pub struct Outcome {
    pub path: Option<path::PathOutcome>,
    pub units: Option<units::UnitOutcome>,
    /// Why no unit was written, when none was.
    pub units_skipped: Option<String>,
    pub completions: Vec<PathBuf>,
    pub warnings: Vec<String>,
}

/// Sets up the wanted integrations, recording what was written.
pub fn apply(env: &Env, prefix: &Prefix, record: &mut Record, wanted: &Wanted) -> Outcome {
    let mut out = Outcome::default();
    if wanted.modify_path {
        match path::add(env, prefix, record) {
            Ok(p) => out.path = Some(p),
            Err(e) => out.warnings.push(format!("PATH not set up: {e}")),
        }
    }
    if wanted.systemd {
        if let Some(why) = units::unsupported_prefix(env, prefix) {
            out.units_skipped = Some(why);
        } else if units::user_manager_running() {
            match units::install(env, prefix, record, wanted.enable_service) {
                Ok(u) => {
                    out.warnings.extend(u.warnings.iter().cloned());
                    out.units = Some(u);
                }
                Err(e) => out.warnings.push(format!("systemd units not written: {e}")),
            }
        } else {
            out.units_skipped =
                Some("no systemd user manager answers (systemctl --user is-system-running)".into());
        }
        if out.units_skipped.is_some() && wanted.enable_service {
            out.warnings.push(format!(
                "--enable-service: {}; log in through a systemd session (not su/sudo) and run \
                 `u7s units install --now`",
                out.units_skipped.as_deref().unwrap_or_default()
            ));
        }
    }
    if wanted.completions {
        match completions::install(env, prefix, record) {
            Ok(c) => out.completions = c,
            Err(e) => out.warnings.push(format!("completions not written: {e}")),
        }
    }
    out
}
