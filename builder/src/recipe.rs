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
pub const RESERVED_ENV: &[&str] = &[
    "SRC",
    "OUT",
    "VERSION",
    "JOBS",
    "SOURCE_DATE_EPOCH",
    "HOME",
    "DEPS",
];

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
    /// `ship`: `Some(false)` keeps the outputs out of the release, `Some(true)` puts them in
    /// even when another recipe builds on them; `None`: shipped unless another recipe lists
    /// this one in `[build] deps`.
    pub ship: Option<bool>,
    /// sha256 of the file's bytes: part of the build cache key.
    pub content_sha256: String,
}

/// Where a component's source comes from: exactly one kind per recipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A git repository at a full commit id; `tag`, when given, must resolve to `rev`.
    /// `go_main` (`[source.main]`): the tree is a Go main module whose dependencies are
    /// fetched into the cache like a Go-module source's.
    Git {
        url: String,
        rev: String,
        tag: Option<String>,
        go_main: Option<GoMain>,
    },
    /// A file (archive or not) with its sha256.
    Url { url: String, sha256: String },
    /// A local directory; `resolved` is `path` joined to the recipe's folder.
    Path { path: String, resolved: PathBuf },
    /// A Go module from a module proxy, verified by its `h1:` hash (and the proxy's Origin
    /// commit when it records one); [`GoSource`].
    Go(GoSource),
}

/// `[source] go = MODULE, version, h1, commit` and `[source.main]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoSource {
    pub module: String,
    pub version: String,
    /// `h1:` + base64 of the module zip's dirhash (go.sum / checksum database).
    pub h1: String,
    /// The proxy's `Origin.Hash` (full commit).
    pub commit: Option<String>,
    pub main: GoMain,
}

/// Where the go.mod and go.sum of the build's main module come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoMain {
    /// The module's own go.mod and go.sum.
    Own,
    /// Files beside the recipe (`go_mod`, `go_sum`), resolved against its folder.
    Files {
        go_mod: String,
        go_sum: String,
        go_mod_path: PathBuf,
        go_sum_path: PathBuf,
    },
    /// Files inside the module or git tree (`go_mod_from`, `go_sum_from`, e.g. vendor.mod,
    /// vendor.sum; go.mod, go.sum).
    InModule { go_mod: String, go_sum: String },
}

impl Source {
    /// A short human description of the pin, e.g. `git <url> @ <rev> (v1.2.3)`.
    pub fn describe(&self) -> String {
        match self {
            Source::Git { url, rev, tag, .. } => match tag {
                Some(t) => format!("git {url} @ {rev} ({t})"),
                None => format!("git {url} @ {rev}"),
            },
            Source::Url { url, sha256 } => format!("{url} sha256:{sha256}"),
            Source::Path { path, .. } => format!("path {path}"),
            Source::Go(g) => format!("go {}@{} {}", g.module, g.version, g.h1),
        }
    }
}

/// Variables the builder sets for Go-module sources; their `env` may not set them.
pub const RESERVED_GO_ENV: &[&str] = &[
    "GOPROXY",
    "GOMODCACHE",
    "GOSUMDB",
    "GONOSUMDB",
    "GONOSUMCHECK",
    "GOPRIVATE",
    "GONOPROXY",
    "GOWORK",
    "GOTOOLCHAIN",
    "GOINSECURE",
];

/// The `[build]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub image: Option<String>,
    pub script: String,
    pub env: BTreeMap<String, String>,
    pub outputs: Vec<String>,
    /// Recipes whose outputs this build reads at `$DEPS/<name>`.
    pub deps: Vec<String>,
    /// Host prerequisites, checked before a host build.
    pub needs: Needs,
}

/// `[build.needs]`: what a host build needs, each with the Debian package that provides it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Needs {
    /// pkg-config name -> Debian package.
    #[serde(default)]
    pub pkg_config: BTreeMap<String, String>,
    /// Command on PATH -> Debian package.
    #[serde(default)]
    pub commands: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecipe {
    name: String,
    version: String,
    license: String,
    #[serde(default)]
    license_files: Vec<String>,
    ship: Option<bool>,
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
    go: Option<String>,
    version: Option<String>,
    h1: Option<String>,
    commit: Option<String>,
    main: Option<RawMain>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMain {
    go_mod: Option<String>,
    go_sum: Option<String>,
    go_mod_from: Option<String>,
    go_sum_from: Option<String>,
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
    #[serde(default)]
    deps: Vec<String>,
    #[serde(default)]
    needs: Needs,
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
    let build = validate_build(raw.build, &source).map_err(|m| fail(format!("[build]: {m}")))?;
    if build.deps.contains(&raw.name) {
        return Err(fail(format!(
            "[build]: deps: '{}' cannot depend on itself",
            raw.name
        )));
    }

    Ok(Recipe {
        file: file.to_path_buf(),
        name: raw.name,
        version: raw.version,
        license: raw.license,
        license_files: raw.license_files,
        source,
        build,
        ship: raw.ship,
        content_sha256: hex::encode(Sha256::digest(text.as_bytes())),
    })
}

fn validate_source(s: RawSource, dir: &Path) -> std::result::Result<Source, String> {
    let kinds: Vec<&str> = [
        ("git", s.git.is_some()),
        ("url", s.url.is_some()),
        ("path", s.path.is_some()),
        ("go", s.go.is_some()),
    ]
    .iter()
    .filter(|(_, set)| *set)
    .map(|(k, _)| *k)
    .collect();
    if kinds.len() != 1 {
        return Err(if kinds.is_empty() {
            "give exactly one of git, url, path, go (found none)".to_string()
        } else {
            format!(
                "give exactly one of git, url, path, go (found {})",
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
    if s.go.is_none() {
        for (field, present) in [
            ("version", s.version.is_some()),
            ("h1", s.h1.is_some()),
            ("commit", s.commit.is_some()),
        ] {
            only_with(field, present, "go")?;
        }
        if s.git.is_none() {
            only_with("[source.main]", s.main.is_some(), "go or git")?;
        }
    }
    if let Some(module) = s.go {
        only_with("rev", s.rev.is_some(), "git")?;
        only_with("tag", s.tag.is_some(), "git")?;
        only_with("sha256", s.sha256.is_some(), "url")?;
        return validate_go(module, s.version, s.h1, s.commit, s.main, dir).map(Source::Go);
    }
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
        let go_main = match s.main {
            Some(m) => Some(validate_main(m, dir)?),
            None => None,
        };
        Ok(Source::Git {
            url,
            rev,
            tag: s.tag,
            go_main,
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

fn validate_go(
    module: String,
    version: Option<String>,
    h1: Option<String>,
    commit: Option<String>,
    main: Option<RawMain>,
    dir: &Path,
) -> std::result::Result<GoSource, String> {
    check_module_path(&module).map_err(|m| format!("go: {m}"))?;
    let version = version.ok_or(
        "version is required with go: the exact module version, e.g. \"v2.4.2\" (as `go mod download -json MODULE@VERSION` prints it)",
    )?;
    if !is_exact_version(&version) {
        return Err(format!(
            "version must be an exact module version such as v1.2.3, v0.0.0-20240101000000-0123456789ab or v29.1.0+incompatible, got '{version}'"
        ));
    }
    let h1 = h1.ok_or(
        "h1 is required with go: the `Sum` that `go mod download -json MODULE@VERSION` prints (h1:…=)",
    )?;
    if !is_h1(&h1) {
        return Err(format!(
            "h1 must be 'h1:' followed by 44 base64 characters (a go.sum hash), got '{h1}'"
        ));
    }
    if let Some(c) = &commit
        && !is_hex(c, 40)
    {
        return Err(format!(
            "commit must be the full 40-hex commit the proxy records (Origin.Hash), got '{c}'"
        ));
    }
    let main = match main {
        None => GoMain::Own,
        Some(m) => validate_main(m, dir)?,
    };
    Ok(GoSource {
        module,
        version,
        h1,
        commit,
        main,
    })
}

fn validate_main(m: RawMain, dir: &Path) -> std::result::Result<GoMain, String> {
    match (m.go_mod, m.go_sum, m.go_mod_from, m.go_sum_from) {
        (Some(go_mod), Some(go_sum), None, None) => {
            check_rel_path(&go_mod).map_err(|e| format!("[source.main]: go_mod: {e}"))?;
            check_rel_path(&go_sum).map_err(|e| format!("[source.main]: go_sum: {e}"))?;
            Ok(GoMain::Files {
                go_mod_path: dir.join(&go_mod),
                go_sum_path: dir.join(&go_sum),
                go_mod,
                go_sum,
            })
        }
        (None, None, Some(go_mod), Some(go_sum)) => {
            check_rel_path(&go_mod).map_err(|e| format!("[source.main]: go_mod_from: {e}"))?;
            check_rel_path(&go_sum).map_err(|e| format!("[source.main]: go_sum_from: {e}"))?;
            Ok(GoMain::InModule { go_mod, go_sum })
        }
        _ => Err("[source.main]: give go_mod and go_sum (files beside the recipe), or go_mod_from and go_sum_from (files inside the source), as a pair".into()),
    }
}

/// A Go module path: slash-separated elements of letters, digits and `-._~`, the first with a dot.
fn check_module_path(p: &str) -> std::result::Result<(), String> {
    check_text(p)?;
    let ok_elem = |e: &str| {
        !e.is_empty()
            && e != "."
            && e != ".."
            && e.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
    };
    let first = p.split('/').next().unwrap_or("");
    if !p.split('/').all(ok_elem) || !first.contains('.') || p.contains('@') {
        return Err(format!(
            "'{p}' is not a Go module path (e.g. github.com/containerd/containerd/v2, k8s.io/kubernetes)"
        ));
    }
    Ok(())
}

/// `vMAJOR.MINOR.PATCH[-pre][+incompatible]` (semver, as the module proxy serves it).
fn is_exact_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let rest = rest.strip_suffix("+incompatible").unwrap_or(rest);
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let nums: Vec<&str> = core.split('.').collect();
    let num_ok = |n: &&str| {
        !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && (n.len() == 1 || !n.starts_with('0'))
    };
    nums.len() == 3
        && nums.iter().all(num_ok)
        && pre.is_none_or(|p| {
            !p.is_empty()
                && p.split('.').all(|e| {
                    !e.is_empty() && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        })
}

/// `h1:` + 44 characters of standard base64 (a sha256).
fn is_h1(h: &str) -> bool {
    h.strip_prefix("h1:").is_some_and(|b| {
        b.len() == 44
            && b.ends_with('=')
            && b[..43]
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
    })
}

/// The message for an image that is not pinned by digest (the container executor refuses it).
pub fn unpinned_image_message(image: &str) -> String {
    let name = image.split('@').next().unwrap_or(image);
    format!(
        "[build]: image: '{image}' is not pinned by digest, so the container executor refuses it: write NAME[:TAG]@sha256:<64 hex> (get it with `docker pull {name} && docker image inspect --format '{{{{index .RepoDigests 0}}}}' {name}`) or a local image id sha256:<64 hex>, or build on the host with --executor host"
    )
}

/// `NAME[:TAG]@sha256:<64 hex>` or a local image id `sha256:<64 hex>`.
pub fn image_is_pinned(image: &str) -> bool {
    let digest = match image.rsplit_once('@') {
        Some((name, d)) if !name.is_empty() => d,
        Some(_) => return false,
        None => image,
    };
    digest
        .strip_prefix("sha256:")
        .is_some_and(|h| is_hex(h, 64))
}

fn validate_build(b: RawBuild, source: &Source) -> std::result::Result<Build, String> {
    if let Some(image) = &b.image {
        check_text(image).map_err(|m| format!("image: {m}"))?;
    }
    for d in &b.deps {
        check_name(d).map_err(|m| format!("deps: {m}"))?;
    }
    for (what, map) in [
        ("needs.pkg_config", &b.needs.pkg_config),
        ("needs.commands", &b.needs.commands),
    ] {
        for (k, v) in map {
            check_text(k).map_err(|m| format!("{what}: {m}"))?;
            if k.contains(['/', ' ']) {
                return Err(format!("{what}: '{k}' must be a plain name"));
            }
            check_text(v).map_err(|m| format!("{what}: {k}: {m}"))?;
        }
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
        let go_build = matches!(
            source,
            Source::Go(_)
                | Source::Git {
                    go_main: Some(_),
                    ..
                }
        );
        if go_build && RESERVED_GO_ENV.contains(&k.as_str()) {
            return Err(format!(
                "env: {k} is set by the builder for Go-module sources (the dependencies come from the cache) and cannot be overridden"
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
        deps: b.deps,
        needs: b.needs,
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

/// The recipe folder cannot be listed: said as such, with the flag that sets it (once: the OS
/// error is quoted, not chained).
fn folder_error(dir: &Path, e: &std::io::Error) -> Error {
    let reason = match e.kind() {
        std::io::ErrorKind::NotFound => "no such folder".to_string(),
        std::io::ErrorKind::NotADirectory => "not a folder".to_string(),
        _ => e.to_string(),
    };
    Error::Selection(format!(
        "recipe folder {}: {reason}; point --recipes at the repository's recipes/ folder",
        dir.display()
    ))
}

/// Reads every `*.toml` of `dir`, sorted by name. Fails on an unreadable or empty folder, on
/// the first invalid recipe and on duplicate names.
pub fn load_dir(dir: &Path) -> Result<Vec<Recipe>> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| folder_error(dir, &e))?;
    for entry in entries {
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
    check_deps(&recipes)?;
    Ok(recipes)
}

/// Every `[build] deps` entry names a recipe, and no recipe depends on itself through others.
pub fn check_deps(recipes: &[Recipe]) -> Result<()> {
    let by_name: BTreeMap<&str, &Recipe> = recipes.iter().map(|r| (r.name.as_str(), r)).collect();
    for r in recipes {
        for d in &r.build.deps {
            if !by_name.contains_key(d.as_str()) {
                return Err(Error::Recipe {
                    file: r.file.clone(),
                    msg: format!(
                        "[build]: deps: no recipe is named '{d}' (add recipes/{d}.toml or fix the name)"
                    ),
                });
            }
        }
    }
    // Depth-first search for a cycle.
    fn visit<'a>(
        name: &'a str,
        by_name: &BTreeMap<&'a str, &'a Recipe>,
        state: &mut BTreeMap<&'a str, bool>,
        path: &mut Vec<&'a str>,
    ) -> std::result::Result<(), Vec<&'a str>> {
        match state.get(name) {
            Some(true) => return Ok(()),
            Some(false) => {
                let start = path.iter().position(|n| *n == name).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(name);
                return Err(cycle);
            }
            None => {}
        }
        state.insert(name, false);
        path.push(name);
        for d in &by_name[name].build.deps {
            visit(d, by_name, state, path)?;
        }
        path.pop();
        state.insert(name, true);
        Ok(())
    }
    let mut state = BTreeMap::new();
    for r in recipes {
        if let Err(cycle) = visit(&r.name, &by_name, &mut state, &mut Vec::new()) {
            return Err(Error::Recipe {
                file: r.file.clone(),
                msg: format!("[build]: deps form a cycle: {}", cycle.join(" -> ")),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// newcomer review L12: `--recipes /nonexistent` gave a bare OS error, then the same as its
    /// cause.
    #[test]
    fn a_missing_recipe_folder_is_named_as_such() {
        let e = load_dir(Path::new("/nonexistent")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "recipe folder /nonexistent: no such folder; point --recipes at the repository's \
             recipes/ folder"
        );
        assert!(std::error::Error::source(&e).is_none(), "{e:?}");
        let f = tempfile::NamedTempFile::new().unwrap();
        let e = load_dir(f.path()).unwrap_err().to_string();
        assert!(
            e.ends_with("not a folder; point --recipes at the repository's recipes/ folder"),
            "{e}"
        );
    }

    const REV: &str = "0123456789abcdef0123456789abcdef01234567";
    const DIGEST: &str = "0000000000000000000000000000000000000000000000000000000000000001";
    const H1: &str = "h1:CVasdhSH2FwnE4g3XiiryKpDypJWee5GAn1PJtnKfGQ=";

    fn go_recipe(source: &str) -> String {
        format!(
            "name = \"containerd\"\nversion = \"v2\"\nlicense = \"MIT\"\n[source]\n{source}\n[build]\nscript = \"true\"\n"
        )
    }

    #[test]
    fn go_sources() {
        let r = parse(&go_recipe(&format!(
            "go = \"github.com/containerd/containerd/v2\"\nversion = \"v2.4.2\"\nh1 = \"{H1}\"\ncommit = \"{REV}\""
        )))
        .unwrap();
        let Source::Go(g) = &r.source else {
            panic!("go source")
        };
        assert_eq!(g.module, "github.com/containerd/containerd/v2");
        assert_eq!(g.main, GoMain::Own);
        assert_eq!(g.commit.as_deref(), Some(REV));
        let files = parse(&go_recipe(&format!(
            "go = \"k8s.io/kubernetes\"\nversion = \"v1.37.2\"\nh1 = \"{H1}\"\n[source.main]\ngo_mod = \"kubernetes.go.mod\"\ngo_sum = \"kubernetes.go.sum\""
        )))
        .unwrap();
        let Source::Go(g) = &files.source else {
            panic!()
        };
        assert!(
            matches!(&g.main, GoMain::Files { go_mod_path, .. } if go_mod_path == Path::new("recipes/kubernetes.go.mod"))
        );
        let vendor = parse(&go_recipe(&format!(
            "go = \"github.com/docker/cli\"\nversion = \"v29.10.0+incompatible\"\nh1 = \"{H1}\"\n[source.main]\ngo_mod_from = \"vendor.mod\"\ngo_sum_from = \"vendor.sum\""
        )))
        .unwrap();
        assert!(
            matches!(&vendor.source, Source::Go(g) if matches!(g.main, GoMain::InModule { .. }))
        );

        for (src, want) in [
            (
                format!("go = \"example.test/x\"\nh1 = \"{H1}\""),
                "[source]: version is required with go",
            ),
            (
                "go = \"example.test/x\"\nversion = \"v1.0.0\"".to_string(),
                "[source]: h1 is required with go",
            ),
            (
                "go = \"example.test/x\"\nversion = \"v1.0.0\"\nh1 = \"h1:short=\"".to_string(),
                "[source]: h1 must be 'h1:' followed by 44 base64 characters",
            ),
            (
                format!("go = \"example.test/x\"\nversion = \"latest\"\nh1 = \"{H1}\""),
                "[source]: version must be an exact module version",
            ),
            (
                format!("go = \"nodot/x\"\nversion = \"v1.0.0\"\nh1 = \"{H1}\""),
                "[source]: go: 'nodot/x' is not a Go module path",
            ),
            (
                format!(
                    "go = \"example.test/x\"\nversion = \"v1.0.0\"\nh1 = \"{H1}\"\ncommit = \"abc\""
                ),
                "[source]: commit must be the full 40-hex commit",
            ),
            (
                format!(
                    "go = \"example.test/x\"\nversion = \"v1.0.0\"\nh1 = \"{H1}\"\nrev = \"{REV}\""
                ),
                "[source]: rev is only valid with git",
            ),
            (
                format!(
                    "go = \"example.test/x\"\nversion = \"v1.0.0\"\nh1 = \"{H1}\"\n[source.main]\ngo_mod = \"x.go.mod\""
                ),
                "[source]: [source.main]: give go_mod and go_sum",
            ),
            (
                format!("path = \".\"\nh1 = \"{H1}\""),
                "[source]: h1 is only valid with go",
            ),
            (
                "path = \".\"\n[source.main]\ngo_mod_from = \"go.mod\"\ngo_sum_from = \"go.sum\""
                    .to_string(),
                "[source]: [source.main] is only valid with go or git",
            ),
        ] {
            let e = err(&go_recipe(&src));
            assert!(e.contains(want), "{src}: {e}");
        }
        // Go sources reserve the module-fetching variables.
        let text = go_recipe(&format!(
            "go = \"example.test/x\"\nversion = \"v1.0.0\"\nh1 = \"{H1}\""
        ))
        .replace("script = ", "env = { GOPROXY = \"direct\" }\nscript = ");
        assert!(
            err(&text)
                .contains("[build]: env: GOPROXY is set by the builder for Go-module sources")
        );
    }

    #[test]
    fn a_git_tree_can_be_a_go_main_module() {
        let text = good().replace(
            "[build]",
            "[source.main]\ngo_mod_from = \"go.mod\"\ngo_sum_from = \"go.sum\"\n\n[build]",
        );
        let r = parse(&text).unwrap();
        assert!(matches!(
            r.source,
            Source::Git {
                go_main: Some(GoMain::InModule { .. }),
                ..
            }
        ));
        let reserved = text.replace("GOFLAGS", "GOPROXY");
        assert!(
            err(&reserved).contains("env: GOPROXY is set by the builder for Go-module sources")
        );
    }

    #[test]
    fn versions_and_digests() {
        for v in [
            "v1.2.3",
            "v0.0.0-20240101000000-0123456789ab",
            "v29.10.0+incompatible",
            "v2.0.0-beta.22",
        ] {
            assert!(is_exact_version(v), "{v}");
        }
        for v in ["1.2.3", "v1.2", "v01.2.3", "latest", "v1.2.3-", "master"] {
            assert!(!is_exact_version(v), "{v}");
        }
        assert!(image_is_pinned(&format!("golang:1.26@sha256:{DIGEST}")));
        assert!(image_is_pinned(&format!("sha256:{DIGEST}")));
        assert!(!image_is_pinned("golang:1.26-bookworm"));
        assert!(!image_is_pinned("golang@sha256:abc"));
        let e = unpinned_image_message("golang:1.24-bookworm");
        assert!(
            e.contains("[build]: image: 'golang:1.24-bookworm' is not pinned by digest"),
            "{e}"
        );
        assert!(
            e.contains(
                "docker image inspect --format '{{index .RepoDigests 0}}' golang:1.24-bookworm"
            ),
            "{e}"
        );
    }

    #[test]
    fn deps_needs_and_ship() {
        let text = good().replace(
            "outputs = [",
            "deps = [\"libslirp\"]\nneeds.pkg_config = { libseccomp = \"libseccomp-dev\" }\noutputs = [",
        );
        let text = text.replace("license = ", "ship = false\nlicense = ");
        let r = parse(&text).unwrap();
        assert_eq!(r.build.deps, ["libslirp"]);
        assert_eq!(r.build.needs.pkg_config["libseccomp"], "libseccomp-dev");
        assert_eq!(r.ship, Some(false));
        let own = good().replace("outputs = [", "deps = [\"containerd\"]\noutputs = [");
        assert!(err(&own).contains("cannot depend on itself"));
        assert!(
            err(&good().replace("GOFLAGS", "DEPS")).contains("env: DEPS is set by the builder")
        );
    }

    #[test]
    fn dependency_cycles_are_refused() {
        let t = tempfile::tempdir().unwrap();
        for (n, d) in [("a", "b"), ("b", "a")] {
            std::fs::write(
                t.path().join(format!("{n}.toml")),
                format!("name = \"{n}\"\nversion = \"1\"\nlicense = \"MIT\"\n[source]\npath = \".\"\n[build]\ndeps = [\"{d}\"]\nscript = \"true\"\n"),
            )
            .unwrap();
        }
        let e = load_dir(t.path()).unwrap_err().to_string();
        assert!(e.contains("deps form a cycle: a -> b -> a"), "{e}");
    }

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
image = "golang:1.24-bookworm@sha256:{DIGEST}"
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
                tag: Some("v2.1.4".into()),
                go_main: None,
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
            "recipes/containerd.toml: [source]: give exactly one of git, url, path, go (found git and url)"
        );
        let none = good()
            .replace(
                "git = \"https://github.com/containerd/containerd.git\"\n",
                "",
            )
            .replace(&format!("rev = \"{REV}\"\n"), "")
            .replace("tag = \"v2.1.4\"\n", "");
        assert!(
            err(&none).contains("[source]: give exactly one of git, url, path, go (found none)")
        );
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
