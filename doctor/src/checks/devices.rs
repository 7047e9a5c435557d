//! Devices: /dev/net/tun (slirp4netns opens it read-write; 0600 on some hosts) and /dev/fuse
//! (fuse-overlayfs).

use super::{bad, mode_text, pass};
use crate::facts::{Facts, PathStat};
use crate::host::{Access, Kind};
use crate::kmod::{self, ModState};
use crate::{CheckResult, Status};

const G: &str = "devices";

pub fn checks(f: &Facts) -> Vec<CheckResult> {
    vec![
        device(
            f,
            "devices.net_tun",
            &f.tun,
            (10, 200),
            "tun",
            Status::Fail,
            "slirp4netns cannot create the network",
        ),
        device(
            f,
            "devices.fuse",
            &f.fuse,
            (10, 229),
            "fuse",
            Status::Warn,
            "fuse-overlayfs is unavailable",
        ),
    ]
}

/// The fix that makes `path` a world-usable device, now and after reboot.
pub fn chmod_fix(path: &str, kernel_name: &str) -> String {
    format!(
        "chmod 0666 {path}\necho 'KERNEL==\"{kernel_name}\", MODE=\"0666\"' > /etc/udev/rules.d/60-usernetes-{kernel_name}.rules"
    )
}

fn device(
    f: &Facts,
    id: &str,
    d: &PathStat,
    dev: (u32, u32),
    module: &str,
    status: Status,
    effect: &str,
) -> CheckResult {
    let uid = f.user.as_ref().map(|u| u.uid).unwrap_or(0);
    let name = super::user_name(f);
    match &d.meta {
        Err(e) => {
            let fix = if matches!(kmod::state(&f.modules, module), ModState::Available) {
                format!(
                    "modprobe {module}\necho {module} > /etc/modules-load.d/usernetes-{module}.conf"
                )
            } else {
                format!(
                    "mkdir -p {dir}\nmknod {p} c {} {}\nchmod 0666 {p}",
                    dev.0,
                    dev.1,
                    dir = d.path.rsplit_once('/').map(|x| x.0).unwrap_or("/dev"),
                    p = d.path
                )
            };
            bad(
                id,
                G,
                status,
                format!("{}: {e}: {effect}", d.path),
                Some(fix),
                true,
            )
        }
        Ok(m) if m.kind != Kind::CharDev => bad(
            id,
            G,
            status,
            format!("{} is not a character device: {effect}", d.path),
            None,
            false,
        ),
        Ok(m)
            if !(m.allows(uid, &f.user_gids, Access::Read)
                && m.allows(uid, &f.user_gids, Access::Write)) =>
        {
            bad(
                id,
                G,
                status,
                format!(
                    "{} cannot be opened read-write by {name} ({}): {effect}",
                    d.path,
                    mode_text(m)
                ),
                Some(chmod_fix(&d.path, module)),
                true,
            )
        }
        Ok(m) => pass(
            id,
            G,
            format!("{} is usable by {name} ({})", d.path, mode_text(m)),
        ),
    }
}
