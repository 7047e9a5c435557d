//! End-to-end: two users' Kubernetes sessions at once on one host (a network namespace of the
//! test, as one machine), each with the real binaries of `$U7S_E2E_KUBE_BIN`. The first user
//! takes the default apiserver port (6443); the second user's `u7s up` on the same port is
//! refused before anything starts, naming the port, who holds it and `--apiserver-port`; with
//! `--apiserver-port 16443` it starts. Both nodes get Ready, each user's `u7s kubectl` and
//! host-side kubectl (through the port published for that user) reach that user's own cluster
//! only, and the second user's next `u7s up` remembers its port.

use e2e::kube::{PrivateNetns, kubectl, kubectl_run, wait_node_ready};
use e2e::*;
use std::time::{Duration, Instant};

/// The host-side kubectl of the release with `sb`'s admin kubeconfig.
fn host_kubectl(sb: &Sandbox, args: &[&str]) -> Run {
    let admin = sb.config().join("pki/admin.kubeconfig");
    let admin = admin.display().to_string();
    let mut a = vec!["--kubeconfig", admin.as_str()];
    a.extend_from_slice(args);
    sb.run_for(&sb.release.join("bin/kubectl"), &a, Duration::from_secs(60))
}

#[test]
#[ignore = "needs root, U7S_TEST_USER, U7S_TEST_USER2 and U7S_E2E_KUBE_BIN (scripts/test.sh prepares them)"]
fn two_users_run_their_own_kubernetes_on_one_host() {
    let host = PrivateNetns::new("users");
    let mut a = Sandbox::new(test_user());
    let mut b = Sandbox::new(second_test_user());
    for sb in [&mut a, &mut b] {
        sb.enter_netns(&host.path);
        sb.release = kube_release_tree(sb.path());
    }

    let t0 = Instant::now();
    a.u7s_ok(&["up", "--cri", "containerd", "--detach"]);

    // The second user on the same apiserver port: refused before anything starts.
    let clash = b.u7s(&["up", "--cri", "containerd", "--detach"]);
    assert!(!clash.success(), "{clash:?}");
    let want = format!(
        "host port 127.0.0.1:6443/tcp is already in use by user {} (uid {})",
        a.user.name, a.user.uid
    );
    assert!(
        clash.stderr.contains(&want) && clash.stderr.contains("--apiserver-port PORT"),
        "{clash:?}"
    );
    assert!(b.own_processes().is_empty(), "{:?}", b.own_processes());
    assert!(
        !b.data().join("logs").exists(),
        "the refused start wrote logs"
    );

    b.u7s_ok(&[
        "up",
        "--cri",
        "containerd",
        "--apiserver-port",
        "16443",
        "--detach",
    ]);
    wait_node_ready(&a, Duration::from_secs(120));
    wait_node_ready(&b, Duration::from_secs(120));
    eprintln!(
        "e2e multi-user: both nodes Ready after {:.1}s",
        t0.elapsed().as_secs_f64()
    );

    // Each user reaches their own cluster: a namespace made in one is not in the other.
    kubectl(&a, &["create", "namespace", "only-a"]);
    kubectl(&b, &["create", "namespace", "only-b"]);
    for (sb, port, mine, theirs) in [
        (&a, 6443, "only-a", "only-b"),
        (&b, 16443, "only-b", "only-a"),
    ] {
        let kc = std::fs::read_to_string(sb.config().join("pki/admin.kubeconfig")).unwrap();
        assert!(
            kc.contains(&format!("\"https://127.0.0.1:{port}\"")),
            "{}: {kc}",
            sb.user.name
        );
        let other = kubectl_run(sb, &["get", "namespace", theirs]);
        assert!(
            !other.success() && other.stderr.contains("NotFound"),
            "{} sees {theirs}: {other:?}",
            sb.user.name
        );
        let host = host_kubectl(sb, &["get", "namespace", "-o", "name"]);
        assert!(
            host.success()
                && host.stdout.contains(&format!("namespace/{mine}"))
                && !host.stdout.contains(&format!("namespace/{theirs}")),
            "host-side kubectl of {} on {port}: {host:?}",
            sb.user.name
        );
    }

    // The second user's port is remembered: a plain `u7s up` takes 16443 again.
    b.u7s_ok(&["down"]);
    let settings = std::fs::read_to_string(b.config().join("settings.json")).unwrap();
    assert!(settings.contains("16443"), "{settings}");
    b.u7s_ok(&["up", "--cri", "containerd", "--detach"]);
    let st = b.status();
    let api = st["components"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == "kube-apiserver"))
        .unwrap_or_else(|| panic!("no kube-apiserver in status: {st}"));
    assert_eq!(api["endpoint"], "https://127.0.0.1:16443", "{st}");
    let host = host_kubectl(&b, &["get", "namespace", "only-b", "-o", "name"]);
    assert!(host.success(), "{host:?}");
    b.u7s_ok(&["down"]);
    a.u7s_ok(&["down"]);
}
