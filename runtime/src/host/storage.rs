//! The storage driver / snapshotter, chosen by what works inside the user namespace: native
//! overlayfs (kernel ≥ 5.11, tried for real with a throw-away mount on the data filesystem), then
//! fuse-overlayfs (binary present and /dev/fuse usable), then the copying fallback (vfs/native).

use std::path::Path;

/// The chosen storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Storage {
    Overlay,
    FuseOverlayfs,
    Copy,
}

impl Storage {
    /// The pure decision.
    pub fn choose(overlay_works: bool, fuse_works: bool) -> Storage {
        if overlay_works {
            Storage::Overlay
        } else if fuse_works {
            Storage::FuseOverlayfs
        } else {
            Storage::Copy
        }
    }

    /// dockerd's `--storage-driver`.
    pub fn docker_driver(self) -> &'static str {
        match self {
            Storage::Overlay => "overlay2",
            Storage::FuseOverlayfs => "fuse-overlayfs",
            Storage::Copy => "vfs",
        }
    }

    /// containerd's snapshotter; fuse-overlayfs needs its proxy plugin, else `native`.
    pub fn containerd_snapshotter(self, fuse_plugin: bool) -> &'static str {
        match self {
            Storage::Overlay => "overlayfs",
            Storage::FuseOverlayfs if fuse_plugin => "fuse-overlayfs",
            Storage::FuseOverlayfs | Storage::Copy => "native",
        }
    }

    /// CRI-O's (containers/storage) driver.
    pub fn crio_driver(self) -> &'static str {
        match self {
            Storage::Overlay | Storage::FuseOverlayfs => "overlay",
            Storage::Copy => "vfs",
        }
    }
}

/// Mounts an overlay under `scratch` (created and removed here) and unmounts it again.
/// Must run inside the session's user and mount namespaces.
pub fn overlay_works(scratch: &Path) -> bool {
    use nix::mount::{MntFlags, MsFlags, mount, umount2};
    let _ = crate::host::fsutil::remove_any(scratch);
    let dirs = ["lower", "upper", "work", "merged"].map(|d| scratch.join(d));
    if dirs.iter().any(|d| std::fs::create_dir_all(d).is_err()) {
        return false;
    }
    let _ = std::fs::write(dirs[0].join("f"), b"x");
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        dirs[0].display(),
        dirs[1].display(),
        dirs[2].display()
    );
    let ok = mount(
        Some("overlay"),
        &dirs[3],
        Some("overlay"),
        MsFlags::empty(),
        Some(opts.as_str()),
    )
    .is_ok();
    let ok = ok && {
        // A write through the merged view must reach the upper layer.
        let w = std::fs::write(dirs[3].join("g"), b"y").is_ok() && dirs[1].join("g").exists();
        let _ = umount2(&dirs[3], MntFlags::MNT_DETACH);
        w
    };
    let _ = crate::host::fsutil::remove_any(scratch);
    ok
}

/// fuse-overlayfs is usable: the binary exists and /dev/fuse opens.
pub fn fuse_works(fuse_overlayfs: Option<&Path>) -> bool {
    fuse_overlayfs.is_some()
        && std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/fuse")
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_of_preference() {
        assert_eq!(Storage::choose(true, true), Storage::Overlay);
        assert_eq!(Storage::choose(false, true), Storage::FuseOverlayfs);
        assert_eq!(Storage::choose(false, false), Storage::Copy);
    }

    #[test]
    fn names_per_runtime() {
        assert_eq!(Storage::Overlay.docker_driver(), "overlay2");
        assert_eq!(Storage::FuseOverlayfs.docker_driver(), "fuse-overlayfs");
        assert_eq!(Storage::Copy.docker_driver(), "vfs");
        assert_eq!(Storage::Overlay.containerd_snapshotter(false), "overlayfs");
        assert_eq!(
            Storage::FuseOverlayfs.containerd_snapshotter(true),
            "fuse-overlayfs"
        );
        assert_eq!(
            Storage::FuseOverlayfs.containerd_snapshotter(false),
            "native"
        );
        assert_eq!(Storage::Copy.crio_driver(), "vfs");
    }

    #[test]
    fn overlay_probe_fails_cleanly_without_privilege() {
        // Outside a user namespace only real root may mount: refused for a user, done for root.
        // Either way the scratch folder is gone afterwards.
        let d = tempfile::tempdir().unwrap();
        let s = d.path().join("probe");
        let ok = overlay_works(&s);
        assert_eq!(ok, nix::unistd::geteuid().is_root());
        assert!(!s.exists());
    }
}
