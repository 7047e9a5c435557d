//! Container images without a registry: a one-layer image written as an archive that both
//! `ctr images import` and `docker load` accept (research §4.2): the OCI image layout
//! (`oci-layout`, `index.json`, `blobs/sha256/…`) plus Docker's `manifest.json` pointing at the
//! same blobs. Every name of the image gets an `index.json` entry annotated with
//! `io.containerd.image.name` (the full reference containerd imports it as) and
//! `org.opencontainers.image.ref.name` (its tag), and a `RepoTags` entry. The layer is an
//! uncompressed tar built by [`layer`] from a list of entries, the same bytes on any machine
//! (fixed mtime, numeric owners only). Used by the runtime (the pause image of `u7s up`) and
//! the end-to-end tests (their busybox images).

use std::io::Write;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

use crate::{Error, Result};

/// The `created` time of every image (a fixed one: the bytes must not depend on the clock).
pub const CREATED: &str = "1970-01-01T00:00:00Z";

/// One entry of a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerEntry<'a> {
    Dir {
        path: &'a str,
        mode: u32,
        uid: u64,
    },
    File {
        path: &'a str,
        data: &'a [u8],
        mode: u32,
        uid: u64,
    },
    Symlink {
        path: &'a str,
        target: &'a str,
    },
}

/// What the image runs (the `config` object of the image config).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    /// `uid[:gid]`, or empty for root.
    pub user: String,
    pub working_dir: String,
}

/// An image of one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image<'a> {
    /// Full references (`registry.k8s.io/pause:3.10.2`), at least one.
    pub names: &'a [&'a str],
    /// The layer: an uncompressed tar (see [`layer`]).
    pub layer: &'a [u8],
    pub run: RunConfig,
    /// The Go/OCI architecture name ([`oci_arch`]).
    pub architecture: &'a str,
}

/// This machine's architecture as OCI names it (`amd64`, `arm64`, …).
pub fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn header(kind: EntryType, mode: u32, uid: u64, size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(uid);
    h.set_gid(uid);
    h.set_mtime(0);
    h.set_size(size);
    h
}

/// The layer tar of `entries`, in their order (parents before children).
pub fn layer(entries: &[LayerEntry]) -> Result<Vec<u8>> {
    let mut t = tar::Builder::new(Vec::new());
    let err = |what: &str| {
        let what = what.to_string();
        move |source| Error::Stream {
            context: format!("adding {what} to an image layer"),
            source,
        }
    };
    for e in entries {
        match *e {
            LayerEntry::Dir { path, mode, uid } => {
                let mut h = header(EntryType::Directory, mode, uid, 0);
                t.append_data(&mut h, format!("{}/", path.trim_end_matches('/')), &[][..])
                    .map_err(err(path))?;
            }
            LayerEntry::File {
                path,
                data,
                mode,
                uid,
            } => {
                let mut h = header(EntryType::Regular, mode, uid, data.len() as u64);
                t.append_data(&mut h, path, data).map_err(err(path))?;
            }
            LayerEntry::Symlink { path, target } => {
                let mut h = header(EntryType::Symlink, 0o777, 0, 0);
                t.append_link(&mut h, path, target).map_err(err(path))?;
            }
        }
    }
    t.into_inner().map_err(err("the end"))
}

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn descriptor(media_type: &str, bytes: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": format!("sha256:{}", sha256(bytes)), "size": bytes.len()})
}

/// The tag of a reference (`registry:5000/a/b:1.2` → `1.2`, no tag → `latest`).
fn tag_of(reference: &str) -> &str {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    last.split_once(':').map_or("latest", |(_, t)| t)
}

/// A reference as containerd names images (Docker's normalisation): `busybox:1` →
/// `docker.io/library/busybox:1`, `a/b:1` → `docker.io/a/b:1`; a first part with a dot, a port
/// or `localhost` is a registry and stays.
pub fn full_reference(name: &str) -> String {
    match name.split_once('/') {
        None => format!("docker.io/library/{name}"),
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => name.into(),
        Some(_) => format!("docker.io/{name}"),
    }
}

/// The files of the archive, in the order they are written: (name, bytes).
pub fn archive_files(image: &Image) -> Vec<(String, Vec<u8>)> {
    let layer_hex = sha256(image.layer);
    let r = &image.run;
    let mut run = serde_json::Map::new();
    let mut put = |k: &str, v: Value, empty: bool| {
        if !empty {
            run.insert(k.into(), v);
        }
    };
    put("Entrypoint", json!(r.entrypoint), r.entrypoint.is_empty());
    put("Cmd", json!(r.cmd), r.cmd.is_empty());
    put("Env", json!(r.env), r.env.is_empty());
    put("User", json!(r.user), r.user.is_empty());
    put("WorkingDir", json!(r.working_dir), r.working_dir.is_empty());
    let config = json!({
        "architecture": image.architecture,
        "os": "linux",
        "created": CREATED,
        "config": run,
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_hex}")]},
        "history": [{"created": CREATED, "created_by": "usernetes"}],
    })
    .to_string()
    .into_bytes();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", image.layer)],
    })
    .to_string()
    .into_bytes();
    let entries: Vec<Value> = image
        .names
        .iter()
        .map(|name| {
            let mut d = descriptor("application/vnd.oci.image.manifest.v1+json", &manifest);
            d["platform"] = json!({"architecture": image.architecture, "os": "linux"});
            d["annotations"] = json!({
                "io.containerd.image.name": full_reference(name),
                "org.opencontainers.image.ref.name": tag_of(name),
            });
            d
        })
        .collect();
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    })
    .to_string()
    .into_bytes();
    let blob = |b: &[u8]| format!("blobs/sha256/{}", sha256(b));
    let docker = json!([{
        "Config": blob(&config),
        "RepoTags": image.names,
        "Layers": [blob(image.layer)],
    }])
    .to_string()
    .into_bytes();
    vec![
        (
            "oci-layout".into(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        (blob(image.layer), image.layer.to_vec()),
        (blob(&config), config),
        (blob(&manifest), manifest),
        ("index.json".into(), index),
        ("manifest.json".into(), docker),
    ]
}

/// Writes the archive of `image` to `out`.
pub fn write_archive<W: Write>(out: W, image: &Image) -> Result<W> {
    let mut t = tar::Builder::new(out);
    let err = |what: String| {
        move |source| Error::Stream {
            context: format!("writing {what} of an image archive"),
            source,
        }
    };
    for d in ["blobs/", "blobs/sha256/"] {
        let mut h = header(EntryType::Directory, 0o755, 0, 0);
        t.append_data(&mut h, d, &[][..]).map_err(err(d.into()))?;
    }
    for (name, bytes) in archive_files(image) {
        let mut h = header(EntryType::Regular, 0o644, 0, bytes.len() as u64);
        t.append_data(&mut h, &name, &bytes[..])
            .map_err(err(name.clone()))?;
    }
    t.into_inner().map_err(err("the end".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::Read;

    fn image_bytes(names: &[&str]) -> (Vec<u8>, Vec<u8>) {
        let layer = layer(&[
            LayerEntry::Dir {
                path: "bin",
                mode: 0o755,
                uid: 0,
            },
            LayerEntry::File {
                path: "bin/pause",
                data: b"\x7fELF not really",
                mode: 0o755,
                uid: 0,
            },
            LayerEntry::Symlink {
                path: "bin/sh",
                target: "pause",
            },
            LayerEntry::File {
                path: "owned",
                data: b"x",
                mode: 0o600,
                uid: 1000,
            },
        ])
        .unwrap();
        let img = Image {
            names,
            layer: &layer,
            run: RunConfig {
                entrypoint: vec!["/bin/pause".into()],
                user: "65535:65535".into(),
                ..Default::default()
            },
            architecture: "amd64",
        };
        (write_archive(Vec::new(), &img).unwrap(), layer)
    }

    fn entries(bytes: &[u8]) -> HashMap<String, Vec<u8>> {
        let mut out = HashMap::new();
        let mut a = tar::Archive::new(bytes);
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut data = vec![];
            e.read_to_end(&mut data).unwrap();
            out.insert(name, data);
        }
        out
    }

    fn json_of(e: &HashMap<String, Vec<u8>>, name: &str) -> Value {
        serde_json::from_slice(&e[name]).unwrap_or_else(|err| panic!("{name}: {err}"))
    }

    #[test]
    fn oci_layout_and_docker_manifest_name_the_same_blobs() {
        let names = ["registry.k8s.io/pause:3.10.2", "localhost:5000/u7s/pause"];
        let (bytes, layer) = image_bytes(&names);
        let e = entries(&bytes);
        assert_eq!(json_of(&e, "oci-layout")["imageLayoutVersion"], "1.0.0");
        let blob = |digest: &Value| {
            let hex = digest.as_str().unwrap().strip_prefix("sha256:").unwrap();
            let b = &e[&format!("blobs/sha256/{hex}")];
            assert_eq!(sha256(b), hex, "blobs are named by their digest");
            b.clone()
        };
        let index = json_of(&e, "index.json");
        let m = index["manifests"].as_array().unwrap();
        assert_eq!(m.len(), 2, "one entry per name");
        assert_eq!(m[0]["annotations"]["io.containerd.image.name"], names[0]);
        assert_eq!(
            m[0]["annotations"]["org.opencontainers.image.ref.name"],
            "3.10.2"
        );
        assert_eq!(
            m[1]["annotations"]["org.opencontainers.image.ref.name"],
            "latest"
        );
        assert_eq!(m[0]["platform"]["architecture"], "amd64");
        assert_eq!(m[0]["digest"], m[1]["digest"]);
        let manifest: Value = serde_json::from_slice(&blob(&m[0]["digest"])).unwrap();
        assert_eq!(
            manifest["mediaType"],
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(blob(&manifest["layers"][0]["digest"]), layer);
        let config: Value = serde_json::from_slice(&blob(&manifest["config"]["digest"])).unwrap();
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            format!("sha256:{}", sha256(&layer))
        );
        assert_eq!(config["config"]["Entrypoint"], json!(["/bin/pause"]));
        assert_eq!(config["config"]["User"], "65535:65535");
        assert!(
            config["config"].get("Cmd").is_none(),
            "empty fields are left out"
        );
        assert_eq!(config["created"], CREATED);
        let docker = json_of(&e, "manifest.json");
        assert_eq!(docker[0]["RepoTags"], json!(names));
        let cfg_name = docker[0]["Config"].as_str().unwrap();
        assert_eq!(
            cfg_name,
            format!(
                "blobs/sha256/{}",
                &manifest["config"]["digest"].as_str().unwrap()[7..]
            )
        );
        assert_eq!(e[docker[0]["Layers"][0].as_str().unwrap()], layer);
    }

    #[test]
    fn same_input_same_bytes_and_layer_keeps_owners_and_links() {
        let (a, layer) = image_bytes(&["a/b:1"]);
        let (b, _) = image_bytes(&["a/b:1"]);
        assert_eq!(a, b, "deterministic");
        let mut t = tar::Archive::new(&layer[..]);
        let got: Vec<(String, u64, u32, Option<String>)> = t
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.uid().unwrap(),
                    h.mode().unwrap(),
                    e.link_name().unwrap().map(|l| l.display().to_string()),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("bin/".into(), 0, 0o755, None),
                ("bin/pause".into(), 0, 0o755, None),
                ("bin/sh".into(), 0, 0o777, Some("pause".into())),
                ("owned".into(), 1000, 0o600, None),
            ]
        );
    }

    #[test]
    fn containerd_gets_full_references() {
        assert_eq!(full_reference("busybox:1"), "docker.io/library/busybox:1");
        assert_eq!(
            full_reference("u7s-e2e/busybox:1"),
            "docker.io/u7s-e2e/busybox:1"
        );
        assert_eq!(
            full_reference("registry.k8s.io/pause:3.10.2"),
            "registry.k8s.io/pause:3.10.2"
        );
        assert_eq!(full_reference("localhost/x:1"), "localhost/x:1");
        assert_eq!(full_reference("host:5000/x"), "host:5000/x");
        let (bytes, _) = image_bytes(&["u7s/b:1"]);
        let index = json_of(&entries(&bytes), "index.json");
        assert_eq!(
            index["manifests"][0]["annotations"]["io.containerd.image.name"],
            "docker.io/u7s/b:1"
        );
        let docker = json_of(&entries(&bytes), "manifest.json");
        assert_eq!(
            docker[0]["RepoTags"][0], "u7s/b:1",
            "docker normalises by itself"
        );
    }

    #[test]
    fn tags() {
        assert_eq!(tag_of("registry.k8s.io/pause:3.10.2"), "3.10.2");
        assert_eq!(tag_of("localhost:5000/x"), "latest");
        assert_eq!(tag_of("busybox"), "latest");
    }
}
