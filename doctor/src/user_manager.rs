//! Whether a systemd user manager runs for the user: systemd booted the host
//! ([`BOOTED_MARKER`] exists) and the user's manager listens on its private socket
//! (`$XDG_RUNTIME_DIR/`[`PRIVATE_SOCKET`]). Without one, every `systemctl --user` call only
//! prints "Failed to connect to bus": `u7s units` asks here before calling systemctl (and
//! `units install` refuses), and the doctor's `session.systemd` check reads the same two paths.

use std::path::Path;

/// Exists when systemd is the host's init (`sd_booted(3)`).
pub const BOOTED_MARKER: &str = "/run/systemd/system";
/// The user manager's private socket, under `$XDG_RUNTIME_DIR`.
pub const PRIVATE_SOCKET: &str = "systemd/private";

/// What runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserManager {
    Running,
    /// systemd is not the host's init (containers, other inits).
    NoSystemd,
    /// systemd runs, but no manager for this user (a login through su or sudo, no lingering).
    NotForThisUser,
}

impl UserManager {
    /// From the two facts (pure).
    pub fn decide(systemd_booted: bool, private_socket: bool) -> UserManager {
        match (systemd_booted, private_socket) {
            (false, _) => UserManager::NoSystemd,
            (true, false) => UserManager::NotForThisUser,
            (true, true) => UserManager::Running,
        }
    }

    /// This host's, for the user whose `XDG_RUNTIME_DIR` is `runtime_dir`.
    pub fn detect(runtime_dir: &Path) -> UserManager {
        UserManager::decide(
            Path::new(BOOTED_MARKER).exists(),
            runtime_dir.join(PRIVATE_SOCKET).exists(),
        )
    }

    pub fn running(self) -> bool {
        self == UserManager::Running
    }

    /// Why there is no user manager, for people; `None` when one runs.
    pub fn absence(self) -> Option<&'static str> {
        match self {
            UserManager::Running => None,
            UserManager::NoSystemd => Some("systemd is not running on this host"),
            UserManager::NotForThisUser => Some(
                "no systemd user manager runs for this user ($XDG_RUNTIME_DIR/systemd/private \
                 is absent: logged in with su or sudo?)",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_facts_are_needed() {
        assert_eq!(UserManager::decide(false, false), UserManager::NoSystemd);
        assert_eq!(UserManager::decide(false, true), UserManager::NoSystemd);
        assert_eq!(
            UserManager::decide(true, false),
            UserManager::NotForThisUser
        );
        assert_eq!(UserManager::decide(true, true), UserManager::Running);
        assert!(UserManager::Running.running() && UserManager::Running.absence().is_none());
        assert!(
            UserManager::NoSystemd
                .absence()
                .unwrap()
                .contains("systemd is not running")
        );
    }

    #[test]
    fn a_runtime_dir_without_the_private_socket_has_no_manager() {
        let d = tempfile::tempdir().unwrap();
        assert!(!UserManager::detect(d.path()).running());
    }
}
