//! Fix commands per distro family: package installs, persistent sysctls and modules, kernel
//! command line changes. Every function returns exact shell commands to run as root.

use crate::Family;

/// Packages providing one thing, per family.
#[derive(Debug, Clone, Copy)]
pub struct Pkg {
    pub debian: &'static str,
    pub fedora: &'static str,
    pub suse: &'static str,
    pub arch: &'static str,
    pub alpine: &'static str,
    /// What it is, for distros we cannot name a package for.
    pub what: &'static str,
}

pub const UIDMAP: Pkg = Pkg {
    debian: "uidmap",
    fedora: "shadow-utils",
    suse: "shadow",
    arch: "shadow",
    alpine: "shadow-uidmap",
    what: "newuidmap and newgidmap (shadow's uidmap tools)",
};

pub const IPTABLES: Pkg = Pkg {
    debian: "iptables",
    fedora: "iptables",
    suse: "iptables",
    arch: "iptables",
    alpine: "iptables",
    what: "iptables",
};

pub const CONNTRACK: Pkg = Pkg {
    debian: "conntrack",
    fedora: "conntrack-tools",
    suse: "conntrack-tools",
    arch: "conntrack-tools",
    alpine: "conntrack-tools",
    what: "the conntrack tool",
};

pub const DBUS_USER: Pkg = Pkg {
    debian: "dbus-user-session",
    fedora: "dbus-daemon",
    suse: "dbus-1",
    arch: "dbus",
    alpine: "dbus",
    what: "the D-Bus user session",
};

pub const FUSE_OVERLAYFS: Pkg = Pkg {
    debian: "fuse-overlayfs",
    fedora: "fuse-overlayfs",
    suse: "fuse-overlayfs",
    arch: "fuse-overlayfs",
    alpine: "fuse-overlayfs",
    what: "fuse-overlayfs",
};

/// The install command for `pkg` on `family`.
pub fn install(family: Family, pkg: &Pkg) -> String {
    match family {
        Family::Debian | Family::Ubuntu => format!("apt-get install -y {}", pkg.debian),
        Family::Fedora | Family::Rhel => format!("dnf install -y {}", pkg.fedora),
        Family::Rhel7 => format!("yum install -y {}", pkg.fedora),
        Family::Suse => format!("zypper --non-interactive install {}", pkg.suse),
        Family::Arch => format!("pacman -S --needed --noconfirm {}", pkg.arch),
        Family::Alpine => format!("apk add {}", pkg.alpine),
        Family::Unknown => format!("# install {} with your package manager", pkg.what),
    }
}

/// newuidmap/newgidmap: RHEL/CentOS 7 needs 7.7's shadow-utils or the COPR package.
pub fn install_uidmap(family: Family) -> String {
    let base = install(family, &UIDMAP);
    if family == Family::Rhel7 {
        format!(
            "{base}\n# RHEL/CentOS 7.6 and older: shadow-utils lacks newuidmap; use the COPR package instead:\n\
# curl -o /etc/yum.repos.d/vbatts-shadow-utils-newxidmap-epel-7.repo https://copr.fedorainfracloud.org/coprs/vbatts/shadow-utils-newxidmap/repo/epel-7/vbatts-shadow-utils-newxidmap-epel-7.repo\n\
# yum install -y shadow-utils46-newxidmap"
        )
    } else {
        base
    }
}

/// Writes `lines` (`key = value`) to `/etc/sysctl.d/<file>` and applies them now.
pub fn sysctl(family: Family, file: &str, lines: &[String]) -> String {
    let path = format!("/etc/sysctl.d/{file}");
    let body = lines.join("\\n");
    let apply = match family {
        // busybox sysctl has no --system
        Family::Alpine => format!("sysctl -p {path}"),
        _ => "sysctl --system".to_string(),
    };
    format!("printf '{body}\\n' > {path}\n{apply}")
}

/// Loads modules now and at every boot.
pub fn modules(family: Family, file: &str, mods: &[&str]) -> String {
    let list = mods.join(" ");
    let persist = format!("printf '%s\\n' {list} > /etc/modules-load.d/{file}");
    if family == Family::Suse && mods.contains(&"ip_tables") {
        // The seed's openSUSE/SLES line, verbatim.
        return format!("modprobe ip_tables iptable_mangle iptable_nat iptable_filter\n{persist}");
    }
    format!("modprobe {list}\n{persist}")
}

/// `cmds` run only when `test` holds; else a note names what to do by hand. Boot-loader edits
/// are guarded this way: containers, cloud images and systemd-boot hosts have no GRUB, and an
/// unguarded line would stop a `sh -e` fix block before the fixes after it.
fn guarded(test: &str, cmds: &[String], arg: &str) -> String {
    let mut s = format!("if {test}; then\n");
    for c in cmds {
        s.push_str(&format!("  {c}\n"));
    }
    s.push_str(&format!(
        "else\n  echo 'no boot loader config found here: add {arg} to the kernel command line by hand' >&2\nfi\n# then reboot"
    ));
    s
}

/// Adds `arg` to the kernel command line (takes effect after a reboot).
pub fn kernel_arg(family: Family, arg: &str) -> String {
    let grub = |key: &str, file: &str, mk: &str, tool: &str| {
        guarded(
            &format!("[ -f {file} ] && command -v {tool} >/dev/null"),
            &[
                format!("sed -i 's/^{key}=\"/&{arg} /' {file}"),
                mk.to_string(),
            ],
            arg,
        )
    };
    match family {
        Family::Fedora | Family::Rhel | Family::Rhel7 => guarded(
            "command -v grubby >/dev/null",
            &[format!("grubby --update-kernel=ALL --args=\"{arg}\"")],
            arg,
        ),
        Family::Debian | Family::Ubuntu => grub(
            "GRUB_CMDLINE_LINUX",
            "/etc/default/grub",
            "update-grub",
            "update-grub",
        ),
        Family::Suse => grub(
            "GRUB_CMDLINE_LINUX_DEFAULT",
            "/etc/default/grub",
            "grub2-mkconfig -o /boot/grub2/grub.cfg",
            "grub2-mkconfig",
        ),
        Family::Arch => grub(
            "GRUB_CMDLINE_LINUX",
            "/etc/default/grub",
            "grub-mkconfig -o /boot/grub/grub.cfg",
            "grub-mkconfig",
        ),
        Family::Alpine => grub(
            "default_kernel_opts",
            "/etc/update-extlinux.conf",
            "update-extlinux",
            "update-extlinux",
        ),
        Family::Unknown => {
            format!("# add {arg} to the kernel command line of your boot loader, then reboot")
        }
    }
}

/// True when `fix` takes effect only after a reboot (the fix block runs these last).
pub fn needs_reboot(fix: &str) -> bool {
    fix.contains("reboot")
}

/// Switches the host to the unified cgroup v2 hierarchy.
pub fn cgroup_v2(family: Family) -> String {
    match family {
        // OpenRC chooses the cgroup mode, not the kernel command line.
        Family::Alpine => "sed -i 's/^#\\?rc_cgroup_mode=.*/rc_cgroup_mode=\"unified\"/' /etc/rc.conf\n# then reboot".into(),
        _ => kernel_arg(family, "systemd.unified_cgroup_hierarchy=1"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(
            install(Family::Debian, &UIDMAP),
            "apt-get install -y uidmap"
        );
        assert_eq!(install(Family::Alpine, &UIDMAP), "apk add shadow-uidmap");
        assert!(install_uidmap(Family::Rhel7).contains("shadow-utils46-newxidmap"));
        assert_eq!(
            sysctl(
                Family::Debian,
                "50-x.conf",
                &["a = 1".into(), "b = 2".into()]
            ),
            "printf 'a = 1\\nb = 2\\n' > /etc/sysctl.d/50-x.conf\nsysctl --system"
        );
        assert!(
            modules(Family::Suse, "u.conf", &["ip_tables", "iptable_nat"])
                .starts_with("modprobe ip_tables iptable_mangle iptable_nat iptable_filter\n")
        );
        assert!(cgroup_v2(Family::Fedora).contains("  grubby --update-kernel=ALL"));
        assert!(needs_reboot(&cgroup_v2(Family::Debian)));
    }

    #[test]
    fn a_boot_loader_edit_never_stops_a_sh_e_block_without_grub() {
        // No boot loader config (a container, a cloud image): the fixes after it still run.
        let edit = guarded("[ -f /nonexistent/default/grub ]", &["false".into()], "x=1");
        let script = format!("{edit}\necho after");
        let out = std::process::Command::new("sh")
            .arg("-euc")
            .arg(&script)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "after\n");
        assert!(String::from_utf8_lossy(&out.stderr).contains("add x=1"));
    }
}
