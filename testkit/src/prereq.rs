//! What a test that needs something of the machine (the unprivileged test user, root, a program
//! such as etcd) does when it is missing: it fails, naming what is missing.
//!
//! The rule: a test never returns early and counts as passed. A test that needs the machine
//! prepared by `scripts/ci-setup.sh` is marked `#[ignore = "needs …"]`, so that a plain
//! `cargo test` on a developer's machine reports it as *ignored* (and the closing line of
//! `scripts/test.sh` counts it as skipped). CI and `scripts/test.sh` run the tests with
//! `--include-ignored`; there the test asks for what it needs through these functions, which
//! panic when it is missing. There is no "skip unless CI": whoever asks for an ignored test gets
//! it run, or a failure that names the missing piece.

use nix::unistd::User;
use std::path::{Path, PathBuf};

/// Where the prerequisites come from, appended to every failure.
pub const SETUP: &str =
    "scripts/ci-setup.sh prepares them; scripts/test.sh, run as root, runs it and then the tests";

/// Fails the test: `what` is missing.
#[track_caller]
pub fn missing(what: &str) -> ! {
    panic!("prerequisite missing: {what} ({SETUP})")
}

/// `found`, or a failure naming `what` when it is `None`.
#[track_caller]
pub fn require<T>(found: Option<T>, what: &str) -> T {
    match found {
        Some(v) => v,
        None => missing(what),
    }
}

/// The unprivileged test user named by `U7S_TEST_USER` (sub-IDs, `/run/user/UID` and
/// `/dev/net/tun` prepared for it).
#[track_caller]
pub fn test_user() -> User {
    user_of("U7S_TEST_USER", "the unprivileged test user")
}

/// A second unprivileged test user (`U7S_TEST_USER2`, its own sub-ID range), for tests of
/// several users on one host.
#[track_caller]
pub fn second_test_user() -> User {
    user_of("U7S_TEST_USER2", "a second unprivileged test user")
}

#[track_caller]
fn user_of(var: &str, what: &str) -> User {
    let name = std::env::var(var).unwrap_or_default();
    if name.is_empty() {
        missing(&format!("{var}, the name of {what}, is not set"));
    }
    match User::from_name(&name) {
        Ok(Some(u)) => u,
        Ok(None) => missing(&format!("{var}={name}: no such user")),
        Err(e) => missing(&format!("{var}={name}: cannot look it up: {e}")),
    }
}

/// The test user, who this process can run commands as: it is root (and uses `runuser`), or
/// it is that user.
#[track_caller]
pub fn test_user_reachable() -> User {
    let user = test_user();
    let me = nix::unistd::geteuid();
    if !me.is_root() && me != user.uid {
        missing(&format!(
            "running as uid {me}: root (to become {}) or {} itself",
            user.name, user.name
        ));
    }
    user
}

/// Fails unless this process runs as root; `why` says what root is needed for.
#[track_caller]
pub fn require_root(why: &str) {
    if !nix::unistd::geteuid().is_root() {
        missing(&format!("root ({why})"));
    }
}

/// The program `name` on `PATH` or in the usual system folders; a failure naming it otherwise.
#[track_caller]
pub fn program(name: &str) -> PathBuf {
    require(find_program(name), &format!("the program {name}"))
}

/// The folder of the real release's programs that `scripts/test.sh` builds from the pins and
/// unpacks (`bin/` of the release): where a test finds the components the release ships
/// (RootlessKit, etcd, etcdctl…) before any older copy the host may have.
pub const RELEASE_BIN_ENV: &str = "U7S_E2E_KUBE_BIN";

/// The program `name` in the release's `bin/` ([`RELEASE_BIN_ENV`]), on `PATH` or in the usual
/// system folders (the sbin folders included, which a user's PATH often lacks).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::var_os(RELEASE_BIN_ENV)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .chain(std::env::split_paths(&path))
        .chain(
            [
                "/usr/local/sbin",
                "/usr/local/bin",
                "/usr/sbin",
                "/usr/bin",
                "/sbin",
                "/bin",
            ]
            .map(PathBuf::from),
        )
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_or_named() {
        assert!(program("sh").is_absolute());
        let e = std::panic::catch_unwind(|| program("no-such-program-u7s")).unwrap_err();
        let msg = e.downcast_ref::<String>().unwrap();
        assert!(
            msg.starts_with("prerequisite missing: the program no-such-program-u7s ("),
            "{msg}"
        );
    }
}
