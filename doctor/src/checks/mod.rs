//! The checks: pure functions from [`Facts`] to [`CheckResult`]s, one module per group.

mod cgroup;
mod devices;
mod kernel;
mod limits;
mod modules;
mod network;
mod probes;
mod session;
mod storage;
mod subid;
mod sysctl;
mod userns;

use crate::facts::Facts;
use crate::{CheckResult, Status, Target};

/// Every check, in display order.
pub fn all(f: &Facts) -> Vec<CheckResult> {
    let mut v = Vec::new();
    v.extend(session::checks(f));
    v.extend(subid::checks(f));
    v.extend(userns::checks(f));
    v.extend(sysctl::checks(f));
    v.extend(kernel::checks(f));
    v.extend(modules::checks(f));
    v.extend(devices::checks(f));
    v.extend(cgroup::checks(f));
    v.extend(storage::checks(f));
    v.extend(network::checks(f));
    v.extend(limits::checks(f));
    v.extend(probes::checks(f));
    // Live probe results join their group (stable: static checks first).
    let mut order: Vec<String> = Vec::new();
    for c in &v {
        if !order.contains(&c.group) {
            order.push(c.group.clone());
        }
    }
    v.sort_by_key(|c| order.iter().position(|g| *g == c.group));
    v
}

/// A passing result.
pub(crate) fn pass(id: &str, group: &str, finding: impl Into<String>) -> CheckResult {
    CheckResult {
        id: id.into(),
        group: group.into(),
        status: Status::Pass,
        finding: finding.into(),
        fix: None,
        needs_root: false,
    }
}

/// A skipped check.
pub(crate) fn skip(id: &str, group: &str, why: impl Into<String>) -> CheckResult {
    CheckResult {
        status: Status::Skip,
        ..pass(id, group, why)
    }
}

/// A non-passing result with an optional fix (`needs_root`: the fix runs as root).
pub(crate) fn bad(
    id: &str,
    group: &str,
    status: Status,
    finding: impl Into<String>,
    fix: Option<String>,
    needs_root: bool,
) -> CheckResult {
    CheckResult {
        id: id.into(),
        group: group.into(),
        status,
        finding: finding.into(),
        needs_root: fix.is_some() && needs_root,
        fix,
    }
}

/// The status for a problem that is `docker` for Docker-only and `kube` for Kubernetes.
pub(crate) fn sev(f: &Facts, docker: Status, kube: Status) -> Status {
    match f.target {
        Target::Docker => docker,
        Target::Kubernetes => kube,
    }
}

/// The user's name for messages (or `<user>`).
pub(crate) fn user_name(f: &Facts) -> String {
    f.user
        .as_ref()
        .map(|u| u.name.clone())
        .unwrap_or_else(|_| "<user>".into())
}

/// Octal mode and owner for messages: `0600 uid 0 gid 0`.
pub(crate) fn mode_text(m: &crate::host::Meta) -> String {
    format!("mode {:04o}, owner {}:{}", m.mode & 0o7777, m.uid, m.gid)
}

/// A sysctl value, trimmed.
pub(crate) fn sysctl<'a>(f: &'a Facts, name: &str) -> Option<&'a str> {
    f.sysctl.get(name).map(String::as_str)
}

/// Escapes text for a sed basic regular expression between `/`.
pub(crate) fn sed_escape(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        if matches!(c, '.' | '[' | ']' | '*' | '^' | '$' | '\\' | '/') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// Quotes for a POSIX shell single-quoted word.
pub(crate) fn shq(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
