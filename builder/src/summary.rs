//! The `--json` document: what a run did, for CI pipelines. One JSON object on stdout:
//! the command, release version and `SOURCE_DATE_EPOCH`, the archive and SHA256SUMS (path,
//! sha256, size) for `release`, and per component its version, licence, pin, patches (file
//! and sha256), cache key, executor, whether it came from the cache, and where its output is.

use serde::Serialize;

/// The whole document.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub command: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_date_epoch: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<Artifact>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksums: Option<Artifact>,
    pub components: Vec<ComponentSummary>,
}

/// A file the run wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// One component.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentSummary {
    pub name: String,
    pub version: String,
    pub license: String,
    pub recipe: String,
    pub source: bundle::manifest::Source,
    pub patches: Vec<bundle::manifest::PatchRef>,
    /// The source is in the cache (after `fetch`, or as `list` found it).
    pub source_cached: bool,
    /// Bytes or objects were transferred for it in this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetched: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_date_epoch: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_key: Option<String>,
    /// The build was found in the cache (no work done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached: Option<bool>,
    /// `build/<key>/` of the finished build.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_dir: Option<String>,
    /// The prepared tree left by `u7s-build patch`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_dir: Option<String>,
    /// HEAD of the prepared tree (`patch`, git sources).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    pub outputs: Vec<String>,
}

impl Summary {
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("plain data serialises");
        s.push('\n');
        s
    }
}
