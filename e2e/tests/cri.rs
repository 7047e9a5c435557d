//! End-to-end: containerd's CRI driven for real, as the kubelet would, inside a rootless
//! session of the unprivileged test user (`u7s up --cri containerd --no-kube`): images built
//! here (busybox-static as the rootfs, the pause image named as the generated containerd config
//! says) imported with the release's `ctr`, then a pod sandbox on the CNI bridge network (with a
//! host port through `portmap`) and a container in it, through the CRI v1 calls of
//! [`e2e::cri::Cri`]; `u7s down` leaves no process of the session.

use e2e::cri::{
    ContainerConfig, ContainerMetadata, ContainerState, Cri, ImageSpec, LinuxPodSandboxConfig,
    LinuxSandboxSecurityContext, NamespaceMode, NamespaceOption, PodSandboxConfig,
    PodSandboxMetadata, PodSandboxState, PortMapping, Protocol,
};
use e2e::*;
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;
use std::time::Duration;

/// The pause image the generated containerd config names (runtime's `containerd::SANDBOX_IMAGE`).
const SANDBOX_IMAGE: &str = "registry.k8s.io/pause:3.10.2";
/// The container's image, made from the same busybox layer.
const APP_IMAGE: &str = "u7s-e2e/busybox:1";
/// The pod's host port (a `hostPort`), inside the session's network namespace.
const HOST_PORT: i32 = 18080;
/// The CNI bridge's own address (the gateway of 10.88.0.0/16), a local address of the session.
const BRIDGE_IP: &str = "10.88.0.1";

static SERIAL: Mutex<()> = Mutex::new(());
/// Processes of this sandbox's session: the user's processes that carry the sandbox's
/// XDG_RUNTIME_DIR, or live in the session's user namespace (the containers). Other sessions
/// of the same user (in other sandboxes) are not counted.
fn session_processes(sb: &Sandbox, userns: Option<u64>) -> Vec<(i32, String)> {
    let marker = format!("XDG_RUNTIME_DIR={}", sb.runtime_dir.display());
    user_processes(sb.user.uid.as_raw())
        .into_iter()
        .filter(|(pid, _)| {
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let ours = env.split(|b| *b == 0).any(|v| v == marker.as_bytes());
            let ns = std::fs::metadata(format!("/proc/{pid}/ns/user")).map(|m| m.ino());
            ours || (userns.is_some() && ns.ok() == userns)
        })
        .collect()
}

/// The user namespace of the session (the one its processes live in, not the host's).
fn session_userns(sb: &Sandbox) -> Option<u64> {
    let host = std::fs::metadata("/proc/self/ns/user").ok()?.ino();
    session_processes(sb, None)
        .iter()
        .filter_map(|(pid, _)| std::fs::metadata(format!("/proc/{pid}/ns/user")).ok())
        .map(|m| m.ino())
        .find(|ino| *ino != host)
}

fn in_pod_network(ip: &str) -> bool {
    ip.parse::<Ipv4Addr>()
        .is_ok_and(|a| a.octets()[0] == 10 && a.octets()[1] == 88)
}

#[test]
#[ignore = "end-to-end: needs root, U7S_TEST_USER and the host packages of scripts/ci-setup.sh"]
fn containerd_cri_runs_a_pod_on_the_bridge_network() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let user = test_user();
    let release = release();
    let mut sb = Sandbox::new(user);
    sb.install(release);

    sb.u7s_ok(&["up", "--cri", "containerd", "--no-kube", "--detach"]);
    let userns = session_userns(&sb);
    assert!(
        userns.is_some(),
        "no process of the session in a user namespace"
    );
    let state = sb.runtime_dir.join("usernetes");
    let sock = state.join("containerd/containerd.sock");
    let config = std::fs::read_to_string(state.join("containerd.toml")).expect("containerd.toml");
    assert!(config.contains(SANDBOX_IMAGE), "{config}");

    // One image archive, two names: the app image and the pause image (busybox `sleep`).
    let rootfs = sb.path().join("rootfs.tar");
    busybox_rootfs_tar(&rootfs, "hello over the pod network\n");
    let images = sb.path().join("images.tar");
    image_archive(
        &images,
        &rootfs,
        &[APP_IMAGE, SANDBOX_IMAGE],
        &["/bin/busybox", "sleep", "2147483647"],
    );
    let ctr = sb.release.join("bin/ctr").display().to_string();
    let (sock_s, images_s) = (sock.display().to_string(), images.display().to_string());
    let snap = snapshotter(&config);
    // containerd 2's default import (the transfer API) names only the first RepoTag of a
    // Docker archive entry; its local import names every tag, as containerd 1.x always did.
    let mut import = vec![
        "nsenter",
        &ctr,
        "--address",
        &sock_s,
        "-n",
        "k8s.io",
        "images",
        "import",
    ];
    if config.contains("version = 3") {
        import.push("--local");
    }
    import.extend(["--snapshotter", &snap, &images_s]);
    sb.u7s_ok(&import);

    let cri = Cri::connect(&sock).expect("connect to containerd's CRI");
    let v = cri.version().expect("Version");
    assert_eq!(v.runtime_name, "containerd", "{v:?}");
    assert_eq!(v.runtime_api_version, "v1", "{v:?}");
    let listed = cri.list_images().expect("ListImages");
    for name in ["docker.io/u7s-e2e/busybox:1", SANDBOX_IMAGE] {
        assert!(
            listed.iter().any(|i| i.repo_tags.iter().any(|t| t == name)),
            "{name} not listed: {listed:?}"
        );
    }
    let pause = cri.image_status(SANDBOX_IMAGE).expect("ImageStatus");
    assert!(pause.is_some_and(|i| i.size > 0), "pause image not found");
    assert!(
        cri.image_status("u7s-e2e/never-imported:1")
            .expect("ImageStatus")
            .is_none()
    );

    // The pod, on the pod network (not the host's), its logs in a folder of the user.
    let logs = sb.data().join("pod-logs");
    std::fs::create_dir_all(&logs).unwrap();
    nix::unistd::chown(&logs, Some(sb.user.uid), Some(sb.user.gid)).unwrap();
    let pod_config = PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: "web".into(),
            uid: "u7s-e2e-web-0001".into(),
            namespace: "default".into(),
            attempt: 0,
        }),
        hostname: "web".into(),
        log_directory: logs.display().to_string(),
        port_mappings: vec![PortMapping {
            protocol: Protocol::Tcp as i32,
            container_port: 8080,
            host_port: HOST_PORT,
            host_ip: String::new(),
        }],
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: String::new(),
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    network: NamespaceMode::Pod as i32,
                    pid: NamespaceMode::Container as i32,
                    ipc: NamespaceMode::Pod as i32,
                }),
            }),
        }),
        ..Default::default()
    };
    let pod = cri
        .run_pod_sandbox(&pod_config)
        .unwrap_or_else(|e| panic!("{e}\ncontainerd log:\n{}", containerd_log(&sb)));
    let status = cri.pod_sandbox_status(&pod).expect("PodSandboxStatus");
    assert_eq!(
        status.state,
        PodSandboxState::SandboxReady as i32,
        "{status:?}"
    );
    let ip = status.network.map(|n| n.ip).unwrap_or_default();
    assert!(
        in_pod_network(&ip),
        "pod IP {ip:?} is not in the CNI bridge's 10.88.0.0/16"
    );

    let app = ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: "httpd".into(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: APP_IMAGE.into(),
            ..Default::default()
        }),
        command: vec!["/bin/sh".into(), "-c".into()],
        args: vec![
            "echo hello from the pod; echo kept > /tmp/x; exec /bin/busybox httpd -f -p 8080 -h /www"
                .into(),
        ],
        log_path: "httpd.log".into(),
        ..Default::default()
    };
    let ctr_id = cri
        .create_container(&pod, &app, &pod_config)
        .unwrap_or_else(|e| panic!("{e}\ncontainerd log:\n{}", containerd_log(&sb)));
    cri.start_container(&ctr_id)
        .unwrap_or_else(|e| panic!("{e}\ncontainerd log:\n{}", containerd_log(&sb)));
    let st = cri.container_status(&ctr_id).expect("ContainerStatus");
    assert_eq!(st.state, ContainerState::ContainerRunning as i32, "{st:?}");
    assert_eq!(st.log_path, logs.join("httpd.log").display().to_string());

    // ExecSync sees the file the container wrote (wait for the shell to get there).
    let out = wait_for(Duration::from_secs(10), "/tmp/x in the container", || {
        let r = cri
            .exec_sync(&ctr_id, &["/bin/busybox", "cat", "/tmp/x"], 10)
            .expect("ExecSync");
        (r.exit_code == 0).then_some(r)
    });
    assert_eq!(String::from_utf8_lossy(&out.stdout), "kept\n");
    let fails = cri
        .exec_sync(&ctr_id, &["/bin/busybox", "cat", "/nonexistent"], 10)
        .expect("ExecSync");
    assert_ne!(fails.exit_code, 0, "{fails:?}");

    // The pod answers on its bridge address from the session's network namespace, and on its
    // host port (CNI portmap) at the session's own bridge address.
    let busybox = host_binary("busybox").unwrap().display().to_string();
    for url in [
        format!("http://{ip}:8080/index.html"),
        format!("http://{BRIDGE_IP}:{HOST_PORT}/index.html"),
    ] {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let page = loop {
            // (busybox 1.35's `wget -T` crashes: run_for's limit bounds the call instead)
            let r = sb.u7s(&["nsenter", &busybox, "wget", "-qO-", &url]);
            if r.success() {
                break r.stdout;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no answer from the pod at {url} in the session's network namespace: {r:?}\n{}",
                diagnostics(&sb)
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(page, "hello over the pod network\n", "{url}");
    }

    // The container's stdout is in its CRI log file.
    let log_file = logs.join("httpd.log");
    let log = wait_for(Duration::from_secs(10), "the container's log", || {
        std::fs::read_to_string(&log_file)
            .ok()
            .filter(|l| l.contains("hello from the pod"))
    });
    assert!(
        log.lines()
            .any(|l| l.contains(" stdout F hello from the pod")),
        "{log}"
    );

    cri.stop_container(&ctr_id, 1).expect("StopContainer");
    let st = cri.container_status(&ctr_id).expect("ContainerStatus");
    assert_eq!(st.state, ContainerState::ContainerExited as i32, "{st:?}");
    cri.remove_container(&ctr_id).expect("RemoveContainer");
    assert!(
        cri.container_status(&ctr_id).is_err(),
        "container still there"
    );
    cri.stop_pod_sandbox(&pod).expect("StopPodSandbox");
    let status = cri.pod_sandbox_status(&pod).expect("PodSandboxStatus");
    assert_eq!(status.state, PodSandboxState::SandboxNotready as i32);
    cri.remove_pod_sandbox(&pod).expect("RemovePodSandbox");
    assert!(cri.pod_sandbox_status(&pod).is_err(), "sandbox still there");
    drop(cri);

    sb.u7s_ok(&["down"]);
    let left = session_processes(&sb, userns);
    assert!(
        left.is_empty(),
        "processes of the session left after u7s down: {left:?}"
    );
}

fn containerd_log(sb: &Sandbox) -> String {
    let log = std::fs::read_to_string(sb.data().join("logs/containerd.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The session's addresses and routes, for a failed network assertion.
fn diagnostics(sb: &Sandbox) -> String {
    let ip = host_binary("ip").map(|p| p.display().to_string());
    let Some(ip) = ip else {
        return String::new();
    };
    ["addr", "route"]
        .iter()
        .map(|what| {
            let r = sb.u7s(&["nsenter", &ip, what]);
            format!("ip {what}:\n{}{}", r.stdout, r.stderr)
        })
        .collect()
}
