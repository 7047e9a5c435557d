//! The installer's typed errors: each names the file, entry, URL or version concerned, and
//! [`Error::hint`] gives the fix a person should try.

use std::io;
use std::path::PathBuf;

/// Everything that can stop an install, upgrade, rollback or uninstall.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem operation failed on `path`.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// Another installer holds the prefix lock.
    #[error("another u7s-install is running (pid {pid}) on {prefix}")]
    Locked { pid: String, prefix: PathBuf },

    /// The archive argument is neither an existing file nor a usable URL.
    #[error("archive {0}: no such file")]
    ArchiveMissing(PathBuf),

    /// A URL we refuse to fetch (not https, unparsable).
    #[error("{url}: {reason}")]
    BadUrl { url: String, reason: String },

    /// The HTTP transfer failed.
    #[error("download of {url} failed: {reason}")]
    Download { url: String, reason: String },

    /// The server answered with an error status.
    #[error("download of {url} failed: HTTP {status}")]
    HttpStatus { url: String, status: u16 },

    /// No SHA256SUMS was found and `--yes` was not given.
    #[error("no checksums for {archive}: {looked}")]
    NoChecksums { archive: String, looked: String },

    /// The configured public key cannot be read.
    #[error("public key {given:?}: {reason}")]
    PublicKey { given: String, reason: String },

    /// A public key is configured and the checksums' signature is missing or bad.
    #[error("signature of {sums} refused ({sig}): {reason}")]
    Signature {
        sums: String,
        sig: String,
        reason: String,
    },

    /// The checksums file does not list the archive.
    #[error("{sums} has no line for {name}")]
    NotListed { sums: String, name: String },

    /// The checksums file cannot be parsed.
    #[error("{sums}: {reason}")]
    BadChecksums { sums: String, reason: String },

    /// The archive's SHA-256 differs from the one in SHA256SUMS.
    #[error("sha256 mismatch for {file}: expected {expected}, got {actual} (from {sums})")]
    ChecksumMismatch {
        file: String,
        expected: String,
        actual: String,
        sums: String,
    },

    /// The archive changed while it was being unpacked.
    #[error("{file} changed while it was unpacked (sha256 {before} before, {after} during)")]
    ArchiveChanged {
        file: PathBuf,
        before: String,
        after: String,
    },

    /// The archive was refused while unpacking or checking it against its manifest.
    #[error("{archive}: {source}")]
    Bundle {
        archive: PathBuf,
        #[source]
        source: bundle::Error,
    },

    /// The release has no readable manifest.
    #[error("{archive}: {reason}")]
    Manifest { archive: PathBuf, reason: String },

    /// The archive unpacks to more than the space allowed.
    #[error("{archive} unpacks to more than {limit} bytes (free space in {prefix})")]
    TooLarge {
        archive: PathBuf,
        limit: u64,
        prefix: PathBuf,
    },

    /// The manifest's version cannot be a folder name.
    #[error("release version {0:?} is not usable as a folder name")]
    BadVersion(String),

    /// `PREFIX/current` is something we did not create.
    #[error("{0} exists and is not a symlink")]
    CurrentNotSymlink(PathBuf),

    /// Nothing installed in the prefix.
    #[error("nothing is installed in {0}")]
    NotInstalled(PathBuf),

    /// `--rollback` without a version to go back to.
    #[error("no previous version to roll back to in {0}")]
    NoPrevious(PathBuf),

    /// `--rollback VERSION` names a version that is not installed.
    #[error("version {version} is not installed (installed: {installed})")]
    UnknownVersion { version: String, installed: String },

    /// The prefix is a place we must never install into or delete.
    #[error("refusing to use {0} as the install prefix")]
    BadPrefix(PathBuf),

    /// No home directory to derive the default paths from.
    #[error("HOME is not set")]
    NoHome,

    /// A running session could not be stopped before uninstalling.
    #[error("could not stop the running session ({0})")]
    SessionStop(String),

    /// A session uses the data an uninstall would delete (or runs this install's binaries) and
    /// this uninstall cannot stop it.
    #[error("a usernetes session uses {data} ({holder}{exe}); nothing was removed")]
    SessionInUse {
        data: PathBuf,
        holder: String,
        exe: String,
        runtime_dir: PathBuf,
    },

    /// Sub-UID-owned data could not be removed.
    #[error("could not remove {path}: {reason}")]
    Purge { path: PathBuf, reason: String },

    /// A dangerous action needs an explicit `--yes` when no terminal can confirm it.
    #[error("{0} needs confirmation")]
    NeedsConfirmation(String),

    /// The user answered no.
    #[error("cancelled")]
    Cancelled,

    /// The install record cannot be read.
    #[error("{path}: {reason}")]
    Record { path: PathBuf, reason: String },
}

impl Error {
    /// Wraps an `io::Error` with the action and the path it concerned.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// What the user should do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Error::Io { source, .. } if source.kind() == io::ErrorKind::PermissionDenied => {
                "you cannot read that path or a folder on the way to it: check their owners and \
                 modes (or copy the file where you can read it); u7s-install never needs root"
                    .into()
            }
            Error::Io { source, .. } if source.raw_os_error() == Some(28) => {
                "free some disk space (or use --prefix on a larger filesystem) and run again".into()
            }
            Error::Io { .. } => return None,
            Error::Locked { pid, .. } => format!(
                "wait for it to finish (or stop process {pid}), then run u7s-install again"
            ),
            Error::ArchiveMissing(_) => {
                "give the path of usernetes-x86_64.tbz or an https:// URL of a release".into()
            }
            Error::BadUrl { .. } => "use an https:// URL (plain http only for 127.0.0.1)".into(),
            Error::Download { .. } | Error::HttpStatus { .. } => {
                "check the URL and your network, then run again: the download resumes where it stopped".into()
            }
            Error::NoChecksums { .. } => "put SHA256SUMS beside the archive, pass --checksums FILE|URL, \
                 or pass --insecure-skip-checksum to install without checking the archive's hash (--yes never does)"
                .into(),
            Error::PublicKey { .. } => "give --public-key (or U7S_PUBLIC_KEY) the release's minisign public key: \
                 its base64 line (RW...) or its .pub file"
                .into(),
            Error::Signature { sig, .. } => format!(
                "put the {sig} published with this release beside its SHA256SUMS; if it is there, the \
                 checksums were not signed by the key given with --public-key (or U7S_PUBLIC_KEY): \
                 nothing was installed"
            ),
            Error::NotListed { .. } => {
                "use the SHA256SUMS published with this archive (--checksums FILE|URL), and give \
                 the archive the name it lists"
                    .into()
            }
            Error::BadChecksums { .. } => {
                "the file must have `sha256sum` lines: <64 hex>  <file name>".into()
            }
            Error::ChecksumMismatch { .. } => "the archive is damaged or not the one published: \
                 download it again and check that SHA256SUMS comes from the same release"
                .into(),
            Error::ArchiveChanged { .. } => {
                "do not modify the archive while u7s-install runs; run again".into()
            }
            Error::Bundle { .. } | Error::Manifest { .. } => {
                "the archive is damaged or was not made by u7s-build: nothing was installed \
                 and the previous version is untouched; download the release again"
                    .into()
            }
            Error::TooLarge { .. } => {
                "free disk space or choose another --prefix; a real release is a few hundred MB"
                    .into()
            }
            Error::BadVersion(_) => "the release manifest is invalid: rebuild it with u7s-build".into(),
            Error::CurrentNotSymlink(p) => {
                format!("move {} away; u7s-install manages it as a symlink", p.display())
            }
            Error::NotInstalled(_) => "install a release first: u7s-install usernetes-x86_64.tbz".into(),
            Error::NoPrevious(_) => {
                "install another release first, or see the installed ones with --list".into()
            }
            Error::UnknownVersion { .. } => "see the installed versions with --list".into(),
            Error::BadPrefix(_) => "pass a dedicated folder with --prefix".into(),
            Error::NoHome => "set HOME, or pass --prefix".into(),
            Error::SessionStop(_) => "stop it by hand (u7s down), then run the uninstall again".into(),
            Error::SessionInUse { runtime_dir, .. } => format!(
                "stop it first: `u7s down` on that host with XDG_RUNTIME_DIR={}, then run the \
                 uninstall again",
                runtime_dir.display()
            ),
            Error::Purge { .. } => "files owned by sub-UIDs are removed inside a user namespace: \
                 check that newuidmap and /etc/subuid are set up (u7s-doctor), or remove them as root"
                .into(),
            Error::NeedsConfirmation(_) => "pass --yes to confirm".into(),
            Error::Cancelled => return None,
            Error::Record { .. } => {
                "the install record is damaged: move it away and run again".into()
            }
        })
    }

    /// True when the error means "the given archive was refused", as opposed to an environment problem.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Error::Bundle { .. }
                | Error::Manifest { .. }
                | Error::ChecksumMismatch { .. }
                | Error::Signature { .. }
                | Error::BadVersion(_)
                | Error::TooLarge { .. }
                | Error::ArchiveChanged { .. }
        )
    }
}

/// `Result` with the installer's error.
pub type Result<T> = std::result::Result<T, Error>;

/// Adds path context to `io::Result`s.
pub trait IoContext<T> {
    /// Turns an `io::Error` into [`Error::Io`] naming `action` and `path`.
    fn ctx(self, action: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, action: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(action, path, e))
    }
}
