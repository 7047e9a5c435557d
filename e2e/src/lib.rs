//! Harness of the end-to-end tests: the unprivileged test user (`U7S_TEST_USER`), a
//! world-readable sandbox (release tree, HOME, XDG_RUNTIME_DIR) that user can use, commands run
//! as that user with a clean environment and a timeout, polling with deadlines, the user's
//! processes, free ports, plain HTTP from the host, a busybox rootfs tarball and an image archive
//! of it; [`cri`] is a CRI v1 client.

pub mod cri;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use nix::unistd::User;

/// Binaries the e2e release takes from the host (Debian packages), beside `u7s`.
pub const HOST_BINARIES: &[&str] = &[
    "rootlesskit",
    "rootlessctl",
    "rootlesskit-docker-proxy",
    "slirp4netns",
    "dockerd",
    "docker",
    "docker-init",
    "docker-proxy",
    "containerd",
    "containerd-shim-runc-v2",
    "ctr",
    "runc",
    "etcd",
    "etcdctl",
];

/// CNI plugins the e2e release takes from the host (Debian's `containernetworking-plugins`).
pub const HOST_CNI_PLUGINS: &[&str] = &["bridge", "host-local", "loopback", "portmap"];

/// A CNI plugin of the host (`/usr/lib/cni` on Debian, `/opt/cni/bin` elsewhere).
pub fn host_cni_plugin(name: &str) -> Option<PathBuf> {
    ["/usr/lib/cni", "/opt/cni/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Whether prerequisites must be there (CI) or may be skipped (a developer machine).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Fails in CI, skips (returns `None` after a message) elsewhere.
pub fn prerequisite<T>(what: Option<T>, why: &str) -> Option<T> {
    if what.is_none() {
        if in_ci() {
            panic!("e2e prerequisite missing (CI=true, so this fails instead of skipping): {why}");
        }
        eprintln!("SKIPPED: {why}");
    }
    what
}

/// The unprivileged test user, usable from this process (we are root, or we are that user).
pub fn test_user() -> Option<User> {
    let name = std::env::var("U7S_TEST_USER")
        .ok()
        .filter(|n| !n.is_empty());
    let name = prerequisite(
        name,
        "U7S_TEST_USER is not set (scripts/ci-setup.sh prepares the user)",
    )?;
    let user = User::from_name(&name).ok().flatten();
    let user = prerequisite(user, &format!("U7S_TEST_USER={name}: no such user"))?;
    let me = nix::unistd::geteuid();
    if !me.is_root() && me != user.uid {
        return prerequisite(
            None,
            &format!("running as uid {me}: need root (to become {name}) or {name} itself"),
        );
    }
    Some(user)
}

/// `target/<profile>` of this test run (tests run from `target/<profile>/deps`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let deps = exe.parent().expect("deps folder");
    deps.parent().expect("profile folder").to_path_buf()
}

/// A binary of the workspace, built beside the tests.
pub fn workspace_binary(name: &str) -> PathBuf {
    let p = target_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: build the workspace binaries first (`cargo build --workspace`; `cargo test --workspace` does it)",
        p.display()
    );
    p
}

/// Finds `name` on the host (PATH plus the sbin folders).
pub fn host_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain([
            "/usr/local/sbin",
            "/usr/local/bin",
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/bin",
        ])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Polls `f` every 20 ms until it returns `Some`, panicking with `what` after `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Running (non-zombie) processes whose real uid is `uid`: (pid, command line).
pub fn user_processes(uid: u32) -> Vec<(i32, String)> {
    let mut out = vec![];
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let real_uid: Option<u32> = field("Uid:")
            .split_whitespace()
            .next()
            .and_then(|u| u.parse().ok());
        let zombie = field("State:").starts_with('Z') || field("State:").starts_with('X');
        if real_uid == Some(uid) && !zombie {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .trim()
                        .to_string()
                })
                .unwrap_or_default();
            out.push((pid, cmd));
        }
    }
    out
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `GET path` over HTTP/1.0 to 127.0.0.1:`port` from the host; the whole answer.
pub fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    Ok(buf)
}

/// A busybox rootfs as a tar for `docker import`: busybox, `sh`, a web root, and a file owned
/// by uid/gid 1000 (a sub-UID on the host once imported).
pub fn busybox_rootfs_tar(out: &Path, index_html: &str) {
    let busybox = host_binary("busybox").expect("busybox (busybox-static)");
    let f = std::fs::File::create(out).expect("create tar");
    let mut t = tar::Builder::new(f);
    let dir = |t: &mut tar::Builder<std::fs::File>, p: &str, uid: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_uid(uid);
        h.set_gid(uid);
        h.set_size(0);
        t.append_data(&mut h, p, std::io::empty()).unwrap();
    };
    let file = |t: &mut tar::Builder<std::fs::File>, p: &str, data: &[u8], mode: u32, uid: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(uid);
        h.set_size(data.len() as u64);
        t.append_data(&mut h, p, data).unwrap();
    };
    dir(&mut t, "bin", 0);
    dir(&mut t, "www", 0);
    dir(&mut t, "tmp", 0);
    dir(&mut t, "owned", 1000);
    file(
        &mut t,
        "bin/busybox",
        &std::fs::read(busybox).unwrap(),
        0o755,
        0,
    );
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_mode(0o777);
    h.set_size(0);
    t.append_link(&mut h, "bin/sh", "busybox").unwrap();
    file(&mut t, "www/index.html", index_html.as_bytes(), 0o644, 0);
    file(&mut t, "owned/by-1000", b"sub-uid owned\n", 0o644, 1000);
    t.finish().unwrap();
}

/// An image archive in the `docker save` layout (`manifest.json`, a config, one layer) for
/// `ctr images import` / `docker load`: the rootfs tarball `rootfs` as its only layer, every name
/// of `tags` on it, `entrypoint` as its entrypoint, for this machine's architecture.
pub fn image_archive(out: &Path, rootfs: &Path, tags: &[&str], entrypoint: &[&str]) {
    use sha2::{Digest, Sha256};
    let layer = std::fs::read(rootfs).expect("read the rootfs tarball");
    let diff_id = format!("{:x}", Sha256::digest(&layer));
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let config = serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": { "Entrypoint": entrypoint, "Env": ["PATH=/bin"], "WorkingDir": "/" },
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{diff_id}")] },
        "history": [{ "created": "2024-01-01T00:00:00Z", "created_by": "u7s e2e test" }],
    })
    .to_string();
    let config_name = format!("{:x}.json", Sha256::digest(config.as_bytes()));
    let layer_name = format!("{diff_id}/layer.tar");
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": tags,
        "Layers": [layer_name],
    }])
    .to_string();
    let f = std::fs::File::create(out).expect("create the image archive");
    let mut t = tar::Builder::new(f);
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        t.append_data(&mut h, name, data)
            .expect("write the image archive");
    };
    add(&layer_name, &layer);
    add(&config_name, config.as_bytes());
    add("manifest.json", manifest.as_bytes());
    t.finish().expect("finish the image archive");
}

/// Files under `dir` whose owner is at least `min_uid` (sub-UIDs).
pub fn files_owned_from(dir: &Path, min_uid: u32) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if m.uid() >= min_uid {
                out.push(e.path());
            }
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

/// A release archive built by `u7s-build` from the test recipes (`e2e/recipes`: the host's
/// Debian binaries and the workspace's `u7s`, `u7s-install` and `u7s-doctor`) and the
/// repository's `release/` payload, with the installer beside it; all world-readable for the
/// test user.
pub struct ReleaseArchive {
    _dir: tempfile::TempDir,
    pub archive: PathBuf,
    pub installer: PathBuf,
}

impl ReleaseArchive {
    /// The archive's `SHA256SUMS`.
    pub fn sums(&self) -> PathBuf {
        self.archive.with_file_name("SHA256SUMS")
    }
}

/// Folders removed when the test process exits (statics are never dropped).
static AT_EXIT: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

extern "C" fn remove_at_exit() {
    if let Ok(dirs) = AT_EXIT.lock() {
        for d in dirs.iter() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Removes `dir` when the process exits (the test harness ends with `exit`).
pub fn remove_at_exit_of(dir: &Path) {
    let mut dirs = AT_EXIT.lock().unwrap_or_else(|e| e.into_inner());
    if dirs.is_empty() {
        // SAFETY: registering a plain `extern "C" fn` with atexit has no preconditions.
        unsafe {
            libc::atexit(remove_at_exit);
        }
    }
    dirs.push(dir.to_path_buf());
}

/// The e2e release of this test binary: `e2e/recipes` + `release/`, built once with
/// [`build_release`] and kept for the binary's life.
pub fn release() -> Option<&'static ReleaseArchive> {
    static RELEASE: std::sync::OnceLock<Option<ReleaseArchive>> = std::sync::OnceLock::new();
    RELEASE
        .get_or_init(|| {
            let here = Path::new(env!("CARGO_MANIFEST_DIR"));
            build_release(&here.join("recipes"), &here.join("../release"))
        })
        .as_ref()
}

/// Builds the e2e release (host executor, offline, a fresh cache). `None` (skip) or panic (CI)
/// when a host binary is missing. Kept in a static by the tests, its folder goes at exit.
pub fn build_release(recipes: &Path, payload: &Path) -> Option<ReleaseArchive> {
    for name in HOST_BINARIES {
        prerequisite(
            host_binary(name),
            &format!("{name} is not installed (see scripts/ci-setup.sh)"),
        )?;
    }
    for name in HOST_CNI_PLUGINS {
        prerequisite(
            host_cni_plugin(name),
            &format!(
                "the CNI plugin {name} is not installed (Debian: containernetworking-plugins)"
            ),
        )?;
    }
    let dir = tempfile::Builder::new()
        .prefix("u7s-e2e-release-")
        .tempdir()
        .expect("tempdir");
    remove_at_exit_of(dir.path());
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // Stripped copies keep the archive small (the debug build carries ~80 MB of symbols).
    let ship = |name: &str| {
        let to = dir.path().join("ship").join(name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let stripped = Command::new("strip")
            .arg("-o")
            .arg(&to)
            .arg(workspace_binary(name))
            .status()
            .is_ok_and(|s| s.success());
        if !stripped {
            std::fs::copy(workspace_binary(name), &to).unwrap();
        }
        to
    };
    let u7s = ship("u7s");
    let shipped_installer = ship("u7s-install");
    let shipped_doctor = ship("u7s-doctor");
    let installer = dir.path().join("u7s-install");
    std::fs::copy(workspace_binary("u7s-install"), &installer).unwrap();
    let out = dir.path().join("out");
    let cache = dir.path().join("cache");
    let t0 = Instant::now();
    let r = Command::new(workspace_binary("u7s-build"))
        .arg("release")
        .arg("--recipes")
        .arg(recipes)
        .arg("--payload")
        .arg(payload)
        .arg("--out")
        .arg(&out)
        .arg("--cache")
        .arg(&cache)
        .args([
            "--executor",
            "host",
            "--offline",
            "--release-version",
            "0.0.0-e2e",
        ])
        .env("U7S_E2E_U7S", &u7s)
        .env("U7S_E2E_INSTALL", &shipped_installer)
        .env("U7S_E2E_DOCTOR", &shipped_doctor)
        .stdin(Stdio::null())
        .output()
        .expect("run u7s-build");
    assert!(
        r.status.success(),
        "u7s-build release failed ({}):\n{}{}",
        r.status,
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    eprintln!("e2e: release built in {:.1}s", t0.elapsed().as_secs_f64());
    let _ = crate::remove_tree(&cache);
    for p in [
        &out,
        &out.join("usernetes-x86_64.tbz"),
        &out.join("SHA256SUMS"),
    ] {
        let mode = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    Some(ReleaseArchive {
        archive: out.join("usernetes-x86_64.tbz"),
        installer,
        _dir: dir,
    })
}

fn remove_tree(p: &Path) -> std::io::Result<()> {
    std::fs::remove_dir_all(p)
}

/// The result of a command.
#[derive(Debug)]
pub struct Run {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            status: o.status,
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
    pub fn success(&self) -> bool {
        self.status.success()
    }
}

/// A world-readable folder the test user works in: a HOME and an XDG_RUNTIME_DIR of its own,
/// and the release it runs (installed into that HOME by [`Sandbox::install`]). Dropping it
/// stops the session and removes everything.
pub struct Sandbox {
    pub user: User,
    dir: tempfile::TempDir,
    pub release: PathBuf,
    pub home: PathBuf,
    pub runtime_dir: PathBuf,
    /// Variables set over [`Sandbox::env`] (e.g. another XDG_RUNTIME_DIR, as a second login).
    pub env_overrides: Vec<(String, String)>,
    /// The network namespace the user's commands start in (see [`Sandbox::enter_netns`]).
    netns: Option<std::fs::File>,
}

fn chown(p: &Path, user: &User) {
    nix::unistd::chown(p, Some(user.uid), Some(user.gid)).expect("chown to the test user");
}

impl Sandbox {
    /// An empty sandbox for `user`.
    pub fn new(user: User) -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("u7s-e2e-")
            .tempdir()
            .expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let release = dir.path().join("usernetes");
        let home = dir.path().join("home");
        let runtime_dir = dir.path().join("run");
        for d in [&home, &runtime_dir] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
            if nix::unistd::geteuid().is_root() {
                chown(d, &user);
            }
        }
        Sandbox {
            user,
            dir,
            release,
            home,
            runtime_dir,
            env_overrides: Vec::new(),
            netns: None,
        }
    }

    /// Runs the user's commands (`u7s up` and all) in the network namespace at `path` (e.g.
    /// `/run/netns/NAME`), as if this sandbox were another host. Needs root.
    pub fn enter_netns(&mut self, path: &Path) {
        let f = std::fs::File::open(path)
            .unwrap_or_else(|e| panic!("open network namespace {}: {e}", path.display()));
        self.netns = Some(f);
    }

    /// Running processes of this sandbox's sessions: the user's processes whose environment
    /// carries this sandbox's XDG_RUNTIME_DIR (other sessions of the same user are not counted).
    pub fn own_processes(&self) -> Vec<(i32, String)> {
        let mark = format!("XDG_RUNTIME_DIR={}", self.runtime_dir.display());
        user_processes(self.user.uid.as_raw())
            .into_iter()
            .filter(|(pid, _)| {
                std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == mark.as_bytes()))
            })
            .collect()
    }

    /// The sandbox's top folder (world-readable).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `$XDG_DATA_HOME/usernetes` of the sandbox.
    pub fn data(&self) -> PathBuf {
        self.home.join(".local/share/usernetes")
    }

    /// `$XDG_CONFIG_HOME/usernetes` of the sandbox.
    pub fn config(&self) -> PathBuf {
        self.home.join(".config/usernetes")
    }

    /// Installs `r` with `u7s-install` as the user into the sandbox's HOME
    /// (`$XDG_DATA_HOME/usernetes/current`), which becomes the release the commands use.
    pub fn install(&mut self, r: &ReleaseArchive) {
        let archive = r.archive.display().to_string();
        let out = self.run_for(
            &r.installer,
            &[
                &archive,
                "--yes",
                "--no-modify-path",
                "--no-systemd",
                "--no-completions",
                "--no-doctor",
            ],
            Duration::from_secs(300),
        );
        assert!(out.success(), "u7s-install failed: {out:?}");
        self.release = self.data().join("current");
        assert!(
            self.release.join("bin/u7s").is_file(),
            "installed release has no bin/u7s"
        );
    }

    /// The environment the user's commands get.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = vec![
            ("HOME".into(), self.home.display().to_string()),
            ("USER".into(), self.user.name.clone()),
            ("LOGNAME".into(), self.user.name.clone()),
            (
                "XDG_RUNTIME_DIR".into(),
                self.runtime_dir.display().to_string(),
            ),
            (
                "PATH".into(),
                format!(
                    "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    self.release.join("bin").display()
                ),
            ),
            ("NO_COLOR".into(), "1".into()),
            ("LANG".into(), "C.UTF-8".into()),
        ];
        for (k, v) in &self.env_overrides {
            env.retain(|(name, _)| name != k);
            env.push((k.clone(), v.clone()));
        }
        env
    }

    /// A folder of the sandbox owned by the user (mode 0700), e.g. a second XDG_RUNTIME_DIR.
    pub fn user_dir(&self, name: &str) -> PathBuf {
        let d = self.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        if nix::unistd::geteuid().is_root() {
            chown(&d, &self.user);
        }
        d
    }

    /// `program args` as the test user, clean environment, in the sandbox folder.
    pub fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut c = if nix::unistd::geteuid() == self.user.uid {
            let mut c = Command::new(program);
            c.env_clear().envs(self.env()).args(args);
            c
        } else {
            let mut c = Command::new("runuser");
            c.args(["-u", &self.user.name, "--", "env", "-i"]);
            c.args(self.env().iter().map(|(k, v)| format!("{k}={v}")));
            c.arg(program).args(args);
            c
        };
        c.current_dir(self.path())
            .stdin(Stdio::null())
            .process_group(0);
        if let Some(ns) = &self.netns {
            use std::os::fd::AsRawFd;
            let fd = ns.as_raw_fd();
            // SAFETY: setns is async-signal-safe; the fd stays open while the sandbox lives.
            unsafe {
                c.pre_exec(move || {
                    if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        c
    }

    /// Runs `program args` as the user; kills it after `limit`.
    pub fn run_for(&self, program: &Path, args: &[&str], limit: Duration) -> Run {
        let child = self
            .command(program, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
        let pid = child.id() as i32;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(limit) {
            Ok(Ok(o)) => Run::from(o),
            Ok(Err(e)) => panic!("waiting for {}: {e}", program.display()),
            Err(_) => {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                panic!(
                    "{} {args:?} did not finish within {limit:?}",
                    program.display()
                );
            }
        }
    }

    /// `u7s args` as the user (2 minutes at most).
    pub fn u7s(&self, args: &[&str]) -> Run {
        self.run_for(
            &self.release.join("bin/u7s"),
            args,
            Duration::from_secs(120),
        )
    }

    /// `u7s args`, which must succeed; its stdout.
    pub fn u7s_ok(&self, args: &[&str]) -> String {
        let r = self.u7s(args);
        assert!(
            r.success(),
            "u7s {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}\nsession log:\n{}",
            r.status,
            r.stdout,
            r.stderr,
            std::fs::read_to_string(self.data().join("logs/session.log")).unwrap_or_default()
        );
        r.stdout
    }

    /// `u7s status --json`, parsed.
    pub fn status(&self) -> serde_json::Value {
        let r = self.u7s(&["status", "--json"]);
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| {
            panic!(
                "status --json is not JSON ({e}): {}\n{}",
                r.stdout, r.stderr
            )
        })
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Best effort: stop whatever runs, remove sub-UID owned files, then the folder.
        let u7s = self.release.join("bin/u7s");
        if u7s.exists() {
            let _ = self
                .command(&u7s, &["reset", "--yes"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use std::collections::HashMap;

    #[test]
    fn image_archive_names_its_config_and_layer_by_digest() {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs.tar");
        std::fs::write(&rootfs, b"not really a tar, only bytes to hash").unwrap();
        let out = dir.path().join("image.tar");
        image_archive(&out, &rootfs, &["a/b:1", "c/d:2"], &["/bin/sleep", "1"]);
        let mut entries = HashMap::new();
        let mut a = tar::Archive::new(std::fs::File::open(&out).unwrap());
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut data = vec![];
            e.read_to_end(&mut data).unwrap();
            entries.insert(name, data);
        }
        let manifest: serde_json::Value =
            serde_json::from_slice(&entries["manifest.json"]).unwrap();
        let m = &manifest[0];
        assert_eq!(m["RepoTags"], serde_json::json!(["a/b:1", "c/d:2"]));
        let config_name = m["Config"].as_str().unwrap();
        let config = &entries[config_name];
        assert_eq!(
            config_name,
            format!("{:x}.json", Sha256::digest(config)),
            "the config is named by its digest"
        );
        let layer = &entries[m["Layers"][0].as_str().unwrap()];
        assert_eq!(layer, &std::fs::read(&rootfs).unwrap());
        let config: serde_json::Value = serde_json::from_slice(config).unwrap();
        assert_eq!(
            config["rootfs"]["diff_ids"][0].as_str().unwrap(),
            format!("sha256:{:x}", Sha256::digest(layer))
        );
        assert_eq!(
            config["config"]["Entrypoint"],
            serde_json::json!(["/bin/sleep", "1"])
        );
    }
}
