//! The runtime's typed errors: each names the component, file or entry it is about and, where
//! one exists, the fix. The `u7s` binary renders them for people.

use std::path::PathBuf;

/// Everything that can go wrong in the runtime library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{var} is not set (or not an absolute path); {hint}")]
    Env {
        var: &'static str,
        hint: &'static str,
    },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{context}: {source}")]
    Os {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "invalid port spec {spec:?}: {reason} (expected [IP:]PORT:[IP:]PORT[/PROTO], e.g. 8080:80, 53:53/udp or [::1]:8080:80/tcp6)"
    )]
    PortSpec { spec: String, reason: String },

    /// `u7s logs` without a name: the logs there are (a usage error).
    #[error("name the log to show (u7s logs COMPONENT); available: {0}")]
    WhichLog(String),

    #[error("no published port matches {0:?} (see `u7s ports ls`)")]
    NoSuchPort(String),

    #[error("RootlessKit API {what}: HTTP {status}: {message}")]
    Api {
        what: String,
        status: u16,
        message: String,
    },

    #[error("{endpoint}: malformed HTTP response: {reason}")]
    Http { endpoint: String, reason: String },

    #[error("no usernetes session is running (state in {0}); start one with `{1}`")]
    NotRunning(PathBuf, &'static str),

    #[error(
        "a usernetes session is already running or starting{}; stop it with `u7s down` first",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    AlreadyRunning { pid: Option<i32> },

    #[error(
        "another usernetes session uses {} ({}); stop it first (`u7s down` on that host with \
         XDG_RUNTIME_DIR={}), or give this one its own data folder (XDG_DATA_HOME)",
        data.display(), holder.describe(), holder.runtime_dir.display()
    )]
    DataInUse {
        data: PathBuf,
        holder: doctor::session_lock::Holder,
    },

    #[error("{0} is not in this release's bin/ nor on PATH; {1}")]
    MissingBinary(String, String),

    /// `u7s units install` without a systemd user manager: the units could never start.
    #[error(
        "{0}: systemd user units would never start; start the session by hand (`u7s up \
         --detach`), or log in through a systemd session (ssh, machinectl shell) and run \
         `u7s units install` again (`--write-only` writes the files without enabling them)"
    )]
    NoUserManager(&'static str),

    /// A whole part of a session (Kubernetes, CRI-O) is absent: every missing program at once.
    #[error("this release has no {what} (missing: {}); {instead}", missing.join(", "))]
    NotInRelease {
        what: &'static str,
        missing: Vec<String>,
        instead: String,
    },

    #[error("{component}: {message}")]
    Component { component: String, message: String },

    /// `u7s up` found certificates that no start can work with (expired, from another CA):
    /// each with its problems, and the fix. Nothing was started, nothing removed.
    #[error(
        "cannot start with these certificates (nothing was started, nothing removed):\n{}\n  fix: {fix}",
        certs.iter().map(|c| format!("  {}: {}", c.path.display(), c.problems.join(", "))).collect::<Vec<_>>().join("\n")
    )]
    UnusableCertificates {
        certs: Vec<crate::pki::gate::BadCert>,
        fix: String,
    },

    /// `u7s up` found the etcd data folder written by a newer etcd than the release's.
    #[error(
        "{} was written by etcd {written_by} (recorded in {}), newer than this release's etcd \
         {release}, which would refuse it or damage it; nothing was started and the folder was \
         not touched. Fix: install the release with etcd {written_by} or newer again (the one \
         that last ran here), or back the folder up (`cp -a {} BACKUP`) and start afresh with \
         `u7s reset` (the cluster's state is then gone)",
        folder.display(), marker.display(), folder.display()
    )]
    EtcdDataTooNew {
        folder: PathBuf,
        marker: PathBuf,
        written_by: String,
        release: String,
    },

    #[error("TLS material in {path}: {message}")]
    Pki { path: PathBuf, message: String },

    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// An I/O error about `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The data-folder lock of `data` could not be taken.
    pub fn data_lock(data: &std::path::Path, busy: doctor::session_lock::Busy) -> Error {
        use doctor::session_lock::{Busy, Holder, path};
        match busy {
            Busy::Held(holder) => Error::DataInUse {
                data: data.to_path_buf(),
                holder: holder.unwrap_or(Holder {
                    host: "?".into(),
                    pid: 0,
                    runtime_dir: "?".into(),
                    exe: None,
                }),
            },
            Busy::Io(e) => Error::io(path(data), e),
        }
    }

    /// An OS error while doing `context`.
    pub fn os(context: impl Into<String>, source: impl Into<std::io::Error>) -> Error {
        Error::Os {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<nix::Error> for Error {
    fn from(e: nix::Error) -> Error {
        Error::os("system call", std::io::Error::from(e))
    }
}
