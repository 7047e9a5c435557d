//! Finding the programs a session runs: the release's own `bin/` (the folder of the running
//! `u7s`) first, then `PATH`; and the `PATH` the components get (release `bin/` first, then the
//! caller's `PATH`, then the sbin folders where iptables and friends live).

use crate::error::{Error, Result};
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where programs are looked up.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Bins {
    /// The release's `bin/` (folder of the running u7s), when known.
    pub release_bin: Option<PathBuf>,
    /// The caller's `PATH` entries.
    pub path: Vec<PathBuf>,
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

impl Bins {
    /// The version of the installed release this `u7s` belongs to: `version` of the release's
    /// `manifest.json` (beside `bin/`), when there is one.
    pub fn release_version(&self) -> Option<String> {
        let manifest = self.release_bin.as_ref()?.parent()?.join("manifest.json");
        let text = std::fs::read_to_string(manifest).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v.get("version")?.as_str().map(str::to_string)
    }

    /// The command that starts a session with what is installed: Kubernetes when its server
    /// binaries are there, else the container runtime alone.
    pub fn start_hint(&self) -> &'static str {
        if self.missing_kubernetes().is_empty() {
            "u7s up --detach"
        } else {
            "u7s up --no-kube --detach"
        }
    }

    /// The Kubernetes programs of a control plane (any CRI) that cannot be found: empty when the
    /// release has Kubernetes.
    pub fn missing_kubernetes(&self) -> Vec<String> {
        crate::components::kube::binaries(true, crate::session::config::Cri::Containerd, false)
            .into_iter()
            .filter(|b| self.find(b).is_none())
            .map(str::to_string)
            .collect()
    }

    /// From the running executable and `PATH`.
    pub fn from_process() -> Bins {
        let release_bin = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf));
        let path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        Bins { release_bin, path }
    }

    /// The folders searched, in order.
    pub fn search_dirs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.release_bin.iter().cloned().collect();
        for d in self
            .path
            .iter()
            .cloned()
            .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        {
            if !v.contains(&d) {
                v.push(d);
            }
        }
        v
    }

    /// The first executable `name`.
    pub fn find(&self, name: &str) -> Option<PathBuf> {
        self.search_dirs()
            .into_iter()
            .map(|d| d.join(name))
            .find(|p| is_executable(p))
    }

    /// Like `find`, with an error naming the component that needs it.
    pub fn require(&self, name: &str, needed_for: &str) -> Result<PathBuf> {
        self.find(name).ok_or_else(|| {
            Error::MissingBinary(
                name.to_string(),
                format!("{needed_for} needs it; reinstall the release or install it on the host"),
            )
        })
    }

    /// The `PATH` given to RootlessKit and the components.
    pub fn child_path(&self) -> OsString {
        std::env::join_paths(self.search_dirs()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_version_comes_from_the_manifest_beside_bin() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("bin")).unwrap();
        let bins = Bins {
            release_bin: Some(d.path().join("bin")),
            path: vec![],
        };
        assert_eq!(bins.release_version(), None);
        std::fs::write(
            d.path().join("manifest.json"),
            r#"{"format":1,"version":"20261203.0","components":[]}"#,
        )
        .unwrap();
        assert_eq!(bins.release_version().as_deref(), Some("20261203.0"));
    }

    #[test]
    fn the_start_hint_fits_the_release() {
        let d = tempfile::tempdir().unwrap();
        let bins = Bins {
            release_bin: Some(d.path().to_path_buf()),
            path: vec![],
        };
        assert_eq!(bins.start_hint(), "u7s up --no-kube --detach");
        let all =
            crate::components::kube::binaries(true, crate::session::config::Cri::Containerd, false);
        for b in &all[..all.len() - 1] {
            let f = d.path().join(b);
            std::fs::write(&f, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert_eq!(bins.start_hint(), "u7s up --no-kube --detach");
        assert_eq!(bins.missing_kubernetes(), [all[all.len() - 1]]);
        let f = d.path().join(all[all.len() - 1]);
        std::fs::write(&f, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(bins.missing_kubernetes(), Vec::<String>::new());
        assert_eq!(bins.start_hint(), "u7s up --detach");
    }

    #[test]
    fn release_bin_first_then_path_then_sbin() {
        let tmp = tempfile::tempdir().unwrap();
        let rel = tmp.path().join("rel");
        let sys = tmp.path().join("sys");
        std::fs::create_dir_all(&rel).unwrap();
        std::fs::create_dir_all(&sys).unwrap();
        for d in [&rel, &sys] {
            let f = d.join("tool");
            std::fs::write(&f, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(sys.join("plain"), "").unwrap();
        let b = Bins {
            release_bin: Some(rel.clone()),
            path: vec![sys.clone(), rel.clone()],
        };
        assert_eq!(b.find("tool"), Some(rel.join("tool")));
        assert_eq!(b.find("plain"), None, "not executable");
        let e = b.require("nope", "dockerd").unwrap_err().to_string();
        assert!(e.contains("nope") && e.contains("dockerd"), "{e}");
        let dirs = b.search_dirs();
        assert_eq!(dirs[0], rel);
        assert_eq!(dirs[1], sys);
        assert_eq!(
            dirs.iter().filter(|d| **d == rel).count(),
            1,
            "no duplicates"
        );
        assert!(dirs.contains(&PathBuf::from("/usr/sbin")));
    }
}
