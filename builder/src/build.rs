//! One component's build: run its script through an executor, check the declared outputs,
//! and record the result in the build cache.
//!
//! A build happens in `build/<key>.tmp-*/` (`out/` = `$OUT`, `home/`, `licenses/`, `build.log`)
//! and is renamed to `build/<key>/` with a `done` marker only when the script succeeded and
//! every declared output exists; a build with a `done` marker is reused as it is. A failed
//! build leaves only its log, at `build/<key>/build.log`, and the error shows its last lines.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cache::Cache;
use crate::error::{Error, IoContext, Result};
use crate::executor::{Executor, RunSpec};
use crate::recipe::Recipe;

/// Lines of the log shown when a build fails.
pub const LOG_TAIL_LINES: usize = 30;

/// The marker of a finished build.
const DONE: &str = "done";

/// A finished build in the cache.
#[derive(Debug, Clone)]
pub struct Built {
    /// `build/<key>/`
    pub dir: PathBuf,
}

impl Built {
    pub fn out(&self) -> PathBuf {
        self.dir.join("out")
    }
    pub fn licenses(&self) -> PathBuf {
        self.dir.join("licenses")
    }
    pub fn log(&self) -> PathBuf {
        self.dir.join("build.log")
    }
}

/// The cached build for `key`, if it finished.
pub fn lookup(cache: &Cache, key: &str) -> Option<Built> {
    let dir = cache.build_dir(key);
    dir.join(DONE).is_file().then_some(Built { dir })
}

/// What a build needs besides the recipe.
pub struct BuildInput<'a> {
    pub recipe: &'a Recipe,
    pub key: &'a str,
    pub executor: &'a Executor,
    /// The prepared source tree.
    pub src: &'a Path,
    pub source_date_epoch: i64,
    pub jobs: usize,
    pub offline: bool,
    /// For Go-module sources: the cache's GOMODCACHE and the GOTOOLCHAIN setting.
    pub go: Option<(PathBuf, String)>,
    /// Built dependencies: (recipe name, its `out/` folder), given as `$DEPS/<name>`.
    pub deps: Vec<(String, PathBuf)>,
}

/// The variables Go-module builds and dependency folders add, for the executor (pure).
pub fn extra_env(
    exec: &Executor,
    input_go: Option<&(PathBuf, String)>,
    recipe_goflags: Option<&str>,
    deps_dir: Option<&Path>,
) -> Vec<(String, String)> {
    let container = !matches!(exec, Executor::Host);
    let mut env = Vec::new();
    if let Some((gomodcache, toolchain)) = input_go {
        let (dir, tc) = if container {
            (crate::executor::CONTAINER_GOMOD.to_string(), "local")
        } else {
            (gomodcache.display().to_string(), toolchain.as_str())
        };
        env.extend(crate::gomod::build_env(&dir, tc, recipe_goflags));
    }
    if let Some(d) = deps_dir {
        let v = if container {
            crate::executor::CONTAINER_DEPS.to_string()
        } else {
            d.display().to_string()
        };
        env.push(("DEPS".to_string(), v));
    }
    env
}

/// Runs the build and stores it under `build/<key>/`.
pub fn run(cache: &Cache, input: &BuildInput) -> Result<Built> {
    let recipe = input.recipe;
    let builds = cache.root().join("build");
    let tmp = tempfile::Builder::new()
        .prefix(&format!("{}.tmp-", input.key))
        .tempdir_in(&builds)
        .at(&builds)?;
    let out = tmp.path().join("out");
    let home = tmp.path().join("home");
    let licenses = tmp.path().join("licenses");
    for d in [&out, &home, &licenses] {
        fs::create_dir_all(d).at(d)?;
    }
    copy_licenses(recipe, input.src, &licenses)?;

    let log = tmp.path().join("build.log");
    let mut env = vec![
        ("VERSION".to_string(), recipe.version.clone()),
        ("JOBS".to_string(), input.jobs.to_string()),
        (
            "SOURCE_DATE_EPOCH".to_string(),
            input.source_date_epoch.to_string(),
        ),
    ];
    let is_go = input.go.is_some();
    env.extend(
        recipe
            .build
            .env
            .iter()
            .filter(|(k, _)| !(is_go && k.as_str() == "GOFLAGS"))
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    // Dependencies: a folder of links (host) or one read-only mount each (container).
    let mut mounts = Vec::new();
    let deps_dir = if input.deps.is_empty() {
        None
    } else {
        let d = tmp.path().join("deps");
        fs::create_dir_all(&d).at(&d)?;
        for (name, out) in &input.deps {
            std::os::unix::fs::symlink(out, d.join(name)).at(d.join(name))?;
            mounts.push((
                out.clone(),
                format!("{}/{name}", crate::executor::CONTAINER_DEPS),
            ));
        }
        Some(d)
    };
    if let Some((gomodcache, _)) = &input.go {
        mounts.push((
            gomodcache.clone(),
            crate::executor::CONTAINER_GOMOD.to_string(),
        ));
    }
    env.extend(extra_env(
        input.executor,
        input.go.as_ref(),
        recipe.build.env.get("GOFLAGS").map(String::as_str),
        deps_dir.as_deref(),
    ));
    if *input.executor == Executor::Host {
        crate::needs::check(recipe)?;
    }
    {
        let mut f = fs::File::create(&log).at(&log)?;
        writeln!(
            f,
            "# u7s-build: {} {} key {} executor {}{}",
            recipe.name,
            recipe.version,
            input.key,
            input.executor.kind(),
            input
                .executor
                .image()
                .map(|i| format!(" image {i}"))
                .unwrap_or_default()
        )
        .at(&log)?;
    }
    let spec = RunSpec {
        component: recipe.name.clone(),
        script: recipe.build.script.clone(),
        src: input.src.to_path_buf(),
        out: out.clone(),
        home: home.clone(),
        env,
        mounts,
        offline: input.offline,
        container_name: format!(
            "u7s-build-{}-{}-{}",
            recipe.name.replace(['.', '_'], "-"),
            &input.key[..12.min(input.key.len())],
            std::process::id()
        ),
    };
    let failure = crate::executor::run(input.executor, &spec, &log)?;
    let final_dir = cache.build_dir(input.key);
    if let Some(status) = failure {
        let kept = keep_log(&log, &final_dir)?;
        return Err(Error::BuildFailed {
            component: recipe.name.clone(),
            status,
            tail: tail(&kept, LOG_TAIL_LINES),
            log: kept,
        });
    }
    for o in &recipe.build.outputs {
        if fs::symlink_metadata(out.join(o)).is_err() {
            let kept = keep_log(&log, &final_dir)?;
            return Err(Error::MissingOutput {
                component: recipe.name.clone(),
                output: o.clone(),
                log: kept,
            });
        }
    }
    crate::fsutil::remove_tree(&home)?;
    if let Some(d) = &deps_dir {
        crate::fsutil::remove_tree(d)?;
    }
    let done = tmp.path().join(DONE);
    fs::write(&done, format!("{}\n", input.key)).at(&done)?;
    if final_dir.exists() {
        crate::fsutil::remove_tree(&final_dir)?;
    }
    let tmp_path = tmp.keep();
    fs::rename(&tmp_path, &final_dir).at(&final_dir)?;
    Ok(Built { dir: final_dir })
}

/// Copies the recipe's licence files from the source tree into `dest`, keeping their paths.
fn copy_licenses(recipe: &Recipe, src: &Path, dest: &Path) -> Result<()> {
    for name in &recipe.license_files {
        let from = src.join(name);
        if !from.is_file() {
            return Err(Error::MissingLicense {
                file: recipe.file.clone(),
                component: recipe.name.clone(),
                name: name.clone(),
            });
        }
        let to = dest.join(name);
        if let Some(p) = to.parent() {
            fs::create_dir_all(p).at(p)?;
        }
        fs::copy(&from, &to).at(&to)?;
    }
    Ok(())
}

/// Moves a failed build's log to `<final_dir>/build.log` (replacing an older one).
fn keep_log(log: &Path, final_dir: &Path) -> Result<PathBuf> {
    if final_dir.exists() {
        crate::fsutil::remove_tree(final_dir)?;
    }
    fs::create_dir_all(final_dir).at(final_dir)?;
    let kept = final_dir.join("build.log");
    fs::rename(log, &kept)
        .or_else(|_| fs::copy(log, &kept).map(|_| ()))
        .at(&kept)?;
    Ok(kept)
}

/// The last `n` lines of a file (lossy UTF-8).
pub fn tail(path: &Path, n: usize) -> String {
    let data = fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&data);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_and_deps_variables_follow_the_executor() {
        let go = (PathBuf::from("/c/gomod"), "go1.27.3".to_string());
        let host = extra_env(
            &Executor::Host,
            Some(&go),
            Some("-trimpath"),
            Some(Path::new("/t/deps")),
        );
        let get = |env: &[(String, String)], k: &str| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        };
        assert_eq!(get(&host, "GOMODCACHE").as_deref(), Some("/c/gomod"));
        assert_eq!(get(&host, "GOTOOLCHAIN").as_deref(), Some("go1.27.3"));
        assert_eq!(
            get(&host, "GOFLAGS").as_deref(),
            Some("-mod=readonly -trimpath")
        );
        assert_eq!(get(&host, "GOPROXY").as_deref(), Some("off"));
        assert_eq!(get(&host, "DEPS").as_deref(), Some("/t/deps"));
        let container = Executor::Container {
            engine: crate::executor::Engine::Docker,
            image: "i".into(),
            rootless: true,
        };
        let c = extra_env(&container, Some(&go), None, Some(Path::new("/t/deps")));
        assert_eq!(get(&c, "GOMODCACHE").as_deref(), Some("/u7s/gomod"));
        assert_eq!(
            get(&c, "GOTOOLCHAIN").as_deref(),
            Some("local"),
            "the image's Go"
        );
        assert_eq!(get(&c, "DEPS").as_deref(), Some("/u7s/deps"));
        assert!(extra_env(&Executor::Host, None, None, None).is_empty());
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("log");
        let text: String = (1..=40).map(|i| format!("line {i}\n")).collect();
        fs::write(&p, text).unwrap();
        let tl = tail(&p, 30);
        assert!(tl.starts_with("line 11\n"));
        assert!(tl.ends_with("line 40"));
        assert_eq!(tl.lines().count(), 30);
    }
}
