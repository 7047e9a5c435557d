//! End-to-end: Kubernetes for real, rootless, as the unprivileged test user. A release tree of
//! the real binaries (Kubernetes, containerd 2, runc, etcd, pause, CoreDNS, CNI plugins from
//! `$U7S_E2E_KUBE_BIN`, see [`e2e::kube_release_tree`]) runs `u7s up --cri containerd --detach`:
//! the node gets Ready; a Deployment of an image made here (busybox, imported with the release's
//! `ctr`, no registry) with resource limits is Running; `kubectl logs`, `exec` and
//! `port-forward` work; its Service answers another pod by ClusterIP (kube-proxy) and by the name
//! `web.default.svc.cluster.local` (CoreDNS, its image made by `u7s up` from the release's
//! binary); its NodePort answers on the host after `u7s ports add`; `u7s status` names the
//! cgroup mode; the host-side kubectl works with the admin kubeconfig. Then, on the same session
//! (one cluster start for all, to keep the run short): kill -9 of the kubelet and of
//! kube-apiserver (both restarted, the node Ready again); containerd's socket removed (the
//! supervisor restarts containerd, the node Ready again, the pod still serving); `u7s down`
//! leaves no process; `u7s up`
//! brings the Deployment back from etcd; kill -9 of the session's top process leaves nothing, and
//! `up` works again.
//! On a host without writable cgroups (cgroup v1, like CI) this runs in the unenforced mode:
//! the kubelet without QoS cgroups and runc behind `u7s __oci-runtime`.

use e2e::kube::{
    APP_IMAGE, diagnostics, kubectl, load_app_image, session_userns, wait_kubectl, wait_node_ready,
    write_for_user,
};
use e2e::*;
use std::time::{Duration, Instant};

const WEB: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: docker.io/u7s-e2e/busybox:1
        imagePullPolicy: Never
        command: ["/bin/sh", "-c", "echo hello from web; exec /bin/busybox httpd -f -p 8080 -h /www"]
        resources:
          requests: {cpu: 50m, memory: 16Mi}
          limits: {cpu: 200m, memory: 64Mi}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
"#;

/// The NodePort of the web Service.
const NODE_PORT: u16 = 30080;

/// The state, pid and restart count of component `name` in `u7s status --json`.
fn component(sb: &Sandbox, name: &str) -> (String, Option<i64>, Option<u64>) {
    let st = sb.status();
    let c = st["components"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no component {name} in status: {st}"))
        .clone();
    (
        c["state"].as_str().unwrap_or_default().to_string(),
        c["pid"].as_i64(),
        c["restarts"].as_u64(),
    )
}

/// Waits for the pods labelled `label` to be Running with every container ready.
fn wait_running(sb: &Sandbox, ns: &str, label: &str, limit: Duration) {
    wait_kubectl(
        sb,
        limit,
        &format!("pods {label} in {ns} to be Running and ready"),
        &[
            "get",
            "pods",
            "-n",
            ns,
            "-l",
            label,
            "-o",
            "jsonpath={range .items[*]}{.status.phase}/{.status.containerStatuses[*].ready} {end}",
        ],
        |s| {
            let pods: Vec<&str> = s.split_whitespace().collect();
            !pods.is_empty() && pods.iter().all(|p| *p == "Running/true")
        },
    );
}

/// kill -9 of component `name`; waits until the session restarted it and it is ready.
fn kill_and_wait_restart(sb: &Sandbox, name: &str) {
    let (_, pid, restarts) = component(sb, name);
    let pid = pid.unwrap_or_else(|| panic!("no host pid of {name}")) as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let t = Instant::now();
    wait_for(
        Duration::from_secs(90),
        &format!("{name} restarted and ready"),
        || {
            let (state, p, r) = component(sb, name);
            (state == "ready" && p != Some(pid as i64) && r > restarts).then_some(())
        },
    );
    eprintln!(
        "e2e kube: {name} restarted and ready {:.1}s after kill -9",
        t.elapsed().as_secs_f64()
    );
}

/// The processes of the session: those carrying its XDG_RUNTIME_DIR and those in its user
/// namespace (the pods' processes).
fn session_processes(sb: &Sandbox, userns: u64) -> Vec<(i32, String)> {
    user_processes(sb.user.uid.as_raw())
        .into_iter()
        .filter(|(pid, _)| userns_of(*pid) == Some(userns))
        .chain(sb.own_processes())
        .collect()
}

/// Waits until no process of the session is left.
fn wait_no_process(sb: &Sandbox, userns: u64, what: &str) {
    wait_for(Duration::from_secs(30), what, || {
        session_processes(sb, userns).is_empty().then_some(())
    });
}

/// The page of the web pods through `kubectl exec` (the pod's own loopback).
fn exec_page(sb: &Sandbox) -> String {
    kubectl(
        sb,
        &[
            "exec",
            "deploy/web",
            "--",
            "/bin/busybox",
            "wget",
            "-qO-",
            "http://127.0.0.1:8080/",
        ],
    )
}

#[test]
#[ignore = "needs root, U7S_TEST_USER and U7S_E2E_KUBE_BIN (scripts/test.sh prepares them)"]
fn containerd_node_gets_ready_and_runs_a_deployment() {
    let user = test_user();
    let mut sb = Sandbox::new(user);
    sb.release = kube_release_tree(sb.path());

    let t0 = Instant::now();
    sb.u7s_ok(&["up", "--cri", "containerd", "--detach"]);
    eprintln!(
        "e2e kube: up returned after {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    let st = sb.status();
    let mode = st["session"]["cgroups"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        mode == "delegated" || mode == "unenforced",
        "status names no cgroup mode: {st}"
    );
    let text = sb.u7s_ok(&["status"]);
    assert!(text.contains("cgroups: "), "{text}");
    if mode == "unenforced" {
        let wrapper = sb.runtime_dir.join("usernetes/oci-runtime");
        assert!(
            wrapper.is_file(),
            "no OCI runtime wrapper in the unenforced mode"
        );
        let kc =
            std::fs::read_to_string(sb.runtime_dir.join("usernetes/kubelet-config.yaml")).unwrap();
        assert!(
            kc.contains("failCgroupV1: false") && kc.contains("cgroupsPerQOS: false"),
            "{kc}"
        );
    }

    wait_node_ready(&sb, Duration::from_secs(60));
    eprintln!(
        "e2e kube: node Ready after {:.1}s",
        t0.elapsed().as_secs_f64()
    );

    // The host-side kubectl with the admin kubeconfig, through the published 127.0.0.1:6443.
    let admin = sb.home.join(".config/usernetes/pki/admin.kubeconfig");
    let admin_s = admin.display().to_string();
    let host = sb.run_for(
        &sb.release.join("bin/kubectl"),
        &["--kubeconfig", &admin_s, "get", "nodes"],
        Duration::from_secs(60),
    );
    assert!(host.success() && host.stdout.contains("Ready"), "{host:?}");
    // `u7s status` asks the apiserver about the node too.
    let st = sb.status();
    assert_eq!(st["session"]["node"]["ready"], true, "{st}");
    assert!(sb.u7s_ok(&["status"]).contains(" Ready\n"));

    // An image made here, imported into the CRI's namespace with the release's ctr.
    load_app_image(&sb);

    let web = write_for_user(&sb, "web.yaml", WEB);
    let t1 = Instant::now();
    kubectl(&sb, &["apply", "-f", &web]);
    wait_kubectl(
        &sb,
        Duration::from_secs(90),
        "the web pod to be Running",
        &[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[*].status.phase}",
        ],
        |s| s.trim() == "Running",
    );
    eprintln!(
        "e2e kube: first pod Running {:.1}s after apply ({:.1}s after up)",
        t1.elapsed().as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );

    wait_kubectl(
        &sb,
        Duration::from_secs(30),
        "the web pod's log",
        &["logs", "deploy/web"],
        |s| s.contains("hello from web"),
    );
    let got = exec_page(&sb);
    assert!(got.contains("hello over the cluster network"), "{got:?}");

    // port-forward by the host-side kubectl: the pod's port on a host port.
    let fwd_port = free_port();
    let fwd_arg = format!("{fwd_port}:8080");
    let mut fwd = sb
        .command(
            &sb.release.join("bin/kubectl"),
            &[
                "--kubeconfig",
                &admin_s,
                "port-forward",
                "deploy/web",
                &fwd_arg,
            ],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run kubectl port-forward");
    let page = wait_for(Duration::from_secs(30), "the port-forwarded page", || {
        http_get(fwd_port, "/")
            .ok()
            .filter(|p| p.contains("hello over the cluster network"))
    });
    assert!(page.starts_with("HTTP/1."), "{page}");
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(fwd.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = fwd.wait();

    // Another pod reaches the Service by its ClusterIP (kube-proxy's rules) and by its name
    // (CoreDNS, from the image `u7s up` made of the release's coredns).
    wait_running(
        &sb,
        "kube-system",
        "k8s-app=kube-dns",
        Duration::from_secs(90),
    );
    let ip = kubectl(
        &sb,
        &["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"],
    );
    let fetch = |url: &str| {
        format!(
            "for i in 1 2 3 4 5 6 7 8 9 10; do /bin/busybox wget -qO- {url} && break; sleep 1; done"
        )
    };
    let script = format!(
        "{} && echo BY-NAME && {}",
        fetch(&format!("http://{}:80/", ip.trim())),
        fetch("http://web.default.svc.cluster.local/")
    );
    let client = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: client}}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: c\n    image: {APP_IMAGE}\n    imagePullPolicy: Never\n    command: [\"/bin/sh\", \"-c\", {script:?}]\n"
    );
    let client = write_for_user(&sb, "client.yaml", &client);
    kubectl(&sb, &["apply", "-f", &client]);
    wait_kubectl(
        &sb,
        Duration::from_secs(60),
        "the client pod to finish",
        &["get", "pod", "client", "-o", "jsonpath={.status.phase}"],
        |s| s.trim() == "Succeeded" || s.trim() == "Failed",
    );
    let got = kubectl(&sb, &["logs", "client"]);
    let (by_ip, by_name) = got.split_once("BY-NAME").unwrap_or((&got, ""));
    assert!(
        by_ip.contains("hello over the cluster network")
            && by_name.contains("hello over the cluster network"),
        "the client pod did not get the page through the Service by ClusterIP and by name: \
         {got:?}\n{}\n{}",
        kubectl(&sb, &["get", "pod", "client", "-o", "yaml"]),
        diagnostics(&sb)
    );

    // The NodePort, published on the host: the node's address in the namespace, port 30080.
    let node_ip = kubectl(
        &sb,
        &[
            "get",
            "nodes",
            "-o",
            "jsonpath={.items[0].status.addresses[?(@.type==\"InternalIP\")].address}",
        ],
    );
    let host_port = free_port();
    let spec = format!("127.0.0.1:{host_port}:{}:{NODE_PORT}/tcp", node_ip.trim());
    sb.u7s_ok(&["ports", "add", &spec]);
    let page = wait_for(Duration::from_secs(30), "the NodePort on the host", || {
        http_get(host_port, "/")
            .ok()
            .filter(|p| p.contains("hello over the cluster network"))
    });
    assert!(page.starts_with("HTTP/1."), "{page}");

    // kill -9 of the kubelet and of kube-apiserver: restarted, the node Ready again.
    kill_and_wait_restart(&sb, "kubelet");
    wait_node_ready(&sb, Duration::from_secs(60));
    kill_and_wait_restart(&sb, "kube-apiserver");
    wait_node_ready(&sb, Duration::from_secs(60));
    assert!(exec_page(&sb).contains("hello over the cluster network"));

    // Issue 11: the CRI socket disappears while containerd lives. The supervisor's probe
    // notices, restarts containerd; the socket is back, the node Ready, the pod still serves.
    let (_, cpid, crestarts) = component(&sb, "containerd");
    let sock = sb.runtime_dir.join("usernetes/containerd/containerd.sock");
    std::fs::remove_file(&sock).unwrap();
    let t = Instant::now();
    wait_for(
        Duration::from_secs(90),
        "containerd restarted after its socket went",
        || {
            let (state, p, r) = component(&sb, "containerd");
            (state == "ready" && p != cpid && r > crestarts && sock.exists()).then_some(())
        },
    );
    eprintln!(
        "e2e kube: containerd restarted {:.1}s after its socket was removed",
        t.elapsed().as_secs_f64()
    );
    assert!(
        sb.u7s_ok(&["logs", "session"])
            .contains("containerd: socket ")
    );
    wait_node_ready(&sb, Duration::from_secs(60));
    assert!(exec_page(&sb).contains("hello over the cluster network"));

    // Down: nothing of the session is left, the pods' processes (in its user namespace) included.
    let userns = session_userns(&sb).expect("no process of the session in a user namespace");
    sb.u7s_ok(&["down"]);
    wait_no_process(&sb, userns, "no process of the session after down");

    // Up again: the Deployment comes back from etcd (the image stays in containerd's store).
    let t2 = Instant::now();
    sb.u7s_ok(&["up", "--cri", "containerd", "--detach"]);
    wait_node_ready(&sb, Duration::from_secs(60));
    // The pod's status in etcd still says Running from before `down`: wait for its container to
    // answer again (the kubelet started it anew), not for the stale phase.
    wait_kubectl(
        &sb,
        Duration::from_secs(90),
        "the web pod to answer again after the second up",
        &[
            "exec",
            "deploy/web",
            "--",
            "/bin/busybox",
            "wget",
            "-qO-",
            "http://127.0.0.1:8080/",
        ],
        |s| s.contains("hello over the cluster network"),
    );
    eprintln!(
        "e2e kube: the Deployment answers again {:.1}s after the second up",
        t2.elapsed().as_secs_f64()
    );

    // kill -9 of the session's top process: nothing left, and up works again.
    let userns = session_userns(&sb).expect("no process of the session in a user namespace");
    let top = sb.status()["session"]["pid"].as_i64().expect("session pid") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(top),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_no_process(
        &sb,
        userns,
        "no process of the session after kill -9 of its top",
    );
    let st = sb.u7s(&["status", "--json"]);
    assert_eq!(
        st.status.code(),
        Some(3),
        "a killed session runs: {}",
        st.stdout
    );
    sb.u7s_ok(&["up", "--cri", "containerd", "--detach"]);
    wait_node_ready(&sb, Duration::from_secs(60));
    let userns = session_userns(&sb).expect("no process of the session in a user namespace");
    sb.u7s_ok(&["down"]);
    wait_no_process(&sb, userns, "no process of the session after the last down");
}
