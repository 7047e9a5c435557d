//! Fake host trees for every supported distro: healthy, then with each defect; asserts status,
//! exit code and the fix text the binary prints (`--root`, `--json`).

mod common;

use common::{ALL, Cg, D, healthy};
use doctor::Status::{Fail, Pass, Skip, Warn};

const ALICE: &[&str] = &["--user", "alice"];

fn args(target: &str) -> Vec<&str> {
    vec!["--user", "alice", "--for", target]
}

#[test]
fn every_distro_healthy_tree_passes() {
    for &d in ALL {
        let t = healthy(d);
        let o = t.run(&args(d.healthy_target()));
        assert!(
            o.failures().is_empty(),
            "{d:?}: unexpected failures {:#?}",
            o.failures()
        );
        assert_eq!(o.code, 0, "{d:?}");
        assert_eq!(o.json.result, "ok");
        assert_eq!(
            serde_json::to_value(o.json.distro.family).unwrap(),
            d.family(),
            "{d:?}"
        );
        for id in [
            "subuid.range",
            "subgid.range",
            "subid.newuidmap",
            "subid.newgidmap",
            "userns.max",
            "devices.net_tun",
            "network.iptables",
            "modules.iptables",
            "storage.data_dir",
        ] {
            assert_eq!(o.status(id), Pass, "{d:?} {id}: {:?}", o.check(id));
        }
        // Live probes never run on a fake tree.
        for id in [
            "userns.create",
            "userns.map",
            "storage.overlay_userns",
            "devices.tun_userns",
        ] {
            assert_eq!(o.status(id), Skip, "{d:?} {id}");
        }
        assert_eq!(o.json.summary.fail, 0);
        assert_eq!(o.json.user, "alice");
    }
}

#[test]
fn kubernetes_needs_cgroup_v2_on_cgroup_v1_distros() {
    for d in [D::Debian10, D::Sles15, D::Centos7, D::Rocky8] {
        let o = healthy(d).run(&args("kubernetes"));
        assert_eq!(o.code, 1, "{d:?}");
        o.expect("cgroup.v2", Fail, &["rootless Kubernetes needs cgroup v2"]);
        let fix = o.fix("cgroup.v2");
        let want = match d {
            D::Debian10 => "update-grub",
            D::Sles15 => "grub2-mkconfig -o /boot/grub2/grub.cfg",
            D::Centos7 | D::Rocky8 => {
                "grubby --update-kernel=ALL --args=\"systemd.unified_cgroup_hierarchy=1\""
            }
            _ => unreachable!(),
        };
        assert!(fix.contains(want), "{d:?}: {fix}");
        // Docker-only: a warning.
        let o = healthy(d).run(&args("docker"));
        assert_eq!(o.status("cgroup.v2"), Warn);
        assert_eq!(o.status("cgroup.delegation"), Skip);
    }
    let mut t = healthy(D::Alpine320);
    t.mountinfo(Cg::Hybrid, None);
    let o = t.run(&args("kubernetes"));
    o.expect(
        "cgroup.v2",
        Fail,
        &["rc_cgroup_mode=\"unified\"", "/etc/rc.conf"],
    );
}

#[test]
fn missing_uidmap_helpers_name_the_distro_package() {
    for &d in ALL {
        let mut t = healthy(d);
        t.rm(&format!("{}/newuidmap", d.usr_bin()));
        let o = t.run(ALICE);
        assert_eq!(o.code, 1, "{d:?}");
        let want = match d {
            D::Debian12 | D::Debian10 | D::Ubuntu2204 | D::Ubuntu2310 | D::Ubuntu2404 => {
                "apt-get install -y uidmap"
            }
            D::Arch => "pacman -S --needed --noconfirm shadow",
            D::OpenSuseTumbleweed | D::Sles15 => "zypper --non-interactive install shadow",
            D::Centos7 => "yum install -y shadow-utils",
            D::Rhel9 | D::Rocky8 | D::Alma9 | D::Fedora40 => "dnf install -y shadow-utils",
            D::Alpine320 => "apk add shadow-uidmap",
        };
        o.expect("subid.newuidmap", Fail, &["newuidmap not found", want]);
        assert_eq!(o.status("subid.newgidmap"), Pass, "{d:?}");
        assert!(o.json.fix_script.as_deref().unwrap().contains(want));
        if d == D::Centos7 {
            o.expect(
                "subid.newuidmap",
                Fail,
                &[
                    "shadow-utils46-newxidmap",
                    "vbatts-shadow-utils-newxidmap-epel-7.repo",
                ],
            );
        }
    }
}

#[test]
fn missing_iptables_names_the_distro_package() {
    for &d in ALL {
        let mut t = healthy(d);
        t.rm(&format!("{}/iptables", d.sbin()));
        let o = t.run(&args("docker"));
        let want = match d.family() {
            "debian" | "ubuntu" => "apt-get install -y iptables",
            "arch" => "pacman -S --needed --noconfirm iptables",
            "suse" => "zypper --non-interactive install iptables",
            "rhel7" => "yum install -y iptables",
            "rhel" | "fedora" => "dnf install -y iptables",
            "alpine" => "apk add iptables",
            _ => unreachable!(),
        };
        o.expect("network.iptables", Fail, &[want]);
        assert_eq!(o.code, 1);
    }
}

#[test]
fn userns_clone_sysctl_on_debian_and_arch() {
    for d in [D::Debian10, D::Arch, D::Debian12] {
        let mut t = healthy(d);
        t.sysctl("kernel.unprivileged_userns_clone", "0");
        let o = t.run(&args("docker"));
        o.expect(
            "userns.clone_sysctl",
            Fail,
            &[
                "fork/exec /proc/self/exe: operation not permitted",
                "kernel.unprivileged_userns_clone = 1",
                "sysctl --system",
            ],
        );
        assert_eq!(o.code, 1);
    }
    // Upstream kernels have no knob at all.
    let o = healthy(D::Fedora40).run(ALICE);
    o.expect("userns.clone_sysctl", Pass, &["absent"]);
}

#[test]
fn max_user_namespaces_rhel7_and_low_values() {
    let mut t = healthy(D::Centos7);
    t.sysctl("user.max_user_namespaces", "0");
    let o = t.run(&args("docker"));
    o.expect(
        "userns.max",
        Fail,
        &[
            "no space left on device",
            "user.max_user_namespaces = 28633",
            "sysctl --system",
        ],
    );
    assert_eq!(o.code, 1);
    t.sysctl("user.max_user_namespaces", "100");
    let o = t.run(&args("docker"));
    o.expect("userns.max", Warn, &["is low"]);
    assert_eq!(o.code, 0);
    t.no_sysctl("user.max_user_namespaces");
    t.run(&args("docker"))
        .expect("userns.max", Fail, &["CONFIG_USER_NS"]);
}

#[test]
fn rhel7_kernel_command_line_and_kernel_version() {
    let mut t = healthy(D::Centos7);
    assert_eq!(t.run(&args("docker")).status("userns.rhel7_cmdline"), Pass);
    t.write("/proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro\n");
    let o = t.run(&args("docker"));
    o.expect(
        "userns.rhel7_cmdline",
        Warn,
        &["grubby --update-kernel=ALL --args=\"user_namespace.enable=1\""],
    );
    o.expect("kernel.version", Warn, &["3.10.0"]);
    let o = t.run(&args("kubernetes"));
    o.expect("kernel.version", Fail, &["4.15"]);
    assert_eq!(
        healthy(D::Debian12)
            .run(ALICE)
            .status("userns.rhel7_cmdline"),
        Skip
    );
}

#[test]
fn ubuntu_apparmor_restriction_needs_a_profile_for_our_rootlesskit() {
    for d in [D::Ubuntu2310, D::Ubuntu2404] {
        let mut t = healthy(d);
        t.run(ALICE).expect(
            "userns.apparmor",
            Pass,
            &["/etc/apparmor.d/usernetes-rootlesskit-alice"],
        );
        t.rm("/etc/apparmor.d/usernetes-rootlesskit-alice");
        let o = t.run(ALICE);
        o.expect(
            "userns.apparmor",
            Fail,
            &[
                "cat > /etc/apparmor.d/usernetes-rootlesskit-alice <<'EOT'",
                "profile usernetes-rootlesskit-alice /home/alice/.local/share/usernetes/versions/*/bin/rootlesskit flags=(unconfined)",
                "userns,",
                "apparmor_parser -r /etc/apparmor.d/usernetes-rootlesskit-alice",
            ],
        );
        assert_eq!(o.code, 1);
        // The profile follows XDG_DATA_HOME.
        t.environ(&[
            ("HOME", "/home/alice"),
            ("XDG_DATA_HOME", "/data/alice"),
            ("XDG_RUNTIME_DIR", "/run/user/1000"),
        ]);
        t.run(ALICE).expect(
            "userns.apparmor",
            Fail,
            &["/data/alice/usernetes/versions/*/bin/rootlesskit"],
        );
    }
    healthy(D::Ubuntu2204)
        .run(ALICE)
        .expect("userns.apparmor", Pass, &["= 0"]);
}

#[test]
fn opensuse_iptables_modules_and_nofile_use_the_seed_hints() {
    let mut t = healthy(D::OpenSuseTumbleweed);
    t.modules_loaded(&[
        "overlay",
        "tun",
        "bridge",
        "veth",
        "br_netfilter",
        "vxlan",
        "fuse",
    ]);
    let rel = D::OpenSuseTumbleweed.kernel();
    t.write(
        &format!("/lib/modules/{rel}/modules.dep"),
        "kernel/net/ipv4/netfilter/ip_tables.ko.zst:\nkernel/net/ipv4/netfilter/iptable_nat.ko.zst:\nkernel/net/ipv4/netfilter/iptable_filter.ko.zst:\n",
    );
    t.nofile("1024", "4096");
    let o = t.run(ALICE);
    o.expect(
        "modules.iptables",
        Warn,
        &[
            "not loaded",
            "modprobe ip_tables iptable_mangle iptable_nat iptable_filter",
            "/etc/modules-load.d/",
        ],
    );
    o.expect(
        "limits.nofile",
        Warn,
        &[
            "hard 4096",
            "/etc/security/limits.d/90-usernetes.conf",
            "prlimit --nofile=:65536 --pid 4242",
        ],
    );
    assert_eq!(o.code, 0, "{:#?}", o.failures());
    // Modules neither loaded, built in nor loadable: failure.
    t.write(&format!("/lib/modules/{rel}/modules.dep"), "");
    t.run(ALICE).expect("modules.iptables", Fail, &["missing"]);
}

#[test]
fn builtin_modules_count_as_present() {
    let mut t = healthy(D::Debian12);
    let rel = D::Debian12.kernel();
    t.modules_loaded(&[]);
    t.write(
        &format!("/lib/modules/{rel}/modules.builtin"),
        "kernel/net/netfilter/nf_tables.ko\nkernel/net/netfilter/nft_chain_nat.ko\nkernel/net/bridge/bridge.ko\nkernel/drivers/net/veth.ko\nkernel/net/bridge/br_netfilter.ko\nkernel/drivers/net/vxlan/vxlan.ko\nkernel/drivers/net/tun.ko\n",
    );
    let o = t.run(ALICE);
    o.expect("modules.iptables", Pass, &["built in"]);
    o.expect("modules.vxlan", Pass, &["built in"]);
    o.expect("modules.overlay", Pass, &["/proc/filesystems"]);
    // A kernel without module support: the kernel config decides.
    let mut t = healthy(D::Arch);
    t.rm("/proc/modules")
        .rm(&format!("/lib/modules/{}", D::Arch.kernel()));
    t.write("/boot/config-6.10.10-arch1-1", "CONFIG_NF_TABLES=y\nCONFIG_NFT_NAT=y\nCONFIG_BRIDGE=y\nCONFIG_VETH=y\n# CONFIG_BRIDGE_NETFILTER is not set\nCONFIG_VXLAN=m\nCONFIG_TUN=y\n");
    let o = t.run(ALICE);
    o.expect("modules.iptables", Pass, &["CONFIG_NF_TABLES=y"]);
    o.expect(
        "modules.br_netfilter",
        Fail,
        &["CONFIG_BRIDGE_NETFILTER is not set"],
    );
    assert_eq!(t.run(&args("docker")).status("modules.br_netfilter"), Warn);
    assert_eq!(t.run(&args("docker")).status("modules.vxlan"), Skip);
}

#[test]
fn alpine_fixes_use_apk_and_busybox_sysctl() {
    let mut t = healthy(D::Alpine320);
    let o = t.run(ALICE);
    o.expect("session.systemd", Warn, &["systemd is not running"]);
    assert_eq!(o.status("session.linger"), Skip);
    o.expect(
        "cgroup.delegation",
        Pass,
        &["/sys/fs/cgroup/usernetes-alice"],
    );
    t.sysctl("net.ipv4.ping_group_range", "1\t0");
    t.run(ALICE).expect(
        "sysctl.ping_group_range",
        Warn,
        &[
            "sysctl -p /etc/sysctl.d/52-usernetes-ping.conf",
            "0 2147483647",
        ],
    );
}

#[test]
fn subid_entry_missing_too_small_and_by_uid() {
    let mut t = healthy(D::Debian12);
    t.subid(
        "bob:100000:65536\n",
        "alice:100000:65536\nbob:165536:65536\n",
    );
    let o = t.run(ALICE);
    o.expect(
        "subuid.range",
        Fail,
        &[
            "no subuid range for alice",
            "echo 'alice:165536:65536' >> /etc/subuid",
        ],
    );
    assert_eq!(o.status("subgid.range"), Pass);
    assert_eq!(o.code, 1);
    // Too few.
    t.subid("alice:100000:1000\n", "alice:100000:65536\n");
    t.run(ALICE).expect(
        "subuid.range",
        Fail,
        &[
            "1000 subuid IDs",
            "65536 are needed",
            "echo 'alice:165536:65536' >> /etc/subuid",
        ],
    );
    // Two ranges adding up, one listed by numeric uid: fine.
    t.subid(
        "alice:100000:32768\n1000:200000:32768\n",
        "1000:100000:65536\n",
    );
    let o = t.run(ALICE);
    o.expect("subuid.range", Pass, &["65536 IDs"]);
    o.expect("subgid.range", Pass, &["65536 IDs"]);
    // Missing file.
    t.rm("/etc/subgid");
    t.run(ALICE).expect(
        "subgid.file",
        Fail,
        &["No such file", "echo 'alice:100000:65536' >> /etc/subgid"],
    );
    // Ranges from SSSD.
    t.subid("", "");
    t.write("/etc/nsswitch.conf", "passwd: files sss\nsubid: sss\n");
    t.run(ALICE)
        .expect("subuid.range", Warn, &["getsubids alice"]);
}

#[test]
fn subid_own_id_duplicates_overlaps_and_bad_lines() {
    let mut t = healthy(D::Ubuntu2404);
    // A range containing alice's own uid 1000.
    t.subid("alice:1000:65536\n", "alice:100000:65536\n");
    let o = t.run(ALICE);
    o.expect(
        "subuid.own_id",
        Fail,
        &[
            "contains alice's own id 1000",
            "Invalid argument",
            "sed -i '/^alice:1000:65536$/d' /etc/subuid",
            "echo 'alice:100000:65536' >> /etc/subuid",
        ],
    );
    assert_eq!(o.code, 1);
    // The same range by name and by uid.
    t.subid(
        "alice:100000:65536\n1000:100000:65536\n",
        "alice:100000:65536\nalice:100000:65536\n",
    );
    let o = t.run(ALICE);
    o.expect(
        "subuid.duplicates",
        Fail,
        &[
            "lines 1 and 2",
            "sed -i '/^1000:100000:65536$/d' /etc/subuid",
        ],
    );
    o.expect(
        "subgid.duplicates",
        Fail,
        &["awk '!seen[$0]++' /etc/subgid"],
    );
    // Overlap with bob: a warning with a free range.
    t.subid(
        "alice:100000:65536\nbob:150000:65536\n",
        "alice:100000:65536\n",
    );
    let o = t.run(ALICE);
    o.expect(
        "subuid.overlap",
        Warn,
        &["overlaps bob:150000:65536", "alice:231072:65536"],
    );
    assert_eq!(o.code, 0);
    // Malformed lines.
    t.subid(
        "alice:100000:65536\ngarbage\ncarol:x:1\n",
        "alice:100000:65536\n",
    );
    t.run(ALICE).expect(
        "subuid.file",
        Warn,
        &["line 2", "sed -i '/^garbage$/d' /etc/subuid"],
    );
}

#[test]
fn helpers_without_privilege_or_on_nosuid() {
    let mut t = healthy(D::Debian12);
    t.attr("/usr/bin/newgidmap", "0 0 0755 -");
    t.run(ALICE).expect(
        "subid.newgidmap",
        Fail,
        &["Could not set caps", "chmod u+s /usr/bin/newgidmap"],
    );
    let mut t = healthy(D::Fedora40);
    t.run(ALICE)
        .expect("subid.newuidmap", Pass, &["cap_setuid=ep"]);
    t.attr("/usr/bin/newuidmap", "0 0 0755 cap_setuid");
    t.run(ALICE)
        .expect("subid.newuidmap", Fail, &["dnf reinstall -y shadow-utils"]);
    let mut t = healthy(D::Arch);
    t.mountinfo(
        Cg::Unified,
        Some("40 22 0:40 / /usr rw,nosuid shared:20 - ext4 /dev/sda2 rw"),
    );
    t.run(ALICE).expect("subid.newuidmap", Fail, &["nosuid"]);
}

#[test]
fn session_defects() {
    // Root checking alice's set-up (`sudo u7s-doctor --user alice`, the --help example): admin
    // mode, not a defect.
    let mut t = healthy(D::Debian12);
    t.process(0, 0);
    let o = t.run(ALICE);
    o.expect("session.not_root", Pass, &["admin mode", "alice"]);
    // Root checking itself: one clear way out.
    let o = t.run(&["--user", "root"]);
    o.expect(
        "session.not_root",
        Fail,
        &["running as root", "u7s-doctor --user NAME"],
    );
    assert_eq!(o.code, 1);
    // XDG_RUNTIME_DIR left over from `su`.
    let mut t = healthy(D::Debian12);
    t.environ(&[("HOME", "/home/alice"), ("XDG_RUNTIME_DIR", "/run/user/0")]);
    t.mkdir("/run/user/0").attr("/run/user/0", "0 0 d0700 -");
    t.run(ALICE).expect(
        "session.runtime_dir",
        Fail,
        &[
            "/run/user/0",
            "owned by uid 0",
            "export XDG_RUNTIME_DIR=/run/user/1000",
        ],
    );
    // Not set at all: usable fallback.
    t.environ(&[("HOME", "/home/alice")]);
    let o = t.run(ALICE);
    o.expect(
        "session.runtime_dir",
        Warn,
        &["export XDG_RUNTIME_DIR=/run/user/1000"],
    );
    assert!(!o.check("session.runtime_dir").needs_root);
    // No /run/user/1000 either.
    t.rm("/run/user/1000");
    t.run(ALICE).expect(
        "session.runtime_dir",
        Fail,
        &["loginctl enable-linger alice"],
    );
    // HOME not writable.
    let mut t = healthy(D::Debian12);
    t.attr("/home/alice", "0 0 d0755 -");
    t.run(ALICE).expect(
        "session.home",
        Fail,
        &["not writable", "chown 1000:1000 /home/alice"],
    );
    // No user manager, no lingering, no dbus.
    let mut t = healthy(D::Fedora40);
    t.rm("/var/lib/systemd/linger/alice")
        .rm("/run/user/1000/bus");
    let o = t.run(ALICE);
    o.expect("session.linger", Warn, &["loginctl enable-linger alice"]);
    o.expect("session.dbus", Warn, &["dnf install -y dbus-daemon"]);
    t.rm("/run/user/1000/systemd/private");
    let o = t.run(ALICE);
    o.expect("session.systemd", Warn, &["no systemd user manager"]);
    assert_eq!(o.status("session.dbus"), Skip);
    // Unknown user: one line, a usage error, no report about nobody.
    let o = healthy(D::Debian12).run_raw(&["--user", "nobody-here"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(o.stdout.is_empty(), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--user nobody-here: no such user"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn rootful_docker_and_other_rootless_sessions() {
    let mut t = healthy(D::Debian12);
    t.write("/run/docker.sock", "")
        .attr("/run/docker.sock", "0 998 s0660 -");
    t.run(ALICE)
        .expect("session.rootful_docker", Pass, &["cannot use it"]);
    t.write("/etc/group", "alice:x:1000:\ndocker:x:998:alice\n");
    let o = t.run(ALICE);
    o.expect(
        "session.rootful_docker",
        Warn,
        &["export DOCKER_HOST=unix:///run/user/1000/docker.sock"],
    );
    assert_eq!(o.code, 0);
    // Docker's own rootless dockerd running: its socket is ours.
    t.write("/run/user/1000/dockerd-rootless/child_pid", "4711\n")
        .mkdir("/proc/4711");
    let o = t.run(ALICE);
    o.expect(
        "session.conflict",
        Fail,
        &["systemctl --user disable --now docker.service"],
    );
    assert_eq!(o.code, 1);
    // Stale state.
    t.rm("/proc/4711");
    t.run(ALICE).expect(
        "session.conflict",
        Warn,
        &["stale", "rm -rf /run/user/1000/dockerd-rootless"],
    );
    t.rm("/run/user/1000/dockerd-rootless");
    t.write("/run/user/1000/usernetes/rootlesskit/child_pid", "4712\n")
        .mkdir("/proc/4712");
    t.run(ALICE)
        .expect("session.conflict", Pass, &["usernetes session is running"]);
}

#[test]
fn devices() {
    let mut t = healthy(D::Debian12);
    t.attr("/dev/net/tun", "0 0 c0600 -");
    let o = t.run(&args("docker"));
    o.expect(
        "devices.net_tun",
        Fail,
        &[
            "cannot be opened read-write by alice",
            "chmod 0666 /dev/net/tun",
            "/etc/udev/rules.d/",
        ],
    );
    assert_eq!(o.code, 1);
    t.rm("/dev/net/tun");
    t.modules_loaded(&[
        "nf_tables",
        "nft_chain_nat",
        "bridge",
        "veth",
        "br_netfilter",
    ]);
    t.write(
        &format!("/lib/modules/{}/modules.dep", D::Debian12.kernel()),
        "kernel/drivers/net/tun.ko.xz:\n",
    );
    t.run(&args("docker"))
        .expect("devices.net_tun", Fail, &["No such file", "modprobe tun"]);
    let mut t = healthy(D::Rhel9);
    t.attr("/dev/fuse", "0 0 c0600 -");
    let o = t.run(ALICE);
    o.expect("devices.fuse", Warn, &["chmod 0666 /dev/fuse"]);
    assert_eq!(o.code, 0);
}

#[test]
fn cgroup_delegation_is_read_as_words() {
    let mut t = healthy(D::Fedora40);
    let dir = "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service";
    // `cpuset` must not count as `cpu`.
    t.write(&format!("{dir}/cgroup.controllers"), "cpuset memory pids\n");
    let o = t.run(ALICE);
    o.expect(
        "cgroup.delegation",
        Fail,
        &[
            "lacking cpu, io",
            "Delegate=cpu cpuset io memory pids",
            "systemctl daemon-reload",
        ],
    );
    assert_eq!(o.code, 1);
    assert_eq!(t.run(&args("docker")).status("cgroup.delegation"), Warn);
    // Only the wanted ones missing: warning.
    t.write(&format!("{dir}/cgroup.controllers"), "cpu memory pids\n");
    t.run(ALICE)
        .expect("cgroup.delegation", Warn, &["lacking cpuset, io"]);
    // No user manager cgroup.
    t.rm(dir);
    t.run(ALICE)
        .expect("cgroup.delegation", Fail, &["loginctl enable-linger alice"]);
    // Old systemd.
    let mut t = healthy(D::Debian12);
    t.rm("/usr/lib/systemd/libsystemd-shared-255.so")
        .write("/usr/lib/systemd/libsystemd-shared-241.so", "");
    t.run(ALICE)
        .expect("cgroup.systemd_version", Warn, &["systemd 241", "244"]);
}

#[test]
fn storage_on_nfs_or_noexec() {
    let mut t = healthy(D::Rhel9);
    t.mountinfo(
        Cg::Unified,
        Some("50 22 0:50 / /home rw,relatime shared:30 - nfs4 filer:/export/home rw,vers=4.2"),
    );
    let o = t.run(ALICE);
    o.expect(
        "storage.data_dir",
        Fail,
        &[
            "nfs4",
            "filer:/export/home",
            "install -d -o 1000 -g 1000 -m 0700 /var/lib/usernetes-alice",
            "export XDG_DATA_HOME=/var/lib/usernetes-alice",
        ],
    );
    assert_eq!(o.code, 1);
    t.mountinfo(
        Cg::Unified,
        Some("50 22 0:50 / /home rw,nosuid,noexec shared:30 - ext4 /dev/sdb1 rw"),
    );
    t.run(ALICE).expect("storage.data_dir", Fail, &["noexec"]);
    // Private root mount: Kubernetes only.
    let mut t = healthy(D::Debian12);
    let mi = std::fs::read_to_string(t.root().join("proc/self/mountinfo")).unwrap();
    t.write("/proc/self/mountinfo", &mi.replacen(" shared:1 ", " ", 1));
    t.run(ALICE)
        .expect("storage.propagation", Warn, &["mount --make-rshared /"]);
    assert_eq!(t.run(&args("docker")).status("storage.propagation"), Pass);
    // Old kernels: fuse-overlayfs.
    let o = healthy(D::Rocky8).run(&args("docker"));
    o.expect(
        "storage.overlay",
        Warn,
        &["5.11", "dnf install -y fuse-overlayfs"],
    );
    assert_eq!(
        healthy(D::Ubuntu2204).run(ALICE).status("storage.overlay"),
        Pass
    );
}

#[test]
fn conntrack_is_needed_for_kubernetes_only() {
    for (d, fix) in [
        (D::Debian12, "apt-get install -y conntrack"),
        (D::Fedora40, "dnf install -y conntrack-tools"),
        (D::Alpine320, "apk add conntrack-tools"),
    ] {
        let mut t = healthy(d);
        t.rm(&format!("{}/conntrack", d.sbin()));
        t.run(ALICE)
            .expect("network.conntrack", Fail, &["kube-proxy", fix]);
        t.run(&["--user", "alice", "--for", "docker"]).expect(
            "network.conntrack",
            Pass,
            &["only kube-proxy needs it"],
        );
    }
    healthy(D::Debian12)
        .run(ALICE)
        .expect("network.conntrack", Pass, &["/conntrack"]);
}

#[test]
fn sysctls() {
    let mut t = healthy(D::Ubuntu2204);
    t.sysctl("fs.inotify.max_user_instances", "128")
        .sysctl("kernel.dmesg_restrict", "1")
        .sysctl("net.ipv4.conf.default.rp_filter", "1")
        .sysctl("net.ipv4.ping_group_range", "1\t0");
    let o = t.run(ALICE);
    o.expect(
        "sysctl.inotify",
        Warn,
        &[
            "fs.inotify.max_user_instances = 512",
            "53-usernetes-inotify.conf",
        ],
    );
    // Tolerated by the kubelet u7s runs (KubeletInUserNamespace): said, not warned about.
    o.expect(
        "sysctl.dmesg_restrict",
        Pass,
        &["kernel.dmesg_restrict = 1", "KubeletInUserNamespace"],
    );
    o.expect(
        "sysctl.rp_filter",
        Warn,
        &["net.ipv4.conf.default.rp_filter = 2"],
    );
    o.expect(
        "sysctl.ping_group_range",
        Warn,
        &["net.ipv4.ping_group_range = 0 2147483647"],
    );
    assert_eq!(o.code, 0);
    let o = t.run(&args("docker"));
    for id in [
        "sysctl.inotify",
        "sysctl.dmesg_restrict",
        "sysctl.rp_filter",
    ] {
        assert_eq!(o.status(id), Pass, "{id}");
    }
}

#[test]
fn network_cidr_and_nested_namespace() {
    let mut t = healthy(D::Debian12);
    t.routes(&[
        ("eth1", [10, 88, 0, 0], 16),
        ("docker0", [172, 17, 0, 0], 16),
    ]);
    let o = t.run(ALICE);
    o.expect(
        "network.cidr",
        Warn,
        &["CNI bridge 10.88.0.0/16 overlaps host route 10.88.0.0/16 dev eth1"],
    );
    assert!(!o.check("network.cidr").finding.contains("docker0"));
    assert_eq!(t.run(&args("docker")).status("network.cidr"), Pass);
    t.write("/proc/self/uid_map", "         0     100000      65536\n");
    t.run(ALICE)
        .expect("userns.nested", Warn, &["0 100000 65536"]);
}

#[test]
fn distro_detection_fallbacks() {
    let mut t = healthy(D::Fedora40);
    t.rm("/etc/os-release")
        .write("/usr/lib/os-release", D::Rocky8.os_release());
    let o = t.run(ALICE);
    assert_eq!(o.json.distro.id, "rocky");
    t.rm("/usr/lib/os-release");
    t.rm("/usr/bin/newuidmap");
    let o = t.run(ALICE);
    assert_eq!(o.json.distro.id, "");
    o.expect(
        "subid.newuidmap",
        Fail,
        &["# install newuidmap and newgidmap"],
    );
}

#[test]
fn fix_script_is_valid_shell_and_ordered() {
    let mut t = healthy(D::Debian12);
    t.sysctl("kernel.unprivileged_userns_clone", "0")
        .subid("bob:100000:65536\n", "")
        .attr("/dev/net/tun", "0 0 c0600 -")
        .sysctl("fs.inotify.max_user_instances", "128");
    t.environ(&[("HOME", "/home/alice")]);
    let o = t.run(ALICE);
    let script = o.json.fix_script.clone().unwrap();
    assert!(script.starts_with("sudo sh -eux <<'EOF'\n"), "{script}");
    let fail_pos = script.find("# userns.clone_sysctl (fail)").unwrap();
    let warn_pos = script.find("# sysctl.inotify (warn)").unwrap();
    assert!(fail_pos < warn_pos);
    assert!(script.contains(
        "# as alice:\n# session.runtime_dir (warn)\nexport XDG_RUNTIME_DIR=/run/user/1000"
    ));
    // The same subuid line is not repeated for subuid.file and subuid.range.
    assert_eq!(
        script
            .matches("echo 'alice:165536:65536' >> /etc/subuid")
            .count(),
        1,
        "{script}"
    );
    let check = std::process::Command::new("sh")
        .arg("-n")
        .arg("-c")
        .arg(&script)
        .status()
        .unwrap();
    assert!(check.success(), "not valid sh:\n{script}");
    // The human table ends with the same script.
    let (code, table) = t.table(ALICE);
    assert_eq!(code, 1);
    assert!(
        table.ends_with(&format!("{script}\n")) || table.ends_with(&script),
        "{table}"
    );
    assert!(table.contains("\nsubid\n") && table.contains("  FAIL  userns.clone_sysctl"));
    assert!(!table.contains('\u{1b}'), "no colour when not a terminal");
    // A healthy host prints no script.
    assert!(healthy(D::Fedora40).run(ALICE).json.fix_script.is_none());
}

#[test]
fn library_report_api() {
    let t = healthy(D::Ubuntu2404);
    let r = t.report(doctor::Target::Kubernetes);
    assert!(!r.has_failures());
    let (p, w, f, s) = r.counts();
    assert_eq!(p + w + f + s, r.checks.len());
    assert_eq!(f, 0);
    assert!(r.summary_line().contains("0 failed"));
    assert_eq!(r.get("subuid.range").unwrap().status, doctor::Status::Pass);
    assert!(r.get("no.such").is_none());
    let coloured = r.render_table(true);
    assert!(coloured.contains("\u{1b}["));
    assert_eq!(r.distro.family, doctor::Family::Ubuntu);
    // Stable ids: unique.
    let mut ids: Vec<&str> = r.checks.iter().map(|c| c.id.as_str()).collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n);
}
