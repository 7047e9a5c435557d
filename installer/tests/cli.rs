//! The command line itself: help with examples, version, completions, man page, the prefix
//! lock, and the refusals that happen before anything is unpacked.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;

use common::*;

#[test]
fn help_version_completions_man() {
    let s = Sandbox::new();
    let o = s.run(&["--help"]);
    assert_success(&o);
    let help = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "EXAMPLES:",
        "--checksums",
        "--rollback",
        "--uninstall",
        "--purge",
        "--completions",
        "--man",
        "--no-modify-path",
        "EXIT STATUS",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
    let o = s.run(&["--version"]);
    assert_success(&o);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("u7s-install "));
    let o = s.run(&["--completions", "bash"]);
    assert_success(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("u7s-install"));
    let o = s.run(&["--man"]);
    assert_success(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains(".TH u7s-install"));
    // Usage errors exit 2.
    assert_eq!(s.run(&["--purge"]).status.code(), Some(2));
    assert_eq!(s.run(&["a.tbz", "--list"]).status.code(), Some(2));
}

#[test]
fn second_install_is_refused_while_the_lock_is_held() {
    let s = Sandbox::new();
    let a = s.put_archive("usernetes-x86_64.tbz", b"whatever", true);
    fs::create_dir_all(s.prefix()).unwrap();
    // This test process plays the running installer: it holds the flock and wrote its pid.
    let mut lock = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(s.prefix().join(".lock"))
        .unwrap();
    fs4::FileExt::try_lock(&lock).unwrap();
    writeln!(lock, "{}", std::process::id()).unwrap();
    let o = s.run(&[a.to_str().unwrap(), "--no-doctor"]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(
        stderr(&o).contains(&format!(
            "another u7s-install is running (pid {})",
            std::process::id()
        )),
        "{}",
        text(&o)
    );
    for args in [&["--rollback"][..], &["--uninstall"][..]] {
        let o = s.run(args);
        assert_eq!(
            o.status.code(),
            Some(if args[0] == "--rollback" { 1 } else { 4 }),
            "{args:?}: {}",
            text(&o)
        );
    }
    drop(lock);
    assert!(s.versions().is_empty());
}

#[test]
fn missing_archive_and_missing_checksums_are_refused() {
    let s = Sandbox::new();
    let o = s.run(&["nope.tbz", "--no-doctor"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nope.tbz"), "{}", text(&o));

    // No SHA256SUMS beside it and no --yes: nothing is unpacked.
    let a = s.put_archive("usernetes-x86_64.tbz", b"not even bzip2", false);
    let o = s.run(&[a.to_str().unwrap(), "--no-doctor"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = stderr(&o);
    assert!(
        err.contains("no checksums for") && err.contains("--insecure-skip-checksum"),
        "{err}"
    );
    assert!(s.versions().is_empty());
    assert!(s.current().is_none());
    assert!(s.leftovers().is_empty());

    // --checksums naming a file that does not exist
    let o = s.run(&[
        a.to_str().unwrap(),
        "--checksums",
        "/nonexistent/SHA256SUMS",
        "--no-doctor",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stderr(&o).contains("/nonexistent/SHA256SUMS"),
        "{}",
        text(&o)
    );

    // --json: the error as JSON on stdout too
    let o = s.run(&["nope.tbz", "--no-doctor", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j["error"].as_str().unwrap().contains("nope.tbz"), "{j}");
    assert_eq!(j["exit_code"], 1);
    assert!(j["hint"].as_str().is_some(), "{j}");

    // plain http to a remote host
    let o = s.run(&["http://example.org/usernetes-x86_64.tbz", "--no-doctor"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(stderr(&o).contains("plain http is refused"), "{}", text(&o));
}

/// newcomer review L14, L17: errors carry the tool's name (`u7s-install: error:`, `  hint:`),
/// and a failed install into a new prefix removes the folder it created (it held only `.lock`).
#[test]
fn a_failed_install_leaves_no_new_prefix_and_names_the_tool() {
    let s = Sandbox::new();
    for (name, body, sums) in [
        ("usernetes-x86_64.tbz", &b"not an archive"[..], true),
        ("usernetes-x86_64.tbz", &b"no sums"[..], false),
    ] {
        let a = s.put_archive(name, body, sums);
        if !sums {
            let _ = fs::remove_file(s.root().join("dl/SHA256SUMS"));
        }
        let o = s.run(&[a.to_str().unwrap(), "--no-doctor", "--prefix", "p1/new"]);
        assert!(!o.status.success(), "{}", text(&o));
        let err = stderr(&o);
        assert!(
            err.lines().any(|l| l.starts_with("u7s-install: error: ")),
            "{err}"
        );
        if !sums {
            assert!(
                err.contains("\n  hint: put SHA256SUMS beside the archive"),
                "{err}"
            );
        }
        assert!(!s.root().join("p1").exists(), "{}", text(&o));
    }
    // A prefix that was there stays.
    fs::create_dir_all(s.root().join("kept")).unwrap();
    let a = s.put_archive("usernetes-x86_64.tbz", b"not an archive", true);
    let o = s.run(&[a.to_str().unwrap(), "--no-doctor", "--prefix", "kept"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(s.root().join("kept").is_dir());
    // clap's usage errors too.
    let o = s.run(&["--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("u7s-install: error: unexpected argument"),
        "{}",
        text(&o)
    );
}

/// newcomer review L16: `--yes` says exactly what it does.
#[test]
fn yes_is_described_as_what_it_does() {
    let s = Sandbox::new();
    let help = String::from_utf8_lossy(&s.run(&["--help"]).stdout).into_owned();
    let yes = help
        .split("-y, --yes")
        .nth(1)
        .and_then(|t| t.split("\n  -").next())
        .unwrap_or_else(|| panic!("{help}"))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        yes.starts_with("With --uninstall --purge: delete the data without asking"),
        "{yes}"
    );
    assert!(yes.contains("never skips a checksum"), "{yes}");
}

/// newcomer review L27: a browser's renamed copy (`usernetes-x86_64 (1).tbz`) is installed when
/// its sha256 is the one SHA256SUMS lists for `usernetes-x86_64.tbz`, and refused naming that
/// line when not.
#[test]
fn a_browser_renamed_archive_is_checked_against_the_original_name() {
    let s = Sandbox::new();
    let rel = Release::small("1.0.0");
    let tbz = rel.tbz();
    s.put_archive("usernetes-x86_64.tbz", &tbz, true);
    let renamed = s.root().join("dl/usernetes-x86_64 (1).tbz");
    fs::write(&renamed, &tbz).unwrap();
    let o = s.run(&[renamed.to_str().unwrap(), "--no-doctor"]);
    assert_success(&o);
    assert!(
        stderr(&o).contains("sha256 matches usernetes-x86_64.tbz in")
            && stderr(&o).contains("renamed"),
        "{}",
        text(&o)
    );
    s.assert_current(&rel);

    let other = s.root().join("dl/usernetes-x86_64 (2).tbz");
    fs::write(&other, Release::small("2.0.0").tbz()).unwrap();
    let o = s.run(&[other.to_str().unwrap(), "--no-doctor"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        stderr(&o).contains("checked as usernetes-x86_64.tbz"),
        "{}",
        text(&o)
    );
    s.assert_current(&rel);
}

#[test]
fn list_and_rollback_on_an_empty_prefix() {
    let s = Sandbox::new();
    let o = s.run(&["--list"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nothing is installed"), "{}", text(&o));
    let o = s.run(&["--list", "--json"]);
    assert_success(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["versions"], serde_json::json!([]));
    let o = s.run(&["--rollback"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nothing is installed"), "{}", text(&o));
    // Uninstalling nothing is fine and leaves no prefix behind.
    let o = s.run(&["--uninstall"]);
    assert_success(&o);
    assert!(!s.prefix().exists());
}
