//! `--uninstall --purge` run as the unprivileged test user (env `U7S_TEST_USER`) on data owned
//! by its sub-UIDs, as a rootless dockerd leaves it: the installer must delete it from inside
//! a user namespace. It needs that user (scripts/ci-setup.sh): ignored by a plain `cargo test`,
//! it fails naming what is missing under `--include-ignored` (scripts/test.sh, CI).

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn id(user: &str, flag: &str) -> u32 {
    let o = Command::new("id").args([flag, user]).output().unwrap();
    assert!(o.status.success(), "no user {user}");
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

/// Runs `sh -c script` as `user` (through runuser when we are root) with a clean environment.
fn as_user(user: &str, home: &Path, runtime: &Path, script: &str) -> Output {
    let me = rustix::process::geteuid().as_raw();
    let mut c = if me == 0 {
        let mut c = Command::new("runuser");
        // -p: keep our HOME and XDG_RUNTIME_DIR (runuser would set the user's real HOME).
        c.args(["-p", "-u", user, "--", "sh", "-c", script]);
        c
    } else {
        assert_eq!(me, id(user, "-u"), "run this test as root or as {user}");
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    };
    c.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("HOME", home)
        .env("XDG_RUNTIME_DIR", runtime)
        .env("NO_COLOR", "1")
        .current_dir(home);
    c.output().unwrap()
}

#[test]
#[ignore = "needs U7S_TEST_USER (scripts/ci-setup.sh) and root or that user"]
fn purge_removes_files_owned_by_sub_uids() {
    let user = testkit::test_user_reachable().name;
    let uid = id(&user, "-u");
    let gid = id(&user, "-g");

    // Everything the user needs lives in a world-readable temp folder (the checkout may not be).
    let top = tempfile::Builder::new()
        .prefix("u7s-purge-")
        .tempdir_in("/tmp")
        .unwrap();
    let t = top.path();
    fs::set_permissions(t, fs::Permissions::from_mode(0o755)).unwrap();
    let bin = t.join("u7s-install");
    testkit::copy_executable(BIN.as_ref(), &bin);
    let rel = Release::small("1.0.0");
    let tbz = rel.tbz();
    fs::write(t.join("usernetes-x86_64.tbz"), &tbz).unwrap();
    fs::write(
        t.join("SHA256SUMS"),
        format!("{}  usernetes-x86_64.tbz\n", sha256_hex(&tbz)),
    )
    .unwrap();
    for f in ["usernetes-x86_64.tbz", "SHA256SUMS"] {
        fs::set_permissions(t.join(f), fs::Permissions::from_mode(0o644)).unwrap();
    }
    let home = t.join("home");
    let runtime = t.join("run");
    for d in [&home, &runtime] {
        fs::create_dir(d).unwrap();
        fs::set_permissions(d, fs::Permissions::from_mode(0o700)).unwrap();
        rustix::fs::chown(
            d,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )
        .unwrap();
    }

    // Never touch the real home of the test user.
    let o = as_user(
        &user,
        &home,
        &runtime,
        &format!("test \"$HOME\" = '{}'", home.display()),
    );
    assert_success(&o);

    let install = format!(
        "{} {}/usernetes-x86_64.tbz --no-doctor",
        bin.display(),
        t.display()
    );
    let o = as_user(&user, &home, &runtime, &install);
    assert_success(&o);
    let prefix = home.join(".local/share/usernetes");
    assert_eq!(
        fs::read_link(prefix.join("current"))
            .unwrap()
            .to_string_lossy(),
        "versions/1.0.0"
    );

    // Data as a rootless dockerd leaves it: owned by sub-UIDs, some folders 0700.
    let script = t.join("make-data.sh");
    fs::write(
        &script,
        "set -e\n\
         d=\"$HOME/.local/share/usernetes/docker/overlay2\"\n\
         mkdir -p \"$d/abc/diff/etc\"\n\
         echo secret > \"$d/abc/diff/etc/shadow\"\n\
         chown -R 1:1 \"$d\"\n\
         chmod 700 \"$d/abc\"\n",
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).unwrap();
    // The release's RootlessKit (scripts/test.sh unpacks it), else the host's.
    let rootlesskit = testkit::program("rootlesskit");
    let make = format!(
        "set -e; {} --net=host sh {}; mkdir -p \"$HOME/.config/usernetes/tls\"; \
         echo key > \"$HOME/.config/usernetes/tls/key.pem\"",
        rootlesskit.display(),
        script.display()
    );
    let o = as_user(&user, &home, &runtime, &make);
    assert_success(&o);
    let owned = prefix.join("docker/overlay2/abc");
    let md = fs::symlink_metadata(&owned).unwrap();
    assert_ne!(md.uid(), uid, "the test data must be owned by a sub-UID");
    assert_ne!(md.uid(), 0);
    // The user alone cannot delete it.
    let o = as_user(
        &user,
        &home,
        &runtime,
        "rm -rf \"$HOME/.local/share/usernetes/docker\"",
    );
    assert!(
        !o.status.success(),
        "plain rm was expected to fail: {}",
        text(&o)
    );

    // Purge needs confirmation without a terminal.
    let uninstall = format!("{} --uninstall --purge", bin.display());
    let o = as_user(&user, &home, &runtime, &uninstall);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(owned.exists());

    let o = as_user(&user, &home, &runtime, &format!("{uninstall} --yes"));
    assert_success(&o);
    assert!(!prefix.exists(), "{}", text(&o));
    assert!(!home.join(".config/usernetes").exists(), "{}", text(&o));
    // The PATH line (in a .profile made for it) is gone too.
    assert!(!home.join(".profile").exists());
}

/// Runs `shell -l -c 'echo ok'` as the user: (stdout, stderr).
fn login(user: &str, home: &Path, runtime: &Path, shell: &str) -> (String, String) {
    let o = as_user(
        user,
        home,
        runtime,
        &format!("{shell} -l -c 'echo ok; echo \"$PATH\"'"),
    );
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
#[ignore = "needs U7S_TEST_USER (scripts/ci-setup.sh) and root or that user"]
fn login_shells_work_after_install_without_the_env_file_and_after_uninstall() {
    let user = testkit::test_user_reachable().name;
    let uid = id(&user, "-u");
    let gid = id(&user, "-g");
    let top = tempfile::Builder::new()
        .prefix("u7s-login-")
        .tempdir_in("/tmp")
        .unwrap();
    let t = top.path();
    fs::set_permissions(t, fs::Permissions::from_mode(0o755)).unwrap();
    let bin = t.join("u7s-install");
    testkit::copy_executable(Path::new(BIN), &bin);
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let tbz = Release::small("1.0.0").tbz();
    fs::write(t.join("usernetes-x86_64.tbz"), &tbz).unwrap();
    fs::write(
        t.join("SHA256SUMS"),
        format!("{}  usernetes-x86_64.tbz\n", sha256_hex(&tbz)),
    )
    .unwrap();
    for f in ["usernetes-x86_64.tbz", "SHA256SUMS"] {
        fs::set_permissions(t.join(f), fs::Permissions::from_mode(0o644)).unwrap();
    }
    let home = t.join("home");
    let runtime = t.join("run");
    for d in [&home, &runtime] {
        fs::create_dir(d).unwrap();
        fs::set_permissions(d, fs::Permissions::from_mode(0o700)).unwrap();
        rustix::fs::chown(
            d,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )
        .unwrap();
    }
    // A bash user: .bashrc exists, so it gets the line too.
    let bashrc = "# the user's own\nalias ll='ls -l'\n";
    fs::write(home.join(".bashrc"), bashrc).unwrap();
    rustix::fs::chown(
        home.join(".bashrc"),
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    )
    .unwrap();
    let o = as_user(
        &user,
        &home,
        &runtime,
        &format!(
            "{} {}/usernetes-x86_64.tbz --no-doctor --no-systemd",
            bin.display(),
            t.display()
        ),
    );
    assert_success(&o);
    let bin_dir = home.join(".local/share/usernetes/current/bin");
    for shell in ["bash", "dash"] {
        let (out, err) = login(&user, &home, &runtime, shell);
        assert!(out.starts_with("ok\n"), "{shell}: {out}{err}");
        assert!(
            out.contains(&bin_dir.display().to_string()),
            "{shell} -l has no {} on PATH: {out}{err}",
            bin_dir.display()
        );
        assert!(!err.contains("usernetes"), "{shell}: {err}");
    }

    // The env file gone (another tool, a hand-made cleanup, an older purge): logins still work.
    fs::remove_file(home.join(".local/share/usernetes/env")).unwrap();
    for shell in ["bash", "dash"] {
        let (out, err) = login(&user, &home, &runtime, shell);
        assert!(out.starts_with("ok\n"), "{shell} login broke: {out}{err}");
        assert!(!err.contains("usernetes"), "{shell}: {err}");
    }

    // Uninstall removes what install added: .profile (made for the line) and the .bashrc line.
    let o = as_user(
        &user,
        &home,
        &runtime,
        &format!("{} --uninstall", bin.display()),
    );
    assert_success(&o);
    assert!(!home.join(".profile").exists(), "{}", text(&o));
    assert_eq!(fs::read_to_string(home.join(".bashrc")).unwrap(), bashrc);
    for shell in ["bash", "dash"] {
        let (out, err) = login(&user, &home, &runtime, shell);
        assert!(out.starts_with("ok\n"), "{shell}: {out}{err}");
        assert!(!out.contains("usernetes"), "{shell}: {out}");
        assert!(!err.contains("usernetes"), "{shell}: {err}");
    }
}
