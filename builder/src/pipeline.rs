//! The commands of `u7s-build`, end to end: `fetch`, `patch`, `build`, `release`, `list`.
//! Each loads and selects the recipes, then runs the stages it needs: fetch (parallel), prepare
//! (checkout or unpack, patch), build (parallel up to `--jobs`, cached by key), stage, pack.

use std::fs;
use std::path::{Path, PathBuf};

use crate::build::{self, Built};
use crate::cache::Cache;
use crate::error::{Error, IoContext, Result};
use crate::executor::{Executor, ExecutorChoice, Resolver};
use crate::fetch_git::{self, GitPin};
use crate::fetch_url::{self, FilePin};
use crate::gomod::{self, GoFetched, GoPin, Toolchain};
use crate::mirror::NetPolicy;
use crate::patch::{self, PatchFile};
use crate::plan;
use crate::progress::Progress;
use crate::recipe::{self, Recipe, Source, file_name_of_url};
use crate::summary::{Artifact, ComponentSummary, Summary};

/// Everything the commands take from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub recipes_dir: PathBuf,
    pub patches_dir: PathBuf,
    /// The `release/` payload; `None` for none.
    pub payload_dir: Option<PathBuf>,
    pub out_dir: PathBuf,
    pub only: Vec<String>,
    pub cache_dir: PathBuf,
    pub policy: NetPolicy,
    pub executor: ExecutorChoice,
    pub jobs: usize,
    pub release_version: String,
    /// `SOURCE_DATE_EPOCH` from the environment.
    pub epoch_override: Option<i64>,
}

/// A selected recipe with its patch series.
#[derive(Debug, Clone)]
struct Component {
    recipe: Recipe,
    patches: Vec<PatchFile>,
    /// Author dates of the patches.
    patch_dates: Vec<i64>,
}

/// A component whose source is in the cache.
#[derive(Debug, Clone)]
struct Fetched {
    comp: Component,
    /// The pin as it enters the cache key.
    pin: String,
    /// Dates that set the component's SOURCE_DATE_EPOCH.
    dates: Vec<i64>,
    transferred: bool,
    /// The cached file (url sources).
    dist: Option<PathBuf>,
    /// The resolved folder (path sources).
    local: Option<PathBuf>,
    /// The verified module and main go.mod/go.sum (Go-module sources).
    go: Option<GoFetched>,
    /// A git tree that is a Go main module: its go.mod and go.sum (dependencies verified).
    git_go_main: Option<(Vec<u8>, Vec<u8>)>,
}

impl Fetched {
    fn epoch(&self, opts: &Options) -> i64 {
        plan::component_epoch(opts.epoch_override, &self.dates)
    }
}

fn git_pin(r: &Recipe) -> Option<GitPin<'_>> {
    match &r.source {
        Source::Git { url, rev, tag, .. } => Some(GitPin {
            component: &r.name,
            file: &r.file,
            url,
            rev,
            tag: tag.as_deref(),
        }),
        _ => None,
    }
}

fn go_pin(r: &Recipe) -> Option<GoPin<'_>> {
    match &r.source {
        Source::Go(src) => Some(GoPin {
            component: &r.name,
            file: &r.file,
            src,
        }),
        _ => None,
    }
}

fn file_pin(r: &Recipe) -> Option<FilePin<'_>> {
    match &r.source {
        Source::Url { url, sha256 } => Some(FilePin {
            component: &r.name,
            url,
            sha256,
            file_name: file_name_of_url(url).unwrap_or("source"),
        }),
        _ => None,
    }
}

/// Loads, selects and attaches patch series; fails early on unreadable patches.
fn load(opts: &Options) -> Result<Vec<Component>> {
    let recipes = plan::select(recipe::load_dir(&opts.recipes_dir)?, &opts.only)?;
    let mut out = Vec::new();
    for r in recipes {
        let patches = patch::list_series(&opts.patches_dir, &r.name)?;
        if !patches.is_empty() && !matches!(r.source, Source::Git { .. }) {
            return Err(Error::Recipe {
                file: r.file.clone(),
                msg: format!(
                    "[source]: {} holds patches, but patches apply to git sources only",
                    opts.patches_dir.join(&r.name).display()
                ),
            });
        }
        let mut patch_dates = Vec::new();
        for p in &patches {
            let data = fs::read(&p.path).at(&p.path)?;
            let mails = patch::parse_mbox(&data).map_err(|msg| Error::PatchParse {
                file: p.path.clone(),
                msg,
            })?;
            patch_dates.extend(mails.iter().map(|m| m.time));
        }
        out.push(Component {
            recipe: r,
            patches,
            patch_dates,
        });
    }
    Ok(out)
}

fn open_cache(opts: &Options, progress: &Progress) -> Result<Cache> {
    Cache::open(&opts.cache_dir, |root| {
        progress.log(
            "",
            &format!(
                "waiting for another u7s-build that uses the cache {}",
                root.display()
            ),
        )
    })
}

/// Collects the first real error of a parallel stage (a `Cancelled` only when nothing else).
fn first_error<T>(results: Vec<Result<T>>) -> Result<Vec<T>> {
    let mut ok = Vec::new();
    let mut cancelled = false;
    let mut first = None;
    for r in results {
        match r {
            Ok(v) => ok.push(v),
            Err(Error::Cancelled) => cancelled = true,
            Err(e) => {
                if first.is_none() {
                    first = Some(e);
                }
            }
        }
    }
    match (first, cancelled) {
        (Some(e), _) => Err(e),
        (None, true) => Err(Error::Cancelled),
        (None, false) => Ok(ok),
    }
}

fn fetch_one(
    cache: &Cache,
    comp: &Component,
    opts: &Options,
    toolchain: &Toolchain,
    progress: &Progress,
) -> Result<Fetched> {
    let r = &comp.recipe;
    let mut fetched = Fetched {
        comp: comp.clone(),
        pin: String::new(),
        dates: Vec::new(),
        transferred: false,
        dist: None,
        local: None,
        go: None,
        git_go_main: None,
    };
    match &r.source {
        Source::Git {
            url,
            rev,
            tag,
            go_main,
        } => {
            let pin = git_pin(r).expect("git");
            let task = progress.task(&r.name, "fetch", &r.source.describe());
            fetched.transferred = fetch_git::ensure(cache, &pin, &opts.policy, progress)?;
            task.finish(if fetched.transferred {
                "fetched"
            } else {
                "cached"
            });
            fetched.dates.push(fetch_git::commit_time(cache, &pin)?);
            fetched.dates.extend(&comp.patch_dates);
            fetched.pin = format!("git {url} {rev} {}", tag.as_deref().unwrap_or("-"));
            if let Some(main) = go_main {
                let (go_mod, go_sum) = git_go_main(cache, &pin, main)?;
                let label = format!("git {url} @ {rev}");
                let tree_mod = fetch_git::read_file(cache, &pin, "go.mod")?
                    .map(|m| gomod::parse_go_mod(&String::from_utf8_lossy(&m)).module);
                let expect = match main {
                    recipe::GoMain::Files { .. } => tree_mod.flatten(),
                    _ => None,
                };
                gomod::ensure_main(
                    cache,
                    &gomod::MainModule {
                        component: &r.name,
                        file: &r.file,
                        origin_of_mod: gomod::origin_of_mod(main, &label),
                        label,
                        expect_module: expect.as_deref(),
                        go_mod: &go_mod,
                        go_sum: &go_sum,
                    },
                    &opts.policy,
                    toolchain,
                    progress,
                )?;
                fetched.pin.push_str(&format!(
                    " go main {} toolchain {}",
                    gomod::main_sha256(&go_mod, &go_sum),
                    toolchain.setting()
                ));
                fetched.git_go_main = Some((go_mod, go_sum));
            }
        }
        Source::Url { sha256, .. } => {
            let pin = file_pin(r).expect("url");
            let task = progress.task(&r.name, "fetch", &r.source.describe());
            let (path, transferred) = fetch_url::ensure(cache, &pin, &opts.policy, progress)?;
            task.finish(if transferred { "downloaded" } else { "cached" });
            fetched.transferred = transferred;
            fetched.dist = Some(path);
            fetched.pin = format!("url {} {sha256}", pin.file_name);
        }
        Source::Path { path, resolved } => {
            let dir = fs::canonicalize(resolved).map_err(|e| Error::Recipe {
                file: r.file.clone(),
                msg: format!("[source]: path '{path}' ({}): {e}", resolved.display()),
            })?;
            if !dir.is_dir() {
                return Err(Error::Recipe {
                    file: r.file.clone(),
                    msg: format!("[source]: path '{path}' is not a folder"),
                });
            }
            let filter = source_filter(&dir, opts);
            fetched.pin = format!("path {}", crate::fsutil::hash_tree(&dir, &filter)?);
            fetched.local = Some(dir);
        }
        Source::Go(src) => {
            let pin = go_pin(r).expect("go");
            let task = progress.task(&r.name, "fetch", &r.source.describe());
            let g = gomod::ensure(cache, &pin, &opts.policy, toolchain, progress)?;
            task.finish(if g.transferred {
                "downloaded"
            } else {
                "cached"
            });
            fetched.transferred = g.transferred;
            fetched.dates.extend(g.time);
            fetched.pin = format!(
                "go {} {} {} {} main {} toolchain {}",
                src.module,
                src.version,
                src.h1,
                src.commit.as_deref().unwrap_or("-"),
                g.main_sha256(),
                toolchain.setting()
            );
            fetched.go = Some(g);
        }
    }
    Ok(fetched)
}

/// The go.mod and go.sum of a git tree that is a Go main module.
fn git_go_main(cache: &Cache, pin: &GitPin, main: &recipe::GoMain) -> Result<(Vec<u8>, Vec<u8>)> {
    if let Some(files) = gomod::files_beside(pin.file, main)? {
        return Ok(files);
    }
    let (go_mod, go_sum) = match main {
        recipe::GoMain::InModule { go_mod, go_sum } => (go_mod.as_str(), go_sum.as_str()),
        _ => ("go.mod", "go.sum"),
    };
    let read = |rel: &str, field: &str| -> Result<Vec<u8>> {
        fetch_git::read_file(cache, pin, rel)?.ok_or_else(|| Error::Recipe {
            file: pin.file.to_path_buf(),
            msg: format!(
                "[source.main]: {field} '{rel}' is not in {} at {}",
                pin.url, pin.rev
            ),
        })
    };
    Ok((read(go_mod, "go_mod_from")?, read(go_sum, "go_sum_from")?))
}

/// What a local path source leaves out: besides git-ignored files, the builder's own cache and
/// output files, which may sit inside it (`--out .` at the repository root is the default).
fn source_filter(dir: &Path, opts: &Options) -> crate::fsutil::SourceFilter {
    use bundle::manifest::{ARCHIVE_NAME, CHECKSUMS_NAME};
    crate::fsutil::SourceFilter::new(
        dir,
        &[
            opts.cache_dir.clone(),
            opts.out_dir.join(ARCHIVE_NAME),
            opts.out_dir.join(CHECKSUMS_NAME),
        ],
    )
}

fn fetch_all(
    cache: &Cache,
    comps: &[Component],
    opts: &Options,
    progress: &Progress,
) -> Result<Vec<Fetched>> {
    // Fetches are mostly waiting on the network: allow a few more than --jobs.
    let jobs = opts.jobs.max(4);
    let toolchain = Toolchain::default();
    first_error(plan::run_parallel(comps, jobs, |c| {
        fetch_one(cache, c, opts, &toolchain, progress)
    }))
}

/// Writes the component's prepared source tree (checkout + patches, or unpacked file, or copy)
/// into `dest`, which must not exist. Returns the patched HEAD for git sources.
fn prepare_source(
    cache: &Cache,
    f: &Fetched,
    dest: &Path,
    opts: &Options,
    progress: &Progress,
) -> Result<Option<String>> {
    let r = &f.comp.recipe;
    // Builds run the scripts of this tree: no process starts while it is being written.
    let _writing = crate::forklock::writing();
    match &r.source {
        Source::Git { .. } => {
            let pin = git_pin(r).expect("git");
            let task = progress.task(&r.name, "checkout", &r.source.describe());
            let repo = fetch_git::export(cache, &pin, dest)?;
            task.finish("done");
            let mut head = pin.rev.to_string();
            if !f.comp.patches.is_empty() {
                let task = progress.task(
                    &r.name,
                    "patch",
                    &format!("{} patch file(s)", f.comp.patches.len()),
                );
                head = patch::apply_series(&repo, &f.comp.patches)?.to_string();
                task.finish(&format!(
                    "applied {} patch file(s), HEAD {head}",
                    f.comp.patches.len()
                ));
            }
            // A go.mod/go.sum given beside the recipe replaces the tree's.
            if matches!(
                &r.source,
                Source::Git {
                    go_main: Some(recipe::GoMain::Files { .. }),
                    ..
                }
            ) && let Some((go_mod, go_sum)) = &f.git_go_main
            {
                fs::write(dest.join("go.mod"), go_mod).at(dest.join("go.mod"))?;
                fs::write(dest.join("go.sum"), go_sum).at(dest.join("go.sum"))?;
            }
            Ok(Some(head))
        }
        Source::Url { .. } => {
            let pin = file_pin(r).expect("url");
            let dist = f.dist.as_ref().expect("fetched url source has its file");
            crate::unpack::prepare(dist, pin.file_name, dest)?;
            Ok(None)
        }
        Source::Path { .. } => {
            let dir = f
                .local
                .as_ref()
                .expect("fetched path source has its folder");
            crate::fsutil::copy_tree(dir, dest, Some(&source_filter(dir, opts)))?;
            Ok(None)
        }
        Source::Go(_) => {
            let pin = go_pin(r).expect("go");
            let g = f.go.as_ref().expect("fetched go source has its module");
            let task = progress.task(&r.name, "unpack", &r.source.describe());
            gomod::unpack(&pin, g, dest)?;
            task.finish("done");
            Ok(None)
        }
    }
}

fn manifest_source(r: &Recipe) -> bundle::manifest::Source {
    match &r.source {
        Source::Git { url, rev, tag, .. } => bundle::manifest::Source::Git {
            url: url.clone(),
            rev: rev.clone(),
            tag: tag.clone(),
        },
        Source::Url { url, sha256 } => bundle::manifest::Source::Url {
            url: url.clone(),
            sha256: sha256.clone(),
        },
        Source::Path { path, .. } => bundle::manifest::Source::Path { path: path.clone() },
        Source::Go(g) => bundle::manifest::Source::Go {
            module: g.module.clone(),
            version: g.version.clone(),
            h1: g.h1.clone(),
            commit: g.commit.clone(),
        },
    }
}

fn patch_refs(c: &Component) -> Vec<bundle::manifest::PatchRef> {
    c.patches
        .iter()
        .map(|p| bundle::manifest::PatchRef {
            file: p.name.clone(),
            sha256: p.sha256.clone(),
        })
        .collect()
}

fn base_summary(c: &Component, source_cached: bool) -> ComponentSummary {
    let r = &c.recipe;
    ComponentSummary {
        name: r.name.clone(),
        version: r.version.clone(),
        license: r.license.clone(),
        recipe: r.file.display().to_string(),
        source: manifest_source(r),
        patches: patch_refs(c),
        source_cached,
        fetched: None,
        source_date_epoch: None,
        executor: None,
        image: None,
        cache_key: None,
        cached: None,
        build_dir: None,
        src_dir: None,
        head: None,
        outputs: r.build.outputs.clone(),
    }
}

/// `u7s-build fetch`: every selected source into the cache.
pub fn fetch(opts: &Options, progress: &Progress) -> Result<Summary> {
    let comps = load(opts)?;
    let cache = open_cache(opts, progress)?;
    let fetched = fetch_all(&cache, &comps, opts, progress)?;
    Ok(Summary {
        command: "fetch".into(),
        version: None,
        source_date_epoch: None,
        archive: None,
        checksums: None,
        components: fetched
            .iter()
            .map(|f| ComponentSummary {
                fetched: Some(f.transferred),
                source_date_epoch: Some(f.epoch(opts)),
                ..base_summary(&f.comp, true)
            })
            .collect(),
    })
}

/// `u7s-build patch`: prepared trees into `<cache>/src/<component>/` for inspection.
pub fn patch(opts: &Options, progress: &Progress) -> Result<Summary> {
    let comps = load(opts)?;
    let cache = open_cache(opts, progress)?;
    let fetched = fetch_all(&cache, &comps, opts, progress)?;
    let results = plan::run_parallel(&fetched, opts.jobs, |f| {
        let name = &f.comp.recipe.name;
        let work = cache.temp_dir(&format!("{name}-"))?;
        let tree = work.path().join("src");
        let head = prepare_source(&cache, f, &tree, opts, progress)?;
        let dest = cache.src_dir(name);
        crate::fsutil::remove_tree(&dest)?;
        fs::rename(&tree, &dest).at(&dest)?;
        progress.log(name, &format!("prepared tree: {}", dest.display()));
        Ok(ComponentSummary {
            fetched: Some(f.transferred),
            source_date_epoch: Some(f.epoch(opts)),
            src_dir: Some(dest.display().to_string()),
            head,
            ..base_summary(&f.comp, true)
        })
    });
    Ok(Summary {
        command: "patch".into(),
        version: None,
        source_date_epoch: None,
        archive: None,
        checksums: None,
        components: first_error(results)?,
    })
}

/// A component ready to build or built.
struct Planned {
    fetched: Fetched,
    executor: Executor,
    key: String,
    epoch: i64,
}

fn resolve_executors(comps: &[Component], opts: &Options) -> Result<Vec<Executor>> {
    let resolver = Resolver::new(opts.executor);
    comps.iter().map(|c| resolver.resolve(&c.recipe)).collect()
}

/// Indexes of each component's dependencies among `fetched`.
fn dep_indexes(fetched: &[Fetched]) -> Vec<Vec<usize>> {
    fetched
        .iter()
        .map(|f| {
            f.comp
                .recipe
                .build
                .deps
                .iter()
                .filter_map(|d| fetched.iter().position(|o| &o.comp.recipe.name == d))
                .collect()
        })
        .collect()
}

fn plan_builds(fetched: Vec<Fetched>, executors: Vec<Executor>, opts: &Options) -> Vec<Planned> {
    let deps = dep_indexes(&fetched);
    let mut keys: Vec<Option<String>> = vec![None; fetched.len()];
    for wave in plan::waves(&deps) {
        for i in wave {
            let f = &fetched[i];
            let executor = &executors[i];
            let mut pin = f.pin.clone();
            for &d in &deps[i] {
                pin.push_str(&format!(
                    " dep {} {}",
                    fetched[d].comp.recipe.name,
                    keys[d].as_deref().unwrap_or("-")
                ));
            }
            keys[i] = Some(plan::cache_key(&plan::KeyInputs {
                name: &f.comp.recipe.name,
                recipe_sha256: &f.comp.recipe.content_sha256,
                pin,
                patches: f
                    .comp
                    .patches
                    .iter()
                    .map(|p| (p.name.as_str(), p.sha256.as_str()))
                    .collect(),
                executor: executor.kind(),
                image: executor.image(),
                source_date_epoch: f.epoch(opts),
            }));
        }
    }
    fetched
        .into_iter()
        .zip(executors)
        .zip(keys)
        .map(|((f, executor), key)| Planned {
            epoch: f.epoch(opts),
            fetched: f,
            executor,
            key: key.expect("every component is in a wave"),
        })
        .collect()
}

fn build_one(
    cache: &Cache,
    p: &Planned,
    deps: Vec<(String, PathBuf)>,
    opts: &Options,
    progress: &Progress,
) -> Result<(Built, bool)> {
    let r = &p.fetched.comp.recipe;
    if let Some(b) = build::lookup(cache, &p.key) {
        progress.log(&r.name, &format!("build: cached ({})", p.key));
        return Ok((b, true));
    }
    let work = cache.temp_dir(&format!("{}-", r.name))?;
    let src = work.path().join("src");
    prepare_source(cache, &p.fetched, &src, opts, progress)?;
    let task = progress.task(
        &r.name,
        "build",
        &format!(
            "{}{}",
            p.executor.kind(),
            p.executor
                .image()
                .map(|i| format!(" {i}"))
                .unwrap_or_default()
        ),
    );
    let built = build::run(
        cache,
        &build::BuildInput {
            recipe: r,
            key: &p.key,
            executor: &p.executor,
            src: &src,
            source_date_epoch: p.epoch,
            jobs: opts.jobs,
            offline: opts.policy.offline,
            go: (p.fetched.go.is_some() || p.fetched.git_go_main.is_some()).then(|| {
                (
                    cache.gomod_dir(),
                    Toolchain::default().setting().to_string(),
                )
            }),
            deps,
        },
    )?;
    task.finish(&format!("done ({})", p.key));
    drop(work);
    Ok((built, false))
}

fn build_summary(p: &Planned, built: &Built, cached: bool) -> ComponentSummary {
    ComponentSummary {
        fetched: Some(p.fetched.transferred),
        source_date_epoch: Some(p.epoch),
        executor: Some(p.executor.kind().to_string()),
        image: p.executor.image().map(str::to_string),
        cache_key: Some(p.key.clone()),
        cached: Some(cached),
        build_dir: Some(built.dir.display().to_string()),
        ..base_summary(&p.fetched.comp, true)
    }
}

/// The cache, the planned components and their builds (with whether each came from the cache).
type BuildOutcome = (Cache, Vec<Planned>, Vec<(Built, bool)>);

fn build_all(opts: &Options, progress: &Progress) -> Result<BuildOutcome> {
    let comps = load(opts)?;
    let executors = resolve_executors(&comps, opts)?;
    let cache = open_cache(opts, progress)?;
    let fetched = fetch_all(&cache, &comps, opts, progress)?;
    let planned = plan_builds(fetched, executors, opts);
    // Dependencies first: wave by wave, each wave in parallel.
    let deps = dep_indexes(
        &planned
            .iter()
            .map(|p| p.fetched.clone())
            .collect::<Vec<_>>(),
    );
    let mut built: Vec<Option<(Built, bool)>> = vec![None; planned.len()];
    for wave in plan::waves(&deps) {
        let items: Vec<(usize, Vec<(String, PathBuf)>)> = wave
            .iter()
            .map(|&i| {
                let inputs = deps[i]
                    .iter()
                    .map(|&d| {
                        let b = built[d].as_ref().expect("dependencies are built first");
                        (planned[d].fetched.comp.recipe.name.clone(), b.0.out())
                    })
                    .collect();
                (i, inputs)
            })
            .collect();
        let results = first_error(plan::run_parallel(&items, opts.jobs, |(i, inputs)| {
            build_one(&cache, &planned[*i], inputs.clone(), opts, progress)
        }))?;
        for ((i, _), r) in items.into_iter().zip(results) {
            built[i] = Some(r);
        }
    }
    let built = built
        .into_iter()
        .map(|b| b.expect("every component is in a wave"))
        .collect();
    Ok((cache, planned, built))
}

/// `u7s-build build`: every selected component into the build cache.
pub fn build(opts: &Options, progress: &Progress) -> Result<Summary> {
    let (_cache, planned, built) = build_all(opts, progress)?;
    Ok(Summary {
        command: "build".into(),
        version: None,
        source_date_epoch: None,
        archive: None,
        checksums: None,
        components: planned
            .iter()
            .zip(&built)
            .map(|(p, (b, cached))| build_summary(p, b, *cached))
            .collect(),
    })
}

/// `u7s-build release`: build, stage, pack; `OUT/usernetes-x86_64.tbz` and `OUT/SHA256SUMS`
/// appear together at the end, or not at all.
pub fn release(opts: &Options, progress: &Progress) -> Result<Summary> {
    use bundle::manifest::{ARCHIVE_NAME, CHECKSUMS_NAME, TOP_DIR};
    if let Some(p) = &opts.payload_dir
        && !p.is_dir()
    {
        return Err(Error::Stage(format!(
            "--payload {}: no such folder",
            p.display()
        )));
    }
    let (cache, planned, built) = build_all(opts, progress)?;
    crate::cancel::check()?;
    let epoch = plan::release_epoch(
        opts.epoch_override,
        &planned.iter().map(|p| p.epoch).collect::<Vec<_>>(),
    );

    let task = progress.task("", "stage", "assembling usernetes/");
    let stage_dir = cache.temp_dir("stage-")?;
    let root = stage_dir.path().join(TOP_DIR);
    fs::create_dir(&root).at(&root)?;
    let recipes: Vec<&Recipe> = planned.iter().map(|p| &p.fetched.comp.recipe).collect();
    let pairs: Vec<(&Recipe, &Built, bool)> = planned
        .iter()
        .zip(&built)
        .map(|(p, (b, _))| {
            let r = &p.fetched.comp.recipe;
            (r, b, plan::ships(r, &recipes))
        })
        .collect();
    crate::stage::assemble(&root, opts.payload_dir.as_deref(), &pairs)?;
    let components = planned
        .iter()
        .map(|p| {
            let r = &p.fetched.comp.recipe;
            bundle::manifest::Component {
                name: r.name.clone(),
                version: r.version.clone(),
                license: r.license.clone(),
                source: manifest_source(r),
                patches: patch_refs(&p.fetched.comp),
            }
        })
        .collect();
    let manifest =
        crate::stage::write_manifest(&root, &opts.release_version, epoch as u64, components)?;
    task.finish(&format!("{} entries", manifest.files.len() + 1));
    crate::cancel::check()?;

    fs::create_dir_all(&opts.out_dir).at(&opts.out_dir)?;
    let out_tmp = tempfile::Builder::new()
        .prefix(".u7s-build-")
        .tempdir_in(&opts.out_dir)
        .at(&opts.out_dir)?;
    let task = progress.task("", "pack", ARCHIVE_NAME);
    let report = bundle::pack::pack_to_file(
        &root,
        &bundle::pack::PackOptions {
            top: TOP_DIR.to_string(),
            mtime: epoch as u64,
            threads: opts.jobs,
        },
        &out_tmp.path().join(ARCHIVE_NAME),
    )?;
    let sums = bundle::checksums::Sha256Sums {
        entries: vec![(report.sha256.clone(), ARCHIVE_NAME.to_string())],
    };
    let sums_tmp = out_tmp.path().join(CHECKSUMS_NAME);
    bundle::pack::write_checksums_file(&sums_tmp, &sums)?;
    crate::cancel::check()?;

    // Publish: never leave a new archive beside an old SHA256SUMS.
    let archive = opts.out_dir.join(ARCHIVE_NAME);
    let checksums = opts.out_dir.join(CHECKSUMS_NAME);
    match fs::remove_file(&checksums) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&checksums, e)),
    }
    fs::rename(out_tmp.path().join(ARCHIVE_NAME), &archive).at(&archive)?;
    fs::rename(&sums_tmp, &checksums).at(&checksums)?;
    task.finish(&format!(
        "{} ({} bytes, sha256 {})",
        archive.display(),
        report.size,
        report.sha256
    ));
    let sums_len = fs::metadata(&checksums).at(&checksums)?.len();

    Ok(Summary {
        command: "release".into(),
        version: Some(opts.release_version.clone()),
        source_date_epoch: Some(epoch),
        archive: Some(Artifact {
            path: archive.display().to_string(),
            sha256: report.sha256.clone(),
            size: report.size,
        }),
        checksums: Some(Artifact {
            path: checksums.display().to_string(),
            sha256: crate::fsutil::sha256_file(&checksums)?,
            size: sums_len,
        }),
        components: planned
            .iter()
            .zip(&built)
            .map(|(p, (b, cached))| build_summary(p, b, *cached))
            .collect(),
    })
}

/// `u7s-build list`: recipes, versions, pins, whether source and build are cached. Reads the
/// cache only; never touches the network.
pub fn list(opts: &Options) -> Result<Summary> {
    let comps = load(opts)?;
    let cache = Cache::open_read_only(&opts.cache_dir);
    let resolver = Resolver::new(opts.executor);
    let toolchain = Toolchain::default();
    let mut rows = Vec::new();
    for c in comps {
        let r = &c.recipe;
        let source_cached = match &r.source {
            Source::Git { .. } => fetch_git::is_cached(&cache, &git_pin(r).expect("git")),
            Source::Url { .. } => fetch_url::is_cached(&cache, &file_pin(r).expect("url")),
            Source::Path { resolved, .. } => resolved.is_dir(),
            Source::Go(g) => {
                gomod::download_file(&cache.gomod_dir(), &g.module, &g.version, "zip").is_file()
            }
        };
        let mut row = base_summary(&c, source_cached);
        // The key needs the pinned commit's date (git) and an executor.
        let offline = Options {
            policy: NetPolicy {
                offline: true,
                mirror: None,
            },
            ..opts.clone()
        };
        if source_cached
            && let Ok(exec) = resolver.resolve(r)
            && let Ok(f) = fetch_one(&cache, &c, &offline, &toolchain, &Progress::plain(true))
        {
            let p = plan_builds(vec![f], vec![exec], opts).pop().expect("one");
            row.cache_key = Some(p.key.clone());
            row.executor = Some(p.executor.kind().to_string());
            row.image = p.executor.image().map(str::to_string);
            row.source_date_epoch = Some(p.epoch);
            let b = build::lookup(&cache, &p.key);
            row.cached = Some(b.is_some());
            row.build_dir = b.map(|b| b.dir.display().to_string());
        }
        rows.push(row);
    }
    Ok(Summary {
        command: "list".into(),
        version: None,
        source_date_epoch: None,
        archive: None,
        checksums: None,
        components: rows,
    })
}
