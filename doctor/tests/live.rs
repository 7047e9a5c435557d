//! The doctor on this machine, live probes included: as the unprivileged test user (CI sets
//! U7S_TEST_USER after preparing sub-IDs and /dev/net/tun) no check may fail for Docker, and as
//! root the not-root check fails.

use doctor::report::JsonReport;
use doctor::{CheckResult, Status};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn test_user() -> Option<String> {
    match std::env::var("U7S_TEST_USER") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "U7S_TEST_USER must be set in CI"
            );
            eprintln!("skipping: U7S_TEST_USER is not set (the unprivileged user to test as)");
            None
        }
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A world-readable copy of the binary (the checkout may sit under a 0700 directory).
fn binary_copy() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("u7s-doctor-live")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("u7s-doctor");
    std::fs::copy(env!("CARGO_BIN_EXE_u7s-doctor"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, bin)
}

/// The checks of `r` that failed.
fn failures(r: &JsonReport) -> Vec<&CheckResult> {
    r.checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .collect()
}

fn parse(out: &std::process::Output) -> JsonReport {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn as_the_test_user_nothing_fails_for_docker() {
    let Some(user) = test_user() else { return };
    if !is_root() {
        // Already the unprivileged user (scripts/test.sh run by the user themselves).
        let out = Command::new(env!("CARGO_BIN_EXE_u7s-doctor"))
            .args(["--json", "--for", "docker"])
            .output()
            .unwrap();
        let r = parse(&out);
        let fails = failures(&r);
        assert!(fails.is_empty(), "{fails:#?}");
        return;
    }
    let (dir, bin) = binary_copy();
    let out = Command::new("runuser")
        .args(["-u", &user, "--"])
        .arg(&bin)
        .args(["--json", "--for", "docker"])
        .current_dir(dir.path())
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_DATA_HOME")
        .env_remove("SUDO_USER")
        .output()
        .unwrap();
    let r = parse(&out);
    let fails = failures(&r);
    assert!(fails.is_empty(), "failures as {user}: {fails:#?}");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(r.user, user);
    // The live probes ran and passed: a real user namespace with the sub-ID map, an overlay
    // mount and a TAP device.
    for id in [
        "userns.create",
        "userns.map",
        "userns.mount",
        "devices.tun_userns",
    ] {
        let c = r.checks.iter().find(|c| c.id == id).unwrap();
        assert_eq!(c.status, Status::Pass, "{c:?}");
    }
    let c = r
        .checks
        .iter()
        .find(|c| c.id == "session.not_root")
        .unwrap();
    assert_eq!(c.status, Status::Pass);
}

#[test]
fn as_root_the_not_root_check_fails() {
    if !is_root() {
        if std::env::var("CI").as_deref() == Ok("true") && std::env::var("U7S_TEST_USER").is_err() {
            panic!("CI must run the tests as root with U7S_TEST_USER set");
        }
        eprintln!("skipping: not running as root");
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_u7s-doctor"))
        .args(["--json", "--for", "docker"])
        .env_remove("SUDO_USER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let r = parse(&out);
    let c = r
        .checks
        .iter()
        .find(|c| c.id == "session.not_root")
        .unwrap();
    assert_eq!(c.status, Status::Fail, "{c:?}");
    assert_eq!(r.user, "root");
    // Root's own sub-IDs are not something to fix.
    assert!(
        r.checks
            .iter()
            .filter(|c| c.id != "session.not_root")
            .all(|c| c.fix.is_none())
    );
    // With --user (admin mode), not_root passes, and the probes run as that user.
    if let Ok(user) = std::env::var("U7S_TEST_USER") {
        let out = Command::new(env!("CARGO_BIN_EXE_u7s-doctor"))
            .args(["--json", "--for", "docker", "--user", &user])
            .output()
            .unwrap();
        let r = parse(&out);
        let get = |id: &str| r.checks.iter().find(|c| c.id == id).unwrap();
        assert_eq!(
            get("session.not_root").status,
            Status::Pass,
            "{:?}",
            get("session.not_root")
        );
        assert_eq!(
            get("userns.map").status,
            Status::Pass,
            "{:?}",
            get("userns.map")
        );
        assert_eq!(get("subuid.range").status, Status::Pass);
    }
}

/// The probe itself, as the test user, with sub-ID ranges the user does not own: newuidmap's
/// own error comes back, and the other probes still run on a self-only map.
#[test]
fn probe_reports_newuidmap_errors_and_keeps_probing() {
    let Some(user) = test_user() else { return };
    if !is_root() {
        eprintln!("skipping: needs root to run the probe as {user}");
        return;
    }
    let out = Command::new("id").args(["-u", &user]).output().unwrap();
    let uid: u32 = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let out = Command::new("id").args(["-g", &user]).output().unwrap();
    let gid: u32 = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let base = tempfile::Builder::new()
        .prefix("u7s-doctor-probe")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    nix::unistd::chown(
        base.path(),
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
    )
    .unwrap();
    let which = |name: &str| {
        ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
            .iter()
            .map(|d| format!("{d}/{name}"))
            .find(|p| std::path::Path::new(p).exists())
    };
    let input = doctor::probe::ProbeInput {
        uid,
        gid,
        drop_privileges: true,
        newuidmap: which("newuidmap"),
        newgidmap: None,
        uid_ranges: vec![(3_000_000_000, 65536)],
        gid_ranges: vec![(3_000_000_000, 65536)],
        scratch_base: base.path().to_path_buf(),
    };
    let o = doctor::probe::run(&input);
    use doctor::probe::Step;
    assert!(matches!(o.userns, Step::Ok(_)), "{o:?}");
    match &o.map {
        Step::Failed { message, .. } => {
            assert!(message.contains("newuidmap failed"), "{message}");
            assert!(message.contains("newgidmap: not found"), "{message}");
        }
        other => panic!("map should fail: {other:?}"),
    }
    assert!(matches!(o.mount, Step::Ok(_)), "{o:?}");
    assert!(matches!(o.tun, Step::Ok(_)), "{o:?}");
    // The scratch directory is gone.
    assert_eq!(std::fs::read_dir(base.path()).unwrap().count(), 0);
}
