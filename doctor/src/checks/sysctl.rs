//! Networking and limits sysctls: ping_group_range, ip_unprivileged_port_start, inotify,
//! dmesg_restrict (kubelet reads /dev/kmsg) and rp_filter (VXLAN between nodes).

use super::{bad, pass, skip, sysctl};
use crate::facts::Facts;
use crate::host::Access;
use crate::{CheckResult, Status, Target, fixes};

const G: &str = "sysctl";

pub fn checks(f: &Facts) -> Vec<CheckResult> {
    vec![ping(f), ports(f), inotify(f), dmesg(f), rp_filter(f)]
}

fn ping(f: &Facts) -> CheckResult {
    const ID: &str = "sysctl.ping_group_range";
    let Some(v) = sysctl(f, "net.ipv4.ping_group_range") else {
        return skip(ID, G, "net.ipv4.ping_group_range is unreadable");
    };
    let mut it = v.split_whitespace().filter_map(|x| x.parse::<u64>().ok());
    let (Some(lo), Some(hi)) = (it.next(), it.next()) else {
        return skip(
            ID,
            G,
            format!("net.ipv4.ping_group_range = {v:?} is not two numbers"),
        );
    };
    // Inside the namespace ping runs as the user's gid (container root) or a sub-GID.
    let in_range = |a: u64, b: u64| lo <= a && b <= hi;
    let gid = f.user.as_ref().map(|u| u.gid as u64).unwrap_or(0);
    let name = super::user_name(f);
    let uid = f.user.as_ref().map(|u| u.uid).unwrap_or(0);
    let subgids_in = f.subgid.parsed.as_ref().is_ok_and(|p| {
        p.of_user(&name, uid)
            .iter()
            .all(|r| in_range(r.start, r.end().saturating_sub(1)))
    });
    let inside = in_range(gid, gid) && subgids_in;
    if inside && hi > lo {
        return pass(ID, G, format!("net.ipv4.ping_group_range = {lo} {hi}"));
    }
    bad(
        ID,
        G,
        Status::Warn,
        format!("net.ipv4.ping_group_range = {lo} {hi}: ping does not work inside containers"),
        Some(fixes::sysctl(
            f.distro.family,
            "52-usernetes-ping.conf",
            &["net.ipv4.ping_group_range = 0 2147483647".into()],
        )),
        true,
    )
}

fn ports(f: &Facts) -> CheckResult {
    const ID: &str = "sysctl.unprivileged_port_start";
    match sysctl(f, "net.ipv4.ip_unprivileged_port_start") {
        None => skip(ID, G, "net.ipv4.ip_unprivileged_port_start is unreadable"),
        Some(v) => pass(
            ID,
            G,
            format!(
                "ports from {v} up can be published (lower ones need net.ipv4.ip_unprivileged_port_start=0)"
            ),
        ),
    }
}

fn inotify(f: &Facts) -> CheckResult {
    const ID: &str = "sysctl.inotify";
    let num = |k: &str| sysctl(f, k).and_then(|v| v.parse::<u64>().ok());
    let (Some(inst), Some(watches)) = (
        num("fs.inotify.max_user_instances"),
        num("fs.inotify.max_user_watches"),
    ) else {
        return skip(ID, G, "fs.inotify limits are unreadable");
    };
    let text = format!("fs.inotify.max_user_instances = {inst}, max_user_watches = {watches}");
    // Every pod's processes count against the one user's inotify limits.
    if f.target == Target::Kubernetes && (inst < 512 || watches < 524_288) {
        return bad(
            ID,
            G,
            Status::Warn,
            format!("{text}: pods fail with \"too many open files\" (512 and 524288 advised)"),
            Some(fixes::sysctl(
                f.distro.family,
                "53-usernetes-inotify.conf",
                &[
                    "fs.inotify.max_user_instances = 512".into(),
                    "fs.inotify.max_user_watches = 524288".into(),
                ],
            )),
            true,
        );
    }
    pass(ID, G, text)
}

fn dmesg(f: &Facts) -> CheckResult {
    const ID: &str = "sysctl.dmesg_restrict";
    let Some(v) = sysctl(f, "kernel.dmesg_restrict") else {
        return skip(ID, G, "kernel.dmesg_restrict is unreadable");
    };
    let uid = f.user.as_ref().map(|u| u.uid).unwrap_or(0);
    let readable = f
        .kmsg
        .meta
        .as_ref()
        .is_ok_and(|m| m.allows(uid, &f.user_gids, Access::Read));
    if v == "0" || f.target == Target::Docker {
        return pass(ID, G, format!("kernel.dmesg_restrict = {v}"));
    }
    let why = if readable {
        ""
    } else {
        " and /dev/kmsg is not readable"
    };
    // The u7s kubelet runs with KubeletInUserNamespace, which tolerates an unreadable
    // /dev/kmsg (its OOM watcher goes without kernel messages): worth knowing, not a failure.
    pass(
        ID,
        G,
        format!(
            "kernel.dmesg_restrict = {v}{why}: the kubelet's OOM watcher reads no kernel \
             messages (tolerated: u7s runs it with KubeletInUserNamespace)"
        ),
    )
}

fn rp_filter(f: &Facts) -> CheckResult {
    const ID: &str = "sysctl.rp_filter";
    let Some(v) = sysctl(f, "net.ipv4.conf.default.rp_filter") else {
        return skip(ID, G, "net.ipv4.conf.default.rp_filter is unreadable");
    };
    if v != "1" || f.target == Target::Docker {
        return pass(ID, G, format!("net.ipv4.conf.default.rp_filter = {v}"));
    }
    bad(
        ID,
        G,
        Status::Warn,
        "net.ipv4.conf.default.rp_filter = 1 (strict; new namespaces inherit it): VXLAN traffic between nodes is dropped",
        Some(fixes::sysctl(
            f.distro.family,
            "55-usernetes-rp-filter.conf",
            &["net.ipv4.conf.default.rp_filter = 2".into()],
        )),
        true,
    )
}
