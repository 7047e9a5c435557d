//! End-to-end: a Kubernetes cluster across hosts (issue 12), for real. The "hosts" are network
//! namespaces made here, each with its own address on one bridge (in a namespace of its own, the
//! switch); each runs a rootless session of the unprivileged test user with the real binaries of
//! `$U7S_E2E_KUBE_BIN`: the master (`--flannel --host-ip`, containerd) and two nodes joined
//! with the bundles `u7s certs bundle` made, one on containerd, one on Docker (cri-dockerd). No
//! name resolves between the hosts: the apiserver reaches each kubelet by the address its host
//! gives (the node's InternalIP). Checks: all three nodes Ready; a pod on each node; pods reach
//! each other across hosts by pod IP over flannel's VXLAN (through each host's published
//! 8472/udp) and by Service name (CoreDNS on the master, kube-proxy on each node); `kubectl logs`
//! and `exec` work on every node (the apiserver dials each kubelet at its host address); a node
//! stopped goes NotReady, started again goes Ready with its pod.

use e2e::kube::{
    diagnostics, ip, kubectl, kubectl_run, load_app_image, wait_kubectl, write_for_user,
};
use e2e::*;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// Network namespaces as hosts on one bridge (`192.168.78.N/24`, N from 1), the bridge in a
/// namespace of its own; all removed when dropped (also on panic).
struct Hosts {
    switch: String,
    hosts: Vec<String>,
}

impl Hosts {
    fn create(n: usize) -> Hosts {
        let tag = std::process::id();
        let h = Hosts {
            switch: format!("u7s-cl{tag}-sw"),
            hosts: (1..=n).map(|i| format!("u7s-cl{tag}-h{i}")).collect(),
        };
        let sw = &h.switch;
        ip(&format!("netns add {sw}"));
        ip(&format!("-n {sw} link add br0 type bridge"));
        ip(&format!("-n {sw} link set br0 up"));
        for (i, ns) in h.hosts.iter().enumerate() {
            let (a, b) = (format!("u7scl{tag}h{i}"), format!("u7scl{tag}s{i}"));
            ip(&format!("netns add {ns}"));
            ip(&format!("-n {ns} link set lo up"));
            ip(&format!(
                "link add {a} netns {ns} type veth peer name {b} netns {sw}"
            ));
            ip(&format!("-n {ns} addr add {}/24 dev {a}", Self::addr(i)));
            ip(&format!("-n {ns} link set {a} up"));
            ip(&format!("-n {sw} link set {b} master br0"));
            ip(&format!("-n {sw} link set {b} up"));
        }
        h
    }

    /// The address of host `i` (0-based).
    fn addr(i: usize) -> String {
        format!("192.168.78.{}", i + 1)
    }

    fn path(&self, i: usize) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.hosts[i])
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in self.hosts.iter().chain([&self.switch]) {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A pod of the test image pinned to `node`, serving `hello from NAME` on 8080, labelled.
fn pod(name: &str, node: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: {name}}}}}
spec:
  nodeName: {node}
  containers:
  - name: web
    image: docker.io/u7s-e2e/busybox:1
    imagePullPolicy: Never
    command: ["/bin/sh", "-c", "echo hello from {name} > /www/index.html; echo {name} started; exec /bin/busybox httpd -f -p 8080 -h /www"]
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
"#
    )
}

/// Waits until `kubectl get node NAME` on the master says `want` ("True" Ready, else not).
fn wait_ready(master: &Sandbox, node: &str, ready: bool, limit: Duration) {
    wait_kubectl(
        master,
        limit,
        &format!("node {node} Ready={ready}"),
        &[
            "get",
            "node",
            node,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ],
        |s| (s.trim() == "True") == ready && !s.trim().is_empty(),
    );
}

#[test]
#[ignore = "needs root, U7S_TEST_USER and U7S_E2E_KUBE_BIN with flanneld (scripts/test.sh prepares them)"]
fn a_master_and_nodes_on_containerd_and_docker_on_three_hosts() {
    let user = test_user();
    testkit::require_root("the cluster test makes network namespaces");
    let hosts = Hosts::create(3);
    let mut master = Sandbox::new(user.clone());
    let mut node = Sandbox::new(user.clone());
    let mut docker = Sandbox::new(user);
    for (i, (sb, cri)) in [
        (&mut master, "containerd"),
        (&mut node, "containerd"),
        (&mut docker, "docker"),
    ]
    .into_iter()
    .enumerate()
    {
        sb.enter_netns(&hosts.path(i));
        sb.release = kube_release_tree_with(sb.path(), cri, &["flanneld"]);
    }
    let t0 = Instant::now();
    let (m_ip, n_ip, d_ip) = (Hosts::addr(0), Hosts::addr(1), Hosts::addr(2));
    master.u7s_ok(&[
        "up",
        "--cri",
        "containerd",
        "--flannel",
        "--host-ip",
        &m_ip,
        "--node-name",
        "master",
        "--detach",
    ]);
    let out = master.user_dir("out");
    let bundle = out.join("node1.tar").display().to_string();
    master.u7s_ok(&[
        "certs", "bundle", "node1", "--ip", &n_ip, "--server", &m_ip, "-o", &bundle,
    ]);
    node.u7s_ok(&["up", "--cri", "containerd", "--join", &bundle, "--detach"]);
    let bundle2 = out.join("node2.tar").display().to_string();
    master.u7s_ok(&[
        "certs", "bundle", "node2", "--ip", &d_ip, "--server", &m_ip, "-o", &bundle2,
    ]);
    docker.u7s_ok(&["up", "--cri", "docker", "--join", &bundle2, "--detach"]);
    for n in ["master", "node1", "node2"] {
        wait_ready(&master, n, true, Duration::from_secs(180));
    }
    eprintln!(
        "e2e cluster: three nodes Ready after {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    // Each node reports its host's address, where its kubelet is published.
    let addrs = kubectl(
        &master,
        &[
            "get",
            "nodes",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.status.addresses[?(@.type==\"InternalIP\")].address} {end}",
        ],
    );
    assert!(
        addrs.contains(&format!("master={m_ip}"))
            && addrs.contains(&format!("node1={n_ip}"))
            && addrs.contains(&format!("node2={d_ip}")),
        "{addrs}"
    );

    for sb in [&master, &node, &docker] {
        load_app_image(sb);
    }
    let manifests = format!(
        "{}---\n{}---\n{}",
        pod("web-m", "master"),
        pod("web-n", "node1"),
        pod("web-d", "node2")
    );
    let f = write_for_user(&master, "pods.yaml", &manifests);
    kubectl(&master, &["apply", "-f", &f]);
    for p in ["web-m", "web-n", "web-d"] {
        wait_kubectl(
            &master,
            Duration::from_secs(120),
            &format!("pod {p} Running"),
            &["get", "pod", p, "-o", "jsonpath={.status.phase}"],
            |s| s.trim() == "Running",
        );
    }
    // logs on every node: the apiserver dials each kubelet at its host address.
    for p in ["web-m", "web-n", "web-d"] {
        wait_kubectl(
            &master,
            Duration::from_secs(30),
            &format!("{p}'s log"),
            &["logs", p],
            |s| s.contains(&format!("{p} started")),
        );
    }
    let n_pod_ip = kubectl(
        &master,
        &["get", "pod", "web-n", "-o", "jsonpath={.status.podIP}"],
    );
    let n_pod_ip = n_pod_ip.trim().to_string();
    // busybox's own timeout: its wget -T crashes (Debian's busybox 1.35).
    let get = |from: &str, url: &str| {
        kubectl_run(
            &master,
            &[
                "exec",
                from,
                "--",
                "/bin/busybox",
                "timeout",
                "10",
                "/bin/busybox",
                "wget",
                "-qO-",
                url,
            ],
        )
    };
    // Pod to pod across hosts by pod IP (flannel VXLAN), both ways through exec on each node.
    let r = get("web-m", &format!("http://{n_pod_ip}:8080/"));
    assert!(
        r.success() && r.stdout.contains("hello from web-n"),
        "master's pod -> node's pod {n_pod_ip}: {r:?}\n{}\n{}",
        diagnostics(&master),
        diagnostics(&node)
    );
    let m_pod_ip = kubectl(
        &master,
        &["get", "pod", "web-m", "-o", "jsonpath={.status.podIP}"],
    );
    let r = get("web-n", &format!("http://{}:8080/", m_pod_ip.trim()));
    assert!(
        r.success() && r.stdout.contains("hello from web-m"),
        "{r:?}"
    );
    // The Docker node's pod (exec through cri-dockerd), to the containerd node's by pod IP.
    let r = get("web-d", &format!("http://{n_pod_ip}:8080/"));
    assert!(
        r.success() && r.stdout.contains("hello from web-n"),
        "docker node's pod -> node1's pod: {r:?}\n{}",
        diagnostics(&docker)
    );
    // By Service name from the nodes' pods: CoreDNS runs on the master, kube-proxy on each node.
    let r = get("web-n", "http://web-m.default.svc.cluster.local/");
    assert!(
        r.success() && r.stdout.contains("hello from web-m"),
        "{r:?}"
    );
    let r = get("web-d", "http://web-n.default.svc.cluster.local/");
    assert!(
        r.success() && r.stdout.contains("hello from web-n"),
        "{r:?}"
    );

    // The node stopped: NotReady on the master; started again: Ready, its pod Running again.
    node.u7s_ok(&["down"]);
    wait_ready(&master, "node1", false, Duration::from_secs(120));
    node.u7s_ok(&["up", "--cri", "containerd", "--detach"]);
    wait_ready(&master, "node1", true, Duration::from_secs(180));
    wait_kubectl(
        &master,
        Duration::from_secs(120),
        "web-n Running again",
        &["get", "pod", "web-n", "-o", "jsonpath={.status.phase}"],
        |s| s.trim() == "Running",
    );
    node.u7s_ok(&["down"]);
    docker.u7s_ok(&["down"]);
    master.u7s_ok(&["down"]);
}
