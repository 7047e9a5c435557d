//! Fake host trees for the integration tests: one healthy tree per distro, mutated per defect,
//! and a runner for the real `u7s-doctor` binary with `--root`.
#![allow(dead_code)]

use doctor::report::JsonReport;
use doctor::{CheckResult, Status};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The distros the tests cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum D {
    Debian12,
    Debian10,
    Ubuntu2204,
    Ubuntu2310,
    Ubuntu2404,
    Arch,
    OpenSuseTumbleweed,
    Sles15,
    Centos7,
    Rhel9,
    Rocky8,
    Alma9,
    Fedora40,
    Alpine320,
}

pub const ALL: &[D] = &[
    D::Debian12,
    D::Debian10,
    D::Ubuntu2204,
    D::Ubuntu2310,
    D::Ubuntu2404,
    D::Arch,
    D::OpenSuseTumbleweed,
    D::Sles15,
    D::Centos7,
    D::Rhel9,
    D::Rocky8,
    D::Alma9,
    D::Fedora40,
    D::Alpine320,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cg {
    Unified,
    Hybrid,
    Legacy,
}

impl D {
    pub fn os_release(self) -> &'static str {
        match self {
            D::Debian12 => {
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"
            }
            D::Debian10 => {
                "PRETTY_NAME=\"Debian GNU/Linux 10 (buster)\"\nVERSION_ID=\"10\"\nID=debian\n"
            }
            D::Ubuntu2204 => {
                "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nVERSION_ID=\"22.04\"\nID=ubuntu\nID_LIKE=debian\n"
            }
            D::Ubuntu2310 => {
                "PRETTY_NAME=\"Ubuntu 23.10\"\nVERSION_ID=\"23.10\"\nID=ubuntu\nID_LIKE=debian\n"
            }
            D::Ubuntu2404 => {
                "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nVERSION_ID=\"24.04\"\nID=ubuntu\nID_LIKE=debian\n"
            }
            D::Arch => {
                "NAME=\"Arch Linux\"\nPRETTY_NAME=\"Arch Linux\"\nID=arch\nBUILD_ID=rolling\n"
            }
            D::OpenSuseTumbleweed => {
                "NAME=\"openSUSE Tumbleweed\"\nID=\"opensuse-tumbleweed\"\nID_LIKE=\"opensuse suse\"\nVERSION_ID=\"20240901\"\nPRETTY_NAME=\"openSUSE Tumbleweed\"\n"
            }
            D::Sles15 => {
                "NAME=\"SLES\"\nVERSION_ID=\"15.5\"\nPRETTY_NAME=\"SUSE Linux Enterprise Server 15 SP5\"\nID=\"sles\"\nID_LIKE=\"suse\"\n"
            }
            D::Centos7 => {
                "NAME=\"CentOS Linux\"\nVERSION=\"7 (Core)\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\n"
            }
            D::Rhel9 => {
                "NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.4\"\nPRETTY_NAME=\"Red Hat Enterprise Linux 9.4 (Plow)\"\n"
            }
            D::Rocky8 => {
                "NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"8.10\"\nPRETTY_NAME=\"Rocky Linux 8.10 (Green Obsidian)\"\n"
            }
            D::Alma9 => {
                "NAME=\"AlmaLinux\"\nID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\nPRETTY_NAME=\"AlmaLinux 9.4 (Seafoam Ocelot)\"\n"
            }
            D::Fedora40 => {
                "NAME=\"Fedora Linux\"\nVERSION_ID=40\nID=fedora\nPRETTY_NAME=\"Fedora Linux 40 (Workstation Edition)\"\n"
            }
            D::Alpine320 => {
                "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n"
            }
        }
    }

    pub fn family(self) -> &'static str {
        match self {
            D::Debian12 | D::Debian10 => "debian",
            D::Ubuntu2204 | D::Ubuntu2310 | D::Ubuntu2404 => "ubuntu",
            D::Arch => "arch",
            D::OpenSuseTumbleweed | D::Sles15 => "suse",
            D::Centos7 => "rhel7",
            D::Rhel9 | D::Rocky8 | D::Alma9 => "rhel",
            D::Fedora40 => "fedora",
            D::Alpine320 => "alpine",
        }
    }

    pub fn kernel(self) -> &'static str {
        match self {
            D::Debian12 => "6.1.0-25-amd64",
            D::Debian10 => "4.19.0-27-amd64",
            D::Ubuntu2204 => "5.15.0-122-generic",
            D::Ubuntu2310 => "6.5.0-44-generic",
            D::Ubuntu2404 => "6.8.0-45-generic",
            D::Arch => "6.10.10-arch1-1",
            D::OpenSuseTumbleweed => "6.10.5-1-default",
            D::Sles15 => "5.14.21-150500.55.65-default",
            D::Centos7 => "3.10.0-1160.el7.x86_64",
            D::Rhel9 => "5.14.0-427.13.1.el9_4.x86_64",
            D::Rocky8 => "4.18.0-553.el8_10.x86_64",
            D::Alma9 => "5.14.0-427.28.1.el9_4.x86_64",
            D::Fedora40 => "6.10.6-200.fc40.x86_64",
            D::Alpine320 => "6.6.49-0-lts",
        }
    }

    pub fn cgroup(self) -> Cg {
        match self {
            D::Debian10 | D::Sles15 => Cg::Hybrid,
            D::Centos7 | D::Rocky8 => Cg::Legacy,
            _ => Cg::Unified,
        }
    }

    /// The target the healthy tree passes for (cgroup v1 hosts cannot run rootless Kubernetes).
    pub fn healthy_target(self) -> &'static str {
        if self.cgroup() == Cg::Unified && self != D::Centos7 {
            "kubernetes"
        } else {
            "docker"
        }
    }

    pub fn systemd(self) -> bool {
        self != D::Alpine320
    }

    pub fn legacy_iptables(self) -> bool {
        matches!(self, D::OpenSuseTumbleweed | D::Sles15 | D::Centos7)
    }

    /// Fedora and RHEL ship newuidmap with file capabilities instead of setuid.
    pub fn helpers_with_caps(self) -> bool {
        matches!(
            self,
            D::Centos7 | D::Rhel9 | D::Rocky8 | D::Alma9 | D::Fedora40
        )
    }

    pub fn usr_bin(self) -> &'static str {
        "/usr/bin"
    }

    pub fn sbin(self) -> &'static str {
        if self == D::Alpine320 {
            "/sbin"
        } else {
            "/usr/sbin"
        }
    }
}

/// A fake host tree.
pub struct Tree {
    pub dir: tempfile::TempDir,
    attrs: BTreeMap<String, String>,
    pub distro: D,
}

pub const ALICE_HOME: &str = "/home/alice";

impl Tree {
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    fn real(&self, p: &str) -> PathBuf {
        self.dir.path().join(p.trim_start_matches('/'))
    }

    pub fn write(&mut self, p: &str, content: &str) -> &mut Self {
        let r = self.real(p);
        std::fs::create_dir_all(r.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&r);
        std::fs::write(r, content).unwrap();
        self
    }

    pub fn write_bytes(&mut self, p: &str, content: &[u8]) -> &mut Self {
        let r = self.real(p);
        std::fs::create_dir_all(r.parent().unwrap()).unwrap();
        std::fs::write(r, content).unwrap();
        self
    }

    pub fn mkdir(&mut self, p: &str) -> &mut Self {
        std::fs::create_dir_all(self.real(p)).unwrap();
        self
    }

    pub fn rm(&mut self, p: &str) -> &mut Self {
        let r = self.real(p);
        if r.is_dir() && !r.is_symlink() {
            std::fs::remove_dir_all(r).unwrap();
        } else {
            let _ = std::fs::remove_file(r);
        }
        self.attrs.remove(p);
        self
    }

    pub fn symlink(&mut self, p: &str, target: &str) -> &mut Self {
        let r = self.real(p);
        std::fs::create_dir_all(r.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&r);
        std::os::unix::fs::symlink(target, r).unwrap();
        self
    }

    /// Sidecar attributes: "uid gid mode caps".
    pub fn attr(&mut self, p: &str, spec: &str) -> &mut Self {
        self.attrs.insert(p.to_string(), spec.to_string());
        self
    }

    pub fn sysctl(&mut self, name: &str, value: &str) -> &mut Self {
        let p = format!("/proc/sys/{}", name.replace('.', "/"));
        self.write(&p, &format!("{value}\n"))
    }

    pub fn no_sysctl(&mut self, name: &str) -> &mut Self {
        let p = format!("/proc/sys/{}", name.replace('.', "/"));
        self.rm(&p)
    }

    /// The process environment (`/proc/self/environ`).
    pub fn environ(&mut self, vars: &[(&str, &str)]) -> &mut Self {
        let mut b = Vec::new();
        for (k, v) in vars {
            b.extend_from_slice(format!("{k}={v}").as_bytes());
            b.push(0);
        }
        self.write_bytes("/proc/self/environ", &b)
    }

    pub fn default_environ(&mut self) -> &mut Self {
        self.environ(&[
            ("HOME", ALICE_HOME),
            ("USER", "alice"),
            ("XDG_RUNTIME_DIR", "/run/user/1000"),
            ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ])
    }

    /// The process identity (`/proc/self/status`).
    pub fn process(&mut self, uid: u32, gid: u32) -> &mut Self {
        self.write(
            "/proc/self/status",
            &format!("Name:\tu7s-doctor\nPPid:\t4242\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t{gid}\t{gid}\t{gid}\t{gid}\n"),
        )
    }

    pub fn nofile(&mut self, soft: &str, hard: &str) -> &mut Self {
        self.write(
            "/proc/self/limits",
            &format!("Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax open files            {soft:<20} {hard:<20} files     \n"),
        )
    }

    pub fn modules_loaded(&mut self, mods: &[&str]) -> &mut Self {
        let text: String = mods
            .iter()
            .map(|m| format!("{m} 16384 0 - Live 0x0000000000000000\n"))
            .collect();
        self.write("/proc/modules", &text)
    }

    pub fn routes(&mut self, extra: &[(&str, [u8; 4], u8)]) -> &mut Self {
        let mut t = String::from(
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n",
        );
        t.push_str("eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n");
        let mut all = vec![("eth0", [192, 168, 1, 0], 24u8)];
        all.extend_from_slice(extra);
        for (ifc, a, p) in all {
            let dest = u32::from_ne_bytes(a);
            let mask: u32 = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            let mask_ne = u32::from_ne_bytes(mask.to_be_bytes());
            t.push_str(&format!(
                "{ifc}\t{dest:08X}\t00000000\t0001\t0\t0\t0\t{mask_ne:08X}\t0\t0\t0\n"
            ));
        }
        self.write("/proc/net/route", &t)
    }

    pub fn mountinfo(&mut self, cg: Cg, home_line: Option<&str>) -> &mut Self {
        let mut t = String::from(
            "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n\
25 22 0:27 / /run rw,nosuid,nodev,noexec shared:5 - tmpfs tmpfs rw,mode=755\n",
        );
        match cg {
            Cg::Unified => t.push_str("24 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"),
            Cg::Hybrid | Cg::Legacy => {
                t.push_str("24 22 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n");
                if cg == Cg::Hybrid {
                    t.push_str("26 24 0:28 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw\n");
                }
                t.push_str("27 24 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,memory\n");
                t.push_str("28 24 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct\n");
            }
        }
        if let Some(l) = home_line {
            t.push_str(l);
            t.push('\n');
        }
        self.write("/proc/self/mountinfo", &t)
    }

    pub fn subid(&mut self, uid_text: &str, gid_text: &str) -> &mut Self {
        self.write("/etc/subuid", uid_text)
            .write("/etc/subgid", gid_text)
    }

    fn flush(&self) {
        let mut t = String::from("# test fixture attributes\n");
        for (p, spec) in &self.attrs {
            t.push_str(&format!("{p} {spec}\n"));
        }
        std::fs::write(self.dir.path().join(".doctor-attrs"), t).unwrap();
    }

    /// Runs `u7s-doctor --root <tree> ARGS` as it is: the raw output.
    pub fn run_raw(&self, args: &[&str]) -> std::process::Output {
        self.flush();
        Command::new(env!("CARGO_BIN_EXE_u7s-doctor"))
            .arg("--root")
            .arg(self.root())
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs `u7s-doctor --root <tree> --json ARGS`.
    pub fn run(&self, args: &[&str]) -> Outcome {
        self.flush();
        let out = Command::new(env!("CARGO_BIN_EXE_u7s-doctor"))
            .arg("--root")
            .arg(self.root())
            .arg("--json")
            .args(args)
            .env_remove("NO_COLOR")
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let json: JsonReport = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "bad JSON ({e}): {stdout}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        Outcome {
            code: out.status.code().unwrap_or(-1),
            json,
            raw: stdout,
        }
    }

    /// Runs the human table output.
    pub fn table(&self, args: &[&str]) -> (i32, String) {
        self.flush();
        let out = Command::new(env!("CARGO_BIN_EXE_u7s-doctor"))
            .arg("--root")
            .arg(self.root())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
        )
    }

    /// Runs the library directly.
    pub fn report(&self, target: doctor::Target) -> doctor::Report {
        self.flush();
        doctor::run(&doctor::Options {
            root: self.root().to_path_buf(),
            user: Some("alice".into()),
            target,
            live_probes: true,
        })
    }
}

pub struct Outcome {
    pub code: i32,
    pub json: JsonReport,
    pub raw: String,
}

impl Outcome {
    pub fn check(&self, id: &str) -> &CheckResult {
        self.json
            .checks
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no check {id} in {}", self.raw))
    }
    pub fn status(&self, id: &str) -> Status {
        self.check(id).status
    }
    pub fn fix(&self, id: &str) -> String {
        self.check(id)
            .fix
            .clone()
            .unwrap_or_else(|| panic!("check {id} has no fix: {:?}", self.check(id)))
    }
    pub fn failures(&self) -> Vec<&CheckResult> {
        self.json
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .collect()
    }
    /// Asserts `id` has `status`, and a fix containing every needle.
    #[track_caller]
    pub fn expect(&self, id: &str, status: Status, needles: &[&str]) {
        let c = self.check(id);
        assert_eq!(c.status, status, "{id}: {c:?}");
        let text = format!("{}\n{}", c.finding, c.fix.clone().unwrap_or_default());
        for n in needles {
            assert!(text.contains(n), "{id}: {n:?} not in finding/fix:\n{text}");
        }
    }
}

/// A healthy tree for `d`: everything usernetes needs, for user alice (uid 1000).
pub fn healthy(d: D) -> Tree {
    let mut t = Tree {
        dir: tempfile::Builder::new()
            .prefix("doctor-fixture")
            .tempdir()
            .unwrap(),
        attrs: BTreeMap::new(),
        distro: d,
    };
    t.write("/etc/os-release", d.os_release())
        .write(
            "/etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/sh\n",
        )
        .write("/etc/group", "root:x:0:\nalice:x:1000:\nbob:x:1001:\ndocker:x:998:bob\n")
        .subid("alice:100000:65536\nbob:165536:65536\n", "alice:100000:65536\nbob:165536:65536\n")
        .process(1000, 1000)
        .default_environ()
        .nofile("1024", "524288")
        .write("/proc/self/uid_map", "         0          0 4294967295\n")
        .mountinfo(d.cgroup(), None)
        .write("/proc/sys/kernel/osrelease", &format!("{}\n", d.kernel()))
        .write("/proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet\n")
        .sysctl("user.max_user_namespaces", "63000")
        .sysctl("net.ipv4.ping_group_range", "0\t2147483647")
        .sysctl("net.ipv4.ip_unprivileged_port_start", "1024")
        .sysctl("fs.inotify.max_user_instances", "512")
        .sysctl("fs.inotify.max_user_watches", "524288")
        .sysctl("kernel.dmesg_restrict", "0")
        .sysctl("net.ipv4.conf.default.rp_filter", "2")
        .write("/proc/filesystems", "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\n\text4\nnodev\toverlay\nnodev\tfuse\n")
        .routes(&[])
        .mkdir(ALICE_HOME)
        .attr(ALICE_HOME, "1000 1000 d0750 -")
        .mkdir("/run/user/1000")
        .attr("/run/user/1000", "1000 1000 d0700 -")
        .attr("/dev/net/tun", "0 0 c0666 -")
        .attr("/dev/fuse", "0 0 c0666 -")
        .attr("/dev/kmsg", "0 0 c0644 -");
    // Kernel modules.
    let mut mods = vec![
        "overlay",
        "tun",
        "bridge",
        "veth",
        "br_netfilter",
        "vxlan",
        "fuse",
    ];
    if d.legacy_iptables() {
        mods.extend(["ip_tables", "iptable_nat", "iptable_filter"]);
    } else {
        mods.extend(["nf_tables", "nft_chain_nat"]);
    }
    t.modules_loaded(&mods);
    let rel = d.kernel();
    t.write(
        &format!("/lib/modules/{rel}/modules.builtin"),
        "kernel/drivers/block/loop.ko\n",
    )
    .write(
        &format!("/lib/modules/{rel}/modules.dep"),
        "kernel/net/ipv4/netfilter/iptable_mangle.ko.zst:\n",
    );
    // Sub-ID helpers.
    for h in ["newuidmap", "newgidmap"] {
        let p = format!("{}/{h}", d.usr_bin());
        t.write(&p, "#!/bin/false\n");
        if d.helpers_with_caps() {
            let cap = if h == "newuidmap" {
                "cap_setuid=ep"
            } else {
                "cap_setgid=ep"
            };
            t.attr(&p, &format!("0 0 0755 {cap}"));
        } else {
            t.attr(&p, "0 0 4755 -");
        }
    }
    // iptables through the alternatives symlinks.
    let sbin = d.sbin();
    if d == D::Alpine320 {
        let target = if d.legacy_iptables() {
            "xtables-legacy-multi"
        } else {
            "xtables-nft-multi"
        };
        t.write(&format!("{sbin}/{target}"), "")
            .symlink(&format!("{sbin}/iptables"), target);
    } else {
        let flavour = if d.legacy_iptables() {
            "iptables-legacy"
        } else {
            "iptables-nft"
        };
        t.write(&format!("{sbin}/{flavour}"), "")
            .symlink("/etc/alternatives/iptables", &format!("{sbin}/{flavour}"))
            .symlink(&format!("{sbin}/iptables"), "/etc/alternatives/iptables");
    }
    // conntrack, which kube-proxy runs.
    t.write(&format!("{sbin}/conntrack"), "");
    // systemd, user manager, lingering, cgroup delegation.
    if d.systemd() {
        t.mkdir("/run/systemd/system")
            .write("/run/user/1000/systemd/private", "")
            .write("/run/user/1000/bus", "")
            .write("/var/lib/systemd/linger/alice", "")
            .write("/usr/lib/systemd/libsystemd-shared-255.so", "")
            .write(
                "/proc/self/cgroup",
                "0::/user.slice/user-1000.slice/user@1000.service/app.slice/doctor.scope\n",
            );
        if d.cgroup() == Cg::Unified {
            let dir = "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service";
            t.write(
                &format!("{dir}/cgroup.controllers"),
                "cpuset cpu io memory pids\n",
            )
            .attr(dir, "1000 1000 d0755 -");
        }
    } else {
        // OpenRC: the admin gave alice a cgroup of her own.
        let dir = "/sys/fs/cgroup/usernetes-alice";
        t.write("/proc/self/cgroup", "0::/usernetes-alice\n")
            .write(
                &format!("{dir}/cgroup.controllers"),
                "cpuset cpu io memory pids\n",
            )
            .attr(dir, "1000 1000 d0755 -");
    }
    if d.cgroup() == Cg::Unified {
        t.write(
            "/sys/fs/cgroup/cgroup.controllers",
            "cpuset cpu io memory hugetlb pids rdma misc\n",
        );
    }
    // Distro specifics.
    match d {
        D::Debian10 => {
            t.sysctl("kernel.unprivileged_userns_clone", "1");
        }
        D::Arch => {
            t.sysctl("kernel.unprivileged_userns_clone", "1");
        }
        D::Ubuntu2310 | D::Ubuntu2404 => {
            t.sysctl("kernel.apparmor_restrict_unprivileged_userns", "1")
                .write("/sys/module/apparmor/parameters/enabled", "Y\n")
                .write(
                    "/etc/apparmor.d/usernetes-rootlesskit-alice",
                    "abi <abi/4.0>,\ninclude <tunables/global>\nprofile usernetes-rootlesskit-alice /home/alice/.local/share/usernetes/versions/*/bin/rootlesskit flags=(unconfined) {\n  userns,\n}\n",
                )
                .write("/etc/apparmor.d/usr.bin.firefox", "profile firefox /usr/lib/firefox/firefox { }\n");
        }
        D::Ubuntu2204 => {
            t.sysctl("kernel.apparmor_restrict_unprivileged_userns", "0");
        }
        D::Centos7 => {
            t.write(
                "/proc/cmdline",
                "BOOT_IMAGE=/vmlinuz-3.10.0 root=/dev/sda1 ro user_namespace.enable=1\n",
            );
        }
        D::Fedora40 | D::Rhel9 | D::Alma9 | D::Rocky8 => {
            t.write("/sys/fs/selinux/enforce", "1");
        }
        _ => {}
    }
    t
}
