//! Go-module sources (`[source] go = MODULE, version, h1, commit`): fetching the module and
//! every dependency into the cache's GOMODCACHE with the `go` command, checking the pins, and
//! the environment Go builds run with.
//!
//! Fetch ([`ensure`]):
//! 1. `go mod download -json MODULE@VERSION` (online, go checks the zip against the checksum
//!    database); go's `Sum` must equal the recipe's `h1`, the proxy's `Origin.Hash` the
//!    recipe's `commit`, and the h1 recomputed here from the zip ([`crate::dirhash`]) too.
//! 2. The main module's go.mod/go.sum (the module's own, files beside the recipe, or files
//!    inside the module) are checked: same module path, no local-path `replace`, a `go` line
//!    the toolchain satisfies.
//! 3. `go mod download -json` in a folder holding only that go.mod and go.sum downloads every
//!    dependency; each must already have its line in go.sum (a line go had to add, or a module
//!    whose hash go.sum lacks, stops the fetch), and go itself refuses a hash that differs.
//!    A marker `gomod/cache/u7s-verified/<sha256>` then lets later runs skip this step.
//!
//! A git source with `[source.main]` is a main module as well: [`ensure_main`] does steps 2
//! and 3 for its go.mod and go.sum (read from the pinned commit, or beside the recipe).
//!
//! Builds of Go-module recipes get `GOMODCACHE` (the cache's), `GOPROXY=off`, `GOWORK=off`,
//! `GOFLAGS=-mod=readonly …` (so every module must be in go.sum and in the cache),
//! `GOTOOLCHAIN` ([`toolchain_setting`]); `GOCACHE` stays Go's default. The go module cache's own design (temporary names, `.partial` files,
//! `.ziphash`) keeps it consistent when a download is cut.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::cache::Cache;
use crate::error::{Error, IoContext, Result};
use crate::mirror::{Mirror, NetPolicy};
use crate::progress::Progress;
use crate::recipe::{GoMain, GoSource};

/// The folder under `--mirror` that serves Go modules (GOPROXY layout).
pub const MIRROR_SUBDIR: &str = "go";

/// One Go-module source of a recipe.
#[derive(Debug, Clone, Copy)]
pub struct GoPin<'a> {
    pub component: &'a str,
    /// The recipe file (messages about its fields).
    pub file: &'a Path,
    pub src: &'a GoSource,
}

/// A fetched and verified Go-module source.
#[derive(Debug, Clone)]
pub struct GoFetched {
    /// The verified module zip in the cache.
    pub zip: PathBuf,
    /// The main module's go.mod and go.sum.
    pub go_mod: Vec<u8>,
    pub go_sum: Vec<u8>,
    /// The version's time from the proxy (`.info` `Time`), seconds since 1970.
    pub time: Option<i64>,
    /// Whether the module zip was downloaded by this run.
    pub transferred: bool,
}

impl GoFetched {
    /// sha256 over go.mod and go.sum: part of the pin (the dependencies).
    pub fn main_sha256(&self) -> String {
        main_sha256(&self.go_mod, &self.go_sum)
    }
}

/// sha256 over a go.mod and a go.sum (the pin of the dependencies).
pub fn main_sha256(go_mod: &[u8], go_sum: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(format!("go.mod {}\n", go_mod.len()));
    h.update(go_mod);
    h.update(format!("go.sum {}\n", go_sum.len()));
    h.update(go_sum);
    hex::encode(h.finalize())
}

/// `GOTOOLCHAIN` for every go run: `goX.Y.Z` when the environment selects one (a `+auto` or
/// `+path` suffix dropped), `local` otherwise (never an automatic switch).
pub fn toolchain_setting(env: Option<&str>) -> String {
    let v = env.unwrap_or("").trim();
    let base = v.split('+').next().unwrap_or("");
    if base.starts_with("go1") {
        base.to_string()
    } else {
        "local".to_string()
    }
}

fn toolchain_from_env() -> String {
    toolchain_setting(std::env::var("GOTOOLCHAIN").ok().as_deref())
}

/// `GOPROXY` and whether the checksum database is to be skipped, for a policy. Offline, the
/// checksum database stays as configured: nothing is looked up for modules go.sum covers, and
/// a toolchain selected by GOTOOLCHAIN is verified from the cached database tiles (go refuses
/// a toolchain with GOSUMDB=off). With a mirror it is off: the pinned module is checked by its
/// h1 (and commit) here, its dependencies by go.sum.
pub fn proxy_setting(policy: &NetPolicy) -> (Option<String>, bool) {
    match (&policy.mirror, policy.offline) {
        // A folder mirror needs no network, so `--offline` may use it.
        (Some(Mirror::Dir(d)), _) => {
            let abs = crate::fsutil::absolute(d).join(MIRROR_SUBDIR);
            (Some(format!("file://{}", abs.display())), true)
        }
        (_, true) => (Some("off".into()), false),
        (Some(Mirror::Url(u)), false) => (Some(format!("{u}/{MIRROR_SUBDIR}")), true),
        (None, false) => (None, false),
    }
}

/// The environment of go when fetching (pure): our GOMODCACHE, writable module files, no
/// workspace, the toolchain setting, and the proxy/sumdb of the policy (inherited when online
/// without a mirror).
pub fn fetch_env(gomodcache: &Path, policy: &NetPolicy, toolchain: &str) -> Vec<(String, String)> {
    let mut env = vec![
        ("GOMODCACHE".into(), gomodcache.display().to_string()),
        ("GOFLAGS".into(), "-mod=readonly -modcacherw".into()),
        ("GOWORK".into(), "off".into()),
        ("GOTOOLCHAIN".into(), toolchain.to_string()),
        ("GO111MODULE".into(), "on".into()),
    ];
    let (proxy, no_sumdb) = proxy_setting(policy);
    if let Some(p) = proxy {
        env.push(("GOPROXY".into(), p));
    }
    if no_sumdb {
        env.push(("GOSUMDB".into(), "off".into()));
    }
    env
}

/// The environment a Go-module recipe's script runs with (pure). `recipe_goflags` (the recipe's
/// own `GOFLAGS`) is appended after `-mod=readonly`.
pub fn build_env(
    gomodcache: &str,
    toolchain: &str,
    recipe_goflags: Option<&str>,
) -> Vec<(String, String)> {
    let mut flags = "-mod=readonly".to_string();
    if let Some(f) = recipe_goflags.filter(|f| !f.trim().is_empty()) {
        flags.push(' ');
        flags.push_str(f.trim());
    }
    vec![
        ("GOMODCACHE".into(), gomodcache.to_string()),
        ("GOPROXY".into(), "off".into()),
        ("GOPRIVATE".into(), String::new()),
        ("GOWORK".into(), "off".into()),
        ("GOFLAGS".into(), flags),
        ("GOTOOLCHAIN".into(), toolchain.to_string()),
        ("GO111MODULE".into(), "on".into()),
    ]
}

/// The toolchain of this run, probed once: (`GOTOOLCHAIN` setting, `go env GOVERSION`).
pub struct Toolchain {
    setting: String,
    version: OnceLock<std::result::Result<String, String>>,
}

impl Default for Toolchain {
    fn default() -> Self {
        Toolchain::new(toolchain_from_env())
    }
}

impl Toolchain {
    pub fn new(setting: String) -> Toolchain {
        Toolchain {
            setting,
            version: OnceLock::new(),
        }
    }

    pub fn setting(&self) -> &str {
        &self.setting
    }

    /// `go env GOVERSION` under the setting (a selected toolchain is fetched through the
    /// proxy into the cache, or must be there when offline).
    pub fn version(
        &self,
        gomodcache: &Path,
        policy: &NetPolicy,
    ) -> std::result::Result<&str, String> {
        self.version
            .get_or_init(|| {
                let out = crate::forklock::output(
                    Command::new("go")
                        .args(["env", "GOVERSION"])
                        .envs(fetch_env(gomodcache, policy, &self.setting))
                        .stdin(Stdio::null()),
                )
                .map_err(|e| {
                        format!(
                            "cannot run `go` ({e}): install Go (https://go.dev/dl/, or Debian's golang-go when it is new enough) and put it on PATH"
                        )
                    })?;
                if !out.status.success() {
                    return Err(format!(
                        "`go env GOVERSION` with GOTOOLCHAIN={} failed: {}",
                        self.setting,
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                }
                let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
                // A devel toolchain prints "devel go1.x-…"; keep the goX part.
                Ok(v.split_whitespace()
                    .find(|w| w.starts_with("go"))
                    .unwrap_or(&v)
                    .to_string())
            })
            .as_ref()
            .map(String::as_str)
            .map_err(Clone::clone)
    }
}

/// A Go version as numbers: `go1.26.8`, `1.26`, `1.27rc2`, `1.21.0` -> (major, minor, patch,
/// release flag, pre-release number); a release sorts after its pre-releases.
pub fn parse_go_version(v: &str) -> Option<(u32, u32, u32, u32, u32)> {
    let v = v.trim().strip_prefix("go").unwrap_or(v.trim());
    let (nums, pre) = match v.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&v[..i], Some(&v[i..])),
        None => (v, None),
    };
    let mut parts = nums.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().unwrap_or(Some(0))?;
    let patch = parts.next().unwrap_or(Some(0))?;
    if parts.next().is_some() {
        return None;
    }
    let (release, pre_n) = match pre {
        None => (1, 0),
        Some(p) => {
            let n = p.trim_start_matches(|c: char| c.is_ascii_alphabetic());
            (0, n.parse().unwrap_or(0))
        }
    };
    Some((major, minor, patch, release, pre_n))
}

/// What the builder needs to know of a go.mod file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoModInfo {
    pub module: Option<String>,
    pub go: Option<String>,
    pub toolchain: Option<String>,
    /// `replace` directives whose target is a local path: (module, path).
    pub local_replaces: Vec<(String, String)>,
}

fn unquote(s: &str) -> String {
    s.trim().trim_matches('"').trim_matches('`').to_string()
}

/// Reads the directives the builder checks from a go.mod text (pure).
pub fn parse_go_mod(text: &str) -> GoModInfo {
    let mut info = GoModInfo::default();
    let mut block: Option<String> = None;
    for raw in text.lines() {
        let line = raw.split("//").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (verb, rest) = match &block {
            Some(v) => {
                if line == ")" {
                    block = None;
                    continue;
                }
                (v.clone(), line.to_string())
            }
            None => {
                let (v, r) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
                let r = r.trim();
                if r == "(" {
                    block = Some(v.to_string());
                    continue;
                }
                (v.to_string(), r.to_string())
            }
        };
        match verb.as_str() {
            "module" => info.module = Some(unquote(&rest)),
            "go" => info.go = Some(unquote(&rest)),
            "toolchain" => info.toolchain = Some(unquote(&rest)),
            "replace" => {
                if let Some((from, to)) = rest.split_once("=>") {
                    let from = unquote(from.split_whitespace().next().unwrap_or(""));
                    let to: Vec<&str> = to.split_whitespace().collect();
                    if to.len() == 1 {
                        let target = unquote(to[0]);
                        if target.starts_with("./")
                            || target.starts_with("../")
                            || target.starts_with('/')
                            || target == "."
                            || target == ".."
                        {
                            info.local_replaces.push((from, target));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    info
}

/// go.sum lines as (module, version-or-version/go.mod, hash).
pub fn parse_go_sum(text: &str) -> BTreeSet<(String, String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((
                it.next()?.to_string(),
                it.next()?.to_string(),
                it.next()?.to_string(),
            ))
        })
        .collect()
}

/// A module path or version as the cache and proxies spell it: each upper-case letter becomes
/// `!` + its lower case.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `<gomodcache>/cache/download/<module>/@v/<version>.<ext>`.
pub fn download_file(gomodcache: &Path, module: &str, version: &str, ext: &str) -> PathBuf {
    gomodcache
        .join("cache/download")
        .join(escape(module))
        .join("@v")
        .join(format!("{}.{ext}", escape(version)))
}

/// `2024-09-11T08:18:58Z` (or with a numeric offset / fraction) as seconds since 1970.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_once(['T', 't'])?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, dd) = (d.next()??, d.next()??, d.next()??);
    let (clock, offset) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let i = time.rfind(['+', '-'])?;
        let (c, o) = time.split_at(i);
        let sign = if o.starts_with('-') { -1 } else { 1 };
        let (oh, om) = o[1..].split_once(':')?;
        (
            c,
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60),
        )
    };
    let clock = clock.split('.').next()?;
    let mut c = clock.split(':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (c.next()??, c.next()??, c.next()??);
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss - offset)
}

/// One object of `go mod download -json`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Download {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub version: String,
    pub error: Option<String>,
    pub info: Option<String>,
    pub zip: Option<String>,
    pub sum: Option<String>,
    pub go_mod_sum: Option<String>,
    pub origin: Option<Origin>,
}

/// The VCS origin a proxy records for a version.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Origin {
    #[serde(rename = "VCS")]
    pub vcs: Option<String>,
    #[serde(rename = "URL")]
    pub url: Option<String>,
    pub hash: Option<String>,
    #[serde(rename = "Ref")]
    pub git_ref: Option<String>,
}

/// Parses the concatenated JSON objects go prints.
pub fn parse_downloads(stdout: &[u8]) -> std::result::Result<Vec<Download>, String> {
    serde_json::Deserializer::from_slice(stdout)
        .into_iter::<Download>()
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| format!("unreadable `go mod download -json` output: {e}"))
}

/// Runs go with the fetch environment in `dir`; returns (success, stdout, stderr).
fn run_go(dir: &Path, args: &[&str], env: &[(String, String)]) -> Result<(bool, Vec<u8>, String)> {
    let out = crate::forklock::output(
        Command::new("go")
            .args(args)
            .current_dir(dir)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null()),
    )
    .map_err(|e| {
            Error::GoMissing(format!(
                "cannot run `go` ({e}): install Go (https://go.dev/dl/, or Debian's golang-go when it is new enough) and put it on PATH"
            ))
        })?;
    Ok((
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    ))
}

/// Whether a go error message means "not available without the network".
fn is_offline_miss(msg: &str) -> bool {
    msg.contains("GOPROXY=off") || msg.contains("module lookup disabled")
}

/// `(needed, found)` from go's "requires go >= 1.99.0 (running go 1.26.8; GOTOOLCHAIN=local)".
pub fn too_old(msg: &str) -> Option<(String, String)> {
    let (_, rest) = msg.split_once("requires go >= ")?;
    let needed = rest
        .split(|c: char| c.is_whitespace() || c == ')')
        .next()?
        .to_string();
    let (_, run) = rest.split_once("(running go ")?;
    let found = run.split([';', ')', ' ']).next()?;
    Some((needed, format!("go{found}")))
}

/// Maps a failed download of `what` to the error people should see.
fn download_error(component: &str, policy: &NetPolicy, what: &str, msg: &str) -> Error {
    if crate::cancel::requested() {
        return Error::Cancelled;
    }
    if policy.offline && is_offline_miss(msg) {
        return Error::NotCached {
            component: component.to_string(),
            what: format!("Go module {what}"),
        };
    }
    if let Some((needed, found)) = too_old(msg) {
        return Error::GoTooOld {
            component: component.to_string(),
            needed,
            found,
            setting: toolchain_from_env(),
        };
    }
    if msg.contains("checksum mismatch") || msg.contains("SECURITY ERROR") {
        return Error::GoSum {
            component: component.to_string(),
            msg: format!(
                "{what}: {}\n(the download differs from go.sum, the pin of every dependency: if go.sum is right, the proxy serves altered code: do not build it; if upstream really re-published, check the new code, then regenerate go.sum with `go mod tidy` and pin it)",
                msg.trim_end()
            ),
        };
    }
    Error::GoDownload {
        component: component.to_string(),
        what: what.to_string(),
        msg: msg.to_string(),
    }
}

/// Makes the module and its dependencies present and verified in the cache.
pub fn ensure(
    cache: &Cache,
    pin: &GoPin,
    policy: &NetPolicy,
    toolchain: &Toolchain,
    progress: &Progress,
) -> Result<GoFetched> {
    let src = pin.src;
    let gomodcache = cache.gomod_dir();
    fs::create_dir_all(&gomodcache).at(&gomodcache)?;
    let lock = cache.entry_lock(&download_file(
        &gomodcache,
        &src.module,
        &src.version,
        "zip",
    ));
    let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
    crate::cancel::check()?;
    let env = fetch_env(&gomodcache, policy, toolchain.setting());
    let what = format!("{}@{}", src.module, src.version);
    let zip_path = download_file(&gomodcache, &src.module, &src.version, "zip");
    let had_zip = zip_path.is_file();

    // 1. The module itself.
    let work = cache.temp_dir("go-")?;
    let (ok, stdout, stderr) = run_go(work.path(), &["mod", "download", "-json", &what], &env)?;
    let d = parse_downloads(&stdout)
        .ok()
        .and_then(|mut v| v.pop())
        .unwrap_or_default();
    if !ok || d.error.is_some() {
        let msg = d.error.clone().unwrap_or(stderr);
        return Err(download_error(pin.component, policy, &what, &msg));
    }
    let found = d.sum.clone().unwrap_or_default();
    if found != src.h1 {
        return Err(Error::H1Mismatch {
            component: pin.component.to_string(),
            module: what,
            expected: src.h1.clone(),
            found,
        });
    }
    let recorded = d.origin.as_ref().and_then(|o| o.hash.clone());
    match (&src.commit, &recorded) {
        (Some(want), Some(got)) if want != got => {
            return Err(Error::OriginMismatch {
                component: pin.component.to_string(),
                module: what,
                expected: want.clone(),
                found: got.clone(),
                git_ref: d
                    .origin
                    .as_ref()
                    .and_then(|o| o.git_ref.clone())
                    .unwrap_or_else(|| "-".into()),
            });
        }
        (None, Some(got)) => {
            return Err(Error::Recipe {
                file: pin.file.to_path_buf(),
                msg: format!(
                    "[source]: the proxy records commit {got} for {what} (Origin.Hash): add commit = \"{got}\" to the pin"
                ),
            });
        }
        (Some(want), None) => progress.log(
            pin.component,
            &format!(
                "the proxy records no Origin for {what}: commit {want} is not checked here (h1 is)"
            ),
        ),
        _ => {}
    }
    let zip = d.zip.map(PathBuf::from).unwrap_or(zip_path);
    let ours = crate::dirhash::hash_zip(&zip).map_err(|e| Error::GoDownload {
        component: pin.component.to_string(),
        what: what.clone(),
        msg: format!("{}: {e}", zip.display()),
    })?;
    if ours != src.h1 {
        return Err(Error::H1Mismatch {
            component: pin.component.to_string(),
            module: format!("{what} (cached zip {})", zip.display()),
            expected: src.h1.clone(),
            found: ours,
        });
    }
    let time = d
        .info
        .as_deref()
        .and_then(|p| fs::read(p).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| {
            v.get("Time")
                .and_then(|t| t.as_str())
                .and_then(parse_rfc3339)
        });

    // 2. and 3. The main module and the dependencies.
    let (go_mod, go_sum) = main_files(pin, &zip)?;
    let main = MainModule {
        component: pin.component,
        file: pin.file,
        label: what.clone(),
        origin_of_mod: origin_of_mod(&src.main, &what),
        expect_module: (!matches!(src.main, GoMain::Own)).then_some(src.module.as_str()),
        go_mod: &go_mod,
        go_sum: &go_sum,
    };
    ensure_main(cache, &main, policy, toolchain, progress)?;
    Ok(GoFetched {
        zip,
        go_mod,
        go_sum,
        time,
        transferred: !had_zip,
    })
}

/// The main module of a Go build: its go.mod and go.sum, and what errors name.
#[derive(Debug, Clone)]
pub struct MainModule<'a> {
    pub component: &'a str,
    /// The recipe file.
    pub file: &'a Path,
    /// The source, e.g. `example.test/app@v1.0.0` or `git <url> @ <rev>`.
    pub label: String,
    /// Where the go.mod comes from, for messages.
    pub origin_of_mod: String,
    /// The module path the go.mod must declare, when it replaces the source's own.
    pub expect_module: Option<&'a str>,
    pub go_mod: &'a [u8],
    pub go_sum: &'a [u8],
}

/// Checks a main module (module path, no local-path replace, `go` line vs the toolchain) and
/// makes every dependency present and go.sum-verified in the cache.
pub fn ensure_main(
    cache: &Cache,
    main: &MainModule,
    policy: &NetPolicy,
    toolchain: &Toolchain,
    progress: &Progress,
) -> Result<()> {
    let gomodcache = cache.gomod_dir();
    fs::create_dir_all(&gomodcache).at(&gomodcache)?;
    let info = parse_go_mod(&String::from_utf8_lossy(main.go_mod));
    let origin_of_mod = &main.origin_of_mod;
    if let Some(want) = main.expect_module
        && info.module.as_deref() != Some(want)
    {
        return Err(Error::Recipe {
            file: main.file.to_path_buf(),
            msg: format!(
                "{origin_of_mod} declares module {}, but the source is {want}: the main module must keep the module's path",
                info.module.as_deref().unwrap_or("(none)"),
            ),
        });
    }
    if let Some((from, to)) = info.local_replaces.first() {
        return Err(Error::Recipe {
            file: main.file.to_path_buf(),
            msg: format!(
                "{origin_of_mod} replaces {from} with the local path {to}, which the source does not hold: give the main module's go.mod and go.sum in [source.main] with `{from} => {from} <version>` instead"
            ),
        });
    }
    check_go_version(main.component, &info, toolchain, &gomodcache, policy)?;
    let marker = gomodcache
        .join("cache/u7s-verified")
        .join(main_sha256(main.go_mod, main.go_sum));
    if !still_verified(&marker, &gomodcache) {
        let task = progress.task(
            main.component,
            "go deps",
            "go mod download (go.sum-verified)",
        );
        let env = fetch_env(&gomodcache, policy, toolchain.setting());
        let work = cache.temp_dir("go-")?;
        let modules = fetch_deps(main, policy, &env, work.path())?;
        if let Some(p) = marker.parent() {
            fs::create_dir_all(p).at(p)?;
        }
        crate::fsutil::write_atomic(&marker, modules.as_bytes(), 0o600)?;
        task.finish(&format!("{} module(s) verified", modules.lines().count()));
    }
    Ok(())
}

/// Reads an entry `MODULE@VERSION/<rel>` of the module zip.
fn zip_entry(zip: &Path, prefix: &str, rel: &str) -> Result<Option<Vec<u8>>> {
    let file = fs::File::open(zip).at(zip)?;
    let mut z = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| Error::io(zip, std::io::Error::other(e)))?;
    let name = format!("{prefix}/{rel}");
    let mut entry = match z.by_name(&name) {
        Ok(e) => e,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(Error::io(zip, std::io::Error::other(e))),
    };
    let mut data = Vec::new();
    entry.read_to_end(&mut data).at(zip)?;
    Ok(Some(data))
}

fn zip_prefix(src: &GoSource) -> String {
    format!("{}@{}", src.module, src.version)
}

/// The main module's go.mod and go.sum bytes.
fn main_files(pin: &GoPin, zip: &Path) -> Result<(Vec<u8>, Vec<u8>)> {
    let src = pin.src;
    let prefix = zip_prefix(src);
    let missing_in_module = |rel: &str, field: &str| Error::Recipe {
        file: pin.file.to_path_buf(),
        msg: format!(
            "[source.main]: {field} '{rel}' is not in {}@{}",
            src.module, src.version
        ),
    };
    match &src.main {
        GoMain::Own => {
            let go_mod = zip_entry(zip, &prefix, "go.mod")?
                .unwrap_or_else(|| format!("module {}\n", src.module).into_bytes());
            let go_sum = zip_entry(zip, &prefix, "go.sum")?.unwrap_or_default();
            Ok((go_mod, go_sum))
        }
        GoMain::InModule { go_mod, go_sum } => Ok((
            zip_entry(zip, &prefix, go_mod)?
                .ok_or_else(|| missing_in_module(go_mod, "go_mod_from"))?,
            zip_entry(zip, &prefix, go_sum)?
                .ok_or_else(|| missing_in_module(go_sum, "go_sum_from"))?,
        )),
        GoMain::Files { .. } => Ok(files_beside(pin.file, &src.main)?.expect("files")),
    }
}

/// The go.mod and go.sum given beside the recipe (`GoMain::Files`), `None` for other kinds.
pub fn files_beside(recipe_file: &Path, main: &GoMain) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
    let GoMain::Files {
        go_mod,
        go_sum,
        go_mod_path,
        go_sum_path,
    } = main
    else {
        return Ok(None);
    };
    let read = |p: &Path, field: &str, rel: &str| {
        fs::read(p).map_err(|e| Error::Recipe {
            file: recipe_file.to_path_buf(),
            msg: format!("[source.main]: {field} '{rel}' ({}): {e}", p.display()),
        })
    };
    Ok(Some((
        read(go_mod_path, "go_mod", go_mod)?,
        read(go_sum_path, "go_sum", go_sum)?,
    )))
}

/// How messages name where a main module's go.mod comes from.
pub fn origin_of_mod(main: &GoMain, own: &str) -> String {
    match main {
        GoMain::Own => format!("the go.mod of {own}"),
        GoMain::Files { go_mod, .. } => format!("[source.main] go_mod '{go_mod}'"),
        GoMain::InModule { go_mod, .. } => format!("[source.main] go_mod_from '{go_mod}'"),
    }
}

fn check_go_version(
    component: &str,
    info: &GoModInfo,
    toolchain: &Toolchain,
    gomodcache: &Path,
    policy: &NetPolicy,
) -> Result<()> {
    let Some(needed) = info.go.as_deref() else {
        return Ok(());
    };
    let found = toolchain
        .version(gomodcache, policy)
        .map_err(|msg| Error::GoTooOld {
            component: component.to_string(),
            needed: needed.to_string(),
            found: msg,
            setting: toolchain.setting().to_string(),
        })?;
    let (Some(n), Some(f)) = (parse_go_version(needed), parse_go_version(found)) else {
        return Ok(());
    };
    if f < n {
        return Err(Error::GoTooOld {
            component: component.to_string(),
            needed: needed.to_string(),
            found: found.to_string(),
            setting: toolchain.setting().to_string(),
        });
    }
    Ok(())
}

/// Whether a marker of verified dependencies exists and every module it lists is still in the
/// cache (so a module removed from the cache is fetched again, or named when offline).
fn still_verified(marker: &Path, gomodcache: &Path) -> bool {
    let Ok(text) = fs::read_to_string(marker) else {
        return false;
    };
    text.lines().all(|l| match l.split_once(' ') {
        Some((m, v)) => download_file(gomodcache, m, v, "zip").is_file(),
        None => false,
    })
}

/// Downloads every dependency of the main module and checks each against go.sum; returns the
/// modules as `path version` lines.
fn fetch_deps(
    main: &MainModule,
    policy: &NetPolicy,
    env: &[(String, String)],
    work: &Path,
) -> Result<String> {
    let (go_mod, go_sum) = (main.go_mod, main.go_sum);
    let dir = work.join("main");
    fs::create_dir_all(&dir).at(&dir)?;
    fs::write(dir.join("go.mod"), go_mod).at(dir.join("go.mod"))?;
    fs::write(dir.join("go.sum"), go_sum).at(dir.join("go.sum"))?;
    let (ok, stdout, stderr) = run_go(&dir, &["mod", "download", "-json"], env)?;
    let downloads = parse_downloads(&stdout).unwrap_or_default();
    if let Some(d) = downloads.iter().find(|d| d.error.is_some()) {
        let what = format!("{}@{}", d.path, d.version);
        return Err(download_error(
            main.component,
            policy,
            &what,
            d.error.as_deref().unwrap_or(""),
        ));
    }
    if !ok {
        let what = format!("the dependencies of {}", main.label);
        return Err(download_error(main.component, policy, &what, &stderr));
    }
    let before = parse_go_sum(&String::from_utf8_lossy(go_sum));
    let after_text = fs::read_to_string(dir.join("go.sum")).unwrap_or_default();
    let added: Vec<String> = parse_go_sum(&after_text)
        .difference(&before)
        .map(|(m, v, h)| format!("{m} {v} {h}"))
        .collect();
    let missing: Vec<String> = downloads
        .iter()
        .filter(|d| {
            d.sum
                .as_ref()
                .is_some_and(|s| !before.contains(&(d.path.clone(), d.version.clone(), s.clone())))
        })
        .map(|d| {
            format!(
                "{} {} {}",
                d.path,
                d.version,
                d.sum.as_deref().unwrap_or("")
            )
        })
        .collect();
    let mut lacking: Vec<String> = added;
    for m in missing {
        if !lacking.contains(&m) {
            lacking.push(m);
        }
    }
    if !lacking.is_empty() {
        return Err(Error::GoSum {
            component: main.component.to_string(),
            msg: format!(
                "go.sum lacks {} line(s) go needs, e.g. `{}`: regenerate the main module's go.sum (`go mod tidy`) and pin it",
                lacking.len(),
                lacking[0]
            ),
        });
    }
    Ok(downloads
        .iter()
        .map(|d| format!("{} {}\n", d.path, d.version))
        .collect())
}

/// Unpacks the verified module zip as the source tree `dest` (created; files writable, 0644:
/// module zips keep no modes), then puts the main module's go.mod and go.sum in place.
pub fn unpack(pin: &GoPin, fetched: &GoFetched, dest: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let prefix = format!("{}/", zip_prefix(pin.src));
    let file = fs::File::open(&fetched.zip).at(&fetched.zip)?;
    let mut z = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| Error::io(&fetched.zip, std::io::Error::other(e)))?;
    fs::create_dir_all(dest).at(dest)?;
    for i in 0..z.len() {
        crate::cancel::check()?;
        let mut entry = z
            .by_index(i)
            .map_err(|e| Error::io(&fetched.zip, std::io::Error::other(e)))?;
        let name = entry.name().to_string();
        let unsafe_entry = |reason: &str| Error::Unpack {
            archive: fetched.zip.clone(),
            entry: name.clone(),
            reason: reason.to_string(),
        };
        let rel = name
            .strip_prefix(&prefix)
            .ok_or_else(|| unsafe_entry("outside the module's folder"))?;
        if rel.is_empty() || name.ends_with('/') {
            continue;
        }
        if rel
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
            || rel.starts_with('/')
        {
            return Err(unsafe_entry("not a plain relative path"));
        }
        let target = dest.join(rel);
        if let Some(p) = target.parent() {
            fs::create_dir_all(p).at(p)?;
        }
        let mut out = fs::File::create(&target).at(&target)?;
        std::io::copy(&mut entry, &mut out).at(&target)?;
        fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).at(&target)?;
    }
    if !matches!(pin.src.main, GoMain::Own) {
        fs::write(dest.join("go.mod"), &fetched.go_mod).at(dest.join("go.mod"))?;
        fs::write(dest.join("go.sum"), &fetched.go_sum).at(dest.join("go.sum"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toolchain_settings() {
        assert_eq!(toolchain_setting(None), "local");
        assert_eq!(toolchain_setting(Some("")), "local");
        assert_eq!(toolchain_setting(Some("auto")), "local");
        assert_eq!(toolchain_setting(Some("local")), "local");
        assert_eq!(toolchain_setting(Some("go1.27.3")), "go1.27.3");
        assert_eq!(toolchain_setting(Some("go1.27.3+auto")), "go1.27.3");
        assert_eq!(toolchain_setting(Some("path")), "local");
    }

    #[test]
    fn versions_compare() {
        let v = |s| parse_go_version(s).unwrap();
        assert!(v("go1.26.8") > v("1.26"));
        assert!(v("go1.26.8") > v("1.26.0"));
        assert!(v("go1.26.8") < v("1.27"));
        assert!(v("1.27rc2") < v("1.27.0"));
        assert!(v("1.27rc2") > v("1.27rc1"));
        assert!(v("go1.26.8") >= v("1.26.8"));
        assert_eq!(parse_go_version("banana"), None);
    }

    #[test]
    fn go_mod_directives() {
        let text = r#"module k8s.io/kubernetes // comment

go 1.26.0

godebug default=go1.26
toolchain go1.26.5

require (
	k8s.io/api v0.0.0
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/apimachinery => k8s.io/apimachinery v0.37.2
)
replace go.etcd.io/etcd/api/v3 => ../api
"#;
        let i = parse_go_mod(text);
        assert_eq!(i.module.as_deref(), Some("k8s.io/kubernetes"));
        assert_eq!(i.go.as_deref(), Some("1.26.0"));
        assert_eq!(i.toolchain.as_deref(), Some("go1.26.5"));
        assert_eq!(
            i.local_replaces,
            [
                (
                    "k8s.io/api".to_string(),
                    "./staging/src/k8s.io/api".to_string()
                ),
                ("go.etcd.io/etcd/api/v3".to_string(), "../api".to_string())
            ]
        );
        assert_eq!(
            parse_go_mod("module \"rsc.io/quote\"\n").module.as_deref(),
            Some("rsc.io/quote")
        );
    }

    #[test]
    fn escaping_and_paths() {
        assert_eq!(
            escape("github.com/Mirantis/cri-dockerd"),
            "github.com/!mirantis/cri-dockerd"
        );
        assert_eq!(
            download_file(
                Path::new("/c"),
                "github.com/BurntSushi/toml",
                "v1.0.0",
                "zip"
            ),
            Path::new("/c/cache/download/github.com/!burnt!sushi/toml/@v/v1.0.0.zip")
        );
    }

    #[test]
    fn too_old_messages() {
        assert_eq!(
            too_old(
                "example.test/future@v1.0.0 requires go >= 1.99.0 (running go 1.26.8; GOTOOLCHAIN=local)"
            ),
            Some(("1.99.0".to_string(), "go1.26.8".to_string()))
        );
        assert_eq!(too_old("unexpected EOF"), None);
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-09-11T08:18:58Z"), Some(1_726_042_738));
        assert_eq!(
            parse_rfc3339("2024-09-11T10:18:58.5+02:00"),
            Some(1_726_042_738)
        );
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_rfc3339("nope"), None);
    }

    #[test]
    fn envs() {
        let off = NetPolicy {
            offline: true,
            mirror: None,
        };
        let e = fetch_env(Path::new("/c/gomod"), &off, "local");
        assert!(e.contains(&("GOPROXY".into(), "off".into())));
        assert!(
            !e.iter().any(|(k, _)| k == "GOSUMDB"),
            "a toolchain needs the database"
        );
        let m = NetPolicy {
            offline: false,
            mirror: Some(Mirror::Dir("/srv/m".into())),
        };
        let e = fetch_env(Path::new("/c/gomod"), &m, "go1.27.3");
        assert!(e.contains(&("GOPROXY".into(), "file:///srv/m/go".into())));
        assert!(e.contains(&("GOSUMDB".into(), "off".into())));
        assert!(e.contains(&("GOTOOLCHAIN".into(), "go1.27.3".into())));
        let both = NetPolicy {
            offline: true,
            mirror: Some(Mirror::Dir("/srv/m".into())),
        };
        let e = fetch_env(Path::new("/c/gomod"), &both, "local");
        assert!(
            e.contains(&("GOPROXY".into(), "file:///srv/m/go".into())),
            "--offline may use a folder mirror"
        );
        let online = fetch_env(Path::new("/c"), &NetPolicy::default(), "local");
        assert!(!online.iter().any(|(k, _)| k == "GOPROXY" || k == "GOSUMDB"));
        let b = build_env("/c/gomod", "local", Some("-trimpath"));
        assert!(b.contains(&("GOFLAGS".into(), "-mod=readonly -trimpath".into())));
        assert!(b.contains(&("GOPROXY".into(), "off".into())));
    }

    #[test]
    fn download_json_stream() {
        let out = br#"{"Path":"a.test/x","Version":"v1.0.0","Sum":"h1:x"}
{"Path":"a.test/y","Version":"v1.0.0","Error":"boom","Origin":{"VCS":"git","Hash":"abc","Ref":"refs/tags/v1.0.0"}}"#;
        let d = parse_downloads(out).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].sum.as_deref(), Some("h1:x"));
        assert_eq!(d[1].error.as_deref(), Some("boom"));
        assert_eq!(d[1].origin.as_ref().unwrap().hash.as_deref(), Some("abc"));
    }
}
