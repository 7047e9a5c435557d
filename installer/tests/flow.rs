//! The life of an installation through the real binary, with HOME and the XDG folders in a
//! sandbox: install → reinstall → upgrade → prune → list → rollback → uninstall → purge, and
//! the session integration (PATH lines, completions, systemd unit, stopping a session).

mod common;

use std::fs;
use std::process::Command;

use common::*;

const LINE: &str = "if [ -f \"$HOME/.local/share/usernetes/env\" ]; then . \"$HOME/.local/share/usernetes/env\"; fi # added by u7s-install (usernetes)";

fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

/// An earlier installer's own unit (`usernetes.service` in `dir`), written and added to the
/// install record as that installer recorded it; its path.
fn record_legacy_unit(s: &Sandbox, dir: &std::path::Path) -> std::path::PathBuf {
    let legacy = dir.join("usernetes.service");
    fs::write(&legacy, "# old\n").unwrap();
    let recp = s.prefix().join("install-record.json");
    let mut r: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&recp).unwrap()).unwrap();
    r["units"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"path": legacy, "sha256": ""}));
    fs::write(&recp, r.to_string()).unwrap();
    legacy
}

#[test]
fn install_upgrade_rollback_list_uninstall() {
    let s = Sandbox::new();
    let v1 = Release::small("1.0.0");
    let v2 = Release::small("2.0.0");
    let v3 = Release::small("3.0.0");

    // Install.
    let o = s.install_ok(&v1, &[]);
    s.assert_current(&v1);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("installed usernetes 1.0.0"), "{}", text(&o));
    assert!(
        out.contains(". \"$HOME/.local/share/usernetes/env\""),
        "{}",
        text(&o)
    );
    let profile = fs::read_to_string(s.home().join(".profile")).unwrap();
    let bashrc = fs::read_to_string(s.home().join(".bashrc")).unwrap();
    assert_eq!(profile, format!("{LINE}\n"));
    assert_eq!(bashrc, format!("# bashrc\nalias ll='ls -l'\n{LINE}\n"));
    let completion = s
        .home()
        .join(".local/share/bash-completion/completions/u7s");
    assert_eq!(
        fs::read_to_string(&completion).unwrap(),
        "# completions for u7s 1.0.0 (bash)\n"
    );
    // A login shell finds the release's commands.
    let o = Command::new("sh")
        .args(["-c", ". \"$HOME/.profile\"; u7s --version"])
        .env("HOME", s.home())
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "u7s 1.0.0\n",
        "{}",
        text(&o)
    );

    // Same archive again: kept, and the startup files are not edited twice.
    let o = s.install_ok(&v1, &[]);
    assert!(
        stderr(&o).contains("already installed intact"),
        "{}",
        text(&o)
    );
    assert_eq!(
        count(
            &fs::read_to_string(s.home().join(".profile")).unwrap(),
            LINE
        ),
        1
    );
    assert_eq!(
        count(&fs::read_to_string(s.home().join(".bashrc")).unwrap(), LINE),
        1
    );
    s.assert_current(&v1);

    // Upgrade: the previous version stays; a running session (`u7s status` exits 0) is told
    // to restart.
    let running = s.runtime_dir().join("usernetes/test-running");
    fs::create_dir_all(s.runtime_dir().join("usernetes")).unwrap();
    fs::write(&running, b"").unwrap();
    let o = s.install_ok(&v2, &["--json"]);
    fs::remove_file(&running).unwrap();
    assert!(s.calls().contains("status 2.0.0"), "{}", s.calls());
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["session_running"], true);
    assert_eq!(j["version"], "2.0.0");
    assert_eq!(j["previous"], "1.0.0");
    assert_eq!(j["archive_sha256"], sha256_hex(&v2.tbz()));
    assert!(j["verified_with"].as_str().unwrap().ends_with("SHA256SUMS"));
    s.assert_current(&v2);
    assert_eq!(s.versions(), ["1.0.0", "2.0.0"]);
    assert_tree_matches(&s.prefix().join("versions/1.0.0"), &v1);
    assert_eq!(
        fs::read_to_string(&completion).unwrap(),
        "# completions for u7s 2.0.0 (bash)\n"
    );

    // A damaged install record does not block upgrades.
    let record = s.prefix().join("install-record.json");
    let saved = fs::read(&record).unwrap();
    fs::write(&record, b"{ damaged").unwrap();
    let o = s.install_ok(&v2, &[]);
    assert!(
        stderr(&o).contains("starting a new install record"),
        "{}",
        text(&o)
    );
    fs::write(&record, saved).unwrap();

    // Another upgrade keeping one previous version prunes the oldest. The session folder
    // stays after `u7s down`: `u7s status` (exit 3) says no session runs, no restart hint.
    let o = s.install_ok(&v3, &["--keep", "1"]);
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("restart"),
        "{}",
        text(&o)
    );
    s.assert_current(&v3);
    assert_eq!(s.versions(), ["2.0.0", "3.0.0"]);
    assert!(s.leftovers().is_empty());

    // List.
    let o = s.run(&["--list"]);
    assert_success(&o);
    let list = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(
        lines[0].starts_with("* 3.0.0") && lines[0].ends_with("(current)"),
        "{list}"
    );
    assert!(
        lines[1].starts_with("  2.0.0") && lines[1].contains("KiB"),
        "{list}"
    );
    let o = s.run(&["--list", "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["current"], "3.0.0");
    assert_eq!(j["versions"].as_array().unwrap().len(), 2);
    assert!(j["versions"][1]["size"].as_u64().unwrap() > 70_000);

    // Rollback goes to the previously current version, and back.
    let o = s.run(&["--rollback"]);
    assert_success(&o);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("current is now 2.0.0 (was 3.0.0)"),
        "{}",
        text(&o)
    );
    s.assert_current(&v2);
    assert_eq!(
        fs::read_to_string(&completion).unwrap(),
        "# completions for u7s 2.0.0 (bash)\n"
    );
    assert_success(&s.run(&["--rollback"]));
    s.assert_current(&v3);
    assert_success(&s.run(&["--rollback", "2.0.0"]));
    s.assert_current(&v2);
    let o = s.run(&["--rollback", "1.0.0"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("version 1.0.0 is not installed (installed: 2.0.0, 3.0.0)"),
        "{}",
        text(&o)
    );
    s.assert_current(&v2);

    // Uninstall: stops the running session, keeps data and config.
    fs::write(&running, b"").unwrap();
    fs::create_dir_all(s.prefix().join("docker/volumes")).unwrap();
    fs::write(s.prefix().join("docker/volumes/v"), b"data").unwrap();
    fs::create_dir_all(s.config_home().join("usernetes")).unwrap();
    fs::write(s.config_home().join("usernetes/config.toml"), b"x").unwrap();
    let o = s.run(&["--uninstall"]);
    assert_success(&o);
    assert!(
        s.calls().contains("down 2.0.0"),
        "u7s down was not run: {}",
        s.calls()
    );
    assert!(s.current().is_none());
    assert!(s.versions().is_empty());
    assert!(!s.prefix().join("env").exists());
    assert!(!s.prefix().join("install-record.json").exists());
    assert!(!completion.exists());
    assert!(!s.home().join(".local/share/bash-completion").exists());
    // .profile was created for our line alone: gone again.
    assert!(!s.home().join(".profile").exists());
    assert_eq!(
        fs::read_to_string(s.home().join(".bashrc")).unwrap(),
        "# bashrc\nalias ll='ls -l'\n"
    );
    assert_eq!(
        fs::read(s.prefix().join("docker/volumes/v")).unwrap(),
        b"data"
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("--purge"),
        "{}",
        text(&o)
    );

    // Purge without a terminal and without --yes: refused, nothing deleted.
    let o = s.run(&["--uninstall", "--purge"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(stderr(&o).contains("--yes"), "{}", text(&o));
    assert!(s.prefix().join("docker/volumes/v").exists());

    let o = s.run(&["--uninstall", "--purge", "--yes"]);
    assert_success(&o);
    assert!(!s.prefix().exists(), "{}", text(&o));
    assert!(!s.config_home().join("usernetes").exists());
    assert!(!s.runtime_dir().join("usernetes").exists());
    // Uninstalling twice is fine.
    assert_success(&s.run(&["--uninstall"]));
}

#[test]
fn opting_out_of_each_integration() {
    let s = Sandbox::new();
    s.set_systemctl("running", 0);
    let before = fs::read_to_string(s.home().join(".bashrc")).unwrap();
    s.install_ok(
        &Release::small("1.0.0"),
        &["--no-modify-path", "--no-systemd", "--no-completions", "-q"],
    );
    assert!(!s.home().join(".profile").exists());
    assert_eq!(
        fs::read_to_string(s.home().join(".bashrc")).unwrap(),
        before
    );
    assert!(!s.prefix().join("env").exists());
    assert!(!s.config_home().join("systemd").exists());
    assert!(!s.home().join(".local/share/bash-completion").exists());
    assert!(!s.calls().contains("daemon-reload"));
}

#[test]
fn systemd_units_come_from_u7s_units() {
    let s = Sandbox::new();
    let dir = s.config_home().join("systemd/user");
    let target = dir.join("u7s.target");

    // No user manager: no units.
    s.install_ok(&Release::small("1.0.0"), &["--no-completions"]);
    assert!(!target.exists());
    assert!(!s.calls().contains("units "), "{}", s.calls());

    // A user manager: the release writes them; not started unasked.
    s.set_systemctl("running", 0);
    let o = s.install_ok(&Release::small("1.0.0"), &["--no-completions", "--json"]);
    assert!(s.calls().contains("units install   1.0.0"), "{}", s.calls());
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        j["integration"]["units"]["written"][0],
        target.to_str().unwrap(),
        "{j}"
    );
    assert_eq!(j["integration"]["units"]["started"], false, "{j}");
    let rec = fs::read_to_string(s.prefix().join("install-record.json")).unwrap();
    assert!(rec.contains("u7s.service"), "{rec}");

    // --enable-service starts them too.
    s.install_ok(
        &Release::small("2.0.0"),
        &["--no-completions", "--enable-service"],
    );
    assert!(
        s.calls().contains("units install --now  2.0.0"),
        "{}",
        s.calls()
    );
    assert!(target.exists() && dir.join("u7s.service").exists());

    // An earlier installer's own unit, still in the record, goes too.
    let legacy = record_legacy_unit(&s, &dir);

    // Uninstall asks the release to remove them, before the versions go.
    let o = s.run(&["--uninstall"]);
    assert_success(&o);
    assert!(s.calls().contains("units remove   2.0.0"), "{}", s.calls());
    assert!(
        s.calls()
            .contains("systemctl --user disable --now usernetes.service"),
        "{}",
        s.calls()
    );
    assert!(!target.exists() && !dir.join("u7s.service").exists() && !legacy.exists());
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("removed unit"),
        "{}",
        text(&o)
    );
}

/// newcomer review L15: a first install into a fresh prefix, with the state folder a past
/// `u7s down` left and a `u7s` whose status cannot answer, gives no restart hint; neither does
/// an upgrade then, as no session holds the data folder's lock.
#[test]
fn no_restart_hint_without_a_previous_version_or_a_session() {
    let s = Sandbox::new();
    fs::create_dir_all(s.runtime_dir().join("usernetes")).unwrap();
    for v in ["1.0.0", "2.0.0"] {
        let a = s.put_archive("usernetes-x86_64.tbz", &Release::small(v).tbz(), true);
        let o = s
            .cmd()
            .args([a.to_str().unwrap(), "--no-doctor"])
            .env("U7S_TEST_STATUS", "1")
            .output()
            .unwrap();
        assert_success(&o);
        assert!(
            !String::from_utf8_lossy(&o.stdout).contains("restart"),
            "{v}: {}",
            text(&o)
        );
    }
}

/// newcomer review M13: units recorded by an earlier install, then no systemd user manager
/// (a login through su): uninstall deletes them without any systemctl call, so no "Failed to
/// connect to bus" warnings; with nothing recorded, `u7s units remove` is not even asked.
#[test]
fn uninstall_without_a_user_manager_calls_no_systemctl() {
    let s = Sandbox::new();
    let dir = s.config_home().join("systemd/user");
    s.set_systemctl("running", 0);
    s.install_ok(&Release::small("1.0.0"), &["--no-completions"]);
    assert!(dir.join("u7s.target").exists());
    let legacy = record_legacy_unit(&s, &dir);
    // No user manager any more: systemctl only fails to connect to the bus.
    s.set_systemctl("offline", 1);
    let before = s.calls();
    let o = s.run(&["--uninstall"]);
    assert_success(&o);
    let calls = s.calls()[before.len()..].to_string();
    assert!(!calls.contains("systemctl --user disable"), "{calls}");
    assert!(!calls.contains("daemon-reload"), "{calls}");
    assert!(!legacy.exists() && !dir.join("u7s.target").exists());
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("warning"),
        "{}",
        text(&o)
    );

    // Installed with --no-systemd: nothing to ask `u7s units` nor systemctl.
    let s = Sandbox::new();
    s.install_ok(
        &Release::small("1.0.0"),
        &["--no-completions", "--no-systemd"],
    );
    let before = s.calls();
    assert_success(&s.run(&["--uninstall"]));
    let calls = s.calls()[before.len()..].to_string();
    assert!(
        !calls.contains("units ") && !calls.contains("systemctl"),
        "{calls}"
    );
}

#[test]
fn a_custom_prefix_gets_no_units() {
    let s = Sandbox::new();
    s.set_systemctl("running", 0);
    let o = s.install_ok(
        &Release::small("1.0.0"),
        &["--no-completions", "--json", "--prefix", "opt/u7s"],
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        j["integration"]["units_skipped"]
            .as_str()
            .unwrap()
            .contains("default prefix"),
        "{j}"
    );
    assert!(!s.calls().contains("units "), "{}", s.calls());
}

#[test]
fn doctor_runs_after_install_and_its_summary_is_printed() {
    let s = Sandbox::new();
    let rel = Release::small("1.0.0");
    let a = s.put_archive("usernetes-x86_64.tbz", &rel.tbz(), true);
    let o = s.run(&[a.to_str().unwrap(), "--json"]);
    assert_success(&o);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let d = &j["doctor"];
    assert!(d["summary"].as_str().unwrap().contains("passed"), "{j}");
    assert!(d["next_step"].as_str().unwrap().contains("u7s up"), "{j}");
    assert_eq!(
        d["failures"].as_array().unwrap().len() as u64,
        d["failed"].as_u64().unwrap()
    );
    let o = s.run(&[a.to_str().unwrap()]);
    assert_success(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("doctor: ") && out.contains("next: "),
        "{}",
        text(&o)
    );
}

#[test]
fn install_without_checksums_needs_its_own_flag_not_yes() {
    let s = Sandbox::new();
    let rel = Release::small("1.0.0");
    let a = s.put_archive("usernetes-x86_64.tbz", &rel.tbz(), false);
    let o = s.run(&[a.to_str().unwrap(), "--no-doctor"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(s.versions().is_empty());
    // --yes answers questions; it never skips the checksum.
    let o = s.run(&[a.to_str().unwrap(), "--no-doctor", "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(s.versions().is_empty());
    let o = s.run(&[
        a.to_str().unwrap(),
        "--no-doctor",
        "--insecure-skip-checksum",
    ]);
    assert_success(&o);
    assert!(stderr(&o).contains("cannot be checked"), "{}", text(&o));
    s.assert_current(&rel);
    // --checksums from elsewhere works too.
    let sums = s.root().join("sums.txt");
    let rel2 = Release::small("2.0.0");
    let a = s.put_archive("usernetes-x86_64.tbz", &rel2.tbz(), false);
    fs::write(
        &sums,
        format!("{} *usernetes-x86_64.tbz\n", sha256_hex(&rel2.tbz())),
    )
    .unwrap();
    assert_success(&s.run(&[
        a.to_str().unwrap(),
        "--no-doctor",
        "--checksums",
        sums.to_str().unwrap(),
    ]));
    s.assert_current(&rel2);
}

#[test]
fn a_damaged_copy_of_an_installed_version_is_repaired() {
    let s = Sandbox::new();
    let v1 = Release::small("1.0.0");
    s.install_ok(&v1, &[]);
    s.install_ok(&Release::small("2.0.0"), &[]);
    fs::write(s.prefix().join("versions/1.0.0/bin/tool"), b"bit rot").unwrap();
    let o = s.install_ok(&v1, &[]);
    assert!(
        !stderr(&o).contains("already installed intact"),
        "{}",
        text(&o)
    );
    s.assert_current(&v1);
}

#[test]
fn a_leftover_session_folder_is_not_a_running_session() {
    let s = Sandbox::new();
    s.install_ok(&Release::small("1.0.0"), &[]);
    // The folder stays after `u7s down`; `u7s status` exits 3.
    fs::create_dir_all(s.runtime_dir().join("usernetes")).unwrap();
    let o = s.install_ok(&Release::small("2.0.0"), &["--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["session_running"], false, "{}", text(&o));
    let o = s.run(&["--uninstall", "--json"]);
    assert_success(&o);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["session_stopped"], false, "{}", text(&o));
    assert!(s.calls().contains("status 2.0.0"), "{}", s.calls());
    assert!(!s.calls().contains("down "), "{}", s.calls());
}

#[test]
fn uninstall_stops_when_the_session_cannot_be_stopped() {
    let s = Sandbox::new();
    let v1 = Release::small("1.0.0");
    s.install_ok(&v1, &[]);
    // `u7s status` cannot tell (exit 1): the session folder decides, as before.
    fs::create_dir_all(s.runtime_dir().join("usernetes")).unwrap();
    let o = s
        .cmd()
        .arg("--uninstall")
        .env("U7S_TEST_STATUS", "1")
        .env("U7S_TEST_DOWN_FAIL", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = stderr(&o);
    assert!(err.contains("could not stop the running session"), "{err}");
    assert!(err.contains("rootlesskit does not answer"), "{err}");
    // Nothing was removed.
    s.assert_current(&v1);
    assert!(
        fs::read_to_string(s.home().join(".profile"))
            .unwrap()
            .contains(LINE)
    );
}

#[test]
fn a_prefix_purge_removes_only_that_prefix() {
    let s = Sandbox::new();
    let v1 = Release::small("1.0.0");
    s.install_ok(&v1, &["--no-systemd"]);
    let completion = s
        .home()
        .join(".local/share/bash-completion/completions/u7s");
    let default_completion = fs::read(&completion).unwrap();
    // The default install's session data and the user's config.
    fs::create_dir_all(s.prefix().join("docker/volumes")).unwrap();
    fs::write(s.prefix().join("docker/volumes/v"), b"data").unwrap();
    fs::create_dir_all(s.config_home().join("usernetes")).unwrap();
    fs::write(s.config_home().join("usernetes/config.toml"), b"x").unwrap();
    fs::create_dir_all(s.runtime_dir().join("usernetes")).unwrap();
    let profile = fs::read_to_string(s.home().join(".profile")).unwrap();

    // A second install elsewhere owns only its own files: the shared completions stay the
    // default install's.
    let alt = s.home().join("alt");
    s.install_ok(
        &Release::small("2.0.0"),
        &[
            "--prefix",
            alt.to_str().unwrap(),
            "--no-modify-path",
            "--no-systemd",
        ],
    );
    assert_eq!(fs::read(&completion).unwrap(), default_completion);
    assert!(alt.join("current/bin/u7s").is_file());

    let o = s.run(&[
        "--prefix",
        alt.to_str().unwrap(),
        "--uninstall",
        "--purge",
        "--yes",
    ]);
    assert_success(&o);
    assert!(!alt.exists(), "{}", text(&o));
    // The default install, its data, the config, the session folder and the login lines stay.
    s.assert_current(&v1);
    assert!(s.prefix().join("env").is_file());
    assert!(s.prefix().join("install-record.json").is_file());
    assert_eq!(
        fs::read(s.prefix().join("docker/volumes/v")).unwrap(),
        b"data"
    );
    assert!(s.config_home().join("usernetes/config.toml").exists());
    assert!(s.runtime_dir().join("usernetes").exists());
    assert_eq!(fs::read(&completion).unwrap(), default_completion);
    assert_eq!(
        fs::read_to_string(s.home().join(".profile")).unwrap(),
        profile
    );
    assert!(!s.calls().contains("down "), "{}", s.calls());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("every install of this user shares"), "{out}");
    assert!(
        !out.contains("usernetes/versions") && !out.contains("usernetes/current"),
        "the default install is not data: {out}"
    );
}

/// `minisign ARGS` in `dir` (Debian package minisign; scripts/test.sh installs it).
fn minisign(dir: &std::path::Path, args: &[&str]) {
    let o = std::process::Command::new("minisign")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("minisign is needed for the signature tests: apt-get install minisign");
    assert!(o.status.success(), "minisign {args:?}: {o:?}");
}

#[test]
fn a_configured_public_key_needs_a_good_signature_of_the_checksums() {
    let s = Sandbox::new();
    let keys = s.root().join("keys");
    fs::create_dir_all(&keys).unwrap();
    minisign(
        &keys,
        &["-G", "-W", "-p", "release.pub", "-s", "release.key"],
    );
    minisign(&keys, &["-G", "-W", "-p", "other.pub", "-s", "other.key"]);
    let pubkey = keys.join("release.pub");
    let rel = Release::small("1.0.0");
    let a = s.put_archive("usernetes-x86_64.tbz", &rel.tbz(), true);
    let sums = a.with_file_name("SHA256SUMS");
    let with_key = |key: &std::path::Path| {
        s.run(&[
            a.to_str().unwrap(),
            "--no-doctor",
            "--public-key",
            key.to_str().unwrap(),
        ])
    };
    // Unsigned: refused (exit 3, the archive refused), naming the missing signature file and the fix; nothing installed.
    let o = with_key(&pubkey);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        stderr(&o).contains("SHA256SUMS.minisig")
            && stderr(&o).contains("missing")
            && stderr(&o).contains("--public-key"),
        "{}",
        text(&o)
    );
    assert!(s.versions().is_empty());
    // Signed by another key: refused.
    minisign(
        &keys,
        &["-S", "-s", "other.key", "-m", sums.to_str().unwrap()],
    );
    let o = with_key(&pubkey);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(stderr(&o).contains("bad signature"), "{}", text(&o));
    assert!(s.versions().is_empty());
    // Signed by the release key: installed.
    minisign(
        &keys,
        &["-S", "-s", "release.key", "-m", sums.to_str().unwrap()],
    );
    assert_success(&with_key(&pubkey));
    s.assert_current(&rel);
    // A tampered SHA256SUMS (the hash of another archive) keeps its old signature: refused
    // before anything of the new archive is installed.
    let rel2 = Release::small("2.0.0");
    fs::write(&a, rel2.tbz()).unwrap();
    fs::write(
        &sums,
        format!("{} *usernetes-x86_64.tbz\n", sha256_hex(&rel2.tbz())),
    )
    .unwrap();
    let o = with_key(&pubkey);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(stderr(&o).contains("bad signature"), "{}", text(&o));
    s.assert_current(&rel);
    // The key from the environment works the same way.
    let o = s
        .cmd()
        .args([a.to_str().unwrap(), "--no-doctor"])
        .env("U7S_PUBLIC_KEY", keys.join("other.pub"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    s.assert_current(&rel);
}
