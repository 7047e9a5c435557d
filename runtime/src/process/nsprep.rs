//! Prepares the inside of the namespaces before any component starts (research §1.5, §2.5,
//! §4.5, §5.7): removes the copy-up symlinks that point back at the host's files in /run and
//! /etc (so dockerd, containerd and iptables create their own), makes /etc/cni/net.d (the plan
//! writes the config there), binds the release's CNI plugins on /opt/cni/bin, binds writable data
//! folders over /var/lib/kubelet, /var/lib/cni, /var/log, /var/lib/containers and /var/cache,
//! and keeps /etc/ssl real (RootlessKit #225). Runs as root of the user namespace.

use crate::error::{Error, Result};
use crate::host::fsutil::{ensure_dir, remove_symlink};
use crate::session::paths::{BIND_DIRS, Paths};
use nix::mount::{MsFlags, mount};
use std::path::{Path, PathBuf};

/// Copy-up symlinks removed so each runtime gets its own folder.
pub const STALE_LINKS: &[&str] = &[
    "/run/docker",
    "/run/containerd",
    "/run/xtables.lock",
    "/run/runc",
    "/run/crun",
    "/run/containers",
    "/run/crio",
    "/run/netns",
    "/run/flannel",
    "/etc/cni",
    "/etc/containerd",
    "/etc/containers",
    "/etc/crio",
    "/etc/docker",
    "/etc/kubernetes",
];

fn bind(src: &Path, dst: &Path, recursive: bool) -> Result<()> {
    let mut flags = MsFlags::MS_BIND;
    if recursive {
        flags |= MsFlags::MS_REC;
    }
    mount(Some(src), dst, None::<&str>, flags, None::<&str>).map_err(|e| {
        Error::os(
            format!("bind-mounting {} on {}", src.display(), dst.display()),
            e,
        )
    })
}

/// Binds `src` on `dst`, replacing a copy-up symlink at `dst` with a real folder first.
fn bind_dir(src: &Path, dst: &Path) -> Result<()> {
    ensure_dir(src, 0o755)?;
    remove_symlink(dst)?;
    if !dst.exists() {
        std::fs::create_dir_all(dst).map_err(|e| Error::io(dst, e))?;
    }
    bind(src, dst, true)
}

/// What was done, for the session log.
#[derive(Debug, Default)]
pub struct Prepared {
    pub removed_links: Vec<PathBuf>,
    pub binds: Vec<(PathBuf, PathBuf)>,
}

/// Prepares the namespace. `release_root` is the folder above the release's `bin/`.
pub fn prepare(paths: &Paths, release_root: Option<&Path>) -> Result<Prepared> {
    let mut done = Prepared::default();
    for l in STALE_LINKS {
        if remove_symlink(Path::new(l))? {
            done.removed_links.push(l.into());
        }
    }
    // CNI configs are written by the plan (components::cni); their folder is made here.
    let net_d = Path::new("/etc/cni/net.d");
    std::fs::create_dir_all(net_d).map_err(|e| Error::io(net_d, e))?;
    if let Some(root) = release_root {
        let cni_bin = root.join("bin/cni");
        if cni_bin.is_dir() {
            let dst = Path::new("/opt/cni/bin");
            remove_symlink(Path::new("/opt/cni"))?;
            std::fs::create_dir_all(dst).map_err(|e| Error::io(dst, e))?;
            bind(&cni_bin, dst, false)?;
            done.binds.push((cni_bin, dst.into()));
        }
    }
    for target in BIND_DIRS {
        let src = paths.bind_source(target);
        bind_dir(&src, Path::new(target))?;
        done.binds.push((src, PathBuf::from(target)));
    }
    // A copied-up /etc turns /etc/ssl into a symlink some TLS stacks do not follow.
    let ssl = Path::new("/etc/ssl");
    let is_link = std::fs::symlink_metadata(ssl).is_ok_and(|m| m.file_type().is_symlink());
    if let (true, Ok(real)) = (is_link, std::fs::canonicalize(ssl)) {
        remove_symlink(ssl)?;
        std::fs::create_dir(ssl).map_err(|e| Error::io(ssl, e))?;
        bind(&real, ssl, true)?;
        done.binds.push((real, ssl.into()));
    }
    Ok(done)
}
