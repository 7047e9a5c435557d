//! Kernel version: cgroup v2 for rootless Kubernetes needs 4.15+, FUSE in user namespaces 4.18+,
//! overlayfs in user namespaces 5.11+ (Ubuntu kernels carry patches for earlier ones).

use super::{bad, pass, skip};
use crate::facts::Facts;
use crate::{CheckResult, Family, Status, Target};

const G: &str = "kernel";

/// (major, minor) of a release string like `6.18.44-fc`.
pub fn parse_release(r: &str) -> Option<(u32, u32)> {
    let mut it = r.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

pub fn checks(f: &Facts) -> Vec<CheckResult> {
    const ID: &str = "kernel.version";
    let Some(rel) = &f.kernel_release else {
        return vec![skip(ID, G, "/proc/sys/kernel/osrelease is unreadable")];
    };
    let Some(v) = parse_release(rel) else {
        return vec![skip(ID, G, format!("cannot parse kernel release {rel:?}"))];
    };
    let r = if f.target == Target::Kubernetes && v < (4, 15) {
        bad(
            ID,
            G,
            Status::Fail,
            format!(
                "kernel {rel}: rootless Kubernetes needs cgroup v2 with the cpu controller (4.15 or later)"
            ),
            None,
            false,
        )
    } else if v < (4, 18) {
        bad(
            ID,
            G,
            Status::Warn,
            format!(
                "kernel {rel}: no FUSE in user namespaces before 4.18; Docker falls back to the slow vfs storage driver"
            ),
            None,
            false,
        )
    } else if v < (5, 11) && f.distro.family != Family::Ubuntu {
        bad(
            ID,
            G,
            Status::Warn,
            format!(
                "kernel {rel}: overlayfs in user namespaces needs 5.11; Docker uses fuse-overlayfs instead"
            ),
            None,
            false,
        )
    } else {
        pass(ID, G, format!("kernel {rel}"))
    };
    vec![r]
}

#[cfg(test)]
mod tests {
    #[test]
    fn release() {
        assert_eq!(super::parse_release("6.18.44-fc-v857"), Some((6, 18)));
        assert_eq!(
            super::parse_release("3.10.0-1160.el7.x86_64"),
            Some((3, 10))
        );
        assert_eq!(super::parse_release("x"), None);
    }
}
