//! Gathers every fact the checks need from a [`Host`]. No decisions here: the checks are pure
//! functions over [`Facts`]. Reading never fails: what cannot be read is recorded as such.

use crate::accounts::{self, User};
use crate::host::{Host, Meta};
use crate::kmod::{self, ModuleSets};
use crate::mounts::{self, Mount};
use crate::probe::ProbeOutcome;
use crate::procfs::{self, Limit, Route};
use crate::subid::{self, SubIdFile};
use crate::{Distro, Options, Target};
use fsx::xdg::{self, Xdg};
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A path as the text the facts keep.
fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A path and what `stat` said about it (the error text when it failed).
#[derive(Debug, Clone)]
pub struct PathStat {
    pub path: String,
    pub meta: Result<Meta, String>,
}

impl PathStat {
    fn of(host: &Host, path: &str) -> PathStat {
        PathStat {
            path: path.to_string(),
            meta: host.stat(Path::new(path)).map_err(|e| err_text(&e)),
        }
    }
}

/// Short text of an I/O error ("No such file or directory").
pub fn err_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// A sub-ID file.
#[derive(Debug, Clone)]
pub struct SubIdFact {
    pub path: String,
    pub is_symlink: bool,
    pub meta: Result<Meta, String>,
    pub parsed: Result<SubIdFile, String>,
}

/// A setuid helper found on PATH.
#[derive(Debug, Clone)]
pub struct Helper {
    pub path: String,
    pub meta: Meta,
    /// The mount holding it is `nosuid` (setuid bits and file caps are ignored).
    pub nosuid: bool,
}

/// A RootlessKit-style state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    /// `usernetes`, `dockerd-rootless` or `containerd-rootless`.
    pub owner: &'static str,
    pub path: String,
    pub child_pid: Option<u32>,
    /// The child process exists.
    pub alive: bool,
}

/// The iptables flavour, from the name its symlinks lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IptablesBackend {
    Legacy,
    Nft,
    Unknown,
}

/// cgroup layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// cgroup v2 mounted at /sys/fs/cgroup.
    Unified,
    /// v1 controllers at /sys/fs/cgroup, v2 at /sys/fs/cgroup/unified.
    Hybrid,
    /// v1 only.
    Legacy,
    Unknown,
}

/// The cgroup the user's processes get.
#[derive(Debug, Clone)]
pub struct CgroupFacts {
    pub mode: CgroupMode,
    /// Controllers of /sys/fs/cgroup/cgroup.controllers.
    pub root_controllers: Option<Vec<String>>,
    /// The directory checked for delegation (user@UID.service, or the process's own cgroup).
    pub user_dir: Option<String>,
    /// Its `cgroup.controllers` (error text when unreadable).
    pub user_controllers: Result<Vec<String>, String>,
    /// Its owner (delegated directories belong to the user).
    pub user_dir_meta: Option<Meta>,
}

/// Everything the checks look at.
#[derive(Debug, Clone)]
pub struct Facts {
    pub live: bool,
    pub target: Target,
    pub distro: Distro,
    /// Which os-release file was read (None: none found).
    pub os_release: Option<String>,
    pub kernel_release: Option<String>,
    pub cmdline: Option<String>,
    /// Effective uid/gid of the process running the doctor.
    pub process_ids: Option<(u32, u32)>,
    /// The parent process (the user's shell, for `prlimit`).
    pub ppid: Option<u32>,
    pub env: HashMap<String, String>,
    /// The user checked.
    pub user: Result<User, String>,
    /// The user's gids (primary and supplementary).
    pub user_gids: Vec<u32>,
    /// The doctor runs as the checked user (so HOME, XDG_* and limits are theirs).
    pub is_self: bool,
    pub home: Option<PathStat>,
    pub home_from_env: bool,
    pub runtime_dir: Option<PathStat>,
    pub runtime_dir_from_env: bool,
    /// `$XDG_DATA_HOME/usernetes` (else `~/.local/share/usernetes`).
    pub data_dir: Option<String>,
    pub systemd_booted: bool,
    pub systemd_version: Option<u32>,
    pub user_manager: bool,
    pub user_bus: bool,
    pub linger: bool,
    pub docker_sockets: Vec<PathStat>,
    pub state_dirs: Vec<StateDir>,
    pub newuidmap: Option<Helper>,
    pub newgidmap: Option<Helper>,
    pub subuid: SubIdFact,
    pub subgid: SubIdFact,
    /// The `subid:` source of /etc/nsswitch.conf when it is not `files`.
    pub nss_subid: Option<String>,
    /// `~/.identity` exists (systemd-homed user).
    pub homed: bool,
    /// sysctl values by dotted name (missing = knob absent or unreadable).
    pub sysctl: HashMap<&'static str, String>,
    pub apparmor_enabled: bool,
    /// (file, text) of AppArmor profiles mentioning rootlesskit (read only when restricted).
    pub apparmor_profiles: Vec<(String, String)>,
    pub selinux_enforce: Option<String>,
    pub uid_map: Option<String>,
    pub modules: ModuleSets,
    pub iptables: Option<(String, IptablesBackend)>,
    /// The `conntrack` tool (kube-proxy in iptables mode runs it), where found.
    pub conntrack: Option<String>,
    pub tun: PathStat,
    pub fuse: PathStat,
    pub kmsg: PathStat,
    pub mounts: Vec<Mount>,
    /// The mount table came from mountinfo (with propagation), not /proc/mounts.
    pub mountinfo: bool,
    pub cgroup: CgroupFacts,
    pub nofile: Option<Limit>,
    pub routes: Option<Vec<Route>>,
    pub probe: Option<ProbeOutcome>,
    /// Why the live probes did not run.
    pub probe_skipped: Option<String>,
}

/// The sysctls read, by dotted name.
pub const SYSCTLS: &[&str] = &[
    "kernel.unprivileged_userns_clone",
    "user.max_user_namespaces",
    "kernel.apparmor_restrict_unprivileged_userns",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "fs.inotify.max_user_instances",
    "fs.inotify.max_user_watches",
    "kernel.dmesg_restrict",
    "net.ipv4.conf.default.rp_filter",
];

/// Modules the checks ask about.
pub const MODULES: &[&str] = &[
    "ip_tables",
    "iptable_nat",
    "iptable_filter",
    "nf_tables",
    "nft_chain_nat",
    "nft_compat",
    "bridge",
    "veth",
    "br_netfilter",
    "vxlan",
    "tun",
    "overlay",
    "fuse",
];

const STD_PATH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

fn read_opt(host: &Host, p: &str) -> Option<String> {
    host.read(Path::new(p)).ok()
}

/// Gathers the facts (without live probes).
pub fn gather(host: &Host, opts: &Options) -> Facts {
    let (distro, os_release) = match read_opt(host, "/etc/os-release") {
        Some(t) => (Distro::from_os_release(&t), Some("/etc/os-release".into())),
        None => match read_opt(host, "/usr/lib/os-release") {
            Some(t) => (
                Distro::from_os_release(&t),
                Some("/usr/lib/os-release".into()),
            ),
            None => (Distro::default(), None),
        },
    };
    let kernel_release = read_opt(host, "/proc/sys/kernel/osrelease").map(|s| s.trim().to_string());
    let status = read_opt(host, "/proc/self/status");
    let mut process_ids = status.as_deref().and_then(procfs::parse_status_ids);
    if process_ids.is_none() && host.is_live() {
        process_ids = Some((
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        ));
    }
    let ppid = status.as_deref().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|v| v.trim().parse().ok())
    });
    let env = host
        .read_bytes(Path::new("/proc/self/environ"))
        .map(|b| procfs::parse_environ(&b))
        .unwrap_or_default();

    let passwd = read_opt(host, "/etc/passwd")
        .map(|t| accounts::parse_passwd(&t))
        .unwrap_or_default();
    let groups = read_opt(host, "/etc/group")
        .map(|t| accounts::parse_group(&t))
        .unwrap_or_default();
    // `sudo u7s-doctor` checks the user who ran sudo (session.not_root still fails).
    let wanted = opts.user.clone().or_else(|| {
        (process_ids.map(|p| p.0) == Some(0))
            .then(|| env.get("SUDO_USER").cloned())
            .flatten()
            .filter(|u| !u.is_empty() && u != "root")
    });
    let user: Result<User, String> = match &wanted {
        Some(name) => passwd
            .iter()
            .find(|u| &u.name == name || u.uid.to_string() == *name)
            .cloned()
            .ok_or_else(|| format!("user {name:?} is not in /etc/passwd")),
        None => match process_ids {
            Some((uid, gid)) => Ok(passwd
                .iter()
                .find(|u| u.uid == uid)
                .cloned()
                .unwrap_or(User {
                    name: env.get("USER").cloned().unwrap_or_else(|| uid.to_string()),
                    uid,
                    gid,
                    home: env.get("HOME").cloned().unwrap_or_default(),
                })),
            None => Err("cannot tell the current user: /proc/self/status is unreadable".into()),
        },
    };
    let user_gids = user
        .as_ref()
        .map(|u| accounts::gids_of(u, &groups))
        .unwrap_or_default();
    let is_self = match (&user, process_ids) {
        (Ok(u), Some((uid, _))) => u.uid == uid,
        _ => false,
    };

    // HOME, XDG_RUNTIME_DIR, data directory: the checked user's environment when the doctor
    // runs as them, by the XDG rules the tools use (fsx::xdg: empty and relative values are
    // ignored), else their passwd entry.
    let mut xdg = Xdg::from_lookup(|k| {
        if is_self {
            env.get(k).map(OsString::from)
        } else {
            None
        }
    });
    let home_from_env = xdg.home.is_some();
    if let (None, Ok(u)) = (&xdg.home, &user)
        && !u.home.is_empty()
    {
        xdg.home = Some(PathBuf::from(&u.home));
    }
    let home_path = xdg.home.as_deref().map(path_text);
    let home = home_path.as_deref().map(|p| PathStat::of(host, p));
    let (rt_path, runtime_dir_from_env) = match (&xdg.xdg_runtime_dir, &user) {
        (Some(d), _) => (Some(path_text(d)), true),
        (None, Ok(u)) => (Some(path_text(&xdg::default_runtime_dir(u.uid))), false),
        _ => (None, false),
    };
    let runtime_dir = rt_path.as_deref().map(|p| PathStat::of(host, p));
    let data_dir = xdg.data_dir().as_deref().map(path_text);

    // systemd.
    let systemd_booted = host.exists(Path::new(crate::user_manager::BOOTED_MARKER));
    let uid = user.as_ref().map(|u| u.uid).ok();
    let user_run = uid.map(|u| format!("/run/user/{u}"));
    let user_manager = user_run
        .as_ref()
        .is_some_and(|r| host.exists(&Path::new(r).join(crate::user_manager::PRIVATE_SOCKET)));
    let user_bus = user_run
        .as_ref()
        .is_some_and(|r| host.exists(&Path::new(r).join("bus")));
    let linger = user
        .as_ref()
        .is_ok_and(|u| host.exists(&Path::new("/var/lib/systemd/linger").join(&u.name)));
    let systemd_version = if systemd_booted {
        systemd_version(host)
    } else {
        None
    };

    let docker_sockets = ["/run/docker.sock", "/var/run/docker.sock"]
        .iter()
        .map(|p| PathStat::of(host, p))
        .filter(|s| s.meta.is_ok())
        .collect::<Vec<_>>();
    let docker_sockets = dedupe_sockets(host, docker_sockets);

    let state_dirs = rt_path
        .as_deref()
        .map(|rt| state_dirs(host, rt))
        .unwrap_or_default();

    // PATH and helpers.
    let mut path_dirs: Vec<String> = env
        .get("PATH")
        .map(|p| {
            p.split(':')
                .filter(|d| d.starts_with('/'))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    for d in STD_PATH {
        if !path_dirs.iter().any(|x| x == d) {
            path_dirs.push(d.to_string());
        }
    }
    let (mounts_list, mountinfo) = read_mounts(host);
    let find = |name: &str| -> Option<Helper> {
        path_dirs.iter().find_map(|d| {
            let p = format!("{}/{name}", d.trim_end_matches('/'));
            let meta = host.stat(Path::new(&p)).ok()?;
            (meta.kind == crate::host::Kind::File).then(|| Helper {
                nosuid: mounts::mount_of(&mounts_list, &p).is_some_and(|m| m.has_option("nosuid")),
                path: p,
                meta,
            })
        })
    };
    let newuidmap = find("newuidmap");
    let newgidmap = find("newgidmap");
    let iptables = find("iptables").map(|h| {
        let chain = host.link_chain(Path::new(&h.path));
        let last = chain
            .last()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| h.path.clone());
        let base = last.rsplit('/').next().unwrap_or("").to_string();
        let backend = if base.contains("legacy") {
            IptablesBackend::Legacy
        } else if base.contains("nft") {
            IptablesBackend::Nft
        } else {
            IptablesBackend::Unknown
        };
        (h.path, backend)
    });

    let subuid = subid_fact(host, "/etc/subuid");
    let subgid = subid_fact(host, "/etc/subgid");
    let nss_subid = read_opt(host, "/etc/nsswitch.conf").and_then(|t| {
        t.lines().find_map(|l| {
            let v = l.trim().strip_prefix("subid:")?.trim().to_string();
            (v != "files").then_some(v)
        })
    });
    let homed = home_path
        .as_deref()
        .is_some_and(|h| host.exists(&Path::new(h).join(".identity")));

    let mut sysctl = HashMap::new();
    for name in SYSCTLS {
        let p = format!("/proc/sys/{}", name.replace('.', "/"));
        if let Some(v) = read_opt(host, &p) {
            sysctl.insert(*name, v.trim().to_string());
        }
    }
    let apparmor_enabled =
        read_opt(host, "/sys/module/apparmor/parameters/enabled").is_some_and(|v| v.trim() == "Y");
    let apparmor_profiles = if sysctl
        .get("kernel.apparmor_restrict_unprivileged_userns")
        .is_some_and(|v| v == "1")
    {
        apparmor_profiles(host)
    } else {
        Vec::new()
    };
    let selinux_enforce = read_opt(host, "/sys/fs/selinux/enforce").map(|s| s.trim().to_string());
    let uid_map = read_opt(host, "/proc/self/uid_map");

    let modules = module_sets(host, kernel_release.as_deref());

    let cgroup = cgroup_facts(host, &mounts_list, systemd_booted, uid, is_self);

    Facts {
        live: host.is_live(),
        target: opts.target,
        distro,
        os_release,
        kernel_release,
        cmdline: read_opt(host, "/proc/cmdline"),
        process_ids,
        ppid,
        env,
        user,
        user_gids,
        is_self,
        home,
        home_from_env,
        runtime_dir,
        runtime_dir_from_env,
        data_dir,
        systemd_booted,
        systemd_version,
        user_manager,
        user_bus,
        linger,
        docker_sockets,
        state_dirs,
        newuidmap,
        newgidmap,
        subuid,
        subgid,
        nss_subid,
        homed,
        sysctl,
        apparmor_enabled,
        apparmor_profiles,
        selinux_enforce,
        uid_map,
        modules,
        iptables,
        conntrack: find("conntrack").map(|h| h.path),
        tun: PathStat::of(host, "/dev/net/tun"),
        fuse: PathStat::of(host, "/dev/fuse"),
        kmsg: PathStat::of(host, "/dev/kmsg"),
        mounts: mounts_list,
        mountinfo,
        cgroup,
        nofile: read_opt(host, "/proc/self/limits")
            .as_deref()
            .and_then(procfs::parse_nofile),
        routes: read_opt(host, "/proc/net/route").map(|t| procfs::parse_routes(&t)),
        probe: None,
        probe_skipped: None,
    }
}

/// /run is usually /var/run's target: report one socket once.
fn dedupe_sockets(host: &Host, v: Vec<PathStat>) -> Vec<PathStat> {
    let mut seen = HashSet::new();
    v.into_iter()
        .filter(|s| {
            let real = host.real(Path::new(&s.path));
            seen.insert(real.canonicalize().unwrap_or(real))
        })
        .collect()
}

fn read_mounts(host: &Host) -> (Vec<Mount>, bool) {
    match read_opt(host, "/proc/self/mountinfo") {
        Some(t) => (mounts::parse_mountinfo(&t), true),
        None => (
            read_opt(host, "/proc/mounts")
                .map(|t| mounts::parse_proc_mounts(&t))
                .unwrap_or_default(),
            false,
        ),
    }
}

fn subid_fact(host: &Host, path: &str) -> SubIdFact {
    let p = Path::new(path);
    let is_symlink = std::fs::symlink_metadata(host.root().join(&path[1..]))
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false);
    SubIdFact {
        path: path.to_string(),
        is_symlink,
        meta: host.stat(p).map_err(|e| err_text(&e)),
        parsed: host
            .read(p)
            .map(|t| subid::parse(&t))
            .map_err(|e| err_text(&e)),
    }
}

fn state_dirs(host: &Host, rt: &str) -> Vec<StateDir> {
    let rt = rt.trim_end_matches('/');
    [
        (
            "usernetes",
            path_text(&xdg::state_dir_in(Path::new(rt)).join("rootlesskit")),
        ),
        ("dockerd-rootless", format!("{rt}/dockerd-rootless")),
        ("containerd-rootless", format!("{rt}/containerd-rootless")),
    ]
    .into_iter()
    .filter(|(_, p)| host.exists(Path::new(p)))
    .map(|(owner, path)| {
        let child_pid = host
            .read(&Path::new(&path).join("child_pid"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        let alive = child_pid.is_some_and(|pid| host.exists(Path::new(&format!("/proc/{pid}"))));
        StateDir {
            owner,
            path,
            child_pid,
            alive,
        }
    })
    .collect()
}

fn systemd_version(host: &Host) -> Option<u32> {
    for dir in [
        "/usr/lib/systemd",
        "/usr/lib64/systemd",
        "/lib/systemd",
        "/usr/lib/x86_64-linux-gnu/systemd",
        "/usr/lib/aarch64-linux-gnu/systemd",
    ] {
        if let Ok(names) = host.list_dir(Path::new(dir)) {
            for n in names {
                if let Some(rest) = n.strip_prefix("libsystemd-shared-") {
                    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                    if let Ok(v) = digits.parse() {
                        return Some(v);
                    }
                }
            }
        }
    }
    None
}

fn apparmor_profiles(host: &Host) -> Vec<(String, String)> {
    let Ok(names) = host.list_dir(Path::new("/etc/apparmor.d")) else {
        return Vec::new();
    };
    names
        .into_iter()
        .filter_map(|n| {
            let p = format!("/etc/apparmor.d/{n}");
            let text = host.read(Path::new(&p)).ok()?;
            text.contains("rootlesskit").then_some((p, text))
        })
        .collect()
}

fn module_sets(host: &Host, release: Option<&str>) -> ModuleSets {
    let mut sets = ModuleSets {
        loaded: read_opt(host, "/proc/modules").map(|t| kmod::parse_proc_modules(&t)),
        filesystems: read_opt(host, "/proc/filesystems")
            .map(|t| kmod::parse_filesystems(&t))
            .unwrap_or_default(),
        ..Default::default()
    };
    if let Some(rel) = release {
        for base in ["/lib/modules", "/usr/lib/modules"] {
            if sets.builtin.is_none() {
                sets.builtin = read_opt(host, &format!("{base}/{rel}/modules.builtin"))
                    .map(|t| kmod::parse_module_list(&t));
            }
            if sets.available.is_none() {
                sets.available = read_opt(host, &format!("{base}/{rel}/modules.dep"))
                    .map(|t| kmod::parse_module_list(&t));
            }
        }
    }
    for m in MODULES {
        if host.exists(&Path::new("/sys/module").join(m)) {
            sets.sysmodule.insert(m.to_string());
        }
    }
    // The kernel config only when something is still undecided (it costs a decompression).
    if MODULES.iter().any(|m| !kmod::state(&sets, m).present()) {
        let mut candidates = vec!["/proc/config.gz".to_string()];
        if let Some(rel) = release {
            candidates.push(format!("/boot/config-{rel}"));
            candidates.push(format!("/lib/modules/{rel}/config"));
            candidates.push(format!("/usr/lib/modules/{rel}/config"));
        }
        for c in candidates {
            let Ok(bytes) = host.read_bytes(Path::new(&c)) else {
                continue;
            };
            let text = if c.ends_with(".gz") {
                let mut s = String::new();
                if flate2::read::GzDecoder::new(&bytes[..])
                    .read_to_string(&mut s)
                    .is_err()
                {
                    continue;
                }
                s
            } else {
                String::from_utf8_lossy(&bytes).into_owned()
            };
            sets.kconfig = Some(kmod::parse_kconfig(&text));
            sets.kconfig_source = Some(c);
            break;
        }
    }
    sets
}

fn cgroup_facts(
    host: &Host,
    mounts: &[Mount],
    systemd: bool,
    uid: Option<u32>,
    is_self: bool,
) -> CgroupFacts {
    let at = |p: &str| mounts.iter().rev().find(|m| m.mount_point == p);
    let mode = match at("/sys/fs/cgroup").map(|m| m.fs_type.as_str()) {
        Some("cgroup2") => CgroupMode::Unified,
        Some(_) if at("/sys/fs/cgroup/unified").is_some_and(|m| m.fs_type == "cgroup2") => {
            CgroupMode::Hybrid
        }
        Some(_) => CgroupMode::Legacy,
        None if host.exists(Path::new("/sys/fs/cgroup/cgroup.controllers")) => CgroupMode::Unified,
        None => CgroupMode::Unknown,
    };
    let words = |p: &str| -> Result<Vec<String>, String> {
        host.read(Path::new(p))
            .map(|t| t.split_whitespace().map(str::to_string).collect())
            .map_err(|e| err_text(&e))
    };
    let root_controllers = if mode == CgroupMode::Unified {
        words("/sys/fs/cgroup/cgroup.controllers").ok()
    } else {
        None
    };
    let user_dir = if mode != CgroupMode::Unified {
        None
    } else if let (true, Some(uid)) = (systemd, uid) {
        Some(format!(
            "/sys/fs/cgroup/user.slice/user-{uid}.slice/user@{uid}.service"
        ))
    } else if is_self {
        read_opt(host, "/proc/self/cgroup")
            .and_then(|t| procfs::parse_cgroup_v2_path(&t))
            .map(|p| format!("/sys/fs/cgroup{}", p.trim_end_matches('/')))
    } else {
        None
    };
    let (user_controllers, user_dir_meta) = match &user_dir {
        Some(d) => (
            words(&format!("{d}/cgroup.controllers")),
            host.stat(Path::new(d)).ok(),
        ),
        None => (Err("no cgroup v2 directory for the user".into()), None),
    };
    CgroupFacts {
        mode,
        root_controllers,
        user_dir,
        user_controllers,
        user_dir_meta,
    }
}

/// The directory in which a probe may create its scratch directory: the nearest existing
/// ancestor of the data directory.
pub fn probe_base(facts: &Facts) -> Option<PathBuf> {
    let mut p = PathBuf::from(facts.data_dir.as_ref()?);
    loop {
        if p.is_dir() {
            return Some(p);
        }
        if !p.pop() {
            return None;
        }
    }
}
