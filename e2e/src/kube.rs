//! Helpers of the Kubernetes end-to-end tests: `kubectl` inside a session (the session's admin
//! credential) or with another kubeconfig, polling, the logs that explain a failure, files the
//! test user can read, and a private network namespace so a test's published ports (6443) never
//! meet another session's on the same machine.

use crate::{Run, Sandbox, busybox_rootfs_tar, image_archive, userns_of};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The ends of the session's and components' logs that explain a failure (those that exist:
/// each CRI has its own).
pub fn diagnostics(sb: &Sandbox) -> String {
    let mut out = String::new();
    for c in [
        "session",
        "kubelet",
        "containerd",
        "dockerd",
        "cri-dockerd",
        "crio",
        "pause-image",
        "kube-apiserver",
        "kube-controller-manager",
        "flannel",
    ] {
        let log = sb.data().join(format!("logs/{c}.log"));
        let Ok(text) = std::fs::read_to_string(&log) else {
            continue;
        };
        let tail: Vec<&str> = text.lines().rev().take(25).collect();
        out.push_str(&format!("--- {c}.log (last lines):\n"));
        for l in tail.iter().rev() {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// `u7s kubectl ARGS` (inside the session, admin credential), whatever its outcome.
pub fn kubectl_run(sb: &Sandbox, args: &[&str]) -> Run {
    let mut a = vec!["kubectl"];
    a.extend_from_slice(args);
    sb.u7s(&a)
}

/// `u7s kubectl ARGS`, which must succeed; its stdout, or a panic with everything useful.
pub fn kubectl(sb: &Sandbox, args: &[&str]) -> String {
    let r = kubectl_run(sb, args);
    assert!(
        r.success(),
        "kubectl {args:?} failed: {}\n{}\n{}",
        r.stderr,
        r.stdout,
        diagnostics(sb)
    );
    r.stdout
}

/// `u7s kubectl --kubeconfig KC ARGS`: another credential than the admin's.
pub fn kubectl_as(sb: &Sandbox, kubeconfig: &Path, args: &[&str]) -> Run {
    let kc = format!("--kubeconfig={}", kubeconfig.display());
    let mut a = vec![kc.as_str()];
    a.extend_from_slice(args);
    kubectl_run(sb, &a)
}

/// Polls `kubectl args` every 500 ms until its stdout satisfies `ok`.
pub fn wait_kubectl(
    sb: &Sandbox,
    limit: Duration,
    what: &str,
    args: &[&str],
    ok: impl Fn(&str) -> bool,
) {
    let deadline = Instant::now() + limit;
    loop {
        let r = kubectl_run(sb, args);
        if r.success() && ok(&r.stdout) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}: last answer {:?} {:?}\n{}",
            r.stdout,
            r.stderr,
            diagnostics(sb)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Waits until the node reports Ready.
pub fn wait_node_ready(sb: &Sandbox, limit: Duration) {
    wait_kubectl(
        sb,
        limit,
        "the node to be Ready",
        &[
            "get",
            "nodes",
            "-o",
            "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}",
        ],
        |s| s.trim() == "True",
    );
}

/// Writes `text` to the sandbox folder as a world-readable file; its path.
pub fn write_for_user(sb: &Sandbox, name: &str, text: &str) -> String {
    let p = sb.path().join(name);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    p.display().to_string()
}

/// The user namespace of the session (the one its processes live in, not the host's).
pub fn session_userns(sb: &Sandbox) -> Option<u64> {
    let host = userns_of(std::process::id() as i32)?;
    sb.own_processes()
        .iter()
        .filter_map(|(pid, _)| userns_of(*pid))
        .find(|ino| *ino != host)
}

/// The name of the test's app image ([`app_image`]).
pub const APP_IMAGE: &str = "docker.io/u7s-e2e/busybox:1";

/// The app image (busybox serving a page, made here: no registry) as an image archive readable
/// by the test user, with the root file system it was made of; the archive's path.
pub fn app_image(sb: &Sandbox) -> PathBuf {
    let rootfs = sb.path().join("rootfs.tar");
    busybox_rootfs_tar(&rootfs, "hello over the cluster network\n");
    let image = sb.path().join("busybox-image.tar");
    image_archive(&image, &rootfs, &[APP_IMAGE], &["/bin/busybox"]);
    for p in [&rootfs, &image] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    }
    image
}

/// `ip ARGS` (as root; words split on spaces), which must succeed.
pub fn ip(args: &str) {
    let out = Command::new("ip")
        .args(args.split_whitespace())
        .output()
        .expect("run ip");
    assert!(
        out.status.success(),
        "ip {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Loads the test image ([`app_image`]) into `sb`'s container runtime with `u7s images load`
/// (containerd's CRI namespace, dockerd, or CRI-O's image store).
pub fn load_app_image(sb: &Sandbox) {
    let image = app_image(sb).display().to_string();
    let out = sb.u7s_ok(&["images", "load", &image]);
    assert!(out.contains("loaded"), "u7s images load said: {out}");
}

/// A network namespace of this test (`/run/netns/NAME`, loopback up), removed when dropped.
pub struct PrivateNetns {
    name: String,
    pub path: PathBuf,
}

impl PrivateNetns {
    /// Makes `u7s-e2e-<what>-<pid>` (needs root).
    pub fn new(what: &str) -> PrivateNetns {
        let name = format!("u7s-e2e-{what}-{}", std::process::id());
        let ip = |args: &[&str]| {
            let out = Command::new("ip").args(args).output().expect("run ip");
            assert!(
                out.status.success(),
                "ip {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        ip(&["netns", "add", &name]);
        let ns = PrivateNetns {
            path: PathBuf::from(format!("/run/netns/{name}")),
            name,
        };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }
}

impl Drop for PrivateNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
    }
}
