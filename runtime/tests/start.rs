//! `u7s up` as the unprivileged test user with a stand-in RootlessKit (a script that prints
//! RootlessKit's propagation warning and, when asked, writes a ready status as the supervisor
//! would): what the top process does around the session, without a session (newcomer review
//! L10, L20). The real session is covered by e2e/tests/runtime.rs.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The stand-in: the warning, a ready status naming its parent (the top process) as leader
/// when `$HOME/ready` exists, then it lives a few seconds and says so when it ends.
const ROOTLESSKIT: &str = r#"#!/bin/sh
echo 'level=warning msg="The host root filesystem is mounted as \"\". Setting child propagation to \"rslave\" is not supported."' >&2
if [ -e "$HOME/ready" ]; then
  echo "u7s: session ready: dockerd (stand-in)" >&2
  cat > "$XDG_RUNTIME_DIR/usernetes/status.json" <<J
{"session_id":"s","leader_pid":$PPID,"state":"ready","started_at":1.0,"ready_at":2.0,"storage":"overlayfs","components":[{"name":"dockerd","state":"ready","ns_pid":2,"restarts":0,"started_at":1.0,"ready_at":2.0,"endpoint":"e","program":"/p","log":"/l","last_exit":null}],"error":null,"rootlesskit_version":null}
J
  sleep 2
else
  exec sleep 8
fi
echo "u7s: the stand-in ends" >&2
"#;

/// The programs a Docker session's plan looks for, as stand-ins (never run).
const PLANNED: &[&str] = &[
    "slirp4netns",
    "dockerd",
    "containerd",
    "containerd-shim-runc-v2",
    "runc",
    "ctr",
    "docker-init",
    "docker-proxy",
    "rootlesskit-docker-proxy",
];

struct Setup {
    _top: tempfile::TempDir,
    t: PathBuf,
    user: nix::unistd::User,
}

impl Setup {
    fn new() -> Setup {
        let user = testkit::test_user_reachable();
        // World-readable: the checkout may not be.
        let top = tempfile::Builder::new()
            .prefix("u7s-start-")
            .tempdir_in("/tmp")
            .unwrap();
        let t = top.path().to_path_buf();
        std::fs::set_permissions(&t, std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = t.join("rel/bin");
        std::fs::create_dir_all(&bin).unwrap();
        testkit::copy_executable(env!("CARGO_BIN_EXE_u7s").as_ref(), &bin.join("u7s"));
        testkit::write_executable(&bin.join("rootlesskit"), ROOTLESSKIT.as_bytes());
        for p in PLANNED {
            testkit::write_executable(&bin.join(p), b"#!/bin/sh\nexit 0\n");
        }
        for d in ["home", "run"] {
            let p = t.join(d);
            std::fs::create_dir(&p).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700)).unwrap();
            nix::unistd::chown(&p, Some(user.uid), Some(user.gid)).unwrap();
        }
        Setup { _top: top, t, user }
    }

    /// `u7s args` as the test user, with this setup's HOME and XDG folders only.
    fn u7s(&self, args: &[&str]) -> Command {
        let env = [
            ("PATH", "/usr/bin:/bin".into()),
            ("HOME", self.t.join("home")),
            ("XDG_RUNTIME_DIR", self.t.join("run")),
            ("XDG_DATA_HOME", self.t.join("home/.local/share")),
            ("XDG_CONFIG_HOME", self.t.join("home/.config")),
        ];
        let mut c = if nix::unistd::geteuid().is_root() {
            // runuser would set the user's own HOME: `env -i` gives ours.
            let mut c = Command::new(testkit::prereq::program("runuser"));
            c.args(["-u", &self.user.name, "--", "/usr/bin/env", "-i"]);
            c.args(env.iter().map(|(k, v)| format!("{k}={}", v.display())));
            c.arg(self.t.join("rel/bin/u7s"));
            c
        } else {
            let mut c = Command::new(self.t.join("rel/bin/u7s"));
            c.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
            c
        };
        c.args(args).current_dir(&self.t).stdin(Stdio::null());
        c
    }

    fn session_log(&self) -> String {
        std::fs::read_to_string(self.t.join("home/.local/share/usernetes/logs/session.log"))
            .unwrap_or_default()
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Two `u7s up --detach` at once: the second names the real pid of the first (exit 4), never
/// "pid 0", and writes nothing into its session log; RootlessKit's propagation warning is not
/// in that log either.
#[test]
#[ignore = "needs U7S_TEST_USER (scripts/ci-setup.sh) and root or that user"]
fn of_two_concurrent_starts_the_second_names_the_first() {
    let s = Setup::new();
    let args = [
        "up",
        "--no-kube",
        "--detach",
        "--no-doctor",
        "--timeout",
        "4",
    ];
    let mut a = s.u7s(&args);
    let a = a
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = s.u7s(&args).output().unwrap();
    let a = a.wait_with_output().unwrap();
    let (first, second) = if b.status.code() == Some(4) {
        (a, b)
    } else {
        (b, a)
    };
    let t2 = text(&second);
    assert_eq!(second.status.code(), Some(4), "{t2}\n---\n{}", text(&first));
    let pid: i32 = t2
        .split("(pid ")
        .nth(1)
        .and_then(|t| t.split(')').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid named: {t2}"));
    assert!(pid > 0, "{t2}");
    assert!(t2.contains("already running or starting"), "{t2}");
    // The first never gets ready (a stand-in): it times out, stopping what it started.
    let t1 = text(&first);
    assert!(t1.contains("not ready within 4s"), "{t1}");
    let log = s.session_log();
    assert!(!log.contains("already running"), "{log}");
    assert!(!log.contains("child propagation"), "{log}");
}

/// The foreground session: RootlessKit's propagation warning is filtered out; once ready, the
/// same next steps as `--detach` (DOCKER_HOST first); the session's last words still come out.
#[test]
#[ignore = "needs U7S_TEST_USER (scripts/ci-setup.sh) and root or that user"]
fn the_foreground_prints_the_next_steps_without_the_propagation_warning() {
    let s = Setup::new();
    let ready = s.t.join("home/ready");
    std::fs::write(&ready, "").unwrap();
    let o = s.u7s(&["up", "--no-kube", "--no-doctor"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!err.contains("child propagation"), "{err}");
    let steps: Vec<&str> = err
        .lines()
        .skip_while(|l| !l.starts_with("u7s: session ready"))
        .collect();
    let docker_host = format!(
        "  export DOCKER_HOST=unix://{}/docker.sock",
        Path::new(&s.t).join("run").display()
    );
    assert_eq!(
        steps.get(1..3),
        Some(
            &[
                docker_host.as_str(),
                "  next: u7s status, u7s logs dockerd, u7s down (to stop)"
            ][..]
        ),
        "{err}"
    );
    assert_eq!(steps.last(), Some(&"u7s: the stand-in ends"), "{err}");
}
