//! The CNI network config the CRI (containerd, CRI-O, cri-dockerd) reads from `/etc/cni/net.d`
//! inside the namespace: one node = a `bridge` on `cni0` with host-local addresses from the pod
//! CIDR (10.88.0.0/16), masquerade and hairpin, plus `portmap` for hostPorts; several nodes =
//! the same bridge with the /24 flannel leased for this node, written by a job once flanneld
//! has written `/run/flannel/subnet.env` ([`flannel_conflist`]: what flannel's own CNI plugin
//! would delegate, without that plugin, which cannot be built from a Go module proxy). The
//! loopback interface of every pod is set up by the CRI itself with the `loopback` plugin
//! binary, so it needs no config file.

use super::containerd::CNI_CONF_DIR;
use crate::session::config::ChildConfig;
use serde_json::json;
use std::path::PathBuf;

/// The CNI spec version written (supported by cni-plugins ≥ 1.0 and containerd ≥ 1.6).
pub const CNI_VERSION: &str = "1.0.0";

/// Where the config goes (sorted first among the conflists).
pub fn path() -> PathBuf {
    PathBuf::from(CNI_CONF_DIR).join("10-u7s.conflist")
}

fn portmap() -> serde_json::Value {
    json!({"type": "portmap", "capabilities": {"portMappings": true}})
}

/// The job writing the config of a multi-node session from flannel's lease.
pub const FLANNEL_JOB: &str = "flannel-cni-config";

/// The config list of a multi-node node from flanneld's `subnet.env` (`FLANNEL_NETWORK`,
/// `FLANNEL_SUBNET`, `FLANNEL_MTU`, `FLANNEL_IPMASQ`), as flannel's CNI plugin delegates it:
/// the bridge with host-local addresses from this node's subnet, the cluster network routed
/// through the bridge's gateway, masquerade left to flanneld when it does it (`--ip-masq`).
/// An error names the missing or malformed variable.
pub fn flannel_conflist(subnet_env: &str) -> Result<String, String> {
    let var = |k: &str| {
        subnet_env
            .lines()
            .filter_map(|l| l.trim().split_once('='))
            .find(|(name, _)| name.trim() == k)
            .map(|(_, v)| v.trim().to_string())
            .ok_or_else(|| format!("{k} is missing"))
    };
    let net = |k: &str| -> Result<ipnet::Ipv4Net, String> {
        let v = var(k)?;
        v.parse::<ipnet::Ipv4Net>()
            .map_err(|_| format!("{k}={v} is not an IPv4 network"))
    };
    let network = net("FLANNEL_NETWORK")?.trunc();
    let subnet = net("FLANNEL_SUBNET")?.trunc();
    let mtu: u32 = var("FLANNEL_MTU")?
        .parse()
        .map_err(|_| "FLANNEL_MTU is not a number".to_string())?;
    let flannel_masq = var("FLANNEL_IPMASQ").is_ok_and(|v| v == "true");
    let v = json!({
        "cniVersion": CNI_VERSION,
        "name": "u7s-flannel",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "mtu": mtu,
                "isGateway": true,
                "isDefaultGateway": true,
                "ipMasq": !flannel_masq,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": subnet.to_string()}]],
                    "routes": [{"dst": network.to_string()}],
                },
            },
            portmap(),
        ],
    });
    let mut s = serde_json::to_string_pretty(&v).expect("JSON serialises");
    s.push('\n');
    Ok(s)
}

/// The config list of a single-node session (a multi-node one gets [`flannel_conflist`] from
/// its job instead).
pub fn conflist(cfg: &ChildConfig) -> String {
    let k = &cfg.session.k8s;
    let v = {
        json!({
            "cniVersion": CNI_VERSION,
            "name": "u7s-bridge",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": "cni0",
                    "isGateway": true,
                    "ipMasq": true,
                    "hairpinMode": true,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": k.pod_cidr}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                    },
                },
                portmap(),
            ],
        })
    };
    let mut s = serde_json::to_string_pretty(&v).expect("JSON serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::session::config::Cri;

    #[test]
    fn bridge_for_one_node() {
        let c = cfg(Cri::Containerd, false);
        let v: serde_json::Value = serde_json::from_str(&conflist(&c)).unwrap();
        assert_eq!(v["plugins"][0]["type"], "bridge");
        assert_eq!(v["plugins"][0]["bridge"], "cni0");
        assert_eq!(
            v["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            "10.88.0.0/16"
        );
        assert_eq!(v["plugins"][1]["type"], "portmap");
        assert_eq!(path(), PathBuf::from("/etc/cni/net.d/10-u7s.conflist"));
    }

    #[test]
    fn flannel_lease_becomes_the_bridge_flannel_would_delegate() {
        let env = "FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n";
        let v: serde_json::Value = serde_json::from_str(&flannel_conflist(env).unwrap()).unwrap();
        let b = &v["plugins"][0];
        assert_eq!(b["type"], "bridge");
        assert_eq!(b["mtu"], 1450);
        assert_eq!(b["ipMasq"], false, "flanneld masquerades (--ip-masq)");
        assert_eq!(b["isDefaultGateway"], true);
        assert_eq!(b["ipam"]["ranges"][0][0]["subnet"], "10.5.1.0/24");
        assert_eq!(b["ipam"]["routes"][0]["dst"], "10.5.0.0/16");
        assert_eq!(v["plugins"][1]["type"], "portmap");
        let no_masq = env.replace("FLANNEL_IPMASQ=true", "FLANNEL_IPMASQ=false");
        let v: serde_json::Value =
            serde_json::from_str(&flannel_conflist(&no_masq).unwrap()).unwrap();
        assert_eq!(v["plugins"][0]["ipMasq"], true);
        let e = flannel_conflist("FLANNEL_NETWORK=10.5.0.0/16\n").unwrap_err();
        assert!(e.contains("FLANNEL_SUBNET is missing"), "{e}");
        let e = flannel_conflist(&env.replace("10.5.1.1/24", "nonsense")).unwrap_err();
        assert!(e.contains("FLANNEL_SUBNET=nonsense"), "{e}");
    }
}
