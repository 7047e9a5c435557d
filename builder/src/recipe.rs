//! Recipe files (`recipes/<name>.toml`, design.md §2): parsing and validation.
//!
//! Pure: [`parse_recipe`] turns the text of one file into a validated [`Recipe`] or an
//! [`Error::Recipe`] whose message names the file, the table and the field, e.g.
//! `recipes/containerd.toml: [source]: rev must be a full 40-hex commit id, got '0123ab'`.
//! [`load_dir`] reads a folder of them (the only effect here).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};

/// Variables the builder sets for every script; a recipe's `env` may not override them.
pub const RESERVED_ENV: &[&str] = &["SRC", "OUT", "VERSION", "JOBS", "SOURCE_DATE_EPOCH", "HOME"];

/// One validated recipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    /// The file it was read from, as given (used in messages).
    pub file: PathBuf,
    pub name: String,
    pub version: String,
    pub license: String,
    pub license_files: Vec<String>,
    pub source: Source,
    pub build: Build,
    /// sha256 of the file's bytes: part of the build cache key.
    pub content_sha256: String,
}

/// Where a component's source comes from: exactly one kind per recipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A git repository at a full commit id; `tag`, when given, must resolve to `rev`.
    Git {
        url: String,
        rev: String,
        tag: Option<String>,
    },
    /// A file (archive or not) with its sha256.
    Url { url: String, sha256: String },
    /// A local directory; `resolved` is `path` joined to the recipe's folder.
    Path { path: String, resolved: PathBuf },
}

impl Source {
    /// A short human description of the pin, e.g. `git <url> @ <rev> (v1.2.3)`.
    pub fn describe(&self) -> String {
        match self {
            Source::Git { url, rev, tag } => match tag {
                Some(t) => format!("git {url} @ {rev} ({t})"),
                None => format!("git {url} @ {rev}"),
            },
            Source::Url { url, sha256 } => format!("{url} sha256:{sha256}"),
            Source::Path { path, .. } => format!("path {path}"),
        }
    }
}

/// The `[build]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub image: Option<String>,
    pub script: String,
    pub env: BTreeMap<String, String>,
    pub outputs: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecipe {
    name: String,
    version: String,
    license: String,
    #[serde(default)]
    license_files: Vec<String>,
    source: RawSource,
    build: RawBuild,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    git: Option<String>,
    rev: Option<String>,
    tag: Option<String>,
    url: Option<String>,
    sha256: Option<String>,
    path: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    image: Option<String>,
    script: String,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    outputs: Vec<String>,
}

/// Parses and validates one recipe. `file` is used for messages, to check that the name matches
/// the file name, and to resolve a `path` source.
pub fn parse_recipe(file: &Path, text: &str) -> Result<Recipe> {
    let fail = |msg: String| Error::Recipe {
        file: file.to_path_buf(),
        msg,
    };
    let raw: RawRecipe = toml::from_str(text).map_err(|e| fail(describe_toml_error(text, &e)))?;

    check_name(&raw.name).map_err(|m| fail(format!("name: {m}")))?;
    if let Some(stem) = file.file_stem().and_then(|s| s.to_str())
        && file.extension().is_some_and(|e| e == "toml")
        && stem != raw.name
    {
        return Err(fail(format!(
            "name: '{}' must match the file name ({stem}.toml)",
            raw.name
        )));
    }
    check_text(&raw.version).map_err(|m| fail(format!("version: {m}")))?;
    check_text(&raw.license).map_err(|m| fail(format!("license: {m}")))?;
    for lf in &raw.license_files {
        check_rel_path(lf).map_err(|m| fail(format!("license_files: {m}")))?;
    }

    let dir = file.parent().unwrap_or(Path::new("."));
    let source = validate_source(raw.source, dir).map_err(|m| fail(format!("[source]: {m}")))?;
    let build = validate_build(raw.build).map_err(|m| fail(format!("[build]: {m}")))?;

    Ok(Recipe {
        file: file.to_path_buf(),
        name: raw.name,
        version: raw.version,
        license: raw.license,
        license_files: raw.license_files,
        source,
        build,
        content_sha256: hex::encode(Sha256::digest(text.as_bytes())),
    })
}

fn validate_source(s: RawSource, dir: &Path) -> std::result::Result<Source, String> {
    let kinds: Vec<&str> = [
        ("git", s.git.is_some()),
        ("url", s.url.is_some()),
        ("path", s.path.is_some()),
    ]
    .iter()
    .filter(|(_, set)| *set)
    .map(|(k, _)| *k)
    .collect();
    if kinds.len() != 1 {
        return Err(if kinds.is_empty() {
            "give exactly one of git, url, path (found none)".to_string()
        } else {
            format!(
                "give exactly one of git, url, path (found {})",
                kinds.join(" and ")
            )
        });
    }
    let only_with = |field: &str, present: bool, kind: &str| -> std::result::Result<(), String> {
        if present {
            Err(format!("{field} is only valid with {kind}"))
        } else {
            Ok(())
        }
    };
    if let Some(url) = s.git {
        only_with("sha256", s.sha256.is_some(), "url")?;
        check_text(&url).map_err(|m| format!("git: {m}"))?;
        let rev = s
            .rev
            .ok_or("rev is required with git: the full 40-hex commit id of the pin")?;
        if !is_hex(&rev, 40) {
            return Err(format!("rev must be a full 40-hex commit id, got '{rev}'"));
        }
        if let Some(tag) = &s.tag {
            check_text(tag).map_err(|m| format!("tag: {m}"))?;
        }
        Ok(Source::Git {
            url,
            rev,
            tag: s.tag,
        })
    } else if let Some(url) = s.url {
        only_with("rev", s.rev.is_some(), "git")?;
        only_with("tag", s.tag.is_some(), "git")?;
        check_text(&url).map_err(|m| format!("url: {m}"))?;
        if file_name_of_url(&url).is_none() {
            return Err(format!("url: '{url}' does not end in a file name"));
        }
        let sha256 = s
            .sha256
            .ok_or("sha256 is required with url: the 64-hex sha256 of the file")?;
        if !is_hex(&sha256, 64) {
            return Err(format!(
                "sha256 must be 64 lowercase hex digits, got '{sha256}'"
            ));
        }
        Ok(Source::Url { url, sha256 })
    } else {
        let path = s.path.unwrap_or_default();
        only_with("rev", s.rev.is_some(), "git")?;
        only_with("tag", s.tag.is_some(), "git")?;
        only_with("sha256", s.sha256.is_some(), "url")?;
        check_text(&path).map_err(|m| format!("path: {m}"))?;
        let resolved = dir.join(&path);
        Ok(Source::Path { path, resolved })
    }
}

fn validate_build(b: RawBuild) -> std::result::Result<Build, String> {
    if let Some(image) = &b.image {
        check_text(image).map_err(|m| format!("image: {m}"))?;
    }
    if b.script.trim().is_empty() {
        return Err("script: must not be empty".into());
    }
    for k in b.env.keys() {
        let valid = !k.is_empty()
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!("env: '{k}' is not a valid variable name"));
        }
        if RESERVED_ENV.contains(&k.as_str()) {
            return Err(format!(
                "env: {k} is set by the builder and cannot be overridden"
            ));
        }
    }
    for o in &b.outputs {
        check_rel_path(o).map_err(|m| format!("outputs: {m}"))?;
    }
    Ok(Build {
        image: b.image,
        script: b.script,
        env: b.env,
        outputs: b.outputs,
    })
}

/// The last path segment of a URL (query and fragment removed), if any.
pub fn file_name_of_url(url: &str) -> Option<&str> {
    let no_frag = url.split('#').next().unwrap_or(url);
    let no_query = no_frag.split('?').next().unwrap_or(no_frag);
    let after_scheme = no_query.split_once("://").map_or(no_query, |(_, r)| r);
    let (_, path) = after_scheme.split_once('/')?;
    let name = path.rsplit('/').next()?;
    (!name.is_empty() && name != "." && name != "..").then_some(name)
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn check_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{name}' must be 1-64 characters of a-z, 0-9, '-', '_', '.', starting with a letter or digit"
        ))
    }
}

fn check_text(s: &str) -> std::result::Result<(), String> {
    if s.trim().is_empty() {
        Err("must not be empty".into())
    } else if s.chars().any(|c| c.is_control()) {
        Err(format!(
            "'{}' contains control characters",
            s.escape_debug()
        ))
    } else {
        Ok(())
    }
}

/// A relative, normalised path: no absolute paths, no `.`/`..`/empty components.
fn check_rel_path(p: &str) -> std::result::Result<(), String> {
    check_text(p)?;
    if p.starts_with('/') {
        return Err(format!("'{p}' must be a relative path"));
    }
    if p.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err(format!(
            "'{p}' must be a plain relative path (no '.', '..' or empty components)"
        ));
    }
    Ok(())
}

/// Renders a TOML/serde error as `line N: [table]: message`.
fn describe_toml_error(text: &str, err: &toml::de::Error) -> String {
    let msg = err.message().trim().to_string();
    let Some(span) = err.span() else {
        return msg;
    };
    let start = span.start.min(text.len());
    let line = text[..start].matches('\n').count() + 1;
    match table_at(text, start) {
        Some(table) => format!("line {line}: [{table}]: {msg}"),
        None => format!("line {line}: {msg}"),
    }
}

/// The `[table]` header in force at byte `offset` of a TOML text, if any.
fn table_at(text: &str, offset: usize) -> Option<String> {
    let mut current = None;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if pos > offset {
            break;
        }
        let t = line.trim();
        if let Some(rest) = t.strip_prefix('[')
            && let Some(end) = rest.find(']')
        {
            current = Some(rest[..end].trim_matches(['[', ' ']).to_string());
        }
        pos += line.len();
    }
    current
}

/// Reads every `*.toml` of `dir`, sorted by name. Fails on an unreadable or empty folder, on
/// the first invalid recipe and on duplicate names.
pub fn load_dir(dir: &Path) -> Result<Vec<Recipe>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::Selection(format!(
            "{}: no recipes (*.toml) found; point --recipes at the repository's recipes/ folder",
            dir.display()
        )));
    }
    let mut recipes: Vec<Recipe> = Vec::with_capacity(files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).at(&file)?;
        let recipe = parse_recipe(&file, &text)?;
        if let Some(prev) = recipes.iter().find(|r| r.name == recipe.name) {
            return Err(Error::Recipe {
                file: recipe.file.clone(),
                msg: format!(
                    "name: '{}' is already used by {}",
                    recipe.name,
                    prev.file.display()
                ),
            });
        }
        recipes.push(recipe);
    }
    recipes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(recipes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REV: &str = "0123456789abcdef0123456789abcdef01234567";

    fn good() -> String {
        format!(
            r#"
name = "containerd"
version = "v2.1.4"
license = "Apache-2.0"
license_files = ["LICENSE", "NOTICE"]

[source]
git = "https://github.com/containerd/containerd.git"
rev = "{REV}"
tag = "v2.1.4"

[build]
image = "golang:1.24-bookworm"
script = """
make STATIC=1 binaries
install -D -m 0755 bin/containerd "$OUT/bin/containerd"
"""
env = {{ GOFLAGS = "-trimpath" }}
outputs = ["bin/containerd"]
"#
        )
    }

    fn parse(text: &str) -> Result<Recipe> {
        parse_recipe(Path::new("recipes/containerd.toml"), text)
    }

    fn err(text: &str) -> String {
        parse(text).expect_err("must be rejected").to_string()
    }

    #[test]
    fn parses_the_design_example() {
        let r = parse(&good()).unwrap();
        assert_eq!(r.name, "containerd");
        assert_eq!(
            r.source,
            Source::Git {
                url: "https://github.com/containerd/containerd.git".into(),
                rev: REV.into(),
                tag: Some("v2.1.4".into())
            }
        );
        assert_eq!(r.build.outputs, vec!["bin/containerd"]);
        assert_eq!(r.build.env["GOFLAGS"], "-trimpath");
        assert_eq!(r.content_sha256.len(), 64);
    }

    #[test]
    fn unknown_field_names_file_table_and_field() {
        let text = good().replace("outputs = [", "outputz = [");
        let e = err(&text);
        assert!(e.starts_with("recipes/containerd.toml: line "), "{e}");
        assert!(e.contains("[build]: unknown field `outputz`"), "{e}");
        let top = good().replace("license = ", "licence = ");
        let e = err(&top);
        assert!(e.contains("unknown field `licence`"), "{e}");
        assert!(!e.contains("[source]"), "{e}");
        let src = good().replace("tag = ", "branch = ");
        assert!(err(&src).contains("[source]: unknown field `branch`"));
    }

    #[test]
    fn two_sources_are_rejected() {
        let text = good().replace(
            "tag = \"v2.1.4\"",
            "tag = \"v2.1.4\"\nurl = \"https://example.org/x.tar.gz\"",
        );
        assert_eq!(
            err(&text),
            "recipes/containerd.toml: [source]: give exactly one of git, url, path (found git and url)"
        );
        let none = good()
            .replace(
                "git = \"https://github.com/containerd/containerd.git\"\n",
                "",
            )
            .replace(&format!("rev = \"{REV}\"\n"), "")
            .replace("tag = \"v2.1.4\"\n", "");
        assert!(err(&none).contains("[source]: give exactly one of git, url, path (found none)"));
    }

    #[test]
    fn short_rev_is_rejected() {
        let text = good().replace(REV, "0123ab");
        assert_eq!(
            err(&text),
            "recipes/containerd.toml: [source]: rev must be a full 40-hex commit id, got '0123ab'"
        );
        let missing = good().replace(&format!("rev = \"{REV}\"\n"), "");
        assert!(err(&missing).contains("[source]: rev is required with git"));
    }

    #[test]
    fn url_needs_sha256_and_rejects_git_fields() {
        let base = good()
            .replace(
                "git = \"https://github.com/containerd/containerd.git\"",
                "url = \"https://example.org/etcd-v3.tar.gz\"",
            )
            .replace(&format!("rev = \"{REV}\"\n"), "")
            .replace("tag = \"v2.1.4\"\n", "");
        assert!(err(&base).contains("[source]: sha256 is required with url"));
        let bad = base.replace("[build]", "sha256 = \"abc\"\n[build]");
        assert!(err(&bad).contains("[source]: sha256 must be 64 lowercase hex digits, got 'abc'"));
        let ok = base.replace(
            "[build]",
            &format!("sha256 = \"{}\"\n[build]", "a".repeat(64)),
        );
        assert!(matches!(parse(&ok).unwrap().source, Source::Url { .. }));
        let tagged = ok.replace("[build]", "tag = \"v1\"\n[build]");
        assert!(err(&tagged).contains("[source]: tag is only valid with git"));
    }

    #[test]
    fn path_source_resolves_against_the_recipe_folder() {
        let text = good()
            .replace(
                "git = \"https://github.com/containerd/containerd.git\"",
                "path = \"../runtime\"",
            )
            .replace(&format!("rev = \"{REV}\"\n"), "")
            .replace("tag = \"v2.1.4\"\n", "");
        let r = parse(&text).unwrap();
        assert_eq!(
            r.source,
            Source::Path {
                path: "../runtime".into(),
                resolved: PathBuf::from("recipes/../runtime")
            }
        );
    }

    #[test]
    fn other_field_checks() {
        assert!(
            err(&good().replace("name = \"containerd\"", "name = \"other\""))
                .contains("must match the file name (containerd.toml)")
        );
        assert!(
            err(&good().replace("name = \"containerd\"", "name = \"Bad Name\""))
                .contains("name: 'Bad Name' must be")
        );
        assert!(
            err(&good().replace("\"bin/containerd\"]", "\"../bin/containerd\"]"))
                .contains("[build]: outputs: '../bin/containerd' must be a plain relative path")
        );
        assert!(
            err(&good().replace("GOFLAGS", "OUT"))
                .contains("[build]: env: OUT is set by the builder")
        );
        assert!(
            err(&good().replace("\"NOTICE\"", "\"/etc/passwd\""))
                .contains("license_files: '/etc/passwd' must be a relative path")
        );
        let no_script = good().replace("script = \"\"\"", "scrip = \"\"\"");
        assert!(err(&no_script).contains("[build]: unknown field `scrip`"));
    }

    #[test]
    fn url_file_names() {
        assert_eq!(
            file_name_of_url("https://h/a/b/x.tar.gz?x=1#f"),
            Some("x.tar.gz")
        );
        assert_eq!(file_name_of_url("http://127.0.0.1:80/t.tgz"), Some("t.tgz"));
        assert_eq!(file_name_of_url("https://h/"), None);
        assert_eq!(file_name_of_url("https://h"), None);
    }

    #[test]
    fn table_lookup() {
        let t = "a = 1\n[source]\nx = 1\n[build]\ny = 2\n";
        assert_eq!(table_at(t, 0), None);
        assert_eq!(
            table_at(t, t.find("x =").unwrap()).as_deref(),
            Some("source")
        );
        assert_eq!(
            table_at(t, t.find("y =").unwrap()).as_deref(),
            Some("build")
        );
    }
}
