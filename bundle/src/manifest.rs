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
        todo!()
    }

    /// Parses manifest JSON; the error says which field is wrong.
    pub fn from_json(text: &str) -> Result<Manifest> {
        let _ = text;
        Err(Error::Manifest(String::from("todo")))
    }
}
