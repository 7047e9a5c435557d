//! Images a session needs without a registry. The pod sandbox ("pause") image is made at every
//! start from the release's static `pause` binary (Kubernetes' `build/pause/linux/pause.c`) as
//! upstream's `Dockerfile` does (`/pause` as entrypoint, user 65535) and imported into
//! containerd's `k8s.io` namespace under the name containerd's CRI asks for
//! ([`crate::components::containerd::SANDBOX_IMAGE`], its `pinned_images.sandbox`), by the
//! one-shot job [`JOB`] (`u7s __import-images`) that the kubelet waits for. containerd would
//! otherwise try to pull it from registry.k8s.io and every pod would fail. For cri-dockerd the
//! same archive is loaded into the session's dockerd (`POST /images/load`, `u7s
//! __load-docker-image`) under cri-dockerd's pod infra image name.

use crate::error::{Error, Result};
use bundle::oci_image::{self, Image, LayerEntry, RunConfig};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The job's name (the kubelet waits for it).
pub const JOB: &str = "pause-image";
/// The user upstream's pause image runs as.
pub const PAUSE_USER: &str = "65535:65535";
/// The label with which containerd's CRI pins an image (the kubelet's image GC skips it).
pub const PINNED_LABEL: &str = "io.cri-containerd.pinned=pinned";

/// The pause image archive: `/pause` (the binary's bytes) as its only file, named `name`.
pub fn pause_archive(pause: &[u8], name: &str) -> Result<Vec<u8>> {
    let layer = oci_image::layer(&[LayerEntry::File {
        path: "pause",
        data: pause,
        mode: 0o755,
        uid: 0,
    }])
    .map_err(bundle_err)?;
    let image = Image {
        names: &[name],
        layer: &layer,
        run: RunConfig {
            entrypoint: vec!["/pause".into()],
            user: PAUSE_USER.into(),
            ..Default::default()
        },
        architecture: oci_image::oci_arch(),
    };
    oci_image::write_archive(Vec::new(), &image).map_err(bundle_err)
}

fn bundle_err(e: bundle::Error) -> Error {
    Error::Component {
        component: "pause image".into(),
        message: e.to_string(),
    }
}

/// What `u7s __import-images` does (the job's arguments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSpec {
    pub pause: PathBuf,
    pub ctr: PathBuf,
    pub address: PathBuf,
    pub snapshotter: String,
    /// Where the archive is written before the import.
    pub archive: PathBuf,
}

impl ImportSpec {
    /// The job's arguments after the command word.
    pub fn to_args(&self) -> Vec<String> {
        let s = |p: &Path| p.display().to_string();
        vec![
            format!("--pause={}", s(&self.pause)),
            format!("--ctr={}", s(&self.ctr)),
            format!("--address={}", s(&self.address)),
            format!("--snapshotter={}", self.snapshotter),
            format!("--archive={}", s(&self.archive)),
        ]
    }

    /// `ctr`'s arguments importing the archive.
    pub fn ctr_args(&self) -> Vec<String> {
        vec![
            format!("--address={}", self.address.display()),
            "--namespace=k8s.io".into(),
            "images".into(),
            "import".into(),
            format!("--snapshotter={}", self.snapshotter),
            format!("--label={PINNED_LABEL}"),
            self.archive.display().to_string(),
        ]
    }
}

/// Writes the pause image archive and imports it with `ctr`.
pub fn import_pause(spec: &ImportSpec, name: &str) -> Result<()> {
    let pause = std::fs::read(&spec.pause).map_err(|e| Error::io(&spec.pause, e))?;
    let archive = pause_archive(&pause, name)?;
    crate::host::fsutil::write_atomic(&spec.archive, &archive, 0o600)?;
    let out = Command::new(&spec.ctr)
        .args(spec.ctr_args())
        .output()
        .map_err(|e| Error::os(format!("running {}", spec.ctr.display()), e))?;
    if !out.status.success() {
        return Err(Error::Component {
            component: "pause image".into(),
            message: format!(
                "`ctr images import` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    println!("imported {name} from {}", spec.pause.display());
    Ok(())
}

/// Writes the pause image archive at `archive` and loads it into the dockerd of `socket`
/// (`POST /images/load`, the Docker API of `docker load`).
pub fn load_pause_into_docker(
    pause: &Path,
    socket: &Path,
    archive: &Path,
    name: &str,
) -> Result<()> {
    let bytes = std::fs::read(pause).map_err(|e| Error::io(pause, e))?;
    let tar = pause_archive(&bytes, name)?;
    crate::host::fsutil::write_atomic(archive, &tar, 0o600)?;
    let r = crate::probe::http::unix_request(
        socket,
        "POST",
        "/images/load?quiet=1",
        Some(&tar),
        std::time::Duration::from_secs(60),
    )?;
    let text = r.text();
    // dockerd answers 200 and reports a failed load inside its JSON message stream.
    if r.status != 200 || text.contains("\"error") {
        return Err(Error::Component {
            component: "pause image".into(),
            message: format!("dockerd refused the image ({}): {}", r.status, text.trim()),
        });
    }
    println!("loaded {name} from {} into dockerd", pause.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn pause_image_is_upstreams_shape() {
        let bytes = pause_archive(b"\x7fELF", "registry.k8s.io/pause:3.10.2").unwrap();
        let mut a = tar::Archive::new(&bytes[..]);
        let mut configs = vec![];
        let mut index = None;
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut d = vec![];
            e.read_to_end(&mut d).unwrap();
            if name == "index.json" {
                index = Some(serde_json::from_slice::<serde_json::Value>(&d).unwrap());
            } else if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&d)
                && v.get("rootfs").is_some()
            {
                configs.push(v);
            }
        }
        let index = index.expect("index.json");
        assert_eq!(
            index["manifests"][0]["annotations"]["io.containerd.image.name"],
            "registry.k8s.io/pause:3.10.2"
        );
        assert_eq!(configs.len(), 1);
        assert_eq!(configs[0]["config"]["Entrypoint"][0], "/pause");
        assert_eq!(configs[0]["config"]["User"], PAUSE_USER);
    }

    #[test]
    fn ctr_imports_into_the_cri_namespace_pinned() {
        let s = ImportSpec {
            pause: "/rel/bin/pause".into(),
            ctr: "/rel/bin/ctr".into(),
            address: "/run/c.sock".into(),
            snapshotter: "overlayfs".into(),
            archive: "/run/u/pause.tar".into(),
        };
        assert_eq!(
            s.ctr_args(),
            [
                "--address=/run/c.sock",
                "--namespace=k8s.io",
                "images",
                "import",
                "--snapshotter=overlayfs",
                "--label=io.cri-containerd.pinned=pinned",
                "/run/u/pause.tar"
            ]
        );
        assert_eq!(s.to_args()[0], "--pause=/rel/bin/pause");
    }
}
