//! The command line of `u7s-build` (clap derive), kept in the library so the man page and
//! completions are generated from the same definition, and turned into [`pipeline::Options`].

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::executor::ExecutorChoice;
use crate::mirror::{Mirror, NetPolicy};
use crate::pipeline::Options;

/// The reference sections of the top-level help and of `release --help` (the flags'
/// help points there): mirror layout, cache, Go-module sources, environment, exit status.
macro_rules! reference {
    () => {
        "\
MIRROR LAYOUT (--mirror DIR|URL):
  <mirror>/git/<host>/<path>.git   bare repository per upstream git URL, e.g.
                                   <mirror>/git/github.com/containerd/containerd.git
  <mirror>/sha256/<hex>            a source file by its sha256 (tried first), or
  <mirror>/dist/<file name>        a source file by the last segment of its URL
  <mirror>/go/                     Go modules in GOPROXY layout (used as GOPROXY=file://<mirror>/go,
                                   or <URL>/go); make it from a warm cache with
                                   cp -a <cache>/gomod/cache/download/. <mirror>/go/
  Pins are still checked: the commit, the tag, the sha256, the Go module h1 (+ Origin commit)
  and go.sum for every Go dependency.

CACHE (--cache, default $XDG_CACHE_HOME/usernetes or ~/.cache/usernetes):
  git/  bare repositories   dist/sha256/  downloads   build/<key>/  finished builds and logs
  src/  trees left by `u7s-build patch`   gomod/  GOMODCACHE of Go-module sources and of every
  Go dependency (filled by `fetch`; builds then run with GOPROXY=off GOFLAGS=-mod=readonly)

GO-MODULE SOURCES (recipes):
  [source] go = \"MODULE\", version = \"vX.Y.Z\", h1 = \"h1:…\" (go.sum hash of the module zip),
  commit = \"<40 hex>\" (the proxy's Origin.Hash; required when the proxy records one).
  [source.main] go_mod/go_sum = files beside the recipe, or go_mod_from/go_sum_from = files in
  the module (vendor.mod, vendor.sum): the main module's go.mod and go.sum (every dependency).
  A git source may have [source.main] too (go_mod_from = \"go.mod\", go_sum_from = \"go.sum\"): its
  Go dependencies are then fetched into the cache as well.
  [build] deps = [\"recipe\", …] (outputs at $DEPS/<name>, not shipped unless ship = true),
  [build.needs] pkg_config/commands = { name = \"debian-package\" } (checked on the host),
  image = \"NAME@sha256:<digest>\" (a container build refuses an image not pinned by digest).

ENVIRONMENT:
  SOURCE_DATE_EPOCH   mtime of every archive entry and the value given to build scripts;
                      default: per component, the newest of its pinned commit's date and its
                      patches' dates, for a Go module the version's time the proxy records
                      (1980-01-01 for file and path sources); the archive gets
                      the newest of those
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY   honoured for downloads and git fetches
  GOPROXY, GOSUMDB, GONOSUMDB, GOPRIVATE  honoured when fetching Go modules online
  GOTOOLCHAIN         goX.Y.Z to build with that toolchain (fetched through the proxy into the
                      cache); anything else means the host's Go (GOTOOLCHAIN=local)
  NO_COLOR, TERM=dumb  no colour (otherwise errors are coloured on a terminal)

EXIT STATUS: 0 when everything asked for was done (for `release`: both files written),
1 on any failure, 2 on a usage error, 130 when interrupted."
    };
}

/// Every example, for the top-level help.
const EXAMPLES: &str = concat!(
    "\
EXAMPLES:
  Build the release from the repository's recipes/, patches/ and release/:
    u7s-build release
  The same, for a CI pipeline (summary on stdout, archive in dist/):
    u7s-build release --out dist --json > build.json
  Rebuild two components only, four at a time:
    u7s-build build --only containerd,runc --jobs 4
  Fill the cache while online, then build without network:
    u7s-build fetch && u7s-build release --offline
  Air-gapped build from a mirror folder:
    u7s-build release --mirror /srv/usernetes-mirror
  Inspect the patched Kubernetes tree:
    u7s-build patch --only kubernetes
  What is pinned and what is cached:
    u7s-build list

",
    reference!()
);

/// `release --help`: its own examples and the reference sections.
const RELEASE_EXAMPLES: &str = concat!(
    "\
EXAMPLES:
  Build the release from the repository's recipes/, patches/ and release/:
    u7s-build release
  The same, for a CI pipeline (summary on stdout, archive in dist/):
    u7s-build release --out dist --json > build.json
  Without network, from the cache `u7s-build fetch` filled:
    u7s-build release --offline
  Air-gapped build from a mirror folder:
    u7s-build release --mirror /srv/usernetes-mirror

",
    reference!()
);

const FETCH_EXAMPLES: &str = "\
EXAMPLES:
  Fill the cache while online (then `u7s-build release --offline` needs no network):
    u7s-build fetch
  Two components only, from a mirror folder (layout in `u7s-build release --help`):
    u7s-build fetch --only containerd,runc --mirror /srv/usernetes-mirror";

const PATCH_EXAMPLES: &str = "\
EXAMPLES:
  Inspect the patched Kubernetes tree (printed: <cache>/src/kubernetes/):
    u7s-build patch --only kubernetes";

const BUILD_EXAMPLES: &str = "\
EXAMPLES:
  Rebuild two components only, four at a time:
    u7s-build build --only containerd,runc --jobs 4
  Build one on the host instead of in a container:
    u7s-build build --only runc --executor host";

const LIST_EXAMPLES: &str = "\
EXAMPLES:
  Pins and cache state (BUILD `-`: not fetched yet, or no executor for it):
    u7s-build list
  The same as JSON, with cache keys and executors:
    u7s-build list --json";

/// u7s-build: build the usernetes release from pinned sources.
#[derive(Debug, Parser)]
#[command(
    name = "u7s-build",
    version,
    about = "Build the usernetes release (usernetes-x86_64.tbz + SHA256SUMS) from pinned sources",
    long_about = "Build the usernetes release from pinned sources.\n\nReads recipes/*.toml, fetches \
every component at its pin into a cache, applies patches/<component>/*.patch like `git am`, runs \
each build script on the host or in a container, stages the outputs with the release/ payload \
and packs a reproducible usernetes-x86_64.tbz with its SHA256SUMS.",
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Print shell completions for SHELL to stdout
    #[arg(long, value_name = "SHELL")]
    pub completions: Option<clap_complete::Shell>,

    /// Print the man page (roff) to stdout
    #[arg(long)]
    pub man: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch, patch, build every component and pack usernetes-x86_64.tbz + SHA256SUMS
    #[command(after_help = RELEASE_EXAMPLES)]
    Release(ReleaseArgs),
    /// Fetch the selected sources into the cache
    #[command(after_help = FETCH_EXAMPLES)]
    Fetch(CommonArgs),
    /// Fetch and prepare (check out, patch) the selected sources into <cache>/src/<component>/
    #[command(after_help = PATCH_EXAMPLES)]
    Patch(CommonArgs),
    /// Fetch, patch and build the selected components into the build cache
    #[command(after_help = BUILD_EXAMPLES)]
    Build(CommonArgs),
    /// List recipes, versions, pins, and whether sources and builds are cached
    #[command(after_help = LIST_EXAMPLES)]
    List(CommonArgs),
}

/// Selection, cache, network and build flags shared by every command.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Recipe folder [default: recipes/ of the repository around the current directory]
    #[arg(long, value_name = "DIR")]
    pub recipes: Option<PathBuf>,
    /// Patch folder (patches/<component>/*.patch) [default: patches/ beside the recipes]
    #[arg(long, value_name = "DIR")]
    pub patches: Option<PathBuf>,
    /// Only these components (comma-separated recipe names)
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Cache folder [default: $XDG_CACHE_HOME/usernetes, else ~/.cache/usernetes]
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Never touch the network; fail clearly when something is not cached
    #[arg(long)]
    pub offline: bool,
    /// Serve sources from a local folder or another base URL (layout in --help of release)
    #[arg(long, value_name = "DIR|URL")]
    pub mirror: Option<String>,
    /// Where build scripts run: auto = host for recipes without an image, else docker, else podman
    #[arg(long, value_enum, default_value = "auto")]
    pub executor: ExecutorChoice,
    /// Components built at once, and threads for packing [default: number of CPUs]
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Print one JSON document describing the run on stdout
    #[arg(long)]
    pub json: bool,
    /// Only errors on stderr
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// `release` adds the payload, output folder and version.
#[derive(Debug, Clone, Args)]
pub struct ReleaseArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Files copied as they are into usernetes/ [default: release/ beside the recipes]
    #[arg(long, value_name = "DIR")]
    pub payload: Option<PathBuf>,
    /// Where usernetes-x86_64.tbz and SHA256SUMS are written
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Release version written into manifest.json [default: the version of u7s-build]
    #[arg(long, value_name = "V")]
    pub release_version: Option<String>,
}

/// The repository root around `start`: the nearest folder (itself or a parent) with `recipes/`.
pub fn find_repository(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|d| d.join("recipes").is_dir())
        .map(Path::to_path_buf)
}

/// Turns the flags into pipeline options, applying the defaults of design.md §3.
pub fn options(common: &CommonArgs, release: Option<&ReleaseArgs>) -> Result<Options> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let repo = find_repository(&cwd);
    let recipes_dir = match (&common.recipes, &repo) {
        (Some(d), _) => d.clone(),
        (None, Some(r)) => r.join("recipes"),
        (None, None) => {
            return Err(Error::Selection(
                "no recipes/ folder in the current directory or above it: run inside the usernetes repository or pass --recipes DIR".into(),
            ));
        }
    };
    let base = recipes_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let patches_dir = common
        .patches
        .clone()
        .unwrap_or_else(|| base.join("patches"));
    let payload_dir = match release.and_then(|r| r.payload.clone()) {
        Some(p) => Some(p),
        None => Some(base.join("release")).filter(|p| p.is_dir()),
    };
    let mirror = common.mirror.as_deref().map(Mirror::parse);
    if common.offline && mirror.as_ref().is_some_and(|m| !m.is_local()) {
        return Err(Error::Selection(
            "--offline and a URL --mirror contradict each other: use a folder mirror, or drop --offline".into(),
        ));
    }
    let epoch_override = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.trim().is_empty() => Some(crate::plan::parse_epoch(&v)?),
        _ => None,
    };
    let jobs = common.jobs.map(|j| j as usize).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    Ok(Options {
        recipes_dir,
        patches_dir,
        payload_dir,
        out_dir: release
            .map(|r| r.out.clone())
            .unwrap_or_else(|| PathBuf::from(".")),
        only: common
            .only
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect(),
        cache_dir: common.cache.clone().unwrap_or_else(Cache::default_root),
        policy: NetPolicy {
            offline: common.offline,
            mirror,
        },
        executor: common.executor,
        jobs,
        release_version: release
            .and_then(|r| r.release_version.clone())
            .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string()),
        epoch_override,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_the_design_flags() {
        let cli = Cli::try_parse_from([
            "u7s-build",
            "release",
            "--recipes",
            "r",
            "--patches",
            "p",
            "--payload",
            "pl",
            "--out",
            "o",
            "--only",
            "a,b",
            "--cache",
            "c",
            "--offline",
            "--mirror",
            "/m",
            "--executor",
            "host",
            "--jobs",
            "3",
            "--release-version",
            "1.2.3",
            "--json",
        ])
        .unwrap();
        let Some(Command::Release(r)) = cli.command else {
            panic!("release")
        };
        assert_eq!(r.common.only, ["a", "b"]);
        assert_eq!(r.common.executor, ExecutorChoice::Host);
        let o = options(&r.common, Some(&r)).unwrap();
        assert_eq!(o.jobs, 3);
        assert_eq!(o.release_version, "1.2.3");
        assert_eq!(o.payload_dir.as_deref(), Some(Path::new("pl")));
        assert_eq!(o.policy.mirror, Some(Mirror::Dir("/m".into())));
        for sub in ["fetch", "patch", "build", "list"] {
            Cli::try_parse_from(["u7s-build", sub, "--only", "x", "--offline", "--json"]).unwrap();
        }
    }

    #[test]
    fn offline_with_a_url_mirror_is_a_usage_error() {
        let cli = Cli::try_parse_from([
            "u7s-build",
            "fetch",
            "--recipes",
            "r",
            "--offline",
            "--mirror",
            "https://m.example",
        ])
        .unwrap();
        let Some(Command::Fetch(c)) = cli.command else {
            panic!()
        };
        assert!(
            options(&c, None)
                .unwrap_err()
                .to_string()
                .contains("contradict")
        );
    }
}
