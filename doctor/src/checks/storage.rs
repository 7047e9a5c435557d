//! Storage: the data directory is not on NFS/Lustre/GPFS/CIFS, not noexec or read-only; root
//! mount propagation; overlayfs in user namespaces by kernel version.

use super::{bad, pass, shq, skip, user_name};
use crate::facts::Facts;
use crate::kmod;
use crate::mounts::mount_of;
use crate::{CheckResult, Family, Status, fixes};

const G: &str = "storage";
const NETWORK_FS: &[&str] = &[
    "nfs",
    "nfs4",
    "lustre",
    "gpfs",
    "cifs",
    "smb3",
    "smbfs",
    "fuse.sshfs",
    "ceph",
    "fuse.glusterfs",
    "afs",
    "9p",
];

pub fn checks(f: &Facts) -> Vec<CheckResult> {
    vec![data_dir(f), propagation(f), overlay(f)]
}

fn data_dir(f: &Facts) -> CheckResult {
    const ID: &str = "storage.data_dir";
    let Some(dir) = &f.data_dir else {
        return skip(ID, G, "no data directory (HOME unknown)");
    };
    let Some(m) = mount_of(&f.mounts, dir) else {
        return skip(ID, G, "mount table unreadable");
    };
    let problem = if NETWORK_FS.contains(&m.fs_type.as_str()) {
        Some(format!(
            "is on {} ({}): rootless storage fails there (\"lchown: operation not permitted\")",
            m.fs_type, m.source
        ))
    } else if m.has_option("noexec") {
        Some(format!(
            "is on a noexec mount ({}): binaries there cannot run",
            m.mount_point
        ))
    } else if m.has_option("ro") {
        Some(format!("is on a read-only mount ({})", m.mount_point))
    } else {
        None
    };
    let Some(p) = problem else {
        return pass(
            ID,
            G,
            format!("{dir} is on {} ({})", m.fs_type, m.mount_point),
        );
    };
    let (uid, gid) = f.user.as_ref().map(|u| (u.uid, u.gid)).unwrap_or((0, 0));
    let name = user_name(f);
    let local = format!("/var/lib/usernetes-{name}");
    bad(
        ID,
        G,
        Status::Fail,
        format!("{dir} {p}"),
        Some(format!(
            "install -d -o {uid} -g {gid} -m 0700 {}\n# then, as {name}: export XDG_DATA_HOME={}",
            shq(&local),
            shq(&local)
        )),
        true,
    )
}

fn propagation(f: &Facts) -> CheckResult {
    const ID: &str = "storage.propagation";
    let Some(root) = f.mounts.iter().rev().find(|m| m.mount_point == "/") else {
        return skip(ID, G, "mount table unreadable");
    };
    if root.is_shared() {
        return pass(ID, G, "/ is a shared mount");
    }
    if !f.mountinfo {
        return skip(
            ID,
            G,
            "no propagation information (/proc/self/mountinfo unreadable)",
        );
    }
    if f.target == crate::Target::Docker {
        return pass(
            ID,
            G,
            "/ is a private mount (matters only for Kubernetes volumes with rshared propagation)",
        );
    }
    bad(
        ID,
        G,
        Status::Warn,
        "/ is a private mount: volumes with rshared propagation do not reach pods",
        Some("mount --make-rshared /".into()),
        true,
    )
}

fn overlay(f: &Facts) -> CheckResult {
    const ID: &str = "storage.overlay";
    let v = f
        .kernel_release
        .as_deref()
        .and_then(super::kernel::parse_release);
    let present = kmod::state(&f.modules, "overlay").present()
        || matches!(
            kmod::state(&f.modules, "overlay"),
            kmod::ModState::Available
        );
    match v {
        _ if !present => bad(
            ID,
            G,
            Status::Warn,
            "no overlayfs: Docker uses fuse-overlayfs (or the slow vfs driver)",
            Some(fixes::install(f.distro.family, &fixes::FUSE_OVERLAYFS)),
            true,
        ),
        Some(v) if v < (5, 11) && f.distro.family != Family::Ubuntu => bad(
            ID,
            G,
            Status::Warn,
            "overlayfs in user namespaces needs kernel 5.11 (Debian 10's is known broken): Docker uses fuse-overlayfs",
            Some(fixes::install(f.distro.family, &fixes::FUSE_OVERLAYFS)),
            true,
        ),
        Some(_) => pass(ID, G, "the kernel supports overlayfs in user namespaces"),
        None => skip(ID, G, "kernel version unknown"),
    }
}
