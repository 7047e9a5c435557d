//! After an install: runs the doctor library for a Kubernetes node, and turns its report into
//! the summary line, the failed checks with their fixes, and the next step to take.

use serde::Serialize;

/// What the installer prints (and puts in `--json`) about the host.
#[derive(Serialize, Debug, Clone)]
pub struct Checkup {
    pub summary: String,
    pub passed: usize,
    pub warnings: usize,
    pub failed: usize,
    pub skipped: usize,
    /// "id: finding" of each failed check, with its fix.
    pub failures: Vec<Failure>,
    /// A root script fixing everything, when the doctor has one.
    pub fix_script: Option<String>,
    pub next_step: String,
}

#[derive(Serialize, Debug, Clone)]
pub struct Failure {
    pub id: String,
    pub finding: String,
    pub fix: Option<String>,
}

/// Runs the doctor on the live host.
pub fn run() -> Checkup {
    let report = doctor::run(&doctor::Options {
        target: doctor::Target::Kubernetes,
        ..Default::default()
    });
    from_report(&report)
}

/// Pure: the checkup for a report.
pub fn from_report(report: &doctor::Report) -> Checkup {
    let (passed, warnings, failed, skipped) = report.counts();
    let failures: Vec<Failure> = report
        .checks
        .iter()
        .filter(|c| c.status == doctor::Status::Fail)
        .map(|c| Failure {
            id: c.id.clone(),
            finding: c.finding.clone(),
            fix: c.fix.clone(),
        })
        .collect();
    let next_step = if report.has_failures() {
        "fix the failed checks above (u7s-doctor shows them all), then start it: u7s up".to_string()
    } else {
        "start it: u7s up   (Kubernetes on rootless Docker; Docker alone: u7s up --no-kube)"
            .to_string()
    };
    Checkup {
        summary: report.summary_line(),
        passed,
        warnings,
        failed,
        skipped,
        fix_script: if failures.is_empty() {
            None
        } else {
            report.fix_script()
        },
        failures,
        next_step,
    }
}

/// The human text printed after the install.
pub fn render(c: &Checkup) -> String {
    let mut s = format!("doctor: {}\n", c.summary);
    for f in &c.failures {
        s.push_str(&format!("  ✗ {}: {}\n", f.id, f.finding));
        if let Some(fix) = &f.fix {
            for l in fix.lines() {
                s.push_str(&format!("      {l}\n"));
            }
        }
    }
    s.push_str(&format!("next: {}\n", c.next_step));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use doctor::{CheckResult, Status};

    fn check(id: &str, status: Status) -> CheckResult {
        CheckResult {
            id: id.into(),
            group: "subid".into(),
            status,
            finding: format!("{id} finding"),
            fix: (status == Status::Fail).then(|| format!("fix {id}")),
            needs_root: true,
        }
    }

    #[test]
    fn next_step_depends_on_failures() {
        let mut r = doctor::run(&doctor::Options {
            root: "/nonexistent".into(),
            live_probes: false,
            ..Default::default()
        });
        r.checks = vec![check("a.ok", Status::Pass), check("b.warn", Status::Warn)];
        let c = from_report(&r);
        assert_eq!((c.passed, c.warnings, c.failed), (1, 1, 0));
        assert!(c.next_step.starts_with("start it: u7s up"));
        assert!(c.failures.is_empty());

        r.checks.push(check("subuid.range", Status::Fail));
        let c = from_report(&r);
        assert_eq!(c.failed, 1);
        assert!(c.next_step.starts_with("fix the failed checks"));
        let text = render(&c);
        assert!(
            text.contains("✗ subuid.range: subuid.range finding"),
            "{text}"
        );
        assert!(text.contains("      fix subuid.range"), "{text}");
    }
}
