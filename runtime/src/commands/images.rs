//! `u7s images load ARCHIVE…`: images without a registry, into the running session's container
//! runtime. containerd: `ctr images import` into the CRI's namespace (`k8s.io`), in the
//! snapshotter in use; Docker: dockerd's `POST /images/load` (what `docker load` does); CRI-O:
//! the session's image store, which its loopback registry serves to CRI-O's pulls
//! ([`crate::registry`]). The archive: `docker save` (Docker 25 and later writes the OCI layout
//! CRI-O needs), `ctr images export`, `skopeo copy … oci-archive:`.

use super::{ExitStatus, live_session};
use crate::host::binaries::Bins;
use crate::session::config::Cri;
use crate::session::paths::Paths;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

pub fn load(archives: &[PathBuf]) -> Result<ExitStatus> {
    let (paths, rec) = live_session()?;
    let cri = match rec {
        Some(rec) => rec.config.cri,
        None => bail!(
            "the session's record ({}) is not there yet: wait until `u7s status` shows it",
            paths.state.display()
        ),
    };
    for a in archives {
        if !a.is_file() {
            bail!(
                "{}: no such file (an image archive, e.g. from `docker save`)",
                a.display()
            );
        }
    }
    for a in archives {
        match cri {
            Cri::Crio => load_into_store(&paths, a)?,
            Cri::Containerd => load_into_containerd(&paths, a)?,
            Cri::Docker => load_into_docker(&paths, a)?,
        }
    }
    Ok(ExitStatus::Success)
}

fn load_into_store(paths: &Paths, archive: &Path) -> Result<()> {
    let store = crate::registry::store::Store::new(crate::components::crio::image_store(paths));
    for name in store.add_archive(archive)? {
        if crate::registry::is_mirrored(&name) {
            println!("loaded {name} (CRI-O pulls it from the session's registry)");
        } else {
            println!(
                "loaded {name}, but CRI-O will not ask the session's registry for it: only \
                 names on {} are served; tag it as one of them",
                crate::registry::MIRRORED.join(", ")
            );
        }
    }
    Ok(())
}

fn load_into_containerd(paths: &Paths, archive: &Path) -> Result<()> {
    let config = std::fs::read_to_string(paths.containerd_config())
        .with_context(|| format!("reading {}", paths.containerd_config().display()))?;
    let snapshotter = crate::components::containerd::snapshotter_of(&config);
    let bins = Bins::from_process();
    let ctr = bins.require("ctr", "u7s images load (containerd's ctr)")?;
    let archive = std::fs::canonicalize(archive)?;
    let mut args: Vec<String> = vec![ctr.display().to_string()];
    args.extend([
        format!("--address={}", paths.containerd_sock().display()),
        "--namespace=k8s.io".into(),
        "images".into(),
        "import".into(),
        format!("--snapshotter={snapshotter}"),
        archive.display().to_string(),
    ]);
    let status = super::nsenter::command(paths, &args)?.status()?;
    if !status.success() {
        bail!(
            "`ctr images import` of {} failed ({status})",
            archive.display()
        );
    }
    println!(
        "loaded {} into containerd (namespace k8s.io)",
        archive.display()
    );
    Ok(())
}

fn load_into_docker(paths: &Paths, archive: &Path) -> Result<()> {
    let bytes = std::fs::read(archive).with_context(|| format!("reading {}", archive.display()))?;
    crate::process::images::load_into_docker(&paths.docker_sock(), &bytes)
        .with_context(|| format!("loading {}", archive.display()))?;
    println!("loaded {} into dockerd", archive.display());
    Ok(())
}
