//! Results of the live probes (user namespace, sub-ID map, mounts, overlay, TAP device), with
//! the errno mapped to its likely cause from the host facts.

use super::{bad, pass, skip, sysctl};
use crate::facts::Facts;
use crate::probe::Step;
use crate::{CheckResult, Status, fixes};

pub fn checks(f: &Facts) -> Vec<CheckResult> {
    let ids = [
        ("userns.create", "userns"),
        ("userns.map", "userns"),
        ("userns.mount", "userns"),
        ("storage.overlay_userns", "storage"),
        ("devices.tun_userns", "devices"),
    ];
    let Some(p) = &f.probe else {
        let why = f
            .probe_skipped
            .clone()
            .unwrap_or_else(|| "live probe: runs only on the live host (--root /)".into());
        return ids.iter().map(|(id, g)| skip(id, g, why.clone())).collect();
    };
    // Under Ubuntu's restriction the doctor itself runs unconfined, unlike RootlessKit with its
    // profile: failures inside the namespace say nothing about usernetes.
    let restricted = sysctl(f, "kernel.apparmor_restrict_unprivileged_userns") == Some("1");
    let soften = |s: Status| {
        if restricted && s == Status::Fail {
            Status::Warn
        } else {
            s
        }
    };
    let note = if restricted {
        " (AppArmor restricts the doctor's own namespaces; see userns.apparmor)"
    } else {
        ""
    };
    let mk = |id: &str,
              g: &str,
              st: &Step,
              fail: Status,
              cause: &dyn Fn(Option<i32>, &str) -> String,
              fix: Option<String>|
     -> CheckResult {
        match st {
            Step::Ok(d) => pass(id, g, d.clone()),
            Step::NotRun(why) => skip(id, g, why.clone()),
            Step::Failed { errno, message } => {
                let c = cause(*errno, message);
                let sep = if c.is_empty() { "" } else { ": " };
                bad(
                    id,
                    g,
                    soften(fail),
                    format!("{message}{sep}{c}{note}"),
                    fix,
                    true,
                )
            }
        }
    };
    let userns_cause = |e: Option<i32>, _: &str| -> String {
        match e {
            Some(1) if sysctl(f, "kernel.unprivileged_userns_clone") == Some("0") => {
                "blocked by kernel.unprivileged_userns_clone=0 (see userns.clone_sysctl)".into()
            }
            Some(1) | Some(13) if restricted => "blocked by AppArmor (see userns.apparmor)".into(),
            Some(1) => "blocked by the container or security policy this runs in".into(),
            Some(28) => "user.max_user_namespaces exhausted or 0 (see userns.max)".into(),
            Some(22) => "the kernel lacks user namespaces (CONFIG_USER_NS)".into(),
            _ => String::new(),
        }
    };
    let map_cause = |_: Option<i32>, m: &str| -> String {
        if m.contains("Invalid argument") {
            "ranges overlap or contain the user's own id (see subuid.own_id, subuid.duplicates), or lie outside the parent namespace (userns.nested)".into()
        } else if m.contains("Operation not permitted") || m.contains("Could not set caps") {
            "newuidmap/newgidmap lack privilege or the ranges are not the user's (see subid.newuidmap, subuid.range)".into()
        } else {
            String::new()
        }
    };
    let none = |_: Option<i32>, _: &str| String::new();
    let tun_fix = match &p.tun {
        Step::Failed {
            errno: Some(13), ..
        } => Some(super::devices::chmod_fix("/dev/net/tun", "tun")),
        _ => None,
    };
    vec![
        mk(
            "userns.create",
            "userns",
            &p.userns,
            Status::Fail,
            &userns_cause,
            None,
        ),
        mk(
            "userns.map",
            "userns",
            &p.map,
            Status::Fail,
            &map_cause,
            None,
        ),
        mk(
            "userns.mount",
            "userns",
            &p.mount,
            Status::Fail,
            &none,
            None,
        ),
        mk(
            "storage.overlay_userns",
            "storage",
            &p.overlay,
            Status::Warn,
            &|_, _| "Docker falls back to fuse-overlayfs or vfs".into(),
            Some(fixes::install(f.distro.family, &fixes::FUSE_OVERLAYFS)),
        ),
        mk(
            "devices.tun_userns",
            "devices",
            &p.tun,
            Status::Fail,
            &none,
            tun_fix,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::ProbeOutcome;

    fn facts(sysctls: &[(&str, &str)]) -> Facts {
        let t = tempfile::tempdir().unwrap();
        for (k, v) in sysctls {
            let p = t.path().join("proc/sys").join(k.replace('.', "/"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, v).unwrap();
        }
        let opts = crate::Options {
            root: t.path().to_path_buf(),
            user: None,
            target: crate::Target::Docker,
            live_probes: true,
        };
        crate::facts::gather(&crate::Host::new(t.path()), &opts)
    }

    fn outcome(userns: Step, map: Step) -> ProbeOutcome {
        let ok = || Step::Ok("ok".into());
        ProbeOutcome {
            userns,
            map,
            mount: ok(),
            overlay: ok(),
            tun: ok(),
        }
    }

    fn failed(errno: Option<i32>, message: &str) -> Step {
        Step::Failed {
            errno,
            message: message.into(),
        }
    }

    #[test]
    fn errno_is_mapped_to_the_cause() {
        let mut f = facts(&[("kernel.unprivileged_userns_clone", "0")]);
        f.probe = Some(outcome(
            failed(Some(1), "unshare(CLONE_NEWUSER): EPERM"),
            Step::NotRun("x".into()),
        ));
        let r = checks(&f);
        let c = r.iter().find(|c| c.id == "userns.create").unwrap();
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.finding.contains("kernel.unprivileged_userns_clone=0"),
            "{c:?}"
        );
        assert_eq!(
            r.iter().find(|c| c.id == "userns.map").unwrap().status,
            Status::Skip
        );

        let mut f = facts(&[]);
        f.probe = Some(outcome(
            failed(Some(28), "unshare(CLONE_NEWUSER): ENOSPC"),
            Step::NotRun("x".into()),
        ));
        let c = checks(&f)
            .into_iter()
            .find(|c| c.id == "userns.create")
            .unwrap();
        assert!(c.finding.contains("userns.max"), "{c:?}");

        let mut f = facts(&[]);
        f.probe = Some(outcome(
            Step::Ok("created".into()),
            failed(
                None,
                "newuidmap failed (exit status: 1): newuidmap: write to uid_map failed: Invalid argument",
            ),
        ));
        let c = checks(&f)
            .into_iter()
            .find(|c| c.id == "userns.map")
            .unwrap();
        assert_eq!(c.status, Status::Fail);
        assert!(c.finding.contains("subuid.own_id"), "{c:?}");
    }

    #[test]
    fn apparmor_restriction_softens_probe_failures() {
        let mut f = facts(&[("kernel.apparmor_restrict_unprivileged_userns", "1")]);
        let mut o = outcome(Step::Ok("created".into()), Step::Ok("mapped".into()));
        o.mount = failed(Some(1), "mount tmpfs: EPERM");
        f.probe = Some(o);
        let c = checks(&f)
            .into_iter()
            .find(|c| c.id == "userns.mount")
            .unwrap();
        assert_eq!(c.status, Status::Warn);
        assert!(c.finding.contains("AppArmor"), "{c:?}");
    }

    #[test]
    fn tun_permission_denied_gets_the_chmod_fix() {
        let mut f = facts(&[]);
        let mut o = outcome(Step::Ok("created".into()), Step::Ok("mapped".into()));
        o.tun = failed(Some(13), "open /dev/net/tun: EACCES");
        f.probe = Some(o);
        let c = checks(&f)
            .into_iter()
            .find(|c| c.id == "devices.tun_userns")
            .unwrap();
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.fix
                .as_deref()
                .unwrap()
                .contains("chmod 0666 /dev/net/tun")
        );
    }
}
