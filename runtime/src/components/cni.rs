//! The CNI network config the CRI (containerd, CRI-O, cri-dockerd) reads from `/etc/cni/net.d`
//! inside the namespace: one node = a `bridge` on `cni0` with host-local addresses from the pod
//! CIDR (10.88.0.0/16), masquerade and hairpin, plus `portmap` for hostPorts; several nodes =
//! the `flannel` plugin, which delegates to the bridge with the /24 flannel leased for this node
//! (read from `/run/flannel/subnet.env`). The loopback interface of every pod is set up by the
//! CRI itself with the `loopback` plugin binary, so it needs no config file.

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

/// The config list for this session.
pub fn conflist(cfg: &ChildConfig) -> String {
    let k = &cfg.session.k8s;
    let v = if k.flannel {
        json!({
            "cniVersion": CNI_VERSION,
            "name": "u7s-flannel",
            "plugins": [
                {"type": "flannel", "delegate": {"hairpinMode": true, "isDefaultGateway": true}},
                portmap(),
            ],
        })
    } else {
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
    fn bridge_for_one_node_flannel_for_many() {
        let mut c = cfg(Cri::Containerd, false);
        let v: serde_json::Value = serde_json::from_str(&conflist(&c)).unwrap();
        assert_eq!(v["plugins"][0]["type"], "bridge");
        assert_eq!(v["plugins"][0]["bridge"], "cni0");
        assert_eq!(
            v["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            "10.88.0.0/16"
        );
        assert_eq!(v["plugins"][1]["type"], "portmap");
        c.session.k8s.flannel = true;
        c.session.k8s.pod_cidr = crate::session::config::DEFAULT_FLANNEL_CIDR.into();
        let v: serde_json::Value = serde_json::from_str(&conflist(&c)).unwrap();
        assert_eq!(v["plugins"][0]["type"], "flannel");
        assert_eq!(v["plugins"][0]["delegate"]["isDefaultGateway"], true);
        assert_eq!(path(), PathBuf::from("/etc/cni/net.d/10-u7s.conflist"));
    }
}
