//! The report: check results, counts, lookups and the JSON document (`--json`).

use crate::{Distro, Target};
use serde::{Deserialize, Serialize};

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Skip,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckResult {
    /// Stable id, e.g. `subuid.range`.
    pub id: String,
    /// Group, e.g. `session`, `subid`, `userns`.
    pub group: String,
    pub status: Status,
    /// One line.
    pub finding: String,
    /// Exact command(s) for the detected distro, when not passing.
    pub fix: Option<String>,
    /// Whether the fix must run as root.
    pub needs_root: bool,
}

/// The whole report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub distro: Distro,
    pub target: Target,
    /// The user checked.
    pub user: String,
    pub checks: Vec<CheckResult>,
}

/// Version of the JSON document's layout.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// Counts in the JSON document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub skip: usize,
}

/// The `--json` document (`doctor/report.schema.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonReport {
    pub schema_version: u32,
    /// `u7s-doctor <version>`.
    pub tool: String,
    pub distro: Distro,
    pub target: Target,
    pub user: String,
    /// "ok" when nothing fails, else "fail".
    pub result: String,
    pub summary: Summary,
    pub checks: Vec<CheckResult>,
    /// One root script of all fixes (null when there is nothing to fix).
    pub fix_script: Option<String>,
}

impl Report {
    /// Whether any check failed.
    pub fn has_failures(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    /// (pass, warn, fail, skip).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let n = |s| self.checks.iter().filter(|c| c.status == s).count();
        (
            n(Status::Pass),
            n(Status::Warn),
            n(Status::Fail),
            n(Status::Skip),
        )
    }

    /// e.g. "31 passed, 2 warnings, 1 failed, 3 skipped".
    pub fn summary_line(&self) -> String {
        let (p, w, f, s) = self.counts();
        let plural = |n: usize, one: &str, many: &str| {
            if n == 1 {
                format!("{n} {one}")
            } else {
                format!("{n} {many}")
            }
        };
        format!(
            "{} passed, {}, {} failed, {} skipped",
            p,
            plural(w, "warning", "warnings"),
            f,
            s
        )
    }

    /// The JSON document.
    pub fn to_json_report(&self) -> JsonReport {
        let (pass, warn, fail, skip) = self.counts();
        JsonReport {
            schema_version: JSON_SCHEMA_VERSION,
            tool: format!("u7s-doctor {}", env!("CARGO_PKG_VERSION")),
            distro: self.distro.clone(),
            target: self.target,
            user: self.user.clone(),
            result: if fail > 0 { "fail" } else { "ok" }.into(),
            summary: Summary {
                pass,
                warn,
                fail,
                skip,
            },
            checks: self.checks.clone(),
            fix_script: self.fix_script(),
        }
    }

    /// The JSON text (design.md §6 plus the distro, summary and fix script).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.to_json_report()).unwrap_or_default()
    }

    /// The result of check `id`.
    pub fn get(&self, id: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }
}
