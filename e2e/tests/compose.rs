//! End-to-end: usernetes in Docker (`compose/`), on the machine's rootful dockerd, driven by the
//! unprivileged test user (a member of the docker group). The image is built by
//! `docker-compose build` from the repository's `compose/` files and the real release of
//! `$U7S_E2E_RELEASE_DIR` (its archive, `SHA256SUMS` and its own `u7s-install`), on the base
//! `$U7S_E2E_COMPOSE_BASE`: Debian made by `scripts/compose-base.sh` with debootstrap, since
//! there is no registry here.
//!
//! - The compose cluster: a master (containerd, flannel) and a node per runtime (containerd,
//!   CRI-O, Docker through cri-dockerd) joined with the bundles of the one-shot `bundles`
//!   service. All four nodes get Ready; host-side kubectl reaches the apiserver through the
//!   port the compose file publishes; `down -v` leaves no container and no volume.
//! - The original README's single container, `docker run -d --privileged -p
//!   127.0.0.1:PORT:6443 IMAGE --cri=containerd`: its node gets Ready, kubectl from the host
//!   works with the kubeconfig the container prints, and `docker stop` ends the session
//!   cleanly (exit status 0).
//!
//! Both tests share the image (built once) and take turns: each runs several sessions' worth
//! of processes, too much for two at once on a small machine.

use e2e::*;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The image's tag (the compose file's `U7S_IMAGE`).
const IMAGE: &str = "usernetes:e2e";

/// One test at a time; the image once.
static TURN: Mutex<()> = Mutex::new(());
static BUILT: OnceLock<()> = OnceLock::new();

/// The folder holding the release: `usernetes-x86_64.tbz`, `SHA256SUMS` and, unpacked,
/// `usernetes/bin/u7s-install`.
fn release_dir() -> PathBuf {
    let dir = PathBuf::from(testkit::prereq::require(
        std::env::var_os("U7S_E2E_RELEASE_DIR"),
        "U7S_E2E_RELEASE_DIR, the folder of a release built with u7s (scripts/test.sh)",
    ));
    for f in [
        "usernetes-x86_64.tbz",
        "SHA256SUMS",
        "usernetes/bin/u7s-install",
        "usernetes/bin/u7s",
    ] {
        if !dir.join(f).exists() {
            testkit::prereq::missing(&format!(
                "{}: the release has no {f} (its --only must include u7s)",
                dir.display()
            ));
        }
    }
    dir
}

fn base_image() -> String {
    let base = std::env::var("U7S_E2E_COMPOSE_BASE").unwrap_or_default();
    if base.is_empty() {
        testkit::prereq::missing(
            "U7S_E2E_COMPOSE_BASE, the base image made by scripts/compose-base.sh",
        );
    }
    base
}

/// A sandbox of the test user holding a copy of `compose/` and the release: the build context
/// and compose project folder. Its `release` is the unpacked release (kubectl for the host).
fn project(what: &str) -> Sandbox {
    let mut sb = Sandbox::new(test_user());
    let release = release_dir();
    sb.release = release.join("usernetes");
    let dir = sb.user_dir(what);
    let compose = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compose");
    for f in ["Dockerfile", "docker-compose.yml", "packages.txt"] {
        std::fs::copy(compose.join(f), dir.join(f)).unwrap();
    }
    for (from, to) in [
        ("usernetes-x86_64.tbz", "usernetes-x86_64.tbz"),
        ("SHA256SUMS", "SHA256SUMS"),
        ("usernetes/bin/u7s-install", "u7s-install"),
    ] {
        std::fs::copy(release.join(from), dir.join(to)).unwrap();
    }
    for e in std::fs::read_dir(&dir).unwrap() {
        use std::os::unix::fs::PermissionsExt;
        let p = e.unwrap().path();
        let mode = if p.ends_with("u7s-install") {
            0o755
        } else {
            0o644
        };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    sb.env_overrides = vec![
        ("U7S_IMAGE".into(), IMAGE.into()),
        ("U7S_BASE_IMAGE".into(), base_image()),
    ];
    sb
}

/// `program args` as the test user in `dir`, within `limit`.
fn run_in(sb: &Sandbox, dir: &Path, program: &str, args: &[&str], limit: Duration) -> Run {
    let mut a = vec![
        "-c",
        r#"cd "$0" && exec "$@""#,
        dir.to_str().unwrap(),
        program,
    ];
    a.extend_from_slice(args);
    sb.run_for(Path::new("/bin/sh"), &a, limit)
}

#[track_caller]
fn ok(r: Run, what: &str) -> String {
    assert!(
        r.success(),
        "{what} failed ({}):\n{}\n{}",
        r.status,
        r.stdout,
        r.stderr
    );
    r.stdout
}

/// The Docker daemon answers the test user, and docker-compose is there.
fn require_docker(sb: &Sandbox) {
    let r = sb.run_for(
        Path::new("docker"),
        &["info", "--format", "{{.ServerVersion}}"],
        Duration::from_secs(30),
    );
    if !r.success() {
        testkit::prereq::missing(&format!(
            "a Docker daemon that {} reaches (docker group): {}",
            sb.user.name,
            r.stderr.trim()
        ));
    }
    if host_binary("docker-compose").is_none() {
        testkit::prereq::missing("docker-compose (Debian package docker-compose)");
    }
}

/// Builds the image once, with the compose file's own build section.
fn build_image(sb: &Sandbox, dir: &Path) {
    BUILT.get_or_init(|| {
        let t0 = Instant::now();
        ok(
            run_in(
                sb,
                dir,
                "docker-compose",
                &["-p", "u7se2ebuild", "build", "master"],
                Duration::from_secs(900),
            ),
            "docker-compose build",
        );
        eprintln!("image {IMAGE} built in {:.1?}", t0.elapsed());
    });
}

/// Node names and whether each is Ready, from `kubectl get nodes -o json`.
fn nodes(json: &str) -> Vec<(String, bool)> {
    let v: serde_json::Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(_) => return Vec::new(),
    };
    v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            let ready = n["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            (
                n["metadata"]["name"].as_str().unwrap_or("").to_string(),
                ready,
            )
        })
        .collect()
}

/// The admin kubeconfig of a container's session, pointed at the Docker host's `port`.
fn host_kubeconfig(sb: &Sandbox, dir: &Path, exec: &[&str], port: u16) -> PathBuf {
    let mut a = exec.to_vec();
    a.extend_from_slice(&["u7s", "kubectl", "config", "view", "--raw"]);
    let (program, args) = a.split_first().unwrap();
    let text = ok(
        run_in(sb, dir, program, args, Duration::from_secs(60)),
        "kubectl config view --raw",
    );
    assert!(text.contains("server: https://127.0.0.1:6443"), "{text}");
    let text = text.replace(
        "server: https://127.0.0.1:6443",
        &format!("server: https://127.0.0.1:{port}"),
    );
    let path = dir.join("host.kubeconfig");
    std::fs::write(&path, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path
}

/// `kubectl get nodes -o json` on the host (the release's kubectl) with `kubeconfig`.
fn host_get_nodes(sb: &Sandbox, kubeconfig: &Path) -> String {
    let args = [
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "get",
        "nodes",
        "-o",
        "json",
    ];
    ok(
        sb.run_for(
            &sb.release.join("bin/kubectl"),
            &args,
            Duration::from_secs(60),
        ),
        "host-side kubectl get nodes",
    )
}

/// Stops and removes the compose project (containers, network, volumes) when dropped.
struct ComposeDown<'a> {
    sb: &'a Sandbox,
    dir: PathBuf,
    name: String,
}

impl Drop for ComposeDown<'_> {
    fn drop(&mut self) {
        let r = run_in(
            self.sb,
            &self.dir,
            "docker-compose",
            &[
                "-p",
                &self.name,
                "down",
                "-v",
                "--remove-orphans",
                "-t",
                "60",
            ],
            Duration::from_secs(300),
        );
        if !r.success() {
            eprintln!("docker-compose down: {}\n{}", r.stdout, r.stderr);
        }
    }
}

#[test]
#[ignore = "needs U7S_TEST_USER in the docker group, a Docker daemon, docker-compose, U7S_E2E_RELEASE_DIR and U7S_E2E_COMPOSE_BASE (scripts/test.sh prepares them)"]
fn compose_cluster_of_a_master_and_a_node_per_runtime_gets_ready() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let mut sb = project("compose");
    require_docker(&sb);
    let dir = sb.user_dir("compose");
    build_image(&sb, &dir);

    let name = format!("u7se2e{}", std::process::id());
    let port = free_port();
    sb.env_overrides
        .push(("U7S_APISERVER_HOST_PORT".into(), port.to_string()));
    let down = ComposeDown {
        sb: &sb,
        dir: dir.clone(),
        name: name.clone(),
    };
    let compose = |args: &[&str], limit: u64| {
        let mut a = vec!["-p", name.as_str()];
        a.extend_from_slice(args);
        run_in(&sb, &dir, "docker-compose", &a, Duration::from_secs(limit))
    };
    let diagnostics = || {
        let mut d = compose(&["ps"], 60).stdout;
        for s in ["master", "node-containerd", "node-crio", "node-docker"] {
            let st = compose(&["exec", "-T", s, "u7s", "status"], 60);
            d += &format!("--- {s}: u7s status\n{}{}", st.stdout, st.stderr);
        }
        d += &compose(&["logs", "--tail", "40"], 60).stdout;
        d
    };

    // `up -d` waits for the master to be healthy (`u7s status`) before the bundles step, and
    // for the bundles before the nodes.
    let t0 = Instant::now();
    let up = compose(&["up", "-d", "--no-build"], 900);
    assert!(up.success(), "compose up failed: {up:?}\n{}", diagnostics());
    let want = ["master", "node-containerd", "node-crio", "node-docker"];
    let ready = (|| {
        let deadline = Instant::now() + Duration::from_secs(420);
        while Instant::now() < deadline {
            let r = compose(
                &[
                    "exec", "-T", "master", "u7s", "kubectl", "get", "nodes", "-o", "json",
                ],
                60,
            );
            let n = nodes(&r.stdout);
            if want
                .iter()
                .all(|w| n.iter().any(|(name, ready)| name == w && *ready))
            {
                return Some(n);
            }
            std::thread::sleep(Duration::from_secs(3));
        }
        None
    })();
    let Some(ready) = ready else {
        panic!("the four nodes did not get Ready:\n{}", diagnostics());
    };
    eprintln!(
        "compose: {} nodes Ready {:.1?} after `up -d`",
        ready.len(),
        t0.elapsed()
    );

    // Host-side kubectl through the port the compose file publishes on the Docker host.
    let kubeconfig = host_kubeconfig(
        &sb,
        &dir,
        &["docker-compose", "-p", &name, "exec", "-T", "master"],
        port,
    );
    let out = host_get_nodes(&sb, &kubeconfig);
    assert_eq!(nodes(&out).len(), 4, "{out}");

    drop(down);
    let left = run_in(
        &sb,
        &dir,
        "docker",
        &[
            "ps",
            "-aq",
            "--filter",
            &format!("label=com.docker.compose.project={name}"),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(left.stdout.trim(), "", "containers left: {left:?}");
    let vols = ok(
        run_in(
            &sb,
            &dir,
            "docker",
            &["volume", "ls", "-q"],
            Duration::from_secs(30),
        ),
        "docker volume ls",
    );
    assert!(
        !vols.lines().any(|v| v.starts_with(&format!("{name}_"))),
        "volumes left: {vols}"
    );
}

/// Removes the single container (and its anonymous volume) when dropped.
struct RemoveContainer<'a> {
    sb: &'a Sandbox,
    name: String,
}

impl Drop for RemoveContainer<'_> {
    fn drop(&mut self) {
        let _ = self.sb.run_for(
            Path::new("docker"),
            &["rm", "-f", "-v", &self.name],
            Duration::from_secs(120),
        );
    }
}

#[test]
#[ignore = "needs U7S_TEST_USER in the docker group, a Docker daemon, docker-compose, U7S_E2E_RELEASE_DIR and U7S_E2E_COMPOSE_BASE (scripts/test.sh prepares them)"]
fn a_single_container_runs_a_node_as_the_original_readme_did() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let sb = project("single");
    require_docker(&sb);
    let dir = sb.user_dir("single");
    build_image(&sb, &dir);

    let name = format!("u7se2e-single{}", std::process::id());
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:6443");
    let docker = |args: &[&str], limit: u64| {
        sb.run_for(Path::new("docker"), args, Duration::from_secs(limit))
    };
    let _rm = RemoveContainer {
        sb: &sb,
        name: name.clone(),
    };
    // As the original README: docker run -td --name usernetes-node -p 127.0.0.1:6443:6443
    // --privileged rootlesscontainers/usernetes --cri=containerd
    let t0 = Instant::now();
    ok(
        docker(
            &[
                "run",
                "-d",
                "--name",
                &name,
                "-p",
                &publish,
                "--privileged",
                IMAGE,
                "--cri=containerd",
            ],
            120,
        ),
        "docker run",
    );
    let diagnostics = || {
        let st = docker(&["exec", &name, "u7s", "status"], 60);
        let logs = docker(&["logs", "--tail", "60", &name], 60);
        format!("{}{}\n{}{}", st.stdout, st.stderr, logs.stdout, logs.stderr)
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    let node = loop {
        let r = docker(
            &[
                "exec", &name, "u7s", "kubectl", "get", "nodes", "-o", "json",
            ],
            60,
        );
        let n = nodes(&r.stdout);
        if let [(node, true)] = &n[..] {
            break node.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the container's node did not get Ready: {n:?}\n{}",
            diagnostics()
        );
        std::thread::sleep(Duration::from_secs(3));
    };
    eprintln!(
        "single container: node {node} Ready {:.1?} after docker run",
        t0.elapsed()
    );

    let kubeconfig = host_kubeconfig(&sb, &dir, &["docker", "exec", &name], port);
    let out = host_get_nodes(&sb, &kubeconfig);
    assert_eq!(nodes(&out), [(node, true)], "{out}");

    // `docker stop` (SIGTERM to `u7s up`, the container's first process): the session ends
    // cleanly within the grace period, not killed.
    ok(docker(&["stop", "-t", "60", &name], 120), "docker stop");
    let code = ok(
        docker(&["inspect", "-f", "{{.State.ExitCode}}", &name], 30),
        "docker inspect",
    );
    assert_eq!(
        code.trim(),
        "0",
        "exit status after docker stop\n{}",
        diagnostics()
    );
}
