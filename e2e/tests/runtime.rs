//! End-to-end: a release of real binaries (Debian's RootlessKit, slirp4netns, dockerd,
//! containerd, runc, etcd, plus our `u7s` and release payload) run rootless as the unprivileged
//! test user. Scenarios of issue 5: Docker session, images and published ports, RootlessKit
//! ports, status, stop, kill -9, containerd with CRI, etcd with client TLS, reset, wrappers.

use e2e::*;
use std::sync::Mutex;
use std::time::Duration;

/// One session per user at a time: the scenarios run one after the other.
static SERIAL: Mutex<()> = Mutex::new(());

/// A sandbox with the release installed by `u7s-install`.
fn sandbox() -> Sandbox {
    let user = test_user();
    // Earlier tests may still be winding down; the user must be idle before we start.
    let uid = user.uid.as_raw();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !user_processes(uid).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let busy = user_processes(uid);
    assert!(
        busy.is_empty(),
        "the test user {} must be idle for these tests, but runs: {busy:?}",
        user.name
    );
    let release = release();
    let mut sb = Sandbox::new(user);
    sb.install(release);
    sb
}

fn assert_no_process_left(sb: &Sandbox, after: &str) {
    let left = user_processes(sb.user.uid.as_raw());
    assert!(
        left.is_empty(),
        "processes of {} left after {after}: {left:?}",
        sb.user.name
    );
}

#[test]
#[ignore = "end-to-end: needs root, U7S_TEST_USER and the host packages of scripts/ci-setup.sh"]
fn docker_session_images_ports_status_down_reset() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let sb = sandbox();

    let out = sb.u7s_ok(&["up", "--cri", "docker", "--no-kube", "--detach"]);
    assert!(out.contains("ready"), "{out}");

    // A second session is refused while this one lives.
    let again = sb.u7s(&["up", "--cri", "docker", "--no-kube", "--detach"]);
    assert!(
        !again.success() && again.stderr.contains("already running"),
        "{again:?}"
    );

    let info = sb.u7s_ok(&["docker", "info", "--format", "{{json .SecurityOptions}}"]);
    assert!(info.contains("rootless"), "docker info: {info}");

    // An image made here, imported and run.
    let tar = sb.path().join("busybox.tar");
    busybox_rootfs_tar(&tar, "hello from the u7s e2e test\n");
    let tar_s = tar.display().to_string();
    sb.u7s_ok(&["docker", "import", &tar_s, "u7s-e2e/busybox:1"]);
    let echo = sb.u7s_ok(&[
        "docker",
        "run",
        "--rm",
        "u7s-e2e/busybox:1",
        "/bin/busybox",
        "echo",
        "inside-a-container",
    ]);
    assert_eq!(echo.trim(), "inside-a-container");

    // docker run -p: reachable from the host on 127.0.0.1.
    let web = free_port();
    let publish = format!("127.0.0.1:{web}:8080");
    sb.u7s_ok(&[
        "docker",
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        &publish,
        "u7s-e2e/busybox:1",
        "/bin/busybox",
        "httpd",
        "-f",
        "-p",
        "8080",
        "-h",
        "/www",
    ]);
    let page = wait_for(
        Duration::from_secs(30),
        "the container's port on the host",
        || {
            http_get(web, "/index.html")
                .ok()
                .filter(|b| b.contains("hello from the u7s e2e test"))
        },
    );
    assert!(page.starts_with("HTTP/1."), "{page}");

    // u7s ports: a process inside the namespace, published, listed, removed.
    let www = sb.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "served from the namespace\n").unwrap();
    let inner = free_port();
    let busybox = host_binary("busybox").unwrap();
    let listen = format!("127.0.0.1:{inner}");
    let mut httpd = sb
        .command(
            &sb.release.join("bin/u7s"),
            &[
                "nsenter",
                &busybox.display().to_string(),
                "httpd",
                "-f",
                "-p",
                &listen,
                "-h",
                &www.display().to_string(),
            ],
        )
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let host_port = free_port();
    let spec = format!("{host_port}:{inner}/tcp");
    let added = sb.u7s_ok(&["ports", "add", &spec]);
    assert!(
        added.contains(&format!("127.0.0.1:{host_port}:{inner}/tcp")),
        "{added}"
    );
    wait_for(
        Duration::from_secs(30),
        "the namespace's httpd through u7s ports",
        || {
            http_get(host_port, "/index.html")
                .ok()
                .filter(|b| b.contains("served from the namespace"))
        },
    );
    let ls: serde_json::Value =
        serde_json::from_str(&sb.u7s_ok(&["ports", "ls", "--json"])).unwrap();
    let ours = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["spec"]["parentPort"] == host_port && p["spec"]["childPort"] == inner)
        .unwrap_or_else(|| panic!("{spec} not listed: {ls}"));
    assert_eq!(ours["spec"]["parentIP"], "127.0.0.1");
    assert!(ours["id"].as_u64().unwrap() >= 1);
    assert!(sb.u7s_ok(&["ports", "ls"]).contains(&host_port.to_string()));
    sb.u7s_ok(&["ports", "rm", &spec]);
    wait_for(Duration::from_secs(10), "the removed port to close", || {
        http_get(host_port, "/").is_err().then_some(())
    });
    let ls: serde_json::Value =
        serde_json::from_str(&sb.u7s_ok(&["ports", "ls", "--json"])).unwrap();
    assert!(
        !ls.to_string()
            .contains(&format!("\"parentPort\":{host_port}")),
        "{ls}"
    );

    // status --json parses and tells the truth.
    let st = sb.status();
    assert_eq!(st["running"], true);
    assert_eq!(st["session"]["state"], "ready");
    assert_eq!(st["session"]["cri"], "docker");
    let comps = st["components"].as_array().unwrap();
    let dockerd = comps
        .iter()
        .find(|c| c["name"] == "dockerd")
        .expect("dockerd in status");
    assert_eq!(dockerd["state"], "ready");
    let pid = dockerd["pid"].as_i64().expect("host pid of dockerd") as i32;
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        cmdline.contains("dockerd"),
        "pid {pid} is not dockerd: {cmdline:?}"
    );
    assert!(
        dockerd["version"].as_str().unwrap_or("").contains("Docker"),
        "{dockerd}"
    );
    assert!(
        st["ports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["spec"]["parentPort"] == web)
    );
    assert!(sb.u7s_ok(&["logs", "dockerd", "-n", "5"]).len() > 1);

    // Sub-UID owned files exist now (the image's /owned belongs to uid 1000 in the namespace).
    let subuid = files_owned_from(&sb.data().join("docker"), 100_000);
    assert!(
        !subuid.is_empty(),
        "expected sub-UID owned files under {}",
        sb.data().display()
    );

    // down: nothing of the session is left (the nsenter'd httpd was in its pid namespace).
    let down = sb.u7s_ok(&["down"]);
    assert!(down.contains("stopped"), "{down}");
    assert_no_process_left(&sb, "u7s down");
    let _ = httpd.wait();
    let st = sb.u7s(&["status", "--json"]);
    assert_eq!(st.status.code(), Some(3), "status of a stopped session");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&st.stdout).unwrap()["running"],
        false
    );

    // reset: data (including the sub-UID files) and state go; config stays.
    assert!(sb.config().join("pki").exists() || !sb.config().exists());
    let reset = sb.u7s_ok(&["reset", "--yes"]);
    assert!(
        reset.contains("inside a user namespace"),
        "sub-UID files need the namespace: {reset}"
    );
    for entry in ["docker", "containerd", "logs"] {
        assert!(!sb.data().join(entry).exists(), "{entry} survived reset");
    }
    assert!(!sb.runtime_dir.join("usernetes").exists());
    assert!(
        sb.release.join("bin/u7s").exists(),
        "the installed release stays"
    );
    assert!(
        sb.data().join("versions").is_dir(),
        "installed versions stay"
    );
}

#[test]
#[ignore = "end-to-end: needs root, U7S_TEST_USER and the host packages of scripts/ci-setup.sh"]
fn restart_on_crash_and_kill_9_of_the_top_process_leaves_nothing() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let sb = sandbox();
    sb.u7s_ok(&["up", "--no-kube", "--detach"]);

    // A component that dies is restarted (with backoff) and answers again.
    let dockerd_pid = |st: &serde_json::Value| {
        st["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "dockerd")
            .map(|c| {
                (
                    c["pid"].as_i64(),
                    c["state"].clone(),
                    c["restarts"].as_u64(),
                )
            })
            .unwrap()
    };
    let (pid, _, _) = dockerd_pid(&sb.status());
    let pid = pid.expect("dockerd host pid") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_for(
        Duration::from_secs(30),
        "dockerd restarted and ready",
        || {
            let (p, state, restarts) = dockerd_pid(&sb.status());
            (state == "ready" && restarts == Some(1) && p != Some(pid as i64)).then_some(())
        },
    );
    assert!(
        sb.u7s_ok(&["docker", "info", "--format", "{{.ServerVersion}}"])
            .trim()
            .len()
            > 1
    );
    assert!(sb.u7s_ok(&["logs", "session"]).contains("restarting"));

    let top = sb.status()["session"]["pid"].as_i64().expect("session pid") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(top),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let uid = sb.user.uid.as_raw();
    wait_for(
        Duration::from_secs(15),
        "every process of the session to die",
        || user_processes(uid).is_empty().then_some(()),
    );
    let st = sb.u7s(&["status", "--json"]);
    assert_eq!(
        st.status.code(),
        Some(3),
        "a killed session is not running: {}",
        st.stdout
    );
    // The stale session is cleaned and a new one starts. A port of U7S_ROOTLESSKIT_PORTS is
    // published once: under --detach the background process used to add it a second time.
    let env_port = free_port();
    let env_spec = format!("U7S_ROOTLESSKIT_PORTS=127.0.0.1:{env_port}:{env_port}/tcp");
    let up = sb.run_for(
        std::path::Path::new("/usr/bin/env"),
        &[&env_spec, "u7s", "up", "--no-kube", "--detach"],
        Duration::from_secs(120),
    );
    assert!(up.success() && up.stdout.contains("ready"), "{up:?}");
    let ls: serde_json::Value =
        serde_json::from_str(&sb.u7s_ok(&["ports", "ls", "--json"])).unwrap();
    let published = ls
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["spec"]["parentPort"] == env_port)
        .count();
    assert_eq!(published, 1, "{env_spec}: {ls}");
    assert!(
        sb.u7s_ok(&["docker", "info", "--format", "{{.ServerVersion}}"])
            .trim()
            .len()
            > 1
    );
    sb.u7s_ok(&["down"]);
    assert_no_process_left(&sb, "u7s down after a restart");
}

#[test]
#[ignore = "end-to-end: needs root, U7S_TEST_USER and the host packages of scripts/ci-setup.sh"]
fn containerd_with_cri_and_etcd_with_client_tls() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let sb = sandbox();
    sb.u7s_ok(&[
        "up",
        "--cri",
        "containerd",
        "--no-kube",
        "--etcd",
        "--detach",
    ]);

    let sock = sb.runtime_dir.join("usernetes/containerd/containerd.sock");
    let ctr = sb.release.join("bin/ctr");
    let plugins = sb.run_for(
        &ctr,
        &["--address", &sock.display().to_string(), "plugins", "ls"],
        Duration::from_secs(30),
    );
    assert!(plugins.success(), "{plugins:?}");
    let cri = plugins
        .stdout
        .lines()
        .find(|l| {
            l.starts_with("io.containerd.grpc.v1") && l.split_whitespace().nth(1) == Some("cri")
        })
        .unwrap_or_else(|| panic!("no CRI plugin:\n{}", plugins.stdout));
    assert_eq!(cri.split_whitespace().last(), Some("ok"), "{cri}");

    let pki = sb.config().join("pki");
    let p = |f: &str| pki.join(f).display().to_string();
    for key in ["ca-key.pem", "etcd-server-key.pem", "etcd-client-key.pem"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(pki.join(key))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{key}");
    }
    let etcdctl = sb.release.join("bin/etcdctl").display().to_string();
    let base = [
        "nsenter",
        &etcdctl,
        "--endpoints=https://127.0.0.1:2379",
        "--dial-timeout=2s",
        "--command-timeout=3s",
    ];
    let ca = format!("--cacert={}", p("etcd-ca.pem"));
    let cert = format!("--cert={}", p("etcd-client.pem"));
    let key = format!("--key={}", p("etcd-client-key.pem"));
    let mut with = base.to_vec();
    with.extend([
        ca.as_str(),
        cert.as_str(),
        key.as_str(),
        "put",
        "u7s-e2e",
        "yes",
    ]);
    let put = sb.u7s(&with);
    assert!(
        put.success() && put.stdout.contains("OK"),
        "etcd with a client certificate: {put:?}"
    );
    let mut without = base.to_vec();
    without.extend([ca.as_str(), "get", "u7s-e2e"]);
    let refused = sb.u7s(&without);
    assert!(
        !refused.success(),
        "etcd answered a client without a certificate: {refused:?}"
    );

    let st = sb.status();
    let names: Vec<&str> = st["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["etcd", "containerd"]);
    sb.u7s_ok(&["down"]);
    assert_no_process_left(&sb, "u7s down (containerd, etcd)");
}

#[test]
#[ignore = "end-to-end: needs root, U7S_TEST_USER and the host packages of scripts/ci-setup.sh"]
fn wrappers_and_modes() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let sb = sandbox();
    let r = sb.release.as_path();
    // Before any control plane ran, kubectl.sh names the kubeconfig it needs.
    let k = sb.run_for(
        &r.join("kubectl.sh"),
        &["get", "nodes"],
        Duration::from_secs(30),
    );
    assert!(
        !k.success() && k.stderr.contains("admin.kubeconfig"),
        "{k:?}"
    );
    // The default mode is Kubernetes on Docker; this host has no Kubernetes server binaries, so
    // the session stops before anything runs, naming the first one missing.
    let run = sb.run_for(&r.join("run.sh"), &["default"], Duration::from_secs(60));
    assert!(!run.success(), "{run:?}");
    assert!(
        ["kube-apiserver", "cri-dockerd", "kubelet"]
            .iter()
            .any(|b| run.stderr.contains(b)),
        "{run:?}"
    );
    assert_no_process_left(&sb, "a refused Kubernetes session");
    // This release has no Kubernetes binaries: the first one the plan looks for is named
    // (the pause program of the sandbox image, or kube-apiserver).
    let kube = sb.u7s(&["up", "--cri", "containerd", "--detach"]);
    assert!(
        !kube.success()
            && ["kube-apiserver", "pause"]
                .iter()
                .any(|b| kube.stderr.contains(b)),
        "{kube:?}"
    );
    assert_no_process_left(&sb, "a refused Kubernetes session on containerd");
    // CRI-O is not on this host: the session stops before anything runs, naming it.
    let crio = sb.u7s(&["up", "--cri", "crio", "--no-kube", "--detach"]);
    assert!(!crio.success() && crio.stderr.contains("crio"), "{crio:?}");
    assert_no_process_left(&sb, "a refused CRI-O session");
    let cli = sb.run_for(
        &r.join("dockercli.sh"),
        &["--version"],
        Duration::from_secs(30),
    );
    assert!(
        cli.success() && cli.stdout.contains("Docker version"),
        "{cli:?}"
    );
    let ls = sb.run_for(
        &r.join("rootlessctl.sh"),
        &["list-ports"],
        Duration::from_secs(30),
    );
    assert!(
        !ls.success() && ls.stderr.contains("no usernetes session"),
        "{ls:?}"
    );
    let clean = sb.run_for(&r.join("cleanup.sh"), &[], Duration::from_secs(60));
    assert!(clean.success(), "{clean:?}");

    // systemd user units point at the installed `current` (no user manager here: files only).
    sb.u7s(&["units", "install", "--no-kube"]);
    let units = sb.home.join(".config/systemd/user");
    let service = std::fs::read_to_string(units.join("u7s.service")).expect("u7s.service written");
    let current_u7s = sb.data().join("current/bin/u7s");
    assert!(
        service.contains(&format!("ExecStart=\"{}\" up", current_u7s.display())),
        "{service}"
    );
    for must in ["Delegate=yes", "KillMode=mixed", "LimitNOFILE="] {
        assert!(service.contains(must), "{must}: {service}");
    }
    assert!(units.join("u7s.target").exists());
    sb.u7s(&["units", "remove"]);
    assert!(!units.join("u7s.service").exists() && !units.join("u7s.target").exists());
}
