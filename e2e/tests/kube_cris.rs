//! End-to-end: a Kubernetes node on the other CRIs, rootless, as the unprivileged test user,
//! with the real binaries of `$U7S_E2E_KUBE_BIN` ([`e2e::kube_release_tree_for`]):
//! - `--cri docker`: Docker Engine (dockerd v29 of the release, runc behind `u7s
//!   __oci-runtime` without writable cgroups) and cri-dockerd; the pause image is loaded into
//!   dockerd by the session, the app image (busybox, made here, no registry) with the release's
//!   `docker load`; the node gets Ready, a pod with resource limits is Running, `kubectl logs`
//!   and `kubectl exec` work (exec needs `ExtendWebSocketsToKubelet` off in the kubelet of a
//!   cri-dockerd node), CoreDNS (its image loaded by the session) is Running; `u7s down` leaves
//!   no process.
//! - `--cri crio`: CRI-O with conmon, pinns and runc behind the wrapper; the node gets Ready.
//!   CRI-O only pulls, so its images come from the session's registry on the namespace's
//!   loopback (`image-registry`): the pause and CoreDNS images made from the release's
//!   binaries, and the app image the test adds with `u7s images load`. A pod of it is Running
//!   (pulled through the mirror, no other registry reachable), logs and exec work, the cluster
//!   DNS (CoreDNS) is Running; a name the store lacks fails to pull, naming it.

use e2e::kube::{
    PrivateNetns, app_image, kubectl, load_app_image, session_userns, wait_kubectl,
    wait_node_ready, write_for_user,
};
use e2e::*;
use std::time::{Duration, Instant};

/// Waits for the node to be Ready, then for the default service account (a pod is refused
/// until the controller-manager made it).
fn wait_ready(sb: &Sandbox, t0: Instant, cri: &str) {
    wait_node_ready(sb, Duration::from_secs(90));
    eprintln!(
        "e2e kube {cri}: node Ready after {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    wait_kubectl(
        sb,
        Duration::from_secs(60),
        "the default service account",
        &["get", "serviceaccount", "default", "-o", "name"],
        |s| s.trim() == "serviceaccount/default",
    );
}

const WEB: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: web
    image: docker.io/u7s-e2e/busybox:1
    imagePullPolicy: Never
    command: ["/bin/sh", "-c", "echo hello from web; exec /bin/busybox httpd -f -p 8080 -h /www"]
    resources:
      requests: {cpu: 50m, memory: 16Mi}
      limits: {cpu: 200m, memory: 64Mi}
"#;

/// Applies the web pod of `manifest`, waits for it Running, then checks its log and serves
/// its page through `kubectl exec`.
fn web_pod_serves(sb: &Sandbox, manifest: &str, cri: &str) {
    let t1 = Instant::now();
    kubectl(sb, &["apply", "-f", manifest]);
    wait_kubectl(
        sb,
        Duration::from_secs(90),
        "the web pod to be Running",
        &["get", "pod", "web", "-o", "jsonpath={.status.phase}"],
        |s| s.trim() == "Running",
    );
    eprintln!(
        "e2e kube {cri}: pod Running {:.1}s after apply",
        t1.elapsed().as_secs_f64()
    );
    wait_kubectl(
        sb,
        Duration::from_secs(30),
        "the web pod's log",
        &["logs", "web"],
        |s| s.contains("hello from web"),
    );
    let exec = [
        "exec",
        "web",
        "--",
        "/bin/busybox",
        "wget",
        "-qO-",
        "http://127.0.0.1:8080/",
    ];
    let got = kubectl(sb, &exec);
    assert!(got.contains("hello over the cluster network"), "{got:?}");
}

/// The cluster DNS (CoreDNS, its image made by the session from the release's coredns) Running.
fn wait_coredns(sb: &Sandbox) {
    wait_kubectl(
        sb,
        Duration::from_secs(120),
        "CoreDNS to be Running",
        &[
            "-n",
            "kube-system",
            "get",
            "pods",
            "-l",
            "k8s-app=kube-dns",
            "-o",
            "jsonpath={.items[*].status.phase}",
        ],
        |s| s.contains("Running"),
    );
}

/// The session is gone: no process of its user namespace, none of the sandbox's.
fn down_leaves_nothing(sb: &Sandbox) {
    let session = session_userns(sb).expect("no process of the session in a user namespace");
    sb.u7s_ok(&["down"]);
    wait_for(Duration::from_secs(30), "no process of the session", || {
        let left: Vec<_> = user_processes(sb.user.uid.as_raw())
            .into_iter()
            .filter(|(pid, _)| userns_of(*pid) == Some(session))
            .chain(sb.own_processes())
            .collect();
        left.is_empty().then_some(())
    });
}

#[test]
#[ignore = "needs root, U7S_TEST_USER and U7S_E2E_KUBE_BIN with Docker and cri-dockerd (scripts/test.sh prepares them)"]
fn docker_node_gets_ready_and_runs_a_pod() {
    let user = test_user();
    // Its own network namespace: the two tests of this file run at once, each publishing 6443.
    let netns = PrivateNetns::new("docker");
    let mut sb = Sandbox::new(user);
    sb.enter_netns(&netns.path);
    sb.release = kube_release_tree_for(sb.path(), "docker");

    let t0 = Instant::now();
    sb.u7s_ok(&["up", "--cri", "docker", "--detach"]);
    let kc = std::fs::read_to_string(sb.runtime_dir.join("usernetes/kubelet-config.yaml")).unwrap();
    assert!(kc.contains("ExtendWebSocketsToKubelet: false"), "{kc}");
    if sb.status()["session"]["cgroups"] == "unenforced" {
        let wrapper = sb.runtime_dir.join("usernetes/oci-runtime");
        assert!(wrapper.is_file(), "no OCI runtime wrapper for dockerd");
    }
    wait_ready(&sb, t0, "docker");

    // The app image, loaded with the release's docker CLI into the session's dockerd.
    load_app_image(&sb);

    let web = write_for_user(&sb, "web.yaml", WEB);
    web_pod_serves(&sb, &web, "docker");
    // The cluster DNS, from the CoreDNS image the session loaded into dockerd.
    wait_coredns(&sb);
    down_leaves_nothing(&sb);
}

#[test]
#[ignore = "needs root, U7S_TEST_USER and U7S_E2E_KUBE_BIN with crio, pinns and conmon (scripts/test.sh prepares them)"]
fn crio_node_gets_ready_and_runs_a_pod_of_a_loaded_image() {
    let user = test_user();
    // Its own network namespace: the two tests of this file run at once, each publishing 6443.
    let netns = PrivateNetns::new("crio");
    let mut sb = Sandbox::new(user);
    sb.enter_netns(&netns.path);
    sb.release = kube_release_tree_for(sb.path(), "crio");
    let t0 = Instant::now();
    sb.u7s_ok(&["up", "--cri", "crio", "--detach"]);
    if sb.status()["session"]["cgroups"] == "unenforced" {
        let conf =
            std::fs::read_to_string(sb.runtime_dir.join("usernetes/crio/crio.conf")).unwrap();
        assert!(conf.contains("usernetes/oci-runtime"), "{conf}");
    }
    wait_ready(&sb, t0, "crio");

    // The app image into the session's image store; CRI-O pulls it through the mirror.
    let image = app_image(&sb);
    let out = sb.u7s_ok(&["images", "load", image.to_str().unwrap()]);
    assert!(out.contains("loaded docker.io/u7s-e2e/busybox:1"), "{out}");
    let web = write_for_user(
        &sb,
        "web.yaml",
        &WEB.replace("imagePullPolicy: Never", "imagePullPolicy: Always"),
    );
    web_pod_serves(&sb, &web, "crio");
    // The cluster DNS, from the CoreDNS image the session's registry serves.
    wait_coredns(&sb);
    // A name the store lacks: the pull fails (nothing else is reachable), the event names it.
    kubectl(
        &sb,
        &[
            "run",
            "nowhere",
            "--image=docker.io/u7s-e2e/absent:1",
            "--restart=Never",
        ],
    );
    wait_kubectl(
        &sb,
        Duration::from_secs(60),
        "the pull of an image nobody loaded to fail",
        &[
            "get",
            "pod",
            "nowhere",
            "-o",
            "jsonpath={.status.containerStatuses[0].state.waiting.reason}",
        ],
        |s| s.contains("ErrImagePull") || s.contains("ImagePullBackOff"),
    );
    down_leaves_nothing(&sb);
}
