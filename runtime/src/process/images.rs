//! Images a session needs without a registry. The pod sandbox ("pause") image is made at every
//! start from the release's static `pause` binary (Kubernetes' `build/pause/linux/pause.c`) as
//! upstream's `Dockerfile` does (`/pause` as entrypoint, user 65535) and imported into
//! containerd's `k8s.io` namespace under the name containerd's CRI asks for
//! ([`crate::components::containerd::SANDBOX_IMAGE`], its `pinned_images.sandbox`), by the
//! one-shot job [`JOB`] (`u7s __import-images`) that the kubelet waits for. containerd would
//! otherwise try to pull it from registry.k8s.io and every pod would fail. For cri-dockerd the
//! same archive is loaded into the session's dockerd (`POST /images/load`, `u7s
//! __load-docker-image`) under cri-dockerd's pod infra image name.
//! With Kubernetes, the CoreDNS image is made the same way from the release's `coredns` binary
//! (upstream's `Dockerfile`: `/coredns` as entrypoint, user 65532) under
//! [`crate::components::coredns::IMAGE`], imported pinned (the kubelet's image GC keeps it) for
//! the cluster DNS Deployment.

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
/// The user upstream's CoreDNS image runs as (distroless "nonroot").
pub const COREDNS_USER: &str = "65532:65532";

/// The CoreDNS image archive: `/coredns` (the binary's bytes) and an empty `/etc` (where the
/// CRI mounts `resolv.conf`), named `name`.
pub fn coredns_archive(coredns: &[u8], name: &str) -> Result<Vec<u8>> {
    let layer = oci_image::layer(&[
        LayerEntry::File {
            path: "coredns",
            data: coredns,
            mode: 0o755,
            uid: 0,
        },
        LayerEntry::Dir {
            path: "etc",
            mode: 0o755,
            uid: 0,
        },
    ])
    .map_err(|e| bundle_err("CoreDNS image", e))?;
    let image = Image {
        names: &[name],
        layer: &layer,
        run: RunConfig {
            entrypoint: vec!["/coredns".into()],
            user: COREDNS_USER.into(),
            working_dir: "/".into(),
            ..Default::default()
        },
        architecture: oci_image::oci_arch(),
    };
    oci_image::write_archive(Vec::new(), &image).map_err(|e| bundle_err("CoreDNS image", e))
}

/// The pause image archive: `/pause` (the binary's bytes) as its only file, named `name`.
pub fn pause_archive(pause: &[u8], name: &str) -> Result<Vec<u8>> {
    let layer = oci_image::layer(&[LayerEntry::File {
        path: "pause",
        data: pause,
        mode: 0o755,
        uid: 0,
    }])
    .map_err(|e| bundle_err("pause image", e))?;
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
    oci_image::write_archive(Vec::new(), &image).map_err(|e| bundle_err("pause image", e))
}

fn bundle_err(component: &str, e: bundle::Error) -> Error {
    Error::Component {
        component: component.into(),
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
    /// Where the archive is written before the import (the CoreDNS one beside it).
    pub archive: PathBuf,
    /// The release's `coredns` binary (with Kubernetes), made into the CoreDNS image.
    pub coredns: Option<PathBuf>,
}

impl ImportSpec {
    /// The job's arguments after the command word.
    pub fn to_args(&self) -> Vec<String> {
        let s = |p: &Path| p.display().to_string();
        let mut args = vec![
            format!("--pause={}", s(&self.pause)),
            format!("--ctr={}", s(&self.ctr)),
            format!("--address={}", s(&self.address)),
            format!("--snapshotter={}", self.snapshotter),
            format!("--archive={}", s(&self.archive)),
        ];
        if let Some(c) = &self.coredns {
            args.push(format!("--coredns={}", s(c)));
        }
        args
    }

    /// Where the CoreDNS image archive is written: beside the pause one.
    pub fn coredns_archive(&self) -> PathBuf {
        self.archive.with_file_name("coredns-image.tar")
    }

    /// `ctr`'s arguments importing the pause image archive.
    pub fn ctr_args(&self) -> Vec<String> {
        self.ctr_args_for(&self.archive)
    }

    /// `ctr`'s arguments importing `archive` (pinned, into the CRI's namespace).
    pub fn ctr_args_for(&self, archive: &Path) -> Vec<String> {
        vec![
            format!("--address={}", self.address.display()),
            "--namespace=k8s.io".into(),
            "images".into(),
            "import".into(),
            format!("--snapshotter={}", self.snapshotter),
            format!("--label={PINNED_LABEL}"),
            archive.display().to_string(),
        ]
    }
}

/// Writes the pause image archive (named `name`) and, when the spec names a `coredns` binary,
/// the CoreDNS one (named `coredns_name`), and imports them with `ctr`.
pub fn import_images(spec: &ImportSpec, name: &str, coredns_name: &str) -> Result<()> {
    let pause = std::fs::read(&spec.pause).map_err(|e| Error::io(&spec.pause, e))?;
    import_one(
        spec,
        "pause image",
        &spec.archive,
        &pause_archive(&pause, name)?,
    )?;
    println!("imported {name} from {}", spec.pause.display());
    if let Some(c) = &spec.coredns {
        let bin = std::fs::read(c).map_err(|e| Error::io(c, e))?;
        let archive = coredns_archive(&bin, coredns_name)?;
        import_one(spec, "CoreDNS image", &spec.coredns_archive(), &archive)?;
        println!("imported {coredns_name} from {}", c.display());
    }
    Ok(())
}

fn import_one(spec: &ImportSpec, what: &str, path: &Path, archive: &[u8]) -> Result<()> {
    crate::host::fsutil::write_atomic(path, archive, 0o600)?;
    let out = Command::new(&spec.ctr)
        .args(spec.ctr_args_for(path))
        .output()
        .map_err(|e| Error::os(format!("running {}", spec.ctr.display()), e))?;
    if !out.status.success() {
        return Err(Error::Component {
            component: what.into(),
            message: format!(
                "`ctr images import` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
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
    load_into_docker(socket, &tar)?;
    println!("loaded {name} from {} into dockerd", pause.display());
    Ok(())
}

/// Makes the CoreDNS image (named `name`) from the release's `coredns` and loads it into the
/// dockerd of `socket`, for the cluster DNS on a cri-dockerd node.
pub fn load_coredns_into_docker(coredns: &Path, socket: &Path, name: &str) -> Result<()> {
    let bin = std::fs::read(coredns).map_err(|e| Error::io(coredns, e))?;
    load_into_docker(socket, &coredns_archive(&bin, name)?)?;
    println!("loaded {name} from {} into dockerd", coredns.display());
    Ok(())
}

/// Loads an image archive into the dockerd of `socket` (`POST /images/load`, what `docker
/// load` does).
pub fn load_into_docker(socket: &Path, tar: &[u8]) -> Result<()> {
    let r = crate::probe::http::unix_request(
        socket,
        "POST",
        "/images/load?quiet=1",
        Some(tar),
        std::time::Duration::from_secs(300),
    )?;
    let text = r.text();
    // dockerd answers 200 and reports a failed load inside its JSON message stream.
    if r.status != 200 || text.contains("\"error") {
        return Err(Error::Component {
            component: "image load".into(),
            message: format!("dockerd refused the image ({}): {}", r.status, text.trim()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn pause_image_is_upstreams_shape() {
        let bytes = pause_archive(b"\x7fELF", "registry.k8s.io/pause:3.10.2").unwrap();
        let (index, configs) = index_and_configs(&bytes);
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
            coredns: None,
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
        assert!(!s.to_args().iter().any(|a| a.starts_with("--coredns")));
        let s = ImportSpec {
            coredns: Some("/rel/bin/coredns".into()),
            ..s
        };
        assert_eq!(s.to_args().last().unwrap(), "--coredns=/rel/bin/coredns");
        assert_eq!(
            s.ctr_args_for(&s.coredns_archive()).last().unwrap(),
            "/run/u/coredns-image.tar"
        );
    }

    #[test]
    fn coredns_image_is_upstreams_shape() {
        let bytes = coredns_archive(b"\x7fELF", "registry.k8s.io/coredns/coredns:v1.15.0").unwrap();
        let (index, configs) = index_and_configs(&bytes);
        assert_eq!(
            index["manifests"][0]["annotations"]["io.containerd.image.name"],
            "registry.k8s.io/coredns/coredns:v1.15.0"
        );
        assert_eq!(configs.len(), 1);
        assert_eq!(configs[0]["config"]["Entrypoint"][0], "/coredns");
        assert_eq!(configs[0]["config"]["User"], COREDNS_USER);
    }

    /// The `index.json` and the image configs of an archive.
    fn index_and_configs(bytes: &[u8]) -> (serde_json::Value, Vec<serde_json::Value>) {
        let mut a = tar::Archive::new(bytes);
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
        (index.expect("index.json"), configs)
    }
}
