//! The `manifest.json` schema: release version, components with their pins and patches, and
//! every file of the release with its size, mode and sha256.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// File name of the manifest; it lives at `usernetes/manifest.json`.
pub const MANIFEST_NAME: &str = "manifest.json";
/// The single top folder of every release.
pub const TOP_DIR: &str = "usernetes";
/// File name of the release archive.
pub const ARCHIVE_NAME: &str = "usernetes-x86_64.tbz";
/// File name of the checksum list published beside the archive.
pub const CHECKSUMS_NAME: &str = "SHA256SUMS";

/// The manifest of a release.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version of this schema: 1.
    pub format: u32,
    /// Release version, e.g. "0.1.0" or "20261129.0".
    pub version: String,
    /// The mtime of every archive entry.
    pub source_date_epoch: u64,
    /// Components, sorted by name.
    pub components: Vec<Component>,
    /// Every entry under `usernetes/` except manifest.json itself, sorted by path (byte order).
    pub files: Vec<FileEntry>,
}

/// One upstream component bundled in the release.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub name: String,
    pub version: String,
    pub license: String,
    pub source: Source,
    pub patches: Vec<PatchRef>,
}

/// Where a component's source came from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Source {
    Git {
        url: String,
        rev: String,
        tag: Option<String>,
    },
    Url {
        url: String,
        sha256: String,
    },
    Path {
        path: String,
    },
    /// A Go module from a module proxy: path, exact version, go.sum hash of its zip, and the
    /// commit the proxy records for the version (when it records one).
    Go {
        module: String,
        version: String,
        h1: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commit: Option<String>,
    },
}

/// A patch applied to a component.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PatchRef {
    pub file: String,
    pub sha256: String,
}

/// The kind of a release entry.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    File,
    Dir,
    Symlink,
}

/// One entry of the release, relative to `usernetes/`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Relative to `usernetes/`, '/'-separated, e.g. "bin/dockerd".
    pub path: String,
    pub kind: FileKind,
    /// 0 for dirs and symlinks.
    pub size: u64,
    /// Normalised: 0o755 dirs & executables, 0o644 others, 0o777 symlinks.
    pub mode: u32,
    /// Files only, lowercase hex.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha256: Option<String>,
    /// Symlinks only.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub target: Option<String>,
}

impl Manifest {
    /// Pretty JSON, keys in struct order, with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self)
            .expect("a manifest always serialises: it holds only strings and numbers");
        text.push('\n');
        text
    }

    /// Parses manifest JSON; the error says which field is wrong (e.g. `files[3].kind`).
    pub fn from_json(text: &str) -> Result<Manifest> {
        let mut de = serde_json::Deserializer::from_str(text);
        let manifest: Manifest = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." {
                Error::Manifest(inner.to_string())
            } else {
                Error::Manifest(format!("field `{path}`: {inner}"))
            }
        })?;
        de.end()
            .map_err(|e| Error::Manifest(format!("after the JSON object: {e}")))?;
        if manifest.format != FORMAT {
            return Err(Error::Manifest(format!(
                "field `format`: this reader understands format {FORMAT}, the file has format {}",
                manifest.format
            )));
        }
        Ok(manifest)
    }
}

/// The manifest format version this crate writes and reads.
pub const FORMAT: u32 = 1;

/// Normalised mode of a directory or an executable file.
pub const MODE_EXEC: u32 = 0o755;
/// Normalised mode of a non-executable file.
pub const MODE_FILE: u32 = 0o644;
/// Mode recorded for symlinks.
pub const MODE_SYMLINK: u32 = 0o777;

/// The normalised mode of an entry of `kind` whose permission bits on disk are `raw_mode`:
/// 0o755 for directories and files with any execute bit, 0o644 for other files, 0o777 for
/// symlinks.
pub fn normalised_mode(kind: FileKind, raw_mode: u32) -> u32 {
    match kind {
        FileKind::Dir => MODE_EXEC,
        FileKind::Symlink => MODE_SYMLINK,
        FileKind::File if raw_mode & 0o111 != 0 => MODE_EXEC,
        FileKind::File => MODE_FILE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format: 1,
            version: "0.1.0".into(),
            source_date_epoch: 1_700_000_000,
            components: vec![
                Component {
                    name: "containerd".into(),
                    version: "v2.1.4".into(),
                    license: "Apache-2.0".into(),
                    source: Source::Git {
                        url: "https://github.com/containerd/containerd".into(),
                        rev: "75cb2b7193e4e490e9fbdc236c0e811ccaba3376".into(),
                        tag: Some("v2.1.4".into()),
                    },
                    patches: vec![PatchRef {
                        file: "0001-fix.patch".into(),
                        sha256: "ab".repeat(32),
                    }],
                },
                Component {
                    name: "etcd".into(),
                    version: "v3.6.5".into(),
                    license: "Apache-2.0".into(),
                    source: Source::Url {
                        url: "https://example.org/etcd.tar.gz".into(),
                        sha256: "cd".repeat(32),
                    },
                    patches: vec![],
                },
                Component {
                    name: "u7s".into(),
                    version: "0.1.0".into(),
                    license: "Apache-2.0".into(),
                    source: Source::Path {
                        path: "../runtime".into(),
                    },
                    patches: vec![],
                },
            ],
            files: vec![
                FileEntry {
                    path: "bin".into(),
                    kind: FileKind::Dir,
                    size: 0,
                    mode: 0o755,
                    sha256: None,
                    target: None,
                },
                FileEntry {
                    path: "bin/dockerd".into(),
                    kind: FileKind::File,
                    size: 12,
                    mode: 0o755,
                    sha256: Some("ef".repeat(32)),
                    target: None,
                },
                FileEntry {
                    path: "bin/docker-link".into(),
                    kind: FileKind::Symlink,
                    size: 0,
                    mode: 0o777,
                    sha256: None,
                    target: Some("dockerd".into()),
                },
            ],
        }
    }

    #[test]
    fn json_round_trip() {
        let m = sample();
        let text = m.to_json();
        assert!(text.ends_with("}\n"));
        assert_eq!(Manifest::from_json(&text).unwrap(), m);
        // Same value, same bytes.
        assert_eq!(Manifest::from_json(&text).unwrap().to_json(), text);
    }

    #[test]
    fn json_layout_is_the_contract() {
        let text = sample().to_json();
        // Keys in struct order, tagged sources, optional fields omitted.
        let format = text.find("\"format\"").unwrap();
        let version = text.find("\"version\"").unwrap();
        let files = text.find("\"files\"").unwrap();
        assert!(format < version && version < files);
        assert!(text.contains("\"kind\": \"git\""));
        assert!(text.contains("\"kind\": \"url\""));
        assert!(text.contains("\"kind\": \"path\""));
        assert!(text.contains("\"kind\": \"symlink\""));
        assert!(text.contains("\"target\": \"dockerd\""));
        let dir_entry = &text[text.find("\"path\": \"bin\"").unwrap()..];
        let dir_entry = &dir_entry[..dir_entry.find('}').unwrap()];
        assert!(!dir_entry.contains("sha256"), "{dir_entry}");
        assert!(!dir_entry.contains("target"), "{dir_entry}");
    }

    #[test]
    fn errors_name_the_field() {
        let text = sample().to_json().replace("\"symlink\"", "\"socket\"");
        let err = Manifest::from_json(&text).unwrap_err().to_string();
        assert!(err.contains("files[2].kind"), "{err}");

        let text = sample()
            .to_json()
            .replace("\"source_date_epoch\"", "\"sde\"");
        let err = Manifest::from_json(&text).unwrap_err().to_string();
        assert!(err.contains("sde"), "{err}");

        let text = sample().to_json().replace("\"format\": 1", "\"format\": 2");
        let err = Manifest::from_json(&text).unwrap_err().to_string();
        assert!(err.contains("format"), "{err}");

        let err = Manifest::from_json("{} x").unwrap_err().to_string();
        assert!(err.contains("manifest.json"), "{err}");
    }

    #[test]
    fn modes_are_normalised() {
        assert_eq!(normalised_mode(FileKind::Dir, 0o700), 0o755);
        assert_eq!(normalised_mode(FileKind::File, 0o700), 0o755);
        assert_eq!(normalised_mode(FileKind::File, 0o4711), 0o755);
        assert_eq!(normalised_mode(FileKind::File, 0o600), 0o644);
        assert_eq!(normalised_mode(FileKind::File, 0o666), 0o644);
        assert_eq!(normalised_mode(FileKind::Symlink, 0o755), 0o777);
    }
}
