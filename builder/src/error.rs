//! The typed errors of the builder library. Every variant names what failed (recipe file,
//! component, URL, patch file, path) so the binary can render it for people with a hint.

use std::path::PathBuf;

/// Result alias of the builder library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop a build.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A recipe file is unreadable or invalid. `msg` already names the table and field.
    #[error("{}: {msg}", file.display())]
    Recipe { file: PathBuf, msg: String },

    /// The recipe set as a whole is wrong (empty folder, duplicate names, unknown `--only`).
    #[error("{0}")]
    Selection(String),

    /// A filesystem operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// libgit2 failed while working on a component's git source.
    #[error("{component}: git {url}: {msg}")]
    Git {
        component: String,
        url: String,
        msg: String,
    },

    /// The recipe's tag does not point at its rev.
    #[error(
        "{}: [source]: tag '{tag}' resolves to {actual}, but rev is {expected}: fix rev (or tag) in the recipe",
        file.display()
    )]
    TagMismatch {
        file: PathBuf,
        tag: String,
        expected: String,
        actual: String,
    },

    /// `--offline` and the source is not in the cache.
    #[error(
        "{component}: {what} is not in the cache and --offline forbids the network: run `u7s-build fetch` once with network access, or use --mirror DIR"
    )]
    NotCached { component: String, what: String },

    /// The network could not be reached at all.
    #[error(
        "cannot reach {url}: {msg} (no network? use --offline with a warm cache, or --mirror DIR|URL)"
    )]
    Network { url: String, msg: String },

    /// The server answered, but not with the file.
    #[error("download {url}: {msg}")]
    Download { url: String, msg: String },

    /// A downloaded (or mirrored) file does not have the pinned sha256.
    #[error(
        "{url}: sha256 mismatch: expected {expected}, got {actual} (the file was deleted; fix sha256 in the recipe if the new file is trusted)"
    )]
    Sha256Mismatch {
        url: String,
        expected: String,
        actual: String,
    },

    /// A Go module's hash differs from the recipe's `h1`.
    #[error(
        "{component}: {module}: h1 mismatch: the recipe pins {expected}, go found {found} (go checks downloads against go.sum and the checksum database): if upstream really changed this version, pin a new version and its h1 in the recipe; never copy a hash you have not checked"
    )]
    H1Mismatch {
        component: String,
        module: String,
        expected: String,
        found: String,
    },

    /// The proxy records another commit for the version than the recipe.
    #[error(
        "{component}: {module}: the proxy records commit {found} ({git_ref}), the recipe pins commit {expected}: check which commit the tag names upstream and fix commit (or version) in the recipe"
    )]
    OriginMismatch {
        component: String,
        module: String,
        expected: String,
        found: String,
        git_ref: String,
    },

    /// The host's Go toolchain is older than the main module's `go` line.
    #[error(
        "{component}: go.mod requires go >= {needed}, the toolchain here is {found} (GOTOOLCHAIN={setting}): install Go {needed} or newer (https://go.dev/dl/), or export GOTOOLCHAIN=go1.27.3 (the module proxy serves that toolchain; `u7s-build fetch` caches it)"
    )]
    GoTooOld {
        component: String,
        needed: String,
        found: String,
        setting: String,
    },

    /// go.sum lacks a line go needs, or a download differs from it.
    #[error("{component}: {msg}")]
    GoSum { component: String, msg: String },

    /// go could not download a module.
    #[error(
        "{component}: go mod download {what}: {msg} (check GOPROXY and the network, then run again: completed downloads stay in the cache; or use --offline with a warm cache, or --mirror DIR)"
    )]
    GoDownload {
        component: String,
        what: String,
        msg: String,
    },

    /// The `go` command cannot be run.
    #[error("{0}")]
    GoMissing(String),

    /// A host build lacks a library or command the recipe declares in `[build.needs]`.
    #[error(
        "{component}: needs the {what} '{name}', which this host lacks: install the Debian package {package} (apt-get install {package}), or build with a container --executor"
    )]
    MissingNeed {
        component: String,
        what: &'static str,
        name: String,
        package: String,
    },

    /// A source archive could not be unpacked safely.
    #[error("{}: {entry}: {reason}", archive.display())]
    Unpack {
        archive: PathBuf,
        entry: String,
        reason: String,
    },

    /// A patch file is not a usable `git format-patch` mail.
    #[error("{}: {msg}", file.display())]
    PatchParse { file: PathBuf, msg: String },

    /// A patch does not apply to the pinned tree.
    #[error("{}: does not apply{}: {msg}", file.display(), path.as_ref().map(|p| format!(" to {p}")).unwrap_or_default())]
    PatchApply {
        file: PathBuf,
        path: Option<String>,
        msg: String,
    },

    /// No usable build executor.
    #[error("{0}")]
    Executor(String),

    /// The build script exited non-zero.
    #[error("{component}: build script failed ({status}); log: {}", log.display())]
    BuildFailed {
        component: String,
        status: String,
        log: PathBuf,
        tail: String,
    },

    /// The build script did not produce a declared output.
    #[error("{component}: declared output '{output}' was not produced by the build script; log: {}", log.display())]
    MissingOutput {
        component: String,
        output: String,
        log: PathBuf,
    },

    /// A licence file named by the recipe is missing from the source tree.
    #[error("{}: license_files: '{name}' does not exist in the source tree of {component}", file.display())]
    MissingLicense {
        file: PathBuf,
        component: String,
        name: String,
    },

    /// Staging found a conflict or an unusable payload.
    #[error("stage: {0}")]
    Stage(String),

    /// The release format library failed.
    #[error(transparent)]
    Bundle(#[from] bundle::Error),

    /// Ctrl-C or another component's failure stopped this work.
    #[error("interrupted")]
    Cancelled,
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A hint for people, printed under the error by the binary.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Executor(_) => Some(
                "install docker or podman (and make sure `docker info` works for your user), or build on the host with --executor host",
            ),
            Error::BuildFailed { .. } => Some(
                "the last lines of the log are above; fix the recipe's script or the patch series",
            ),
            Error::PatchApply { .. } => Some(
                "rebase the patch on the pinned rev: check out the rev, `git am` the series, fix, `git format-patch`",
            ),
            _ => None,
        }
    }
}

/// Adds the path to an `io::Result`.
pub trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}
