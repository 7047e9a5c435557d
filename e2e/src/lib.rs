//! Harness of the end-to-end tests: the unprivileged test user (`U7S_TEST_USER`), a
//! world-readable sandbox (release tree, HOME, XDG_RUNTIME_DIR) that user can use, commands run
//! as that user with a clean environment and a timeout, polling with deadlines, the user's
//! processes, free ports, plain HTTP from the host, a busybox rootfs tarball and an image archive
//! of it, a release tree of the real Kubernetes binaries ([`kube_release_tree`]); [`cri`] is a
//! CRI v1 client.

pub mod cri;
pub mod kube;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use nix::unistd::User;

/// The recipes (`recipes/`) the e2e release ships beside the workspace's `u7s`: the components
/// the end-to-end tests run, built from their pins (`e2e/components.txt`, one name a line).
pub fn e2e_components() -> Vec<&'static str> {
    include_str!("../components.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// The unprivileged test user, usable from this process (we are root, or we are that user);
/// a failure naming what is missing otherwise (the e2e tests are `#[ignore]`d by default, so
/// they only run when asked for, with `--include-ignored`).
pub fn test_user() -> User {
    testkit::test_user_reachable()
}

/// The second unprivileged test user (`U7S_TEST_USER2`), for two users' sessions on one host;
/// this process must be root to act as both.
pub fn second_test_user() -> User {
    testkit::require_root("acting as two test users");
    testkit::second_test_user()
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

/// Finds `name` in the real release's `bin/` (`$U7S_E2E_KUBE_BIN`), else on the host (PATH plus
/// the sbin folders).
pub fn host_binary(name: &str) -> Option<PathBuf> {
    testkit::find_program(name)
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

/// The inode of process `pid`'s user namespace (which namespace it lives in), if it still runs.
pub fn userns_of(pid: i32) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/user"))
        .ok()
        .map(|m| m.ino())
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

/// An image archive (`bundle::oci_image`: OCI layout plus Docker's `manifest.json`) for
/// `ctr images import` / `docker load`: the rootfs tarball `rootfs` as its only layer, every name
/// of `tags` on it, `entrypoint` as its entrypoint, for this machine's architecture.
pub fn image_archive(out: &Path, rootfs: &Path, tags: &[&str], entrypoint: &[&str]) {
    use bundle::oci_image::{Image, RunConfig, oci_arch, write_archive};
    let layer = std::fs::read(rootfs).expect("read the rootfs tarball");
    let image = Image {
        names: tags,
        layer: &layer,
        run: RunConfig {
            entrypoint: entrypoint.iter().map(|s| s.to_string()).collect(),
            env: vec!["PATH=/bin".into()],
            working_dir: "/".into(),
            ..Default::default()
        },
        architecture: oci_arch(),
    };
    let f = std::fs::File::create(out).expect("create the image archive");
    write_archive(f, &image).expect("write the image archive");
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

/// A release archive built by `u7s-build` from the pinned components of `e2e/components.txt`,
/// the workspace's `u7s` (`e2e/recipes`) and the repository's `release/` payload, with the
/// installer beside it; all world-readable for the test user.
pub struct ReleaseArchive {
    _dir: tempfile::TempDir,
    pub archive: PathBuf,
    pub installer: PathBuf,
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

/// The e2e release of this test binary: the pinned components of `e2e/components.txt` (from
/// `recipes/`, or the folder `U7S_E2E_RECIPES` names), the workspace's `u7s` (`e2e/recipes/u7s.toml`) and `release/`, built once with
/// [`build_release`] and kept for the binary's life.
pub fn release() -> &'static ReleaseArchive {
    static RELEASE: std::sync::OnceLock<ReleaseArchive> = std::sync::OnceLock::new();
    RELEASE.get_or_init(|| {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        // U7S_E2E_RECIPES: another folder to take the components' recipes from.
        let recipes = std::env::var_os("U7S_E2E_RECIPES")
            .map(PathBuf::from)
            .unwrap_or_else(|| here.join("../recipes"));
        build_release(&recipes, &here.join("recipes"), &here.join("../release"))
    })
}

/// Copies into `dir` the recipes the e2e release is made of: `components` from `recipes` (with
/// the go.mod/go.sum files beside them that a `[source.main]` may name) and every file of
/// `test_recipes` (the workspace's `u7s`).
fn assemble_recipes(dir: &Path, recipes: &Path, test_recipes: &Path, components: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    for name in components {
        let file = format!("{name}.toml");
        std::fs::copy(recipes.join(&file), dir.join(&file))
            .unwrap_or_else(|e| panic!("recipes/{file}: {e}"));
    }
    for entry in std::fs::read_dir(recipes).unwrap() {
        let p = entry.unwrap().path();
        let n = p.file_name().unwrap().to_string_lossy().into_owned();
        if n.ends_with(".go.mod") || n.ends_with(".go.sum") {
            std::fs::copy(&p, dir.join(&n)).unwrap();
        }
    }
    let status = Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", test_recipes.display()))
        .arg(dir)
        .status()
        .expect("cp");
    assert!(status.success(), "copying {}", test_recipes.display());
}

/// Builds the e2e release (host executor, offline) from the components' builds in the
/// u7s-build cache (`$XDG_CACHE_HOME/usernetes` or `~/.cache/usernetes`), which
/// `scripts/ci-components.sh` fills from the pins; fails naming them when they are not there.
/// Kept in a static by the tests, its folder goes at exit.
pub fn build_release(recipes: &Path, test_recipes: &Path, payload: &Path) -> ReleaseArchive {
    let dir = tempfile::Builder::new()
        .prefix("u7s-e2e-release-")
        .tempdir()
        .expect("tempdir");
    remove_at_exit_of(dir.path());
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let components = e2e_components();
    let recipe_dir = dir.path().join("recipes");
    assemble_recipes(&recipe_dir, recipes, test_recipes, &components);
    // A stripped copy keeps the archive small (the debug build carries ~80 MB of symbols). It is
    // part of the u7s recipe's source folder (`host/`), so the build cache's key follows the
    // binary: a cached build of an older u7s is never packed.
    // u7s-install and u7s-doctor ship in the release's bin/ too (recipes/u7s.toml).
    for name in ["u7s", "u7s-install", "u7s-doctor"] {
        stripped(name, &recipe_dir.join("host").join(name));
    }
    // Run by the test user through runuser: copied so that no exec can meet ETXTBSY.
    let installer = dir.path().join("u7s-install");
    testkit::copy_executable(&workspace_binary("u7s-install"), &installer);
    let out = dir.path().join("out");
    let t0 = Instant::now();
    let r = Command::new(workspace_binary("u7s-build"))
        .arg("release")
        .arg("--recipes")
        .arg(&recipe_dir)
        .arg("--payload")
        .arg(payload)
        .arg("--out")
        .arg(&out)
        .args([
            "--executor",
            "host",
            "--offline",
            "--release-version",
            "0.0.0-e2e",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run u7s-build");
    if !r.status.success() {
        let why = format!(
            "the e2e release could not be built from the cached component builds ({}); build them with scripts/ci-components.sh:\n{}{}",
            r.status,
            String::from_utf8_lossy(&r.stdout),
            String::from_utf8_lossy(&r.stderr)
        );
        testkit::prereq::missing(&why);
    }
    eprintln!("e2e: release built in {:.1}s", t0.elapsed().as_secs_f64());
    for p in [
        &out,
        &out.join("usernetes-x86_64.tbz"),
        &out.join("SHA256SUMS"),
    ] {
        let mode = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    ReleaseArchive {
        archive: out.join("usernetes-x86_64.tbz"),
        installer,
        _dir: dir,
    }
}

/// The environment variable naming the folder of real release binaries for the Kubernetes
/// test (a `bin/` of a release built from the recipes, or the build outputs laid out the same).
pub const KUBE_BIN_ENV: &str = testkit::RELEASE_BIN_ENV;

/// What the Kubernetes test needs in `$U7S_E2E_KUBE_BIN` (paths relative to it).
pub const KUBE_BINARIES: &[&str] = &[
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
    "containerd",
    "containerd-shim-runc-v2",
    "ctr",
    "runc",
    "etcd",
    "pause",
    "coredns",
    "cni/bridge",
    "cni/host-local",
    "cni/loopback",
    "cni/portmap",
];

/// Taken from `$U7S_E2E_KUBE_BIN` when there, else from the host (Debian's packages).
pub const KUBE_HOST_FALLBACK: &[&str] = &["rootlesskit", "rootlessctl", "slirp4netns"];

/// What a Kubernetes node on each CRI needs in `$U7S_E2E_KUBE_BIN` besides [`KUBE_BINARIES`]
/// (`u7s up --cri NAME`): Docker Engine with cri-dockerd, or CRI-O with its monitor and pinns.
pub fn cri_binaries(cri: &str) -> &'static [&'static str] {
    match cri {
        "docker" => &[
            "dockerd",
            "docker-proxy",
            "docker-init",
            "docker",
            "cri-dockerd",
        ],
        "crio" => &["crio", "pinns", "conmon"],
        _ => &[],
    }
}

/// A release tree for Kubernetes at `dir/usernetes` (`bin/`, `bin/cni/`): a copy of the
/// workspace's `u7s` (the session finds its programs beside it) and symlinks to the real
/// binaries of `$U7S_E2E_KUBE_BIN`. Fails naming what is missing.
pub fn kube_release_tree(dir: &Path) -> PathBuf {
    kube_release_tree_for(dir, "containerd")
}

/// [`kube_release_tree`] with the binaries of the CRI `cri` ([`cri_binaries`]) too.
pub fn kube_release_tree_for(dir: &Path, cri: &str) -> PathBuf {
    kube_release_tree_with(dir, cri, &[])
}

/// [`kube_release_tree_for`] with `extra` binaries of `$U7S_E2E_KUBE_BIN` too (`flanneld`).
pub fn kube_release_tree_with(dir: &Path, cri: &str, extra: &[&str]) -> PathBuf {
    let wanted: Vec<&str> = KUBE_BINARIES
        .iter()
        .chain(cri_binaries(cri))
        .chain(extra)
        .copied()
        .collect();
    let src = std::env::var_os(KUBE_BIN_ENV).map(PathBuf::from);
    let src = testkit::require(
        src,
        &format!(
            "{KUBE_BIN_ENV} is not set: it names a folder with the real release binaries ({})",
            wanted.join(", ")
        ),
    );
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|b| !src.join(b).is_file())
        .collect();
    testkit::require(
        missing.is_empty().then_some(()),
        &format!(
            "{KUBE_BIN_ENV}={}: missing {}",
            src.display(),
            missing.join(", ")
        ),
    );
    let unreadable: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|b| std::fs::metadata(src.join(b)).is_ok_and(|m| m.mode() & 0o005 != 0o005))
        .collect();
    testkit::require(
        unreadable.is_empty().then_some(()),
        &format!(
            "{KUBE_BIN_ENV}={}: not readable and executable by the test user (chmod a+rx): {}",
            src.display(),
            unreadable.join(", ")
        ),
    );
    let root = dir.join("usernetes");
    let bin = root.join("bin");
    std::fs::create_dir_all(bin.join("cni")).unwrap();
    for d in [&root, &bin, &bin.join("cni")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let link = |from: &Path, name: &str| {
        std::os::unix::fs::symlink(from, bin.join(name))
            .unwrap_or_else(|e| panic!("link {}: {e}", from.display()));
    };
    for b in &wanted {
        link(&src.join(b), b);
    }
    for b in KUBE_HOST_FALLBACK {
        let from = Some(src.join(b))
            .filter(|p| p.is_file())
            .or_else(|| host_binary(b));
        let from = testkit::require(
            from,
            &format!("{b} is neither in {KUBE_BIN_ENV} nor installed (see scripts/ci-setup.sh)"),
        );
        link(&from, b);
    }
    let u7s = bin.join("u7s");
    stripped("u7s", &u7s);
    std::fs::set_permissions(&u7s, std::fs::Permissions::from_mode(0o755)).unwrap();
    root
}

/// The workspace's binary `name` at `dest`, stripped (the debug build carries ~80 MB of symbols), or a
/// plain copy where `strip` is missing; written by a child process or the ETXTBSY-safe copy.
fn stripped(name: &str, dest: &Path) {
    let done = Command::new("strip")
        .arg("-o")
        .arg(dest)
        .arg(workspace_binary(name))
        .status()
        .is_ok_and(|s| s.success());
    if !done {
        testkit::copy_executable(&workspace_binary(name), dest);
    }
}

/// The snapshotter the generated containerd config (`containerd.toml` of a session) gives the
/// CRI plugin.
pub fn snapshotter(config: &str) -> String {
    config
        .lines()
        .find_map(|l| l.trim().strip_prefix("snapshotter = "))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| panic!("no snapshotter in the containerd config:\n{config}"))
}

/// The result of a command.
#[derive(Debug)]
pub struct Run {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            status: o.status,
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
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
    fn image_archive_carries_the_rootfs_names_and_entrypoint() {
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
        let layer = &entries[m["Layers"][0].as_str().unwrap()];
        assert_eq!(layer, &std::fs::read(&rootfs).unwrap());
        let config: serde_json::Value =
            serde_json::from_slice(&entries[m["Config"].as_str().unwrap()]).unwrap();
        assert_eq!(
            config["rootfs"]["diff_ids"][0].as_str().unwrap(),
            format!("sha256:{:x}", Sha256::digest(layer))
        );
        assert_eq!(
            config["config"]["Entrypoint"],
            serde_json::json!(["/bin/sleep", "1"])
        );
        assert!(entries.contains_key("index.json") && entries.contains_key("oci-layout"));
    }
}
