//! The report: check results, counts, JSON and lookups.

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

impl Report {
    /// Whether any check failed.
    pub fn has_failures(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    /// (pass, warn, fail, skip).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let n = |s| self.checks.iter().filter(|c| c.status == s).count();
        (n(Status::Pass), n(Status::Warn), n(Status::Fail), n(Status::Skip))
    }

    /// e.g. "31 passed, 2 warnings, 1 failed".
    pub fn summary_line(&self) -> String {
        let (p, w, f, s) = self.counts();
        format!("{p} passed, {w} warnings, {f} failed, {s} skipped")
    }

    /// The JSON document.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Grouped human table.
    pub fn render_table(&self, _color: bool) -> String {
        String::new()
    }

    /// One copy-pasteable root script of all fixes.
    pub fn fix_script(&self) -> Option<String> {
        None
    }

    /// The result of check `id`.
    pub fn get(&self, id: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }
}
