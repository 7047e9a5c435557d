//! Images for CRI-O without a registry. containerd and dockerd import image archives (the pause
//! and CoreDNS images of [`crate::process::images`]); CRI-O has no such path through the CRI,
//! it only pulls. So a session on CRI-O runs a small read-only registry of its own, the
//! component [`COMPONENT`] (`u7s __registry`), on the namespace's loopback: it serves the
//! [`store`] (an OCI image layout under the data folder, where the pause and CoreDNS images are
//! added at every start and `u7s images load` adds the user's), and CRI-O's `registries.conf`
//! ([`registries_conf`]) names it as the first mirror of the usual registries. A pull of
//! `registry.k8s.io/pause:3.10.2` asks the mirror, which answers from the store; a name the store
//! lacks falls through to the real registry (when the host reaches it).

pub mod serve;
pub mod store;

use crate::error::Result;
use std::path::Path;

/// The supervised component's name.
pub const COMPONENT: &str = "image-registry";

/// Its port on the namespace's loopback (the namespace is the session's own: no other user's
/// session shares it). Kubernetes' components use 10248–10259; this is next to them.
pub const PORT: u16 = 10265;

/// The registries whose pulls try the session's store first.
pub const MIRRORED: [&str; 4] = ["registry.k8s.io", "docker.io", "quay.io", "ghcr.io"];

/// `registries.conf` (containers-registries.conf(5), v2) for CRI-O: unqualified names search
/// docker.io; each of [`MIRRORED`] has the session's registry as an insecure (plain HTTP,
/// loopback) mirror, its path prefixed with the registry's name.
pub fn registries_conf(port: u16) -> String {
    let mut s = String::from("unqualified-search-registries = [\"docker.io\"]\n");
    for r in MIRRORED {
        s.push_str(&format!(
            "\n[[registry]]\nprefix = \"{r}\"\nlocation = \"{r}\"\n\n[[registry.mirror]]\n\
             location = \"127.0.0.1:{port}/{r}\"\ninsecure = true\n"
        ));
    }
    s
}

/// Whether the store's image `name` (a full reference) can be pulled through a mirror.
pub fn is_mirrored(name: &str) -> bool {
    MIRRORED.iter().any(|r| {
        name.strip_prefix(r)
            .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// `u7s __registry`: adds the pause image (and the CoreDNS one) made from the release's binaries
/// to the store, then serves it on `listen`.
pub fn run(
    store_dir: &Path,
    listen: &str,
    pause: Option<&Path>,
    coredns: Option<&Path>,
) -> Result<()> {
    let store = store::Store::new(store_dir);
    let read = |p: &Path| std::fs::read(p).map_err(|e| crate::Error::io(p, e));
    if let Some(p) = pause {
        let name = crate::components::containerd::SANDBOX_IMAGE;
        let archive = crate::process::images::pause_archive(&read(p)?, name)?;
        store.add_files(&archive_files(&archive)?)?;
        println!("added {name} from {}", p.display());
    }
    if let Some(c) = coredns {
        let name = crate::components::coredns::IMAGE;
        let archive = crate::process::images::coredns_archive(&read(c)?, name)?;
        store.add_files(&archive_files(&archive)?)?;
        println!("added {name} from {}", c.display());
    }
    serve::serve(store, listen)
}

/// The (name, bytes) of the regular files of a tar in memory.
fn archive_files(tar_bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    use std::io::Read;
    let err = |e: std::io::Error| crate::Error::os("reading an image archive in memory", e);
    let mut out = Vec::new();
    let mut t = tar::Archive::new(tar_bytes);
    for entry in t.entries().map_err(err)? {
        let mut entry = entry.map_err(err)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().map_err(err)?.to_string_lossy().into_owned();
        let mut b = Vec::new();
        entry.read_to_end(&mut b).map_err(err)?;
        out.push((name, b));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_conf_mirrors_each_registry_to_the_session() {
        let t: toml::Table = toml::from_str(&registries_conf(10265)).unwrap();
        let regs = t["registry"].as_array().unwrap();
        assert_eq!(regs.len(), MIRRORED.len());
        let k8s = regs
            .iter()
            .find(|r| r["prefix"].as_str() == Some("registry.k8s.io"))
            .unwrap();
        assert_eq!(k8s["location"].as_str(), Some("registry.k8s.io"));
        let m = &k8s["mirror"].as_array().unwrap()[0];
        assert_eq!(
            m["location"].as_str(),
            Some("127.0.0.1:10265/registry.k8s.io")
        );
        assert_eq!(m["insecure"].as_bool(), Some(true));
        assert_eq!(
            t["unqualified-search-registries"].as_array().unwrap()[0].as_str(),
            Some("docker.io")
        );
    }

    #[test]
    fn the_pause_and_coredns_images_are_mirrored() {
        assert!(is_mirrored(crate::components::containerd::SANDBOX_IMAGE));
        assert!(is_mirrored(crate::components::coredns::IMAGE));
        assert!(is_mirrored("docker.io/u7s-e2e/busybox:1"));
        assert!(!is_mirrored("docker.iox/a:1"));
        assert!(!is_mirrored("localhost/a:1"));
    }
}
