//! Whether a usernetes session runs, as the release's own `PREFIX/current/bin/u7s status`
//! tells (exit 0: running, 3: none, as LSB status codes); anything else is unknown and the
//! callers fall back to the session state folder `$XDG_RUNTIME_DIR/usernetes`.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::prefix::{Env, Prefix};
use crate::run::run_with_timeout;

/// What `u7s status` said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    Running,
    Stopped,
    /// No `u7s`, no answer, or another exit status.
    Unknown,
}

/// Maps the exit code of `u7s status` to a state.
pub fn from_status_code(code: Option<i32>) -> SessionState {
    match code {
        Some(0) => SessionState::Running,
        Some(3) => SessionState::Stopped,
        _ => SessionState::Unknown,
    }
}

/// Applies the installer's view of the user's folders to a `u7s` command line.
pub fn apply_env(cmd: &mut Command, env: &Env) {
    for (name, value) in [
        ("HOME", &env.home),
        ("XDG_DATA_HOME", &env.xdg_data_home),
        ("XDG_CONFIG_HOME", &env.xdg_config_home),
        ("XDG_RUNTIME_DIR", &env.xdg_runtime_dir),
    ] {
        if let Some(v) = value {
            cmd.env(name, v);
        }
    }
}

/// Asks `PREFIX/current/bin/u7s status`.
pub fn state(env: &Env, prefix: &Prefix) -> SessionState {
    let u7s = prefix.current_bin().join("u7s");
    if !u7s.is_file() {
        return SessionState::Unknown;
    }
    let mut cmd = Command::new(&u7s);
    cmd.arg("status").stdin(Stdio::null());
    apply_env(&mut cmd, env);
    match run_with_timeout(cmd, Duration::from_secs(30)) {
        Ok(o) => from_status_code(o.status.code()),
        Err(_) => SessionState::Unknown,
    }
}

/// True when a session runs; when `u7s status` cannot tell, when the state folder exists.
pub fn running(env: &Env, prefix: &Prefix) -> bool {
    match state(env, prefix) {
        SessionState::Running => true,
        SessionState::Stopped => false,
        SessionState::Unknown => env.session_dir().is_some_and(|d| d.exists()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes() {
        assert_eq!(from_status_code(Some(0)), SessionState::Running);
        assert_eq!(from_status_code(Some(3)), SessionState::Stopped);
        assert_eq!(from_status_code(Some(1)), SessionState::Unknown);
        assert_eq!(from_status_code(None), SessionState::Unknown);
    }
}
