//! The release's wrappers (`run.sh`, `dockercli.sh`, `kubectl.sh`, `cleanup.sh`) and the `u7s`
//! commands behind them, as a newcomer meets them on a release without Kubernetes and with no
//! session running (newcomer review L4, L10, L21, L24), and `u7s units` on a host without a
//! systemd user manager (M13). The release is a folder with the
//! wrappers of `release/` and `bin/u7s` (a link to the built binary); the programs a session
//! would run are stand-ins in a `fakebin/` on `PATH`, enough for the checks made before
//! anything starts.

use runtime::session::config::{Cri, SessionConfig};
use runtime::session::paths::{Env, Paths};
use runtime::session::status::{SessionFile, write_json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Release {
    dir: tempfile::TempDir,
}

impl Release {
    fn new() -> Release {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let wrappers = Path::new(env!("CARGO_MANIFEST_DIR")).join("../release");
        std::fs::create_dir_all(d.join("rel/bin")).unwrap();
        for w in ["run.sh", "dockercli.sh", "kubectl.sh", "cleanup.sh"] {
            testkit::copy_executable(&wrappers.join(w), &d.join("rel").join(w));
        }
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_u7s"), d.join("rel/bin/u7s")).unwrap();
        std::fs::create_dir_all(d.join("fakebin")).unwrap();
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(d.join("run"))
                .unwrap();
        }
        Release { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A stand-in program in `fakebin/` that records its arguments in `NAME.ran`.
    fn fake(&self, name: &str) {
        let p = self.path("fakebin").join(name);
        testkit::write_executable(
            &p,
            format!("#!/bin/sh\necho \"$@\" >> \"{}.ran\"\n", p.display()).as_bytes(),
        );
    }

    fn ran(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.path("fakebin").join(format!("{name}.ran"))).ok()
    }

    fn paths(&self) -> Paths {
        let d = self.dir.path();
        Paths::resolve(
            &Env {
                home: Some(d.to_path_buf()),
                xdg_runtime_dir: Some(d.join("run")),
                xdg_data_home: Some(d.join("data")),
                xdg_config_home: Some(d.join("config")),
                uid: nix::unistd::getuid().as_raw(),
            },
            |_| false,
        )
        .unwrap()
    }

    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let d = self.dir.path();
        let mut c = Command::new(program);
        c.args(args)
            .current_dir(d)
            .env("HOME", d)
            .env("XDG_CONFIG_HOME", d.join("config"))
            .env("XDG_DATA_HOME", d.join("data"))
            .env("XDG_RUNTIME_DIR", d.join("run"))
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", d.join("fakebin").display()),
            )
            .env_remove("DOCKER_HOST")
            .env_remove("KUBECONFIG");
        for k in runtime::cli::UP_ENV {
            c.env_remove(k);
        }
        c.stdin(Stdio::null());
        c
    }

    /// A wrapper of the release (`run.sh`, …) or `u7s` itself (`bin/u7s`).
    fn run(&self, what: &str, args: &[&str]) -> Output {
        self.command(&self.path("rel").join(what), args)
            .output()
            .unwrap()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// newcomer review M13: with no systemd user manager, `u7s units install` refuses (nothing
/// written, systemctl not called), `--write-only` writes the files only, and `u7s units
/// remove` deletes them without calling systemctl ("Failed to connect to bus" warnings).
#[test]
fn units_without_a_user_manager_call_no_systemctl() {
    let r = Release::new();
    r.fake("systemctl");
    let units = r.path("config/systemd/user");
    let o = r.run("bin/u7s", &["units", "install", "--no-kube"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(
        e.starts_with("u7s: error: ") && e.contains("systemd user units would never start"),
        "{e}"
    );
    assert!(
        e.contains("u7s up --detach") && e.contains("--write-only"),
        "{e}"
    );
    assert!(!units.join("u7s.service").exists());
    assert_eq!(r.ran("systemctl"), None);

    let o = r.run(
        "bin/u7s",
        &["units", "install", "--no-kube", "--write-only"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    assert!(stdout(&o).contains("u7s.service"), "{}", stdout(&o));
    assert!(units.join("u7s.service").exists() && units.join("u7s.target").exists());

    let o = r.run("bin/u7s", &["units", "remove"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "no warning about the bus");
    assert!(!units.join("u7s.service").exists() && !units.join("u7s.target").exists());
    assert_eq!(r.ran("systemctl"), None, "systemctl was called");
}

/// newcomer review L5, L6: `u7s logs` without a name lists the logs there are, a bad port spec
/// is a usage error (exit 2), and `ports add --help` describes SPEC.
#[test]
fn usage_mistakes_exit_2_with_what_to_type() {
    let r = Release::new();
    let o = r.run("bin/u7s", &["logs"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "u7s: error: name the log to show (u7s logs COMPONENT); available: none yet (no \
         session has run)\n"
    );
    std::fs::create_dir_all(r.path("data/usernetes/logs")).unwrap();
    for l in ["session", "dockerd"] {
        std::fs::write(r.path(&format!("data/usernetes/logs/{l}.log")), "x\n").unwrap();
    }
    let o = r.run("bin/u7s", &["logs"]);
    assert!(
        stderr(&o).ends_with("available: dockerd, session\n"),
        "{}",
        stderr(&o)
    );
    for spec in ["9500:80/sctp", "99999:80", "80"] {
        let o = r.run("bin/u7s", &["ports", "add", spec]);
        assert_eq!(o.status.code(), Some(2), "{spec}: {}", stderr(&o));
        assert!(
            stderr(&o).starts_with("u7s: error: invalid port spec"),
            "{}",
            stderr(&o)
        );
    }
    let help = stdout(&r.run("bin/u7s", &["ports", "add", "--help"]));
    assert!(
        help.contains("<SPEC>...  [IP:]PORT:[IP:]PORT[/PROTO]"),
        "{help}"
    );
}

/// L4: with no session, docker commands that need the daemon say how to start one (the hint
/// `u7s ports ls` gives), not docker's "Cannot connect"; docker's own help passes through.
#[test]
fn docker_without_a_session_names_the_command_that_starts_one() {
    let r = Release::new();
    r.fake("docker");
    for what in ["bin/u7s", "dockercli.sh"] {
        let args: &[&str] = if what == "bin/u7s" {
            &["docker", "info"]
        } else {
            &["info"]
        };
        let o = r.run(what, args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{what}: {e}");
        assert!(
            e.contains("no usernetes session is running")
                && e.contains("start one with `u7s up --no-kube --detach`"),
            "{what}: {e}"
        );
        assert_eq!(e.trim().lines().count(), 1, "{e}");
        assert_eq!(r.ran("docker"), None, "{what} ran docker");
    }
    // The same hint as `u7s ports ls`.
    let ports = stderr(&r.run("bin/u7s", &["ports", "ls"]));
    let hint = |e: &str| e[e.find("start one with").unwrap()..].trim().to_string();
    assert_eq!(
        hint(&ports),
        hint(&stderr(&r.run("bin/u7s", &["docker", "ps"])))
    );
    // Help and version need no daemon: they reach docker.
    for args in [&["docker", "--help"][..], &["docker", "run", "--help"]] {
        let o = r.run("bin/u7s", args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    let o = r.run("dockercli.sh", &["--version"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(r.ran("docker").unwrap(), "--help\nrun --help\n--version\n");
    // `u7s help docker` is the wrapper's help, and says where docker's is.
    let o = r.run("bin/u7s", &["help", "docker"]);
    assert!(stdout(&o).contains("u7s docker --help"), "{}", stdout(&o));
}

/// L21: on a release without Kubernetes, kubectl.sh, run.sh and `u7s up` say so in one line
/// naming every missing program and the way to start without Kubernetes; CRI-O likewise.
#[test]
fn a_release_without_kubernetes_says_so_once() {
    let r = Release::new();
    // What the session itself needs is there, so that the start reaches the plan.
    for p in ["rootlesskit", "slirp4netns"] {
        r.fake(p);
    }
    let o = r.run("kubectl.sh", &["get", "nodes"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(
        e.starts_with(
            "u7s: error: this release has no Kubernetes (missing: kube-apiserver, \
             kube-controller-manager, kube-scheduler, kubelet, kube-proxy"
        ),
        "{e}"
    );
    assert!(
        e.contains("`./run.sh default-docker-nokube` / `u7s up --no-kube`"),
        "{e}"
    );
    assert!(
        !e.contains("admin.kubeconfig"),
        "u7s up cannot write it: {e}"
    );
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    for (what, args) in [
        ("run.sh", &[][..]),
        ("run.sh", &["default-containerd"]),
        ("bin/u7s", &["up", "--detach"]),
    ] {
        let o = r.run(what, args);
        let e = stderr(&o);
        assert!(!o.status.success(), "{what} {args:?}: {e}");
        assert!(
            e.starts_with(
                "u7s: error: this release has no Kubernetes (missing: kube-apiserver, \
                 kube-controller-manager, kube-scheduler, kubelet, kube-proxy"
            ) && e.contains("pause)")
                && e.contains("u7s up --no-kube"),
            "{what} {args:?}: {e}"
        );
        assert!(!e.contains("needs it"), "no stutter: {e}");
        assert_eq!(e.trim().lines().count(), 1, "{e}");
    }
    let e = stderr(&r.run("run.sh", &[]));
    assert!(e.contains("cri-dockerd"), "Kubernetes on Docker: {e}");
    let o = r.run("run.sh", &["default-crio", "--no-kube"]);
    let e = stderr(&o);
    assert!(
        e.starts_with("u7s: error: this release has no CRI-O (missing: crio, conmon, pinns"),
        "{e}"
    );
    assert!(e.contains("--cri containerd or --cri docker"), "{e}");
    assert_eq!(
        e.matches("CRI-O").count(),
        2,
        "said once, plus the fix: {e}"
    );
    assert_eq!(e.trim().lines().count(), 1, "{e}");
}

/// L24: cleanup.sh lists what it removes and asks, as `u7s reset` does; without a terminal it
/// asks for --yes; with --yes it removes.
#[test]
fn cleanup_asks_first_unless_given_yes() {
    let script = testkit::prereq::program("script");
    let r = Release::new();
    let docker = r.path("data/usernetes/docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(docker.join("image"), "layer").unwrap();
    // On a terminal (script(1) gives it one), declined.
    let cleanup = r.path("rel/cleanup.sh");
    let mut c = r.command(
        &script,
        &["-qec", &cleanup.display().to_string(), "/dev/null"],
    );
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    // The terminal keeps the answer until the question reads it; stdin stays open until then
    // (script(1) ends the session at its end).
    let mut answer = child.stdin.take().unwrap();
    {
        use std::io::Write;
        let _ = answer.write_all(b"n\n");
    }
    let o = child.wait_with_output().unwrap();
    drop(answer);
    let out = stdout(&o);
    assert!(!o.status.success(), "{out}");
    for part in [
        "This stops usernetes and removes:",
        &r.path("data/usernetes").display().to_string(),
        "Continue? [y/N]",
        "nothing removed",
    ] {
        assert!(out.contains(part), "no {part:?} in:\n{out}");
    }
    assert!(docker.join("image").exists(), "declined, yet removed");
    // No terminal, no --yes: refused, naming --yes.
    let o = r.run("cleanup.sh", &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("confirm with --yes"), "{}", stderr(&o));
    assert!(docker.join("image").exists());
    // --yes passes through.
    let o = r.run("cleanup.sh", &["--yes"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!docker.exists(), "{}", stdout(&o));
    assert!(stdout(&o).contains("You may also want to remove manually"));
}

fn config(cri: Cri) -> SessionConfig {
    SessionConfig {
        cri,
        kube: false,
        etcd: false,
        publish: vec![],
        cidr: runtime::rootlesskit::flags::DEFAULT_CIDR.into(),
        rootlesskit_flags: vec![],
        k8s: Default::default(),
    }
}

/// L10: `u7s up` while a session runs: exit 0 with a line naming its pid when it has the
/// settings asked for; exit 4 naming its settings when not; exit 4 naming the holder's pid
/// (never 0) while another start holds the lock before any record exists. A live session is
/// this test holding the session lock, with a record naming this process.
#[test]
fn up_beside_a_running_session() {
    let r = Release::new();
    for p in ["rootlesskit", "slirp4netns"] {
        r.fake(p);
    }
    let paths = r.paths();
    let me = std::process::id() as i32;
    let lock = runtime::session::take_lock(&paths, false).unwrap();
    // Starting: the lock is held, no record yet.
    for args in [&["up", "--no-kube"][..], &["up", "--no-kube", "--detach"]] {
        let o = r.run("bin/u7s", args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(4), "{args:?}: {e}");
        assert!(
            e.contains(&format!("already running or starting (pid {me})")),
            "{e}"
        );
    }
    write_json(
        &paths.session_file(),
        &SessionFile {
            id: "test".into(),
            leader_pid: me,
            leader_start: None,
            rootlesskit_pid: None,
            started_at: 0.0,
            config: config(Cri::Docker),
            detached: true,
        },
    )
    .unwrap();
    for args in [
        &["up", "--no-kube"][..],
        &["up", "--no-kube", "--detach"],
        &["up", "--cri", "docker", "--no-kube", "-d"],
    ] {
        let o = r.run("bin/u7s", args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert_eq!(
            stdout(&o),
            format!("usernetes: already running (pid {me}) with these settings; nothing to do\n")
        );
    }
    let o = r.run(
        "bin/u7s",
        &["up", "--cri", "containerd", "--no-kube", "--detach"],
    );
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(4), "{e}");
    assert!(
        e.contains(&format!(
            "a usernetes session with other settings is already running (pid {me}): u7s up \
             --cri docker --no-kube; stop it with `u7s down` first"
        )),
        "{e}"
    );
    // Nothing written into the session's logs by the refused starts.
    assert!(!paths.log("session").exists());
    drop(lock);
}
