//! The `--json` document: what a run did, for CI pipelines. One JSON object on stdout:
//! the command, release version and `SOURCE_DATE_EPOCH`, the archive and SHA256SUMS (path,
//! sha256, size) for `release`, and per component its version, licence, pin, patches (file
//! and sha256), cache key, executor, whether it came from the cache, and where its output is.
//! Also the table `u7s-build list` prints for people ([`Summary::list_table`]).

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

    /// `u7s-build list` for people: a header row, one row per recipe, and a note on `-` when
    /// a build's state is unknown (its cache key needs the fetched source and an executor).
    pub fn list_table(&self) -> String {
        let row = |c: [&str; 5]| {
            format!(
                "{:<24} {:<16} {:<11} {:<9} {}\n",
                c[0], c[1], c[2], c[3], c[4]
            )
        };
        let mut out = row(["COMPONENT", "VERSION", "SOURCE", "BUILD", "PIN"]);
        let mut unknown = false;
        for c in &self.components {
            let built = match c.cached {
                Some(true) => "built",
                Some(false) => "not built",
                None => {
                    unknown = true;
                    "-"
                }
            };
            let pin = format!(
                "{}{}",
                describe(&c.source),
                if c.patches.is_empty() {
                    String::new()
                } else {
                    format!(" +{} patch(es)", c.patches.len())
                }
            );
            out.push_str(&row([
                &c.name,
                &c.version,
                if c.source_cached {
                    "fetched"
                } else {
                    "not fetched"
                },
                built,
                &pin,
            ]));
        }
        if unknown {
            out.push_str(
                "BUILD -: unknown here: the build's cache key needs the fetched source \
                 (`u7s-build fetch`) and a way to run its build (--executor)\n",
            );
        }
        out
    }
}

/// A source pin in one line: `URL @ COMMIT (TAG)`, the URL, `path P` or `go MODULE@VERSION`.
pub fn describe(s: &bundle::manifest::Source) -> String {
    match s {
        bundle::manifest::Source::Git { url, rev, tag } => {
            format!(
                "{url} @ {}{}",
                &rev[..12.min(rev.len())],
                tag.as_ref().map(|t| format!(" ({t})")).unwrap_or_default()
            )
        }
        bundle::manifest::Source::Url { url, .. } => url.clone(),
        bundle::manifest::Source::Path { path } => format!("path {path}"),
        bundle::manifest::Source::Go {
            module, version, ..
        } => format!("go {module}@{version}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(name: &str, source_cached: bool, cached: Option<bool>) -> ComponentSummary {
        ComponentSummary {
            name: name.into(),
            version: "v1.0.0".into(),
            license: "MIT".into(),
            recipe: format!("recipes/{name}.toml"),
            source: bundle::manifest::Source::Path {
                path: format!("../{name}"),
            },
            patches: vec![],
            source_cached,
            fetched: None,
            source_date_epoch: None,
            executor: None,
            image: None,
            cache_key: None,
            cached,
            build_dir: None,
            src_dir: None,
            head: None,
            outputs: vec![],
        }
    }

    fn list(components: Vec<ComponentSummary>) -> Summary {
        Summary {
            command: "list".into(),
            version: None,
            source_date_epoch: None,
            archive: None,
            checksums: None,
            components,
        }
    }

    /// newcomer review L13: `list` had no header and an unexplained `-` column.
    #[test]
    fn the_list_has_a_header_and_explains_an_unknown_build() {
        let t = list(vec![
            component("runc", true, Some(true)),
            component("etcd", false, None),
        ])
        .list_table();
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[0].starts_with("COMPONENT") && lines[0].contains("BUILD"),
            "{t}"
        );
        assert!(
            lines[1].starts_with("runc") && lines[1].contains("built"),
            "{t}"
        );
        assert!(
            lines[2].contains("not fetched") && lines[2].contains(" - "),
            "{t}"
        );
        assert!(
            lines[3].starts_with("BUILD -: unknown here: the build's cache key needs"),
            "{t}"
        );
        let t = list(vec![component("runc", true, Some(false))]).list_table();
        assert_eq!(t.lines().count(), 2, "no note without a `-`: {t}");
    }
}
