//! The image store the session's registry serves: one OCI image layout folder
//! (`oci-layout`, `index.json`, `blobs/sha256/…`) under the data folder, holding every image
//! added to it (the pause and CoreDNS images at each start, archives of `u7s images load`).
//! `index.json` has one entry per full image name (annotation `io.containerd.image.name`);
//! adding an image of a name already there replaces that entry. Blobs are checked against
//! their digest before they are kept, so the store never serves bytes that do not match.
//!
//! Lookups ([`find_manifest`], [`blob_path`]) are pure functions over the index and names.

use crate::error::{Error, Result};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The annotation naming an entry's full image reference (`registry.k8s.io/pause:3.10.2`).
pub const NAME_ANNOTATION: &str = "io.containerd.image.name";

/// Media types of the manifests an entry may point at.
pub const MANIFEST_TYPES: [&str; 4] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

fn store_err(message: impl Into<String>) -> Error {
    Error::Component {
        component: "image store".into(),
        message: message.into(),
    }
}

/// `sha256:<64 hex>` → the hex part; anything else (other algorithms, path tricks) → `None`.
pub fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(hex)
}

/// Where the blob of `digest` lives in the store at `dir`, if the digest is well formed.
pub fn blob_path(dir: &Path, digest: &str) -> Option<PathBuf> {
    sha256_hex(digest).map(|h| dir.join("blobs/sha256").join(h))
}

/// The manifest descriptor (media type, digest) that `index` holds for the repository `repo`
/// (`registry.k8s.io/pause`) and `reference` (a tag, or a digest of one of its manifests).
pub fn find_manifest(index: &Value, repo: &str, reference: &str) -> Option<(String, String)> {
    let by_digest = reference.starts_with("sha256:");
    let hit = index["manifests"].as_array()?.iter().find(|e| {
        match e["annotations"][NAME_ANNOTATION]
            .as_str()
            .and_then(split_name)
        {
            Some((r, tag)) if r == repo => {
                if by_digest {
                    e["digest"] == reference
                } else {
                    tag == reference
                }
            }
            _ => false,
        }
    })?;
    let media = hit["mediaType"]
        .as_str()
        .unwrap_or(MANIFEST_TYPES[0])
        .to_string();
    Some((media, hit["digest"].as_str()?.to_string()))
}

/// `registry.k8s.io/pause:3.10.2` → (`registry.k8s.io/pause`, `3.10.2`); the tag is what
/// follows the last `:` after the last `/` (a registry's port is not a tag).
pub fn split_name(name: &str) -> Option<(&str, &str)> {
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    let colon = name[slash..].rfind(':')? + slash;
    Some((&name[..colon], &name[colon + 1..]))
}

/// The entries of `new` replace those of `old` with the same name; the others stay.
pub fn merge_index(old: &Value, new: &[Value]) -> Value {
    let name = |e: &Value| {
        e["annotations"][NAME_ANNOTATION]
            .as_str()
            .map(str::to_string)
    };
    let new_names: Vec<String> = new.iter().filter_map(name).collect();
    let mut manifests: Vec<Value> = old["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| name(e).is_none_or(|n| !new_names.contains(&n)))
        .cloned()
        .collect();
    manifests.extend(new.iter().cloned());
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    })
}

/// The image store in the folder `dir`.
pub struct Store {
    pub dir: PathBuf,
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("index.json")
    }

    /// The store's `index.json` (an empty index while nothing was added).
    pub fn index(&self) -> Result<Value> {
        match std::fs::read(self.index_path()) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                store_err(format!(
                    "{} is not JSON ({e}): remove the folder {} and load the images again",
                    self.index_path().display(),
                    self.dir.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(json!({"manifests": []})),
            Err(e) => Err(Error::io(self.index_path(), e)),
        }
    }

    /// Adds the files of an image archive (name, bytes), as [`bundle::oci_image::archive_files`]
    /// gives them: blobs checked and kept, index entries merged. Returns the names added.
    pub fn add_files(&self, files: &[(String, Vec<u8>)]) -> Result<Vec<String>> {
        let mut entries = None;
        for (name, bytes) in files {
            if let Some(hex) = name.strip_prefix("blobs/sha256/") {
                self.put_blob(&format!("sha256:{hex}"), &mut &bytes[..])?;
            } else if name == "index.json" {
                entries =
                    Some(serde_json::from_slice::<Value>(bytes).map_err(|e| {
                        store_err(format!("the image's index.json is not JSON: {e}"))
                    })?);
            }
        }
        let index = entries.ok_or_else(|| store_err("the image has no index.json"))?;
        self.add_index(&index)
    }

    /// Adds an image archive (a tar holding an OCI image layout: `docker save` of Docker 25 and
    /// later, `skopeo copy … oci-archive:`, `ctr images export`). Returns the names added.
    pub fn add_archive(&self, archive: &Path) -> Result<Vec<String>> {
        let f = std::fs::File::open(archive).map_err(|e| Error::io(archive, e))?;
        let mut t = tar::Archive::new(f);
        let mut index = None;
        let bad = |m: String| store_err(format!("{}: {m}", archive.display()));
        for entry in t.entries().map_err(|e| Error::io(archive, e))? {
            let mut entry = entry.map_err(|e| Error::io(archive, e))?;
            let path = entry.path().map_err(|e| Error::io(archive, e))?;
            let name = path.to_string_lossy().trim_start_matches("./").to_string();
            if !entry.header().entry_type().is_file() {
                continue;
            }
            if let Some(hex) = name.strip_prefix("blobs/sha256/") {
                let digest = format!("sha256:{hex}");
                if sha256_hex(&digest).is_none() {
                    return Err(bad(format!("the blob name {name} is not a sha256 digest")));
                }
                self.put_blob(&digest, &mut entry)
                    .map_err(|e| bad(e.to_string()))?;
            } else if name == "index.json" {
                let mut b = Vec::new();
                entry
                    .read_to_end(&mut b)
                    .map_err(|e| Error::io(archive, e))?;
                index = Some(
                    serde_json::from_slice::<Value>(&b)
                        .map_err(|e| bad(format!("index.json is not JSON: {e}")))?,
                );
            }
        }
        let index = index.ok_or_else(|| {
            bad(
                "not an OCI image archive (no index.json): save it with `docker save` of \
                 Docker 25 or later, `skopeo copy IMAGE oci-archive:FILE:NAME` or \
                 `ctr images export`"
                    .into(),
            )
        })?;
        // Every manifest an entry names must have arrived.
        for e in index["manifests"].as_array().into_iter().flatten() {
            let d = e["digest"].as_str().unwrap_or("");
            if !blob_path(&self.dir, d).is_some_and(|p| p.is_file()) {
                return Err(bad(format!(
                    "index.json names {d}, which the archive lacks"
                )));
            }
        }
        self.add_index(&index).map_err(|e| bad(e.to_string()))
    }

    /// Merges the named entries of an archive's index into the store's.
    fn add_index(&self, index: &Value) -> Result<Vec<String>> {
        let entries: Vec<Value> = index["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["annotations"][NAME_ANNOTATION].is_string())
            .cloned()
            .collect();
        if entries.is_empty() {
            return Err(store_err(format!(
                "the image names no image (annotation {NAME_ANNOTATION} in index.json): tag it \
                 before saving it"
            )));
        }
        let names = entries
            .iter()
            .filter_map(|e| e["annotations"][NAME_ANNOTATION].as_str())
            .map(str::to_string)
            .collect();
        let merged = merge_index(&self.index()?, &entries);
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        crate::host::fsutil::write_atomic(
            &self.dir.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
            0o644,
        )?;
        crate::host::fsutil::write_atomic(
            &self.index_path(),
            merged.to_string().as_bytes(),
            0o644,
        )?;
        Ok(names)
    }

    /// Keeps the blob `digest` read from `from`, if its bytes hash to that digest.
    fn put_blob(&self, digest: &str, from: &mut dyn Read) -> Result<()> {
        let path = blob_path(&self.dir, digest)
            .ok_or_else(|| store_err(format!("{digest} is not a sha256 digest")))?;
        if path.is_file() {
            // Same digest, same bytes (checked when it was kept).
            std::io::copy(from, &mut std::io::sink()).map_err(|e| Error::io(&path, e))?;
            return Ok(());
        }
        let dir = path.parent().expect("blobs/sha256");
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let fs_err = |e: fsx::Error| Error::io(&path, e.source);
        let mut tmp = fsx::AtomicFile::create(&path).map_err(fs_err)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = from.read(&mut buf).map_err(|e| Error::io(&path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            tmp.write_bytes(&buf[..n]).map_err(fs_err)?;
        }
        let got = hex::encode(hasher.finalize());
        if Some(got.as_str()) != sha256_hex(digest) {
            // Dropping the temp file removes it: nothing of the blob is kept.
            return Err(store_err(format!(
                "the blob {digest} has other bytes (sha256:{got}): the archive is damaged"
            )));
        }
        tmp.commit(0o644).map_err(fs_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bundle::oci_image::{Image, RunConfig, archive_files, write_archive};

    fn image_files(names: &[&str], content: &[u8]) -> Vec<(String, Vec<u8>)> {
        let layer = bundle::oci_image::layer(&[bundle::oci_image::LayerEntry::File {
            path: "f",
            data: content,
            mode: 0o644,
            uid: 0,
        }])
        .unwrap();
        archive_files(&Image {
            names,
            layer: &layer,
            run: RunConfig::default(),
            architecture: "amd64",
        })
    }

    #[test]
    fn names_split_at_the_tag_not_the_port() {
        assert_eq!(
            split_name("registry.k8s.io/pause:3.10.2"),
            Some(("registry.k8s.io/pause", "3.10.2"))
        );
        assert_eq!(
            split_name("127.0.0.1:5000/a/b:1"),
            Some(("127.0.0.1:5000/a/b", "1"))
        );
        assert_eq!(split_name("127.0.0.1:5000/a"), None);
    }

    #[test]
    fn only_sha256_digests_name_blobs() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert!(
            blob_path(Path::new("/s"), &d)
                .unwrap()
                .ends_with("blobs/sha256/".to_string() + &"a".repeat(64))
        );
        for bad in [
            "sha256:../../etc/passwd",
            "sha512:aa",
            &format!("sha256:{}", "A".repeat(64)),
            &format!("sha256:{}/x", "a".repeat(63)),
        ] {
            assert_eq!(blob_path(Path::new("/s"), bad), None, "{bad}");
        }
    }

    #[test]
    fn added_images_are_found_by_tag_and_digest_and_replaced_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("images"));
        let added = store
            .add_files(&image_files(&["registry.k8s.io/pause:3.10.2"], b"one"))
            .unwrap();
        assert_eq!(added, ["registry.k8s.io/pause:3.10.2"]);
        store
            .add_files(&image_files(&["docker.io/u/app:1"], b"app"))
            .unwrap();
        let index = store.index().unwrap();
        let (media, digest) = find_manifest(&index, "registry.k8s.io/pause", "3.10.2").unwrap();
        assert_eq!(media, MANIFEST_TYPES[0]);
        assert!(blob_path(&store.dir, &digest).unwrap().is_file());
        assert_eq!(
            find_manifest(&index, "registry.k8s.io/pause", &digest),
            Some((media.clone(), digest.clone()))
        );
        assert_eq!(find_manifest(&index, "registry.k8s.io/pause", "3.9"), None);
        assert_eq!(find_manifest(&index, "docker.io/u/app", &digest), None);
        assert!(find_manifest(&index, "docker.io/u/app", "1").is_some());

        // The same name again, other bytes: the entry is replaced, the other image stays.
        store
            .add_files(&image_files(&["registry.k8s.io/pause:3.10.2"], b"two"))
            .unwrap();
        let index = store.index().unwrap();
        assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
        let (_, d2) = find_manifest(&index, "registry.k8s.io/pause", "3.10.2").unwrap();
        assert_ne!(d2, digest);
    }

    #[test]
    fn archives_are_checked_blob_by_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("images"));
        let layer = bundle::oci_image::layer(&[]).unwrap();
        let image = Image {
            names: &["docker.io/u/app:1"],
            layer: &layer,
            run: RunConfig::default(),
            architecture: "amd64",
        };
        let good = dir.path().join("good.tar");
        std::fs::write(&good, write_archive(Vec::new(), &image).unwrap()).unwrap();
        assert_eq!(store.add_archive(&good).unwrap(), ["docker.io/u/app:1"]);

        // A blob whose bytes do not match its name: refused, nothing of it kept.
        let other = Store::new(dir.path().join("other"));
        let mut files = archive_files(&image);
        let (name, bytes) = files.iter_mut().find(|(n, _)| n.contains("blobs")).unwrap();
        bytes.push(b'!');
        let name = name.clone();
        let bad = dir.path().join("bad.tar");
        let mut t = tar::Builder::new(Vec::new());
        for (n, b) in &files {
            let mut h = tar::Header::new_gnu();
            h.set_size(b.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            t.append_data(&mut h, n, &b[..]).unwrap();
        }
        std::fs::write(&bad, t.into_inner().unwrap()).unwrap();
        let e = other.add_archive(&bad).unwrap_err().to_string();
        assert!(
            e.contains("has other bytes") && e.contains("bad.tar"),
            "{e}"
        );
        assert!(!other.dir.join(&name).exists());
        assert!(!other.dir.join("index.json").exists());

        // No index.json: not an OCI archive, with what to do.
        let plain = dir.path().join("plain.tar");
        let mut t = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, "manifest.json", &b"[]"[..]).unwrap();
        std::fs::write(&plain, t.into_inner().unwrap()).unwrap();
        let e = other.add_archive(&plain).unwrap_err().to_string();
        assert!(e.contains("not an OCI image archive"), "{e}");
    }
}
