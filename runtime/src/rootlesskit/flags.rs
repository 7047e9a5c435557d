//! The RootlessKit command line of a session (research §2.5, §4.1, §7): slirp4netns with MTU
//! 65520, host loopback disabled, sandbox and seccomp `auto`, the builtin port driver, copy-up
//! of /etc /run /var/lib /opt, a pid namespace so nothing outlives the session, `rslave`
//! propagation, a configurable CIDR (default 10.0.42.0/24), and `--cgroupns
//! --evacuate-cgroup2` only when cgroup v2 is delegated to us. Every flag used here exists from
//! RootlessKit v1.1 (Debian) to v3.x (the release pin). Also cgroup delegation detection.

use crate::error::{Error, Result};
use crate::rootlesskit::portspec::PortSpec;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// The default network of the namespace (10.0.2.0/24 collides with VirtualBox).
pub const DEFAULT_CIDR: &str = "10.0.42.0/24";
/// slirp4netns's best MTU (about 7x the throughput of 1500).
pub const MTU: u32 = 65520;
/// The cgroup RootlessKit evacuates its own processes into.
pub const EVACUATE_CGROUP: &str = "u7s_evac";
/// Directories copied up (made writable as tmpfs + symlinks) inside the namespace.
pub const COPY_UP: &[&str] = &["/etc", "/run", "/var/lib", "/opt"];

/// What a session's RootlessKit needs to know.
#[derive(Debug, Clone)]
pub struct RkOptions {
    pub state_dir: PathBuf,
    pub cidr: String,
    /// `--cgroupns --evacuate-cgroup2` (cgroup v2 delegated to this user).
    pub cgroup2_delegated: bool,
    /// slirp4netns to use (the release's own, when it has one).
    pub slirp4netns: Option<PathBuf>,
    /// Ports published from the start.
    pub publish: Vec<PortSpec>,
    /// Extra flags (`U7S_ROOTLESSKIT_FLAGS`), placed before the child command.
    pub extra: Vec<String>,
}

/// Checks a CIDR the way slirp4netns needs it: IPv4, host bits zero, room for the `.100` address.
pub fn validate_cidr(cidr: &str) -> Result<()> {
    let bad = |why: &str| {
        Error::Usage(format!(
            "--cidr {cidr}: {why} (expected a network like {DEFAULT_CIDR})"
        ))
    };
    let (addr, len) = cidr.split_once('/').ok_or_else(|| bad("missing /LENGTH"))?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad("not an IPv4 address"))?;
    let len: u32 = len.parse().map_err(|_| bad("bad prefix length"))?;
    if !(8..=25).contains(&len) {
        return Err(bad("prefix length must be 8..25"));
    }
    let host_mask = u32::MAX >> len;
    if u32::from(addr) & host_mask != 0 {
        return Err(bad("host bits must be zero"));
    }
    Ok(())
}

/// The namespace's own address (`<cidr>.100`, where RootlessKit puts tap0).
pub fn child_ip(cidr: &str) -> Option<Ipv4Addr> {
    let (addr, _) = cidr.split_once('/')?;
    let a: Ipv4Addr = addr.parse().ok()?;
    Some(Ipv4Addr::from(u32::from(a) + 100))
}

/// RootlessKit's arguments, then `--`-less `child` argv (RootlessKit stops at the first
/// non-flag word).
pub fn args(o: &RkOptions, child: &[String]) -> Vec<String> {
    let mut a = vec![
        format!("--state-dir={}", o.state_dir.display()),
        "--net=slirp4netns".to_string(),
        format!("--mtu={MTU}"),
        format!("--cidr={}", o.cidr),
        "--disable-host-loopback".into(),
        "--slirp4netns-sandbox=auto".into(),
        "--slirp4netns-seccomp=auto".into(),
        "--port-driver=builtin".into(),
    ];
    if let Some(s) = &o.slirp4netns {
        a.push(format!("--slirp4netns-binary={}", s.display()));
    }
    a.extend(COPY_UP.iter().map(|d| format!("--copy-up={d}")));
    a.push("--pidns".into());
    if o.cgroup2_delegated {
        a.push("--cgroupns".into());
        a.push(format!("--evacuate-cgroup2={EVACUATE_CGROUP}"));
    }
    a.push("--propagation=rslave".into());
    a.extend(o.publish.iter().map(|p| format!("--publish={p}")));
    a.extend(o.extra.iter().cloned());
    a.extend(child.iter().cloned());
    a
}

/// The namespaces `u7s nsenter` joins, as nsenter flags.
pub fn nsenter_args(child_pid: i32, cgroupns: bool, wd: &Path) -> Vec<String> {
    let mut a = vec![
        "-t".to_string(),
        child_pid.to_string(),
        "-U".into(),
        "--preserve-credentials".into(),
        "-m".into(),
        "-n".into(),
        "-p".into(),
    ];
    if cgroupns {
        a.push("-C".into());
    }
    a.push(format!("--wd={}", wd.display()));
    a
}

/// Pure part of the delegation check: unified hierarchy, our own cgroup path, and whether its
/// `cgroup.procs` and `cgroup.subtree_control` are writable for us.
pub fn cgroup2_delegated(unified: bool, self_cgroup: &str, writable: bool) -> bool {
    // cgroup v2 only: a single "0::/path" line.
    let v2_only = self_cgroup
        .lines()
        .filter(|l| !l.trim().is_empty())
        .all(|l| l.starts_with("0::"));
    unified && v2_only && writable
}

/// Looks at this host: `/sys/fs/cgroup/cgroup.controllers` and our cgroup's files.
pub fn detect_cgroup2_delegated() -> bool {
    let unified = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let path = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("")
        .trim();
    let dir = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    let w = |f: &str| nix::unistd::access(&dir.join(f), nix::unistd::AccessFlags::W_OK).is_ok();
    let writable = w("cgroup.procs") && w("cgroup.subtree_control");
    cgroup2_delegated(unified, &own, writable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> RkOptions {
        RkOptions {
            state_dir: "/run/user/1000/usernetes/rootlesskit".into(),
            cidr: DEFAULT_CIDR.into(),
            cgroup2_delegated: false,
            slirp4netns: None,
            publish: vec![],
            extra: vec![],
        }
    }

    #[test]
    fn baseline_flags_in_order() {
        let a = args(&opts(), &["/bin/u7s".into(), "__child".into()]);
        assert_eq!(
            a,
            [
                "--state-dir=/run/user/1000/usernetes/rootlesskit",
                "--net=slirp4netns",
                "--mtu=65520",
                "--cidr=10.0.42.0/24",
                "--disable-host-loopback",
                "--slirp4netns-sandbox=auto",
                "--slirp4netns-seccomp=auto",
                "--port-driver=builtin",
                "--copy-up=/etc",
                "--copy-up=/run",
                "--copy-up=/var/lib",
                "--copy-up=/opt",
                "--pidns",
                "--propagation=rslave",
                "/bin/u7s",
                "__child",
            ]
        );
    }

    #[test]
    fn cgroup_flags_only_when_delegated() {
        let mut o = opts();
        assert!(!args(&o, &[]).iter().any(|f| f.contains("cgroup")));
        o.cgroup2_delegated = true;
        let a = args(&o, &[]);
        assert!(a.contains(&"--cgroupns".to_string()));
        assert!(a.contains(&"--evacuate-cgroup2=u7s_evac".to_string()));
        let pidns = a.iter().position(|f| f == "--pidns").unwrap();
        assert!(pidns < a.iter().position(|f| f == "--cgroupns").unwrap());
    }

    #[test]
    fn publish_extra_and_binary() {
        let mut o = opts();
        o.publish = vec![PortSpec::parse("8080:80/tcp").unwrap()];
        o.extra = vec!["--debug".into()];
        o.slirp4netns = Some("/opt/u/bin/slirp4netns".into());
        let a = args(&o, &["child".into()]);
        assert!(a.contains(&"--publish=127.0.0.1:8080:80/tcp".to_string()));
        assert!(a.contains(&"--slirp4netns-binary=/opt/u/bin/slirp4netns".to_string()));
        assert_eq!(a[a.len() - 2], "--debug");
        assert_eq!(a[a.len() - 1], "child");
    }

    #[test]
    fn cidr_rules() {
        validate_cidr("10.0.42.0/24").unwrap();
        validate_cidr("10.0.100.0/25").unwrap();
        for bad in [
            "10.0.42.100/24",
            "10.0.42.0",
            "fd00::/64",
            "10.0.0.0/30",
            "10.0.0.0/x",
        ] {
            assert!(validate_cidr(bad).is_err(), "{bad}");
        }
        assert_eq!(
            child_ip("10.0.42.0/24"),
            Some(Ipv4Addr::new(10, 0, 42, 100))
        );
    }

    #[test]
    fn delegation_needs_v2_only_and_write_access() {
        assert!(cgroup2_delegated(true, "0::/user.slice/u.service\n", true));
        assert!(!cgroup2_delegated(true, "0::/user.slice\n", false));
        assert!(!cgroup2_delegated(false, "0::/\n", true));
        assert!(
            !cgroup2_delegated(true, "4:memory:/x\n0::/\n", true),
            "hybrid v1"
        );
    }

    #[test]
    fn nsenter_joins_user_mount_net_pid() {
        let a = nsenter_args(42, false, Path::new("/tmp"));
        assert_eq!(
            a,
            [
                "-t",
                "42",
                "-U",
                "--preserve-credentials",
                "-m",
                "-n",
                "-p",
                "--wd=/tmp"
            ]
        );
        assert!(nsenter_args(42, true, Path::new("/")).contains(&"-C".to_string()));
    }
}
