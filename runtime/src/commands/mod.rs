//! One file per `u7s` command, as uv does: each takes its parsed arguments, does the work through
//! the library and returns an [`ExitStatus`]. Errors go up as `anyhow::Error` and are rendered
//! once, by `main.rs`.

pub mod certs;
pub mod docker;
pub mod down;
pub mod images;
pub mod kubectl;
pub mod logs;
pub mod nsenter;
pub mod ports;
pub mod reset;
pub mod status;
pub mod units;
pub mod up;

use crate::session::paths::Paths;
use crate::session::{self, Liveness};
use std::process::ExitCode;

/// How a command ended; `main` turns it into the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0.
    Success,
    /// 1: the command ran and the answer is "no" (a problem found, a question declined).
    Failure,
    /// 2: no command given (help printed).
    Usage,
    /// 3 (LSB): `u7s status` found no session.
    NotRunning,
    /// 4: `u7s up` found a session with other settings running, or another `u7s up` starting
    /// one.
    AlreadyRunning,
    /// 5: `u7s up` refused certificates that have expired or are not signed by their CA.
    BadCertificates,
    /// 6: `u7s up` refused an etcd data folder written by a newer etcd than the release's.
    DataFromNewerEtcd,
    /// The exit code of the session's top process (`u7s up` in the foreground, `u7s __child`).
    Code(u8),
}

impl ExitStatus {
    /// From a process exit code, clamped to 0..=255.
    pub fn from_code(code: i32) -> ExitStatus {
        ExitStatus::Code(code.clamp(0, 255) as u8)
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> ExitCode {
        match s {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Usage => ExitCode::from(2),
            ExitStatus::NotRunning => ExitCode::from(3),
            ExitStatus::AlreadyRunning => ExitCode::from(4),
            ExitStatus::BadCertificates => ExitCode::from(5),
            ExitStatus::DataFromNewerEtcd => ExitCode::from(6),
            ExitStatus::Code(c) => ExitCode::from(c),
        }
    }
}

/// The session's paths, or an error when no session runs.
fn live_paths() -> anyhow::Result<Paths> {
    live_session().map(|(paths, _)| paths)
}

/// The session's paths and its record (`None` while it is still being written), or an error
/// when no session runs.
fn live_session() -> anyhow::Result<(Paths, Option<session::status::SessionFile>)> {
    let paths = Paths::from_process()?;
    match session::liveness(&paths)? {
        Liveness::Live(rec) => Ok((paths, rec)),
        _ => Err(crate::Error::NotRunning(
            paths.state.clone(),
            crate::host::binaries::Bins::from_process().start_hint(),
        )
        .into()),
    }
}
