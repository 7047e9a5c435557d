//! The Kubernetes node of a master session as the apiserver sees it, for `u7s status`: its
//! `Ready` condition and, when it is not Ready, what is wrong and where to look. Reading the
//! Node object's JSON and choosing the fix are pure; asking the apiserver (through the port
//! published on the host's loopback, with the admin credential) is the effect.

use crate::pki::{Leaf, Pki};
use crate::session::status::State;
use serde::{Deserialize, Serialize};

/// The node's health in `u7s status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeHealth {
    pub name: String,
    pub ready: bool,
    /// The Ready condition's reason (`KubeletReady`, `KubeletNotReady`, `NodeStatusUnknown`),
    /// or `NotRegistered` when the apiserver has no such node.
    pub reason: String,
    pub message: String,
    /// What to do, when not Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The fix for a node that is not Ready, from its condition's reason and message; `cri` is the
/// log of the runtime the kubelet talks to (`containerd`, `crio`, `cri-dockerd`).
pub fn fix_for(reason: &str, message: &str, cri: &str) -> String {
    let m = message.to_ascii_lowercase();
    if reason == "NotRegistered" {
        "the kubelet has not registered the node: see `u7s logs kubelet` (its credentials, the \
         apiserver's address)"
            .into()
    } else if reason == "NodeStatusUnknown" {
        "the kubelet stopped reporting: see `u7s logs kubelet`; the supervisor restarts it when \
         it exits, `u7s down` then `u7s up` restarts everything"
            .into()
    } else if m.contains("network") || m.contains("cni") {
        format!(
            "the pod network is not ready (the CNI configuration, or flannel on a multi-node \
             cluster): see `u7s logs kubelet` and `u7s logs {cri}`"
        )
    } else if m.contains("container runtime") || m.contains("runtime is down") {
        format!("the container runtime does not answer the kubelet: see `u7s logs {cri}`")
    } else {
        "see `u7s logs kubelet`".into()
    }
}

/// A node that never registered because its kubelet never started (it waits for a job or
/// component that failed, or failed itself): the fix names what to look at instead of the
/// kubelet's log, which does not exist yet. `states`: every component and job of the session
/// with its state.
pub fn explain_unstarted_kubelet(health: &mut NodeHealth, states: &[(String, State)]) {
    if health.ready || health.reason != "NotRegistered" {
        return;
    }
    let Some((_, kubelet)) = states.iter().find(|(n, _)| n == "kubelet") else {
        return;
    };
    let failed: Vec<&str> = states
        .iter()
        .filter(|(n, st)| *st == State::Failed && n != "kubelet")
        .map(|(n, _)| n.as_str())
        .collect();
    health.fix = Some(match (kubelet, failed.first()) {
        (State::Ready | State::Starting | State::Restarting, _) => return,
        (_, Some(first)) => format!(
            "the kubelet has not started: {} failed; see `u7s logs {first}`, then `u7s down` \
             and `u7s up`",
            failed.join(", ")
        ),
        (State::Failed, None) => "the kubelet failed: see `u7s logs kubelet`".into(),
        _ => "the kubelet has not started yet: it waits for the components before it \
              (`u7s status` shows which are not ready)"
            .into(),
    });
}

/// The health of node `name` from the apiserver's answer to `GET /api/v1/nodes/NAME`: `status`
/// its HTTP status, `body` the JSON. `None` when the answer says nothing usable.
pub fn from_response(name: &str, status: u16, body: &str, cri: &str) -> Option<NodeHealth> {
    if status == 404 {
        let reason = "NotRegistered";
        let message = "the apiserver has no node of this name";
        return Some(NodeHealth {
            name: name.into(),
            ready: false,
            reason: reason.into(),
            message: message.into(),
            fix: Some(fix_for(reason, message, cri)),
        });
    }
    if status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let cond = v["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?;
    let text = |k: &str| cond[k].as_str().unwrap_or_default().to_string();
    let ready = cond["status"] == "True";
    let (reason, message) = (text("reason"), text("message"));
    Some(NodeHealth {
        name: name.into(),
        ready,
        fix: (!ready).then(|| fix_for(&reason, &message, cri)),
        reason,
        message,
    })
}

/// Asks the session's apiserver (127.0.0.1:`port` on the host) about node `name` with the
/// admin credential of `pki`; `None` when it cannot be asked (not up yet, no credential).
pub fn fetch(pki: &Pki, port: u16, name: &str, cri: &str) -> Option<NodeHealth> {
    let tls = crate::probe::tls_client(
        &pki.ca_cert(),
        &pki.cert(Leaf::Admin),
        &pki.key(Leaf::Admin),
    )
    .ok()?;
    let r = crate::probe::https_get(tls, port, &format!("/api/v1/nodes/{name}")).ok()?;
    from_response(name, r.status, &r.text(), cri)
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_kubelet_that_never_started_is_explained_by_what_failed() {
        let not_registered = || from_response("n1", 404, "", "containerd").unwrap();
        let st = |v: &[(&str, State)]| -> Vec<(String, State)> {
            v.iter().map(|(n, s)| (n.to_string(), *s)).collect()
        };
        let mut h = not_registered();
        explain_unstarted_kubelet(
            &mut h,
            &st(&[
                ("containerd", State::Ready),
                ("pause-image", State::Failed),
                ("kubelet", State::Waiting),
            ]),
        );
        let fix = h.fix.unwrap();
        assert!(
            fix.contains("pause-image failed") && fix.contains("u7s logs pause-image"),
            "{fix}"
        );

        let mut h = not_registered();
        explain_unstarted_kubelet(&mut h, &st(&[("kubelet", State::Failed)]));
        assert_eq!(
            h.fix.as_deref(),
            Some("the kubelet failed: see `u7s logs kubelet`")
        );

        // A running kubelet that did not register yet keeps the kubelet's log as the fix.
        let mut h = not_registered();
        let before = h.fix.clone();
        explain_unstarted_kubelet(
            &mut h,
            &st(&[("kubelet", State::Ready), ("x", State::Failed)]),
        );
        assert_eq!(h.fix, before);
    }
    use super::*;

    fn node(status: &str, reason: &str, message: &str) -> String {
        serde_json::json!({
            "kind": "Node",
            "metadata": {"name": "n1"},
            "status": {"conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
                {"type": "Ready", "status": status, "reason": reason, "message": message}
            ]}
        })
        .to_string()
    }

    #[test]
    fn a_ready_node_has_no_fix() {
        let h = from_response(
            "n1",
            200,
            &node("True", "KubeletReady", "kubelet is posting ready status"),
            "containerd",
        )
        .unwrap();
        assert!(h.ready && h.fix.is_none(), "{h:?}");
        assert_eq!(h.reason, "KubeletReady");
    }

    #[test]
    fn each_kind_of_not_ready_gets_its_fix() {
        let net = from_response(
            "n1",
            200,
            &node(
                "False",
                "KubeletNotReady",
                "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
            ),
            "containerd",
        )
        .unwrap();
        assert!(!net.ready);
        let fix = net.fix.unwrap();
        assert!(
            fix.contains("pod network") && fix.contains("u7s logs containerd"),
            "{fix}"
        );
        let gone = from_response(
            "n1",
            200,
            &node(
                "Unknown",
                "NodeStatusUnknown",
                "Kubelet stopped posting node status.",
            ),
            "crio",
        )
        .unwrap();
        assert!(gone.fix.unwrap().contains("kubelet stopped reporting"));
        let missing = from_response("n1", 404, "{}", "docker").unwrap();
        assert_eq!(missing.reason, "NotRegistered");
        assert!(missing.fix.unwrap().contains("u7s logs kubelet"));
        let runtime = fix_for(
            "KubeletNotReady",
            "container runtime is down",
            "cri-dockerd",
        );
        assert!(runtime.contains("u7s logs cri-dockerd"), "{runtime}");
    }

    #[test]
    fn unusable_answers_say_nothing() {
        assert_eq!(from_response("n1", 500, "oops", "docker"), None);
        assert_eq!(from_response("n1", 200, "not json", "docker"), None);
        assert_eq!(from_response("n1", 200, "{\"status\":{}}", "docker"), None);
    }
}
