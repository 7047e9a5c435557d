//! cgroups: the unified v2 hierarchy, controllers delegated to the user (read as a word list:
//! `cpu` is not `cpuset`), and the systemd version that can delegate cpuset. Without them
//! nothing fails: `u7s up` runs with no writable cgroups, and these checks say what is then not
//! enforced (resource limits of containers and pods).

use super::{bad, pass, sev, shq, skip, user_name};
use crate::facts::{CgroupMode, Facts};
use crate::{CheckResult, Status, Target, fixes};

const G: &str = "cgroup";
/// Controllers rootless Kubernetes cannot do without.
const REQUIRED: &[&str] = &["cpu", "memory", "pids"];
/// Controllers it wants.
const WANTED: &[&str] = &["cpuset", "io"];

pub fn checks(f: &Facts) -> Vec<CheckResult> {
    vec![v2(f), delegation(f), systemd_version(f)]
}

fn v2(f: &Facts) -> CheckResult {
    const ID: &str = "cgroup.v2";
    let what = match f.cgroup.mode {
        CgroupMode::Unified => return pass(ID, G, "cgroup v2 (unified hierarchy)"),
        CgroupMode::Hybrid => "cgroup v1 with v2 beside it (hybrid)",
        CgroupMode::Legacy => "cgroup v1",
        CgroupMode::Unknown => "no cgroup hierarchy at /sys/fs/cgroup",
    };
    bad(
        ID,
        G,
        Status::Warn,
        format!("{what}: {}", unenforced(f)),
        Some(fixes::cgroup_v2(f.distro.family)),
        true,
    )
}

/// What a session without writable cgroups does not enforce.
fn unenforced(f: &Facts) -> &'static str {
    match f.target {
        Target::Docker => "containers run without resource limits",
        Target::Kubernetes => {
            "no writable cgroups, so Kubernetes runs without enforcing resource limits \
             (pod CPU/memory/pids limits, QoS, node allocatable); limits need cgroup v2 with \
             delegation"
        }
    }
}

fn delegate_fix(f: &Facts) -> String {
    let name = user_name(f);
    if f.systemd_booted {
        format!(
            "mkdir -p /etc/systemd/system/user@.service.d\n\
printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' > /etc/systemd/system/user@.service.d/delegate.conf\n\
systemctl daemon-reload\n\
# then log {name} out and in again"
        )
    } else {
        let dir = format!("/sys/fs/cgroup/usernetes-{name}");
        format!(
            "echo '+cpu +cpuset +io +memory +pids' > /sys/fs/cgroup/cgroup.subtree_control\n\
mkdir -p {dir}\n\
chown -R {} {dir}\n\
# then start usernetes from that cgroup (as root: echo <pid> > {dir}/cgroup.procs)",
            shq(&name)
        )
    }
}

fn delegation(f: &Facts) -> CheckResult {
    const ID: &str = "cgroup.delegation";
    if f.cgroup.mode != CgroupMode::Unified {
        return skip(ID, G, "needs cgroup v2 (see cgroup.v2)");
    }
    let name = user_name(f);
    let Some(dir) = &f.cgroup.user_dir else {
        return skip(ID, G, format!("run the doctor as {name} to see its cgroup"));
    };
    let ctrls = match &f.cgroup.user_controllers {
        Ok(c) => c,
        Err(e) => {
            let (why, fix) = if f.systemd_booted {
                (
                    "no systemd user manager holds a delegated cgroup",
                    format!("loginctl enable-linger {}", shq(&name)),
                )
            } else {
                ("", delegate_fix(f))
            };
            return bad(
                ID,
                G,
                Status::Warn,
                format!(
                    "{}: {}",
                    format!("{dir}/cgroup.controllers: {e} {why}").trim_end(),
                    unenforced(f)
                ),
                Some(fix),
                true,
            );
        }
    };
    let has = |c: &str| ctrls.iter().any(|x| x == c);
    let missing_req: Vec<&str> = REQUIRED.iter().copied().filter(|c| !has(c)).collect();
    let missing_want: Vec<&str> = WANTED.iter().copied().filter(|c| !has(c)).collect();
    let owner_ok = f
        .cgroup
        .user_dir_meta
        .as_ref()
        .is_some_and(|m| f.user.as_ref().is_ok_and(|u| m.uid == u.uid));
    let list = if ctrls.is_empty() {
        "none".to_string()
    } else {
        ctrls.join(" ")
    };
    if missing_req.is_empty() && missing_want.is_empty() && owner_ok {
        return pass(ID, G, format!("{dir} delegates {list}"));
    }
    let root_lacks: Vec<&str> = missing_req
        .iter()
        .chain(missing_want.iter())
        .copied()
        .filter(|c| {
            f.cgroup
                .root_controllers
                .as_ref()
                .is_some_and(|r| !r.iter().any(|x| x == c))
        })
        .collect();
    let note = if root_lacks.is_empty() {
        String::new()
    } else {
        format!(" ({} not enabled in the kernel)", root_lacks.join(", "))
    };
    let mut what = if !owner_ok {
        format!("{dir} is not owned by {name}")
    } else {
        let mut m = missing_req.clone();
        m.extend(&missing_want);
        format!("{dir} delegates \"{list}\", lacking {}{note}", m.join(", "))
    };
    if !missing_req.is_empty() || !owner_ok {
        what = format!("{what}: {}", unenforced(f));
    }
    bad(ID, G, Status::Warn, what, Some(delegate_fix(f)), true)
}

fn systemd_version(f: &Facts) -> CheckResult {
    const ID: &str = "cgroup.systemd_version";
    if !f.systemd_booted {
        return skip(ID, G, "systemd is not running");
    }
    match f.systemd_version {
        None => skip(ID, G, "systemd version unknown"),
        Some(v) if v < 244 => bad(
            ID,
            G,
            sev(f, Status::Pass, Status::Warn),
            format!("systemd {v}: cpuset delegation needs 244 or later"),
            None,
            false,
        ),
        Some(v) => pass(ID, G, format!("systemd {v}")),
    }
}
