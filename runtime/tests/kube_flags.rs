//! Every flag u7s generates for the Kubernetes components, cri-dockerd and flanneld, every
//! field path of the generated KubeletConfiguration and KubeProxyConfiguration, the feature
//! gates we set and the Corefile plugins we use exist in the upstream name lists kept in
//! tests/data/upstream (collected from the pinned versions' sources; each file's first line
//! says where from). The YAML is parsed with a YAML library, not pattern-matched.

use runtime::components::{
    coredns, cri_dockerd, flannel, kube_apiserver, kube_controller_manager, kube_proxy,
    kube_scheduler, kubelet,
};
use runtime::host::binaries::Bins;
use runtime::session::config::{
    ChildConfig, Cri, DEFAULT_FLANNEL_CIDR, KubeSettings, Role, SessionConfig,
};
use runtime::session::paths::{Env, Paths};
use serde_json::Value;
use std::collections::BTreeSet;

fn names(file: &str) -> BTreeSet<String> {
    let path = format!("{}/tests/data/upstream/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(
        text.lines().next().unwrap_or("").starts_with("# source: "),
        "{path}: the first line must say where the names came from"
    );
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect()
}

fn config(cri: Cri, flannel: bool, role: Role) -> ChildConfig {
    let env = Env {
        home: Some("/home/u".into()),
        xdg_runtime_dir: Some("/run/user/1000".into()),
        xdg_data_home: None,
        xdg_config_home: None,
        uid: 1000,
    };
    let k8s = KubeSettings {
        flannel,
        pod_cidr: if flannel {
            DEFAULT_FLANNEL_CIDR.into()
        } else {
            KubeSettings::default().pod_cidr
        },
        host_ip: Some("192.168.5.10".into()),
        role,
        ..KubeSettings::default()
    };
    ChildConfig {
        session: SessionConfig {
            cri,
            kube: true,
            etcd: true,
            publish: vec![],
            cidr: "10.0.42.0/24".into(),
            rootlesskit_flags: vec![],
            k8s,
        },
        paths: Paths::resolve(&env, |_| true).unwrap(),
        bins: Bins {
            release_bin: None,
            path: vec![],
        },
        session_id: "t".into(),
        leader_pid: 1,
        started_at: 0.0,
        cgroup2: true,
    }
}

/// Every variant of the session the flags depend on.
fn configs() -> Vec<ChildConfig> {
    let mut v = vec![];
    for cri in [Cri::Docker, Cri::Containerd, Cri::Crio] {
        v.push(config(cri, false, Role::Master));
        v.push(config(cri, true, Role::Master));
        v.push(config(
            cri,
            true,
            Role::Node {
                server: "192.168.5.1".into(),
            },
        ));
    }
    v
}

/// Checks `--name[=value]` arguments against `known`; returns the flag names seen.
fn check_flags(program: &str, args: &[String], known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for a in args {
        let name = a
            .strip_prefix("--")
            .unwrap_or_else(|| panic!("{program}: {a:?} is not a long flag"))
            .split('=')
            .next()
            .unwrap();
        assert!(
            known.contains(name),
            "{program}: --{name} is not a flag of the pinned version"
        );
        seen.insert(name.to_string());
    }
    seen
}

/// The field paths of a parsed document (`a.b.c`); arrays of objects are walked, and a field
/// listed as `x.*` is a map whose keys are not checked.
fn check_fields(what: &str, v: &Value, known: &BTreeSet<String>, prefix: &str) -> usize {
    let Value::Object(m) = v else { return 0 };
    let mut n = 0;
    for (k, child) in m {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if known.contains(&format!("{path}.*")) {
            n += 1;
            continue;
        }
        match child {
            Value::Object(_) => n += check_fields(what, child, known, &path),
            _ => {
                assert!(
                    known.contains(&path),
                    "{what}: field {path} is not in the pinned version's schema"
                );
                n += 1;
            }
        }
    }
    n
}

#[test]
fn control_plane_flags_exist_upstream() {
    let api = names("kube-apiserver.txt");
    let cm = names("kube-controller-manager.txt");
    let sched = names("kube-scheduler.txt");
    let gates = names("feature-gates.txt");
    for c in configs() {
        check_flags("kube-apiserver", &kube_apiserver::args(&c), &api);
        for a in kube_apiserver::args(&c) {
            if let Some(g) = a.strip_prefix("--feature-gates=") {
                for kv in g.split(',') {
                    let gate = kv.split('=').next().unwrap();
                    assert!(gates.contains(gate), "unknown feature gate {gate}");
                }
            }
        }
        check_flags(
            "kube-controller-manager",
            &kube_controller_manager::args(&c),
            &cm,
        );
        check_flags("kube-scheduler", &kube_scheduler::args(&c), &sched);
    }
}

#[test]
fn node_flags_exist_upstream() {
    let kl = names("kubelet.txt");
    let kp = names("kube-proxy.txt");
    let cd = names("cri-dockerd.txt");
    let fl = names("flanneld.txt");
    for c in configs() {
        check_flags("kubelet", &kubelet::args(&c), &kl);
        check_flags("kube-proxy", &kube_proxy::args(&c), &kp);
        check_flags("cri-dockerd", &cri_dockerd::args(&c), &cd);
        let seen = check_flags("flanneld", &flannel::args(&c), &fl);
        assert!(seen.contains("kube-subnet-mgr") && seen.contains("iface"));
    }
}

#[test]
fn kubelet_config_fields_exist_upstream() {
    let known = names("kubelet-config.txt");
    let gates = names("feature-gates.txt");
    for c in configs() {
        let v: Value = serde_yaml_ng::from_str(&kubelet::config(&c)).unwrap();
        assert_eq!(v["apiVersion"], "kubelet.config.k8s.io/v1beta1");
        let n = check_fields("KubeletConfiguration", &v, &known, "");
        assert!(n >= 20, "{n} fields checked");
        for g in v["featureGates"].as_object().unwrap().keys() {
            assert!(gates.contains(g), "unknown feature gate {g}");
        }
    }
}

#[test]
fn kube_proxy_config_fields_exist_upstream() {
    let known = names("kube-proxy-config.txt");
    for c in configs() {
        let v: Value = serde_yaml_ng::from_str(&kube_proxy::config(&c)).unwrap();
        assert_eq!(v["apiVersion"], "kubeproxy.config.k8s.io/v1alpha1");
        let n = check_fields("KubeProxyConfiguration", &v, &known, "");
        assert!(n >= 10, "{n} fields checked");
    }
}

#[test]
fn corefile_plugins_and_image_match_the_pinned_coredns() {
    let known = names("coredns.txt");
    let c = config(Cri::Containerd, false, Role::Master);
    let corefile = coredns::corefile(&c.session.k8s.cluster_domain);
    let mut plugins = 0;
    for line in corefile.lines() {
        let depth_one = line.starts_with("    ")
            && !line.starts_with("        ")
            && !line.trim_start().starts_with('}');
        if depth_one {
            let plugin = line.split_whitespace().next().unwrap();
            assert!(known.contains(plugin), "Corefile plugin {plugin} unknown");
            plugins += 1;
        }
    }
    assert!(plugins >= 10, "{plugins}");
    let tag = coredns::IMAGE.rsplit(':').next().unwrap();
    assert!(known.contains(&format!("image-tag {tag}")), "{tag}");
    // The image is made from the release's coredns: its tag is the recipe's version.
    let recipe = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../recipes/coredns.toml");
    let recipe = std::fs::read_to_string(&recipe).unwrap();
    assert!(
        recipe.lines().any(|l| l == format!("version = \"{tag}\"")),
        "recipes/coredns.toml is not at {tag}"
    );
}
