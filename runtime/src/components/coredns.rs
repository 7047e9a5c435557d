//! CoreDNS, the cluster DNS: a manifest (ServiceAccount, ClusterRole and ClusterRoleBinding
//! `system:coredns`, the Corefile ConfigMap, a Deployment of the pinned image, the `kube-dns`
//! Service at the session's cluster DNS address) applied once, at the first start, by a job
//! running `kubectl apply` with the admin kubeconfig after kube-apiserver is ready. Success
//! leaves a marker under the data folder so later starts skip it; `u7s reset` removes both the
//! marker and etcd, so a reset cluster gets CoreDNS again.

use super::{Finder, Job, Plan, need};
use crate::error::Result;
use crate::pki::{Kubeconfig, Pki};
use crate::session::config::ChildConfig;
use serde_json::{Value, json};
use std::path::PathBuf;

/// The CoreDNS image: `u7s up` makes it from the release's `coredns` (recipes/coredns.toml, whose
/// version is the tag; see tests/data/upstream/coredns.txt) and imports it (no registry).
pub const IMAGE: &str = "registry.k8s.io/coredns/coredns:v1.15.0";
/// The job's name.
pub const JOB: &str = "coredns-apply";

/// The generated manifest.
pub fn manifest_path(cfg: &ChildConfig) -> PathBuf {
    cfg.paths.state.join("coredns.yaml")
}

/// The marker of a successful apply.
pub fn marker(cfg: &ChildConfig) -> PathBuf {
    cfg.paths.data_dir("jobs").join("coredns-applied")
}

/// The Corefile.
pub fn corefile(domain: &str) -> String {
    format!(
        ".:53 {{
    errors
    health {{
        lameduck 5s
    }}
    ready
    kubernetes {domain} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }}
    prometheus :9153
    forward . /etc/resolv.conf {{
        max_concurrent 1000
    }}
    cache 30
    loop
    reload
    loadbalance
}}
"
    )
}

/// The objects of the manifest, in apply order.
pub fn objects(cfg: &ChildConfig) -> Vec<Value> {
    let k = &cfg.session.k8s;
    let labels = json!({"k8s-app": "kube-dns"});
    vec![
        json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "system:coredns"},
            "rules": [
                {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
                 "verbs": ["list", "watch"]},
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                 "verbs": ["list", "watch"]},
            ],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "system:coredns"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "system:coredns"},
            "subjects": [{"kind": "ServiceAccount", "name": "coredns",
                          "namespace": "kube-system"}],
        }),
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {"Corefile": corefile(&k.cluster_domain)},
        }),
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "coredns", "namespace": "kube-system", "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": "coredns",
                        "priorityClassName": "system-cluster-critical",
                        // Upstream resolution through the node's resolv.conf (slirp4netns).
                        "dnsPolicy": "Default",
                        "tolerations": [
                            {"key": "CriticalAddonsOnly", "operator": "Exists"},
                            {"key": "node-role.kubernetes.io/control-plane",
                             "effect": "NoSchedule"},
                        ],
                        "containers": [{
                            "name": "coredns",
                            "image": IMAGE,
                            "imagePullPolicy": "IfNotPresent",
                            "args": ["-conf", "/etc/coredns/Corefile"],
                            "ports": [
                                {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                                {"name": "metrics", "containerPort": 9153, "protocol": "TCP"},
                            ],
                            "resources": {
                                "limits": {"memory": "170Mi"},
                                "requests": {"cpu": "100m", "memory": "70Mi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": false,
                                "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
                                "readOnlyRootFilesystem": true,
                            },
                            "livenessProbe": {
                                "httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"},
                                "initialDelaySeconds": 60, "timeoutSeconds": 5,
                                "failureThreshold": 5,
                            },
                            "readinessProbe": {
                                "httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"},
                            },
                            "volumeMounts": [{"name": "config-volume",
                                              "mountPath": "/etc/coredns", "readOnly": true}],
                        }],
                        "volumes": [{
                            "name": "config-volume",
                            "configMap": {"name": "coredns",
                                          "items": [{"key": "Corefile", "path": "Corefile"}]},
                        }],
                    },
                },
            },
        }),
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system",
                         "labels": {"k8s-app": "kube-dns",
                                    "kubernetes.io/name": "CoreDNS"}},
            "spec": {
                "selector": labels,
                "clusterIP": k.cluster_dns,
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                    {"name": "metrics", "port": 9153, "protocol": "TCP"},
                ],
            },
        }),
    ]
}

/// The manifest: the objects as YAML documents.
pub fn manifest(cfg: &ChildConfig) -> String {
    super::kube::yaml_documents(
        "Generated by u7s: CoreDNS, applied once at the first start.",
        objects(cfg),
    )
}

/// Adds the manifest and the job applying it (after kube-apiserver).
pub fn add(plan: &mut Plan, cfg: &ChildConfig, find: Finder) -> Result<()> {
    let kubectl = need(
        find,
        "kubectl",
        "CoreDNS's first apply",
        "install the release again (it ships kubectl)",
    )?;
    let admin = Pki::new(cfg.paths.pki()).kubeconfig(Kubeconfig::Admin);
    plan.files.push((manifest_path(cfg), manifest(cfg), 0o644));
    plan.jobs.push(Job {
        name: JOB.into(),
        program: kubectl,
        args: vec![
            format!("--kubeconfig={}", admin.display()),
            "apply".into(),
            "-f".into(),
            manifest_path(cfg).display().to_string(),
        ],
        env: vec![],
        after: vec![super::admin_rbac::JOB.into()],
        once_marker: Some(marker(cfg)),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::session::config::Cri;

    #[test]
    fn manifest_has_every_object_and_the_dns_address() {
        let c = cfg(Cri::Containerd, false);
        let docs: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&manifest(&c))
            .map(|d| Value::deserialize(d).unwrap())
            .collect();
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "ServiceAccount",
                "ClusterRole",
                "ClusterRoleBinding",
                "ConfigMap",
                "Deployment",
                "Service"
            ]
        );
        assert_eq!(docs[5]["spec"]["clusterIP"], "10.0.0.53");
        let corefile = docs[3]["data"]["Corefile"].as_str().unwrap();
        assert!(corefile.contains("kubernetes cluster.local in-addr.arpa ip6.arpa"));
        assert!(corefile.contains("forward . /etc/resolv.conf"));
        for p in ["cache", "loop", "reload"] {
            assert!(corefile.lines().any(|l| l.trim().starts_with(p)), "{p}");
        }
        assert_eq!(
            docs[4]["spec"]["template"]["spec"]["containers"][0]["image"],
            IMAGE
        );
    }

    #[test]
    fn applied_once_after_the_apiserver() {
        let c = cfg(Cri::Containerd, false);
        let mut p = Plan::default();
        add(&mut p, &c, &find_all).unwrap();
        let j = &p.jobs[0];
        assert_eq!(j.after, ["admin-rbac"]);
        assert_eq!(
            j.args,
            [
                "--kubeconfig=/home/u/.config/usernetes/pki/admin.kubeconfig",
                "apply",
                "-f",
                "/run/user/1000/usernetes/coredns.yaml"
            ]
        );
        assert_eq!(
            j.once_marker.as_deref(),
            Some(std::path::Path::new(
                "/home/u/.local/share/usernetes/jobs/coredns-applied"
            ))
        );
    }

    use serde::Deserialize;
}
