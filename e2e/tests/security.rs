//! End-to-end: the cluster's security settings (issue 14) against the real kube-apiserver,
//! kubelet and etcd of `$U7S_E2E_KUBE_BIN`, as the unprivileged test user, in a network
//! namespace of its own (its published 6443 meets no other session). One session, many checks,
//! each with its positive control so that a refusal cannot come from something else:
//! - the node's credential (kubelet.kubeconfig) cannot read a Secret none of its pods uses,
//!   cannot create a pod that mounts one (NodeRestriction: only mirror pods), cannot change
//!   another Node, cannot label itself control-plane (but may set a harmless label on itself);
//! - etcd refuses a certificate of the cluster CA (the node's) and accepts its own client's;
//! - Pod Security: a privileged and a hostPath pod in `default` are refused with the reason, a
//!   plain pod is admitted, the privileged one is admitted in the exempt kube-system;
//! - a Secret read raw from etcd (its v3 JSON gateway, with etcd's client certificate) is
//!   secretbox ciphertext and lacks the value, which the API returns;
//! - the audit log has the request that created the Secret, without its value;
//! - the admin credential is not in `system:masters` and works through its ClusterRoleBinding.

use base64::Engine;
use e2e::kube::*;
use e2e::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The value of the test Secret: in the API, never in etcd's bytes or the audit log.
const MARKER: &str = "u7s-plaintext-marker-5b1f";

fn pod(name: &str, ns: &str, extra_spec: &str, extra_container: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {ns}}}
spec:
  containers:
  - name: c
    image: registry.k8s.io/pause:3.10
    {extra_container}
  {extra_spec}
"#
    )
}

/// The release's `etcdctl` (v3 API) inside the session's namespaces (etcd listens on its
/// loopback only), trusting etcd's CA, with the client certificate `leaf`: `get KEY -w json`.
fn etcd_get(sb: &Sandbox, etcdctl: &Path, pki: &Path, leaf: &str, key: &str) -> Run {
    let p = |f: &str| pki.join(f).display().to_string();
    sb.u7s(&[
        "nsenter",
        &etcdctl.display().to_string(),
        "--endpoints=https://127.0.0.1:2379",
        "--dial-timeout=3s",
        "--command-timeout=5s",
        &format!("--cacert={}", p("etcd-ca.pem")),
        &format!("--cert={}", p(&format!("{leaf}.pem"))),
        &format!("--key={}", p(&format!("{leaf}-key.pem"))),
        "get",
        key,
        "-w",
        "json",
    ])
}

fn b64(s: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
#[ignore = "needs root, U7S_TEST_USER and U7S_E2E_KUBE_BIN (scripts/test.sh prepares them)"]
fn node_credentials_pod_security_encryption_audit_and_etcd_ca() {
    let user = test_user();
    let netns = PrivateNetns::new("sec");
    let mut sb = Sandbox::new(user);
    sb.enter_netns(&netns.path);
    sb.release = kube_release_tree(sb.path());
    let etcdctl = std::env::var_os(KUBE_BIN_ENV)
        .map(|d| PathBuf::from(d).join("etcdctl"))
        .filter(|p| p.is_file());
    let etcdctl = testkit::require(etcdctl, &format!("etcdctl in ${KUBE_BIN_ENV}"));
    sb.u7s_ok(&["up", "--cri", "containerd", "--detach"]);
    wait_node_ready(&sb, Duration::from_secs(90));
    let node = kubectl(
        &sb,
        &["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"],
    );
    let node = node.trim().to_string();
    let pki: PathBuf = sb.config().join("pki");
    let node_kc = pki.join("kubelet.kubeconfig");

    // --- The admin credential: not system:masters, cluster-admin through its binding.
    let who = kubectl(&sb, &["auth", "whoami", "-o", "json"]);
    let who: serde_json::Value = serde_json::from_str(&who).unwrap();
    let groups = who["status"]["userInfo"]["groups"].to_string();
    assert!(
        groups.contains("u7s:cluster-admins") && !groups.contains("system:masters"),
        "{who}"
    );
    assert_eq!(kubectl(&sb, &["auth", "can-i", "*", "*"]).trim(), "yes");
    let crb = kubectl(
        &sb,
        &[
            "get",
            "clusterrolebinding",
            "u7s:cluster-admins",
            "-o",
            "json",
        ],
    );
    assert!(crb.contains("\"cluster-admin\""), "{crb}");
    let sa = pki.join("super-admin.kubeconfig");
    let r = kubectl_as(&sb, &sa, &["auth", "whoami", "-o", "json"]);
    assert!(r.success() && r.stdout.contains("system:masters"), "{r:?}");

    // --- Secrets: encrypted in etcd, readable through the API, audited without the value.
    kubectl(
        &sb,
        &[
            "create",
            "secret",
            "generic",
            "s1",
            &format!("--from-literal=password={MARKER}"),
        ],
    );
    let got = kubectl(
        &sb,
        &["get", "secret", "s1", "-o", "jsonpath={.data.password}"],
    );
    assert_eq!(
        got.trim(),
        b64(MARKER.as_bytes()),
        "the API gives the value back"
    );
    let key = "/registry/secrets/default/s1";
    let r = etcd_get(&sb, &etcdctl, &pki, "etcd-client", key);
    assert!(r.success(), "etcd with its own client certificate: {r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("etcd answers JSON");
    let raw = v["kvs"][0]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .unwrap();
    assert!(
        raw.starts_with(b"k8s:enc:secretbox:v1:key1:"),
        "not secretbox ciphertext: {:?}",
        String::from_utf8_lossy(&raw[..raw.len().min(60)])
    );
    assert!(
        !raw.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
        "the value is in etcd in clear"
    );
    let audit_path = sb.data().join("logs/kube-apiserver-audit.log");
    let audit = wait_for(Duration::from_secs(20), "the audit entry", || {
        let text = std::fs::read_to_string(&audit_path).ok()?;
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|e| {
                e["verb"] == "create"
                    && e["objectRef"]["resource"] == "secrets"
                    && e["objectRef"]["name"] == "s1"
                    && e["user"]["username"] == "kubernetes-admin"
                    && e["stage"] == "ResponseComplete"
                    && e["responseStatus"]["code"] == 201
            })
            .then_some(text)
    });
    assert!(
        !audit.contains(MARKER),
        "the Secret's value is in the audit log"
    );
    assert!(
        !audit.contains(&b64(MARKER.as_bytes())),
        "the Secret's value is in the audit log (base64)"
    );

    // --- etcd trusts its own CA only: the node's certificate (cluster CA) is refused.
    let r = etcd_get(&sb, &etcdctl, &pki, "node", key);
    assert!(
        !r.success() && !r.stdout.contains("kvs"),
        "etcd accepted the node's certificate: {r:?}"
    );

    // --- The node's credential (NodeRestriction and the Node authorizer).
    let r = kubectl_as(&sb, &node_kc, &["get", "secret", "s1", "-n", "default"]);
    assert!(
        !r.success() && r.stderr.contains("Forbidden"),
        "the node read a Secret none of its pods uses: {r:?}"
    );
    let thief = write_for_user(
        &sb,
        "thief.yaml",
        &pod(
            "thief",
            "default",
            &format!("nodeName: {node}\n  volumes: [{{name: s, secret: {{secretName: s1}}}}]"),
            "volumeMounts: [{name: s, mountPath: /s}]",
        ),
    );
    let r = kubectl_as(&sb, &node_kc, &["create", "-f", &thief]);
    assert!(
        !r.success() && r.stderr.contains("can only create mirror pods"),
        "the node created a pod mounting a Secret: {r:?}"
    );
    kubectl(&sb, &["get", "nodes", &node]);
    let other = write_for_user(
        &sb,
        "other-node.yaml",
        "apiVersion: v1\nkind: Node\nmetadata: {name: other-node}\n",
    );
    kubectl(&sb, &["create", "-f", &other]);
    // A PATCH straight away (kubectl label would GET first, which the Node authorizer already
    // refuses for another node): refused by the authorizer or NodeRestriction.
    let r = kubectl_as(
        &sb,
        &node_kc,
        &[
            "patch",
            "node",
            "other-node",
            "--type=merge",
            "-p",
            r#"{"metadata":{"labels":{"x":"y"}}}"#,
        ],
    );
    assert!(
        !r.success() && r.stderr.contains("Forbidden") && r.stderr.contains("other-node"),
        "the node changed another Node: {r:?}"
    );
    let labels = kubectl(
        &sb,
        &[
            "get",
            "node",
            "other-node",
            "-o",
            "jsonpath={.metadata.labels}",
        ],
    );
    assert!(!labels.contains("\"x\""), "{labels}");
    let r = kubectl_as(
        &sb,
        &node_kc,
        &["label", "node", &node, "example.com/harmless=yes"],
    );
    assert!(r.success(), "the node may label itself harmlessly: {r:?}");
    let r = kubectl_as(
        &sb,
        &node_kc,
        &[
            "label",
            "node",
            &node,
            "node-role.kubernetes.io/control-plane=",
        ],
    );
    assert!(
        !r.success() && r.stderr.contains("node-role.kubernetes.io/control-plane"),
        "the node labelled itself control-plane: {r:?}"
    );

    // --- flanneld's own credential: what its kube subnet manager needs (every Node, patching
    // a Node's status), nothing more (no Secrets, no Node spec).
    let fl = pki.join("flannel.kubeconfig");
    let r = kubectl_as(&sb, &fl, &["get", "nodes", "-o", "name"]);
    assert!(
        r.success() && r.stdout.contains("node/other-node") && r.stdout.contains(&node),
        "flannel lists every Node: {r:?}"
    );
    let r = kubectl_as(
        &sb,
        &fl,
        &[
            "patch",
            "node",
            "other-node",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"conditions":[{"type":"NetworkUnavailable","status":"False","reason":"FlannelIsUp","message":"test"}]}}"#,
        ],
    );
    assert!(r.success(), "flannel patches Node status: {r:?}");
    for args in [
        &["get", "secret", "s1"][..],
        &["label", "node", "other-node", "y=z"][..],
    ] {
        let r = kubectl_as(&sb, &fl, args);
        assert!(
            !r.success() && r.stderr.contains("Forbidden"),
            "flannel {args:?}: {r:?}"
        );
    }

    // --- Pod Security: baseline enforced outside kube-system (server-side dry runs).
    let plain = write_for_user(&sb, "plain.yaml", &pod("plain", "default", "", ""));
    kubectl(&sb, &["create", "--dry-run=server", "-f", &plain]);
    let privileged = pod("priv", "default", "", "securityContext: {privileged: true}");
    let f = write_for_user(&sb, "priv.yaml", &privileged);
    let r = kubectl_run(&sb, &["create", "--dry-run=server", "-f", &f]);
    assert!(
        !r.success()
            && r.stderr
                .contains("violates PodSecurity \"baseline:latest\"")
            && r.stderr.contains("privileged"),
        "a privileged pod was admitted in default: {r:?}"
    );
    let f = write_for_user(
        &sb,
        "hostpath.yaml",
        &pod(
            "hp",
            "default",
            "volumes: [{name: home, hostPath: {path: /home}}]",
            "volumeMounts: [{name: home, mountPath: /h}]",
        ),
    );
    let r = kubectl_run(&sb, &["create", "--dry-run=server", "-f", &f]);
    assert!(
        !r.success() && r.stderr.contains("violates PodSecurity") && r.stderr.contains("hostPath"),
        "a hostPath pod was admitted in default: {r:?}"
    );
    let f = write_for_user(
        &sb,
        "priv-system.yaml",
        &privileged.replace("namespace: default", "namespace: kube-system"),
    );
    kubectl(&sb, &["create", "--dry-run=server", "-f", &f]);

    sb.u7s_ok(&["down"]);
    drop(sb);
    drop(netns);
}
