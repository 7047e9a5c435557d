//! After an install: runs the doctor library for what the release can run (a Kubernetes node
//! when it ships Kubernetes, else rootless Docker), and turns its report into the summary line,
//! the failed checks with their fixes, and the next step to take, which fits the release.

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

/// True when the release in `bin` ships Kubernetes (its `u7s up` default).
pub fn has_kubernetes(bin: &std::path::Path) -> bool {
    ["kube-apiserver", "kubelet"]
        .iter()
        .all(|b| bin.join(b).is_file())
}

/// Runs the doctor on the live host, for what the release in `bin` runs.
pub fn run(bin: &std::path::Path) -> Checkup {
    let kube = has_kubernetes(bin);
    let target = |t| {
        doctor::run(&doctor::Options {
            target: t,
            ..Default::default()
        })
    };
    if !kube {
        return from_report(&target(doctor::Target::Docker), false, false);
    }
    let report = target(doctor::Target::Kubernetes);
    let docker_ok = report.has_failures() && !target(doctor::Target::Docker).has_failures();
    from_report(&report, true, docker_ok)
}

/// The next step: `kube` the release ships Kubernetes; `failed` checks failed; `docker_ok`
/// what fails is needed by Kubernetes only.
pub fn next_step(kube: bool, failed: bool, docker_ok: bool) -> String {
    match (kube, failed, docker_ok) {
        (false, false, _) => {
            "start it: u7s up --no-kube --detach   (rootless Docker; this release has no Kubernetes)"
                .into()
        }
        (false, true, _) => "fix the failed checks above (u7s-doctor --for docker shows them \
             all), then start it: u7s up --no-kube --detach"
            .into(),
        (true, false, _) => {
            "start it: u7s up --detach   (Kubernetes on rootless Docker; Docker alone: u7s up --no-kube --detach)"
                .into()
        }
        (true, true, true) => "what fails is needed by Kubernetes only: `u7s up --no-kube \
             --detach` runs rootless Docker now; for Kubernetes fix the checks above (u7s-doctor \
             shows them all), then: u7s up --detach"
            .into(),
        (true, true, false) => "fix the failed checks above (u7s-doctor shows them all), then \
             start it: u7s up --detach"
            .into(),
    }
}

/// Pure: the checkup for a report (see [`next_step`] for `kube` and `docker_ok`).
pub fn from_report(report: &doctor::Report, kube: bool, docker_ok: bool) -> Checkup {
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
    let next_step = next_step(kube, report.has_failures(), docker_ok);
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
        let c = from_report(&r, true, false);
        assert_eq!((c.passed, c.warnings, c.failed), (1, 1, 0));
        assert!(c.next_step.starts_with("start it: u7s up --detach"));
        assert!(c.failures.is_empty());

        r.checks.push(check("subuid.range", Status::Fail));
        let c = from_report(&r, true, false);
        assert_eq!(c.failed, 1);
        assert!(c.next_step.starts_with("fix the failed checks"));
        let text = render(&c);
        assert!(
            text.contains("✗ subuid.range: subuid.range finding"),
            "{text}"
        );
        assert!(text.contains("      fix subuid.range"), "{text}");
    }

    #[test]
    fn next_step_fits_the_release() {
        // A Docker-only release never sends the user to Kubernetes or its cgroup v2 fix.
        for failed in [false, true] {
            let s = next_step(false, failed, false);
            assert!(s.contains("u7s up --no-kube --detach"), "{s}");
            assert!(!s.contains("u7s up --detach"), "{s}");
        }
        assert!(next_step(false, true, false).contains("--for docker"));
        // Kubernetes-only failures: Docker runs now.
        let s = next_step(true, true, true);
        assert!(
            s.contains("Kubernetes only") && s.contains("--no-kube --detach"),
            "{s}"
        );
        assert!(next_step(true, true, false).ends_with("u7s up --detach"));
        let d = tempfile::tempdir().unwrap();
        assert!(!has_kubernetes(d.path()));
        for b in ["kube-apiserver", "kubelet"] {
            std::fs::write(d.path().join(b), "").unwrap();
        }
        assert!(has_kubernetes(d.path()));
    }
}
