//! Human output: the grouped table (colour optional) and one copy-pasteable root script of all
//! fixes.

use crate::Target;
use crate::report::{Report, Status};
use anstyle::{AnsiColor, Style};
use std::fmt::Write;

fn style(s: Status) -> Style {
    match s {
        Status::Pass => Style::new().fg_color(Some(AnsiColor::Green.into())),
        Status::Warn => Style::new().fg_color(Some(AnsiColor::Yellow.into())).bold(),
        Status::Fail => Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
        Status::Skip => Style::new().dimmed(),
    }
}

fn label(s: Status) -> &'static str {
    match s {
        Status::Pass => "PASS",
        Status::Warn => "WARN",
        Status::Fail => "FAIL",
        Status::Skip => "SKIP",
    }
}

fn paint(color: bool, st: Style, text: &str) -> String {
    if color {
        format!("{}{text}{}", st.render(), st.render_reset())
    } else {
        text.to_string()
    }
}

impl Report {
    /// Grouped human table, ending with the summary and the fix script.
    pub fn render_table(&self, color: bool) -> String {
        let mut out = String::new();
        let target = match self.target {
            Target::Docker => "Docker",
            Target::Kubernetes => "Kubernetes",
        };
        let bold = Style::new().bold();
        let _ = writeln!(
            out,
            "{}",
            paint(
                color,
                bold,
                &format!(
                    "u7s-doctor: {} for user {}, target {target}",
                    self.distro.display(),
                    if self.user.is_empty() {
                        "?"
                    } else {
                        &self.user
                    }
                )
            )
        );
        let width = self.checks.iter().map(|c| c.id.len()).max().unwrap_or(10);
        let mut groups: Vec<&str> = Vec::new();
        for c in &self.checks {
            if !groups.contains(&c.group.as_str()) {
                groups.push(&c.group);
            }
        }
        for g in groups {
            let _ = writeln!(out, "\n{}", paint(color, bold, g));
            for c in self.checks.iter().filter(|c| c.group == g) {
                let _ = writeln!(
                    out,
                    "  {}  {:width$}  {}",
                    paint(color, style(c.status), label(c.status)),
                    c.id,
                    c.finding
                );
                if let (Some(fix), true) = (&c.fix, c.status != Status::Pass) {
                    let who = if c.needs_root { "fix (root)" } else { "fix" };
                    for (i, line) in fix.lines().enumerate() {
                        let head = if i == 0 {
                            format!("{who}:")
                        } else {
                            String::new()
                        };
                        let _ = writeln!(out, "        {:width$}  {head:11} {line}", "");
                    }
                }
            }
        }
        let _ = writeln!(out, "\n{}", self.summary_line());
        if let Some(script) = self.fix_script() {
            let _ = writeln!(
                out,
                "\nTo fix everything at once, copy and paste:\n\n{script}"
            );
        }
        out
    }

    /// One copy-pasteable script of all fixes: root commands in one `sudo sh -eux` block
    /// (failures first, then warnings; fixes that need a reboot last, with the reboot note at
    /// the end), then the user's own commands. `None` when there is nothing to fix.
    pub fn fix_script(&self) -> Option<String> {
        let mut root: Vec<String> = Vec::new();
        let mut user: Vec<String> = Vec::new();
        for status in [Status::Fail, Status::Warn] {
            for c in self.checks.iter().filter(|c| c.status == status) {
                let Some(fix) = &c.fix else { continue };
                let dest = if c.needs_root { &mut root } else { &mut user };
                // The same fix can serve several checks: keep the first.
                if dest.iter().any(|b| b.ends_with(&format!("\n{fix}"))) {
                    continue;
                }
                dest.push(format!(
                    "# {} ({})\n{fix}",
                    c.id,
                    label(c.status).to_lowercase()
                ));
            }
        }
        if root.is_empty() && user.is_empty() {
            return None;
        }
        // Stable: the reboot-only fixes keep their order, after all the others.
        root.sort_by_key(|b| crate::fixes::needs_reboot(b));
        let mut s = String::new();
        if !root.is_empty() {
            s.push_str("sudo sh -eux <<'EOF'\n");
            for b in &root {
                s.push_str(b);
                s.push('\n');
            }
            s.push_str("EOF\n");
        }
        if !user.is_empty() {
            if !root.is_empty() {
                s.push('\n');
            }
            let who = if self.user.is_empty() {
                "the user"
            } else {
                &self.user
            };
            let _ = writeln!(s, "# as {who}:");
            for b in &user {
                s.push_str(b);
                s.push('\n');
            }
        }
        Some(s)
    }
}
