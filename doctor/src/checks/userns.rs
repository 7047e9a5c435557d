//! User-namespace checks: Debian/Arch `unprivileged_userns_clone`, `max_user_namespaces`,
//! Ubuntu's AppArmor restriction (with a profile for usernetes' RootlessKit), RHEL/CentOS 7's
//! boot flag, nesting inside another user namespace, SELinux.

use super::{bad, pass, skip, sysctl, user_name};
use crate::facts::Facts;
use crate::procfs;
use crate::{CheckResult, Family, Status, fixes};

const G: &str = "userns";

pub fn checks(f: &Facts) -> Vec<CheckResult> {
    vec![
        clone(f),
        max(f),
        apparmor(f),
        rhel7(f),
        nested(f),
        selinux(f),
    ]
}

fn clone(f: &Facts) -> CheckResult {
    const ID: &str = "userns.clone_sysctl";
    match sysctl(f, "kernel.unprivileged_userns_clone") {
        None => pass(
            ID,
            G,
            "kernel.unprivileged_userns_clone absent: unprivileged user namespaces are not switched off",
        ),
        Some("1") => pass(ID, G, "kernel.unprivileged_userns_clone = 1"),
        Some(v) => bad(
            ID,
            G,
            Status::Fail,
            format!(
                "kernel.unprivileged_userns_clone = {v}: RootlessKit fails with \"fork/exec /proc/self/exe: operation not permitted\""
            ),
            Some(fixes::sysctl(
                f.distro.family,
                "50-usernetes-userns.conf",
                &["kernel.unprivileged_userns_clone = 1".into()],
            )),
            true,
        ),
    }
}

fn max(f: &Facts) -> CheckResult {
    const ID: &str = "userns.max";
    let fix = || {
        Some(fixes::sysctl(
            f.distro.family,
            "51-usernetes-userns.conf",
            &["user.max_user_namespaces = 28633".into()],
        ))
    };
    match sysctl(f, "user.max_user_namespaces").map(|v| v.parse::<u64>()) {
        None => bad(
            ID,
            G,
            Status::Fail,
            "/proc/sys/user/max_user_namespaces is missing: the kernel has no user namespaces (CONFIG_USER_NS)",
            None,
            false,
        ),
        Some(Ok(0)) => bad(
            ID,
            G,
            Status::Fail,
            "user.max_user_namespaces = 0: RootlessKit fails with \"fork/exec /proc/self/exe: no space left on device\"",
            fix(),
            true,
        ),
        Some(Ok(n)) if n < 1024 => bad(
            ID,
            G,
            Status::Warn,
            format!(
                "user.max_user_namespaces = {n} is low (containers each need one); 1024 or more is advised"
            ),
            fix(),
            true,
        ),
        Some(Ok(n)) => pass(ID, G, format!("user.max_user_namespaces = {n}")),
        Some(Err(_)) => skip(ID, G, "user.max_user_namespaces is unreadable"),
    }
}

/// The AppArmor profile name and text that lets usernetes' RootlessKit create user namespaces.
fn apparmor_profile(name: &str, prefix: &str) -> (String, String) {
    let pname = format!("usernetes-rootlesskit-{name}");
    let text = format!(
        "abi <abi/4.0>,\ninclude <tunables/global>\n\nprofile {pname} {prefix}/versions/*/bin/rootlesskit flags=(unconfined) {{\n  userns,\n\n  include if exists <local/{pname}>\n}}\n"
    );
    (pname, text)
}

fn apparmor(f: &Facts) -> CheckResult {
    const ID: &str = "userns.apparmor";
    match sysctl(f, "kernel.apparmor_restrict_unprivileged_userns") {
        None => {
            return pass(
                ID,
                G,
                "no AppArmor restriction of unprivileged user namespaces",
            );
        }
        Some("0") => return pass(ID, G, "kernel.apparmor_restrict_unprivileged_userns = 0"),
        Some(_) => {}
    }
    let name = user_name(f);
    let Some(prefix) = f.data_dir.clone() else {
        return bad(
            ID,
            G,
            Status::Fail,
            "AppArmor restricts unprivileged user namespaces and the install prefix is unknown (no HOME)",
            None,
            false,
        );
    };
    let allowed = f
        .apparmor_profiles
        .iter()
        .find(|(_, text)| text.contains(&format!("{prefix}/")) && text.contains("userns"));
    if let Some((file, _)) = allowed {
        return pass(
            ID,
            G,
            format!(
                "user namespaces are restricted by AppArmor; {file} allows usernetes' rootlesskit"
            ),
        );
    }
    let (pname, text) = apparmor_profile(&name, &prefix);
    bad(
        ID,
        G,
        Status::Fail,
        format!(
            "kernel.apparmor_restrict_unprivileged_userns = 1 and no AppArmor profile allows {prefix}/versions/*/bin/rootlesskit: RootlessKit fails with \"permission denied\""
        ),
        Some(format!(
            "cat > /etc/apparmor.d/{pname} <<'EOT'\n{text}EOT\napparmor_parser -r /etc/apparmor.d/{pname}"
        )),
        true,
    )
}

fn rhel7(f: &Facts) -> CheckResult {
    const ID: &str = "userns.rhel7_cmdline";
    if f.distro.family != Family::Rhel7 {
        return skip(ID, G, "only RHEL/CentOS 7");
    }
    let on = f
        .cmdline
        .as_deref()
        .is_some_and(|c| c.split_whitespace().any(|w| w == "user_namespace.enable=1"));
    if on {
        return pass(
            ID,
            G,
            "user_namespace.enable=1 is on the kernel command line",
        );
    }
    bad(
        ID,
        G,
        Status::Warn,
        "user_namespace.enable=1 is not on the kernel command line (RHEL/CentOS 7.5 and older need it)",
        Some(fixes::kernel_arg(
            f.distro.family,
            "user_namespace.enable=1",
        )),
        true,
    )
}

fn nested(f: &Facts) -> CheckResult {
    const ID: &str = "userns.nested";
    match &f.uid_map {
        None => skip(ID, G, "/proc/self/uid_map is unreadable"),
        Some(m) if procfs::is_initial_userns(m) => {
            pass(ID, G, "running in the initial user namespace")
        }
        Some(m) => bad(
            ID,
            G,
            Status::Warn,
            format!(
                "running inside a user namespace (container or LXD; uid_map \"{}\"): sub-ID ranges must lie inside it or newuidmap fails",
                m.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
            None,
            false,
        ),
    }
}

fn selinux(f: &Facts) -> CheckResult {
    const ID: &str = "userns.selinux";
    match f.selinux_enforce.as_deref() {
        None => pass(ID, G, "SELinux is not enabled"),
        Some("1") => pass(
            ID,
            G,
            "SELinux is enforcing (supported; if iptables reports /run/xtables.lock: Permission denied, see moby#41230)",
        ),
        Some(_) => pass(ID, G, "SELinux is permissive"),
    }
}
