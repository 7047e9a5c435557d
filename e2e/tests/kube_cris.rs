//! End-to-end: a Kubernetes node on the other CRIs, rootless, as the unprivileged test user,
//! with the real binaries of `$U7S_E2E_KUBE_BIN` ([`e2e::kube_release_tree_for`]):
//! - `--cri docker`: Docker Engine (dockerd v29 of the release, runc behind `u7s
//!   __oci-runtime` without writable cgroups) and cri-dockerd; the pause image is loaded into
//!   dockerd by the session, the app image (busybox, made here, no registry) with the release's
//!   `docker load`; the node gets Ready, a pod with resource limits is Running, `kubectl logs`
//!   and `kubectl exec` work (exec needs `ExtendWebSocketsToKubelet` off in the kubelet of a
//!   cri-dockerd node); `u7s down` leaves no process.
//! - `--cri crio`: CRI-O with conmon, pinns and runc behind the wrapper; the node gets Ready.
//!   No pod yet: CRI-O pulls images only from registries (containers/storage has no import
//!   through the CRI), and the session has no image-load path for CRI-O (see the status report).

use e2e::*;
use std::time::{Duration, Instant};

const APP_IMAGE: &str = "docker.io/u7s-e2e/busybox:1";

/// The ends of the logs that explain a failure.
fn diagnostics(sb: &Sandbox, components: &[&str]) -> String {
    let mut out = String::new();
    for c in components {
        let log = sb.data().join(format!("logs/{c}.log"));
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(25).collect();
        out.push_str(&format!("--- {c}.log (last lines):\n"));
        for l in tail.iter().rev() {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

struct Node<'a> {
    sb: &'a Sandbox,
    logs: &'a [&'a str],
}

impl Node<'_> {
    fn kubectl(&self, args: &[&str]) -> String {
        let mut a = vec!["kubectl"];
        a.extend_from_slice(args);
        let r = self.sb.u7s(&a);
        assert!(
            r.success(),
            "kubectl {args:?} failed: {}\n{}\n{}",
            r.stderr,
            r.stdout,
            diagnostics(self.sb, self.logs)
        );
        r.stdout
    }

    /// Polls `kubectl args` every 500 ms until its stdout satisfies `ok`.
    fn wait(&self, limit: Duration, what: &str, args: &[&str], ok: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + limit;
        let mut a = vec!["kubectl"];
        a.extend_from_slice(args);
        loop {
            let r = self.sb.u7s(&a);
            if r.success() && ok(&r.stdout) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {limit:?} waiting for {what}: last answer {:?} {:?}\n{}",
                r.stdout,
                r.stderr,
                diagnostics(self.sb, self.logs)
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn wait_ready(&self, t0: Instant, cri: &str) {
        self.wait(
            Duration::from_secs(90),
            "the node to be Ready",
            &[
                "get",
                "nodes",
                "-o",
                "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}",
            ],
            |s| s.trim() == "True",
        );
        eprintln!(
            "e2e kube {cri}: node Ready after {:.1}s",
            t0.elapsed().as_secs_f64()
        );
        // A pod is refused until the controller-manager made the namespace's service account.
        self.wait(
            Duration::from_secs(60),
            "the default service account",
            &["get", "serviceaccount", "default", "-o", "name"],
            |s| s.trim() == "serviceaccount/default",
        );
    }
}

fn write_for_user(sb: &Sandbox, name: &str, text: &str) -> String {
    let p = sb.path().join(name);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    p.display().to_string()
}

/// The busybox image archive made here, readable by the test user.
fn app_image(sb: &Sandbox) -> String {
    let rootfs = sb.path().join("rootfs.tar");
    busybox_rootfs_tar(&rootfs, "hello over the cluster network\n");
    let image = sb.path().join("busybox-image.tar");
    image_archive(&image, &rootfs, &[APP_IMAGE], &["/bin/busybox"]);
    for p in [&rootfs, &image] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    }
    image.display().to_string()
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

/// The session is gone: no process of its user namespace, none of the sandbox's.
fn down_leaves_nothing(sb: &Sandbox) {
    use std::os::unix::fs::MetadataExt;
    let userns = |pid: i32| {
        std::fs::metadata(format!("/proc/{pid}/ns/user"))
            .ok()
            .map(|m| m.ino())
    };
    let host = userns(std::process::id() as i32);
    let session = sb
        .own_processes()
        .iter()
        .filter_map(|(pid, _)| userns(*pid))
        .find(|ino| Some(*ino) != host)
        .expect("no process of the session in a user namespace");
    sb.u7s_ok(&["down"]);
    wait_for(Duration::from_secs(30), "no process of the session", || {
        let left: Vec<_> = user_processes(sb.user.uid.as_raw())
            .into_iter()
            .filter(|(pid, _)| userns(*pid) == Some(session))
            .chain(sb.own_processes())
            .collect();
        left.is_empty().then_some(())
    });
}

#[test]
#[ignore = "needs root, U7S_TEST_USER and U7S_E2E_KUBE_BIN with Docker and cri-dockerd (scripts/test.sh prepares them)"]
fn docker_node_gets_ready_and_runs_a_pod() {
    let user = test_user();
    let mut sb = Sandbox::new(user);
    sb.release = kube_release_tree_for(sb.path(), "docker");
    let node = Node {
        sb: &sb,
        logs: &[
            "session",
            "kubelet",
            "cri-dockerd",
            "dockerd",
            "pause-image",
        ],
    };

    let t0 = Instant::now();
    sb.u7s_ok(&["up", "--cri", "docker", "--detach"]);
    let kc = std::fs::read_to_string(sb.runtime_dir.join("usernetes/kubelet-config.yaml")).unwrap();
    assert!(kc.contains("ExtendWebSocketsToKubelet: false"), "{kc}");
    if sb.status()["session"]["cgroups"] == "unenforced" {
        let wrapper = sb.runtime_dir.join("usernetes/oci-runtime");
        assert!(wrapper.is_file(), "no OCI runtime wrapper for dockerd");
    }
    node.wait_ready(t0, "docker");

    // The app image, loaded with the release's docker CLI into the session's dockerd.
    let image = app_image(&sb);
    let host = format!("unix://{}", sb.runtime_dir.join("docker.sock").display());
    let load = sb.run_for(
        &sb.release.join("bin/docker"),
        &["-H", &host, "load", "-i", &image],
        Duration::from_secs(60),
    );
    assert!(load.success(), "docker load: {load:?}");

    let web = write_for_user(&sb, "web.yaml", WEB);
    let t1 = Instant::now();
    node.kubectl(&["apply", "-f", &web]);
    node.wait(
        Duration::from_secs(90),
        "the web pod to be Running",
        &["get", "pod", "web", "-o", "jsonpath={.status.phase}"],
        |s| s.trim() == "Running",
    );
    eprintln!(
        "e2e kube docker: pod Running {:.1}s after apply",
        t1.elapsed().as_secs_f64()
    );
    node.wait(
        Duration::from_secs(30),
        "the web pod's log",
        &["logs", "web"],
        |s| s.contains("hello from web"),
    );
    let got = node.kubectl(&[
        "exec",
        "web",
        "--",
        "/bin/busybox",
        "wget",
        "-qO-",
        "http://127.0.0.1:8080/",
    ]);
    assert!(got.contains("hello over the cluster network"), "{got:?}");
    down_leaves_nothing(&sb);
}

#[test]
#[ignore = "needs root, U7S_TEST_USER and U7S_E2E_KUBE_BIN with crio, pinns and conmon (scripts/test.sh prepares them)"]
fn crio_node_gets_ready() {
    let user = test_user();
    let mut sb = Sandbox::new(user);
    sb.release = kube_release_tree_for(sb.path(), "crio");
    let node = Node {
        sb: &sb,
        logs: &["session", "kubelet", "crio"],
    };
    let t0 = Instant::now();
    sb.u7s_ok(&["up", "--cri", "crio", "--detach"]);
    if sb.status()["session"]["cgroups"] == "unenforced" {
        let conf =
            std::fs::read_to_string(sb.runtime_dir.join("usernetes/crio/crio.conf")).unwrap();
        assert!(conf.contains("usernetes/oci-runtime"), "{conf}");
    }
    node.wait_ready(t0, "crio");
    down_leaves_nothing(&sb);
}
