//! Whether a usernetes session runs, as the release's own `PREFIX/current/bin/u7s status`
//! tells (exit 0: running, 3: none, as LSB status codes); anything else is unknown. After an
//! install, an unknown answer falls back to the data folder's session lock (held only while a
//! session runs), never to the state folder, which stays after `u7s down`.

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

/// Whether to tell people that a running session still uses the previous version (pure):
/// never on a first install (nothing ran from this prefix) nor on a reinstall of the current
/// version; otherwise as `u7s status` said, and when it cannot tell, when a session of this
/// prefix holds the data folder's lock (`lock_held_from_prefix`).
pub fn restart_hint(
    previous: Option<&str>,
    installed: &str,
    state: SessionState,
    lock_held_from_prefix: bool,
) -> bool {
    match previous {
        None => false,
        Some(p) if p == installed => false,
        Some(_) => match state {
            SessionState::Running => true,
            SessionState::Stopped => false,
            SessionState::Unknown => lock_held_from_prefix,
        },
    }
}

/// [`restart_hint`] with the facts of this host.
pub fn needs_restart(env: &Env, prefix: &Prefix, previous: Option<&str>, installed: &str) -> bool {
    if previous.is_none_or(|p| p == installed) {
        return false;
    }
    let lock_held = || {
        env.data_dir()
            .ok()
            .and_then(|d| doctor::session_lock::holder(&d).ok().flatten())
            .is_some_and(|h| crate::uninstall::runs_from(h.exe.as_deref(), prefix.root()))
    };
    let state = state(env, prefix);
    restart_hint(
        previous,
        installed,
        state,
        state == SessionState::Unknown && lock_held(),
    )
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

    /// newcomer review L15: a first install into a fresh prefix said "a running session still
    /// uses the previous version" (the state folder stays after `u7s down`).
    #[test]
    fn restart_hint_only_after_an_upgrade_under_a_session() {
        use SessionState::*;
        for state in [Running, Stopped, Unknown] {
            assert!(
                !restart_hint(None, "1.0", state, true),
                "first install, {state:?}"
            );
            assert!(
                !restart_hint(Some("1.0"), "1.0", state, true),
                "same version"
            );
        }
        assert!(restart_hint(Some("1.0"), "2.0", Running, false));
        assert!(!restart_hint(Some("1.0"), "2.0", Stopped, true));
        assert!(restart_hint(Some("1.0"), "2.0", Unknown, true));
        assert!(!restart_hint(Some("1.0"), "2.0", Unknown, false));
    }
}
