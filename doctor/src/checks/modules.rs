//! Kernel modules: the iptables backend's tables, bridge + veth (Docker's bridge network),
//! br_netfilter and vxlan (Kubernetes), tun (slirp4netns), overlay and fuse (storage). Built-in
//! modules count as present.

use super::{bad, pass, skip};
use crate::facts::{Facts, IptablesBackend};
use crate::kmod::{self, ModState};
use crate::{CheckResult, Status, Target, fixes};

const G: &str = "modules";

pub fn checks(f: &Facts) -> Vec<CheckResult> {
    vec![
        iptables(f),
        set(
            f,
            "modules.bridge",
            &["bridge", "veth"],
            Status::Fail,
            Status::Fail,
            "Docker's bridge network",
        ),
        set(
            f,
            "modules.br_netfilter",
            &["br_netfilter"],
            Status::Warn,
            Status::Fail,
            "iptables rules for bridged traffic (Kubernetes services)",
        ),
        vxlan(f),
        tun(f),
        set(
            f,
            "modules.overlay",
            &["overlay"],
            Status::Warn,
            Status::Warn,
            "the overlay2 storage driver (else fuse-overlayfs)",
        ),
        fuse(f),
    ]
}

/// Summarises states: (present descriptions, not loaded but available, missing, unknown).
struct Tally {
    present: Vec<String>,
    available: Vec<&'static str>,
    missing: Vec<(&'static str, String)>,
    unknown: Vec<&'static str>,
}

fn tally(f: &Facts, mods: &[&'static str]) -> Tally {
    let mut t = Tally {
        present: vec![],
        available: vec![],
        missing: vec![],
        unknown: vec![],
    };
    for m in mods {
        match kmod::state(&f.modules, m) {
            ModState::Loaded => t.present.push(format!("{m} (loaded)")),
            ModState::Builtin(ev) => t.present.push(format!("{m} (built in: {ev})")),
            ModState::Available => t.available.push(m),
            ModState::Missing(ev) => t.missing.push((m, ev)),
            ModState::Unknown => t.unknown.push(m),
        }
    }
    t
}

fn set(
    f: &Facts,
    id: &str,
    mods: &[&'static str],
    docker: Status,
    kube: Status,
    purpose: &str,
) -> CheckResult {
    let status = match f.target {
        Target::Docker => docker,
        Target::Kubernetes => kube,
    };
    judge(f, id, mods, status, purpose)
}

fn judge(
    f: &Facts,
    id: &str,
    mods: &[&'static str],
    missing_status: Status,
    purpose: &str,
) -> CheckResult {
    let t = tally(f, mods);
    let file = format!(
        "usernetes-{}.conf",
        id.trim_start_matches("modules.").replace('_', "-")
    );
    if !t.missing.is_empty() {
        let names: Vec<&str> = t.missing.iter().map(|(m, _)| *m).collect();
        return bad(
            id,
            G,
            missing_status,
            format!(
                "{} missing, needed for {purpose}: {}",
                names.join(", "),
                t.missing[0].1
            ),
            None,
            false,
        );
    }
    if !t.available.is_empty() {
        // Loadable, but not from inside the user namespace: load it on the host.
        let status = if missing_status == Status::Pass {
            Status::Pass
        } else {
            Status::Warn
        };
        return bad(
            id,
            G,
            status,
            format!(
                "{} not loaded (needed for {purpose}; cannot be loaded from inside the user namespace)",
                t.available.join(", ")
            ),
            Some(fixes::modules(f.distro.family, &file, &t.available)),
            true,
        );
    }
    if !t.unknown.is_empty() {
        return bad(
            id,
            G,
            Status::Warn,
            format!(
                "cannot tell whether {} is available (no /proc/modules, modules.builtin or kernel config)",
                t.unknown.join(", ")
            ),
            Some(fixes::modules(f.distro.family, &file, &t.unknown)),
            true,
        );
    }
    pass(id, G, t.present.join(", "))
}

fn iptables(f: &Facts) -> CheckResult {
    const ID: &str = "modules.iptables";
    let legacy: &[&'static str] = &["ip_tables", "iptable_nat", "iptable_filter"];
    let nft: &[&'static str] = &["nf_tables", "nft_chain_nat"];
    let backend = f
        .iptables
        .as_ref()
        .map(|(_, b)| *b)
        .unwrap_or(IptablesBackend::Unknown);
    match backend {
        IptablesBackend::Legacy => judge(f, ID, legacy, Status::Fail, "iptables (legacy) NAT"),
        IptablesBackend::Nft => judge(f, ID, nft, Status::Fail, "iptables (nf_tables) NAT"),
        IptablesBackend::Unknown => {
            let a = judge(f, ID, nft, Status::Fail, "iptables NAT");
            if a.status == Status::Pass {
                return a;
            }
            let b = judge(f, ID, legacy, Status::Fail, "iptables NAT");
            if b.status == Status::Pass { b } else { a }
        }
    }
}

fn vxlan(f: &Facts) -> CheckResult {
    const ID: &str = "modules.vxlan";
    if f.target == Target::Docker {
        return skip(ID, G, "only for Kubernetes (flannel VXLAN between nodes)");
    }
    judge(
        f,
        ID,
        &["vxlan"],
        Status::Warn,
        "flannel VXLAN between nodes",
    )
}

fn tun(f: &Facts) -> CheckResult {
    const ID: &str = "modules.tun";
    let dev = f.tun.meta.is_ok();
    match kmod::state(&f.modules, "tun") {
        ModState::Available | ModState::Unknown if dev => {
            pass(ID, G, "tun loads on the first open of /dev/net/tun")
        }
        _ => judge(f, ID, &["tun"], Status::Fail, "slirp4netns (/dev/net/tun)"),
    }
}

fn fuse(f: &Facts) -> CheckResult {
    const ID: &str = "modules.fuse";
    match kmod::state(&f.modules, "fuse") {
        ModState::Available => pass(ID, G, "fuse loads on the first open of /dev/fuse"),
        _ => judge(f, ID, &["fuse"], Status::Warn, "fuse-overlayfs"),
    }
}
