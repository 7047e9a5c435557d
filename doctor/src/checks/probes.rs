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
