//! Network: iptables (and, for Kubernetes, the conntrack tool kube-proxy runs) is installed,
//! and usernetes' networks do not collide with host routes.

use super::{bad, pass, skip};
use crate::facts::{Facts, IptablesBackend};
use crate::procfs::Cidr;
use crate::{CheckResult, NETWORKS, Status, Target, fixes};

const G: &str = "network";

pub fn checks(f: &Facts) -> Vec<CheckResult> {
    vec![iptables(f), conntrack(f), cidr(f)]
}

fn conntrack(f: &Facts) -> CheckResult {
    const ID: &str = "network.conntrack";
    match &f.conntrack {
        Some(p) => pass(ID, G, p.clone()),
        None if f.target == Target::Docker => {
            pass(ID, G, "conntrack not found (only kube-proxy needs it)")
        }
        None => bad(
            ID,
            G,
            Status::Fail,
            "conntrack not found (PATH, /sbin, /usr/sbin): kube-proxy in iptables mode runs it to \
             clear stale UDP entries, and fails without it",
            Some(fixes::install(f.distro.family, &fixes::CONNTRACK)),
            true,
        ),
    }
}

fn iptables(f: &Facts) -> CheckResult {
    const ID: &str = "network.iptables";
    match &f.iptables {
        None => bad(
            ID,
            G,
            Status::Fail,
            "iptables not found (PATH, /sbin, /usr/sbin): dockerd cannot set up NAT",
            Some(fixes::install(f.distro.family, &fixes::IPTABLES)),
            true,
        ),
        Some((p, b)) => {
            let flavour = match b {
                IptablesBackend::Legacy => " (legacy)",
                IptablesBackend::Nft => " (nf_tables)",
                IptablesBackend::Unknown => "",
            };
            pass(ID, G, format!("{p}{flavour}"))
        }
    }
}

fn cidr(f: &Facts) -> CheckResult {
    const ID: &str = "network.cidr";
    let Some(routes) = &f.routes else {
        return skip(ID, G, "/proc/net/route is unreadable");
    };
    let mut clashes = Vec::new();
    for n in NETWORKS {
        if n.kubernetes_only && f.target == Target::Docker {
            continue;
        }
        let Some(c) = Cidr::parse(n.cidr) else {
            continue;
        };
        for r in routes.iter().filter(|r| r.prefix > 0) {
            // A rootful Docker's own bridge lives in another namespace: no clash.
            if n.name == "Docker bridge" && r.iface == "docker0" {
                continue;
            }
            let rc = Cidr {
                addr: r.dest,
                prefix: r.prefix,
            };
            if c.overlaps(&rc) {
                clashes.push(format!(
                    "{} {} overlaps host route {rc} dev {}",
                    n.name, n.cidr, r.iface
                ));
            }
        }
    }
    if clashes.is_empty() {
        return pass(ID, G, "usernetes' networks do not overlap host routes");
    }
    bad(
        ID,
        G,
        Status::Warn,
        format!(
            "{}: hosts there are unreachable from containers",
            clashes.join("; ")
        ),
        None,
        false,
    )
}
