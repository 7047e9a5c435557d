//! A corpus of hostile archives built in the test: each one is refused with
//! `Error::UnsafeEntry` naming the entry, and nothing is written outside the destination.

mod common;

use std::fs;
use std::path::Path;

use bundle::Error;
use bundle::safe_extract::{ExtractOptions, extract_tar};
use common::{Raw, raw_tar};
use tar::EntryType;

fn opts() -> ExtractOptions {
    ExtractOptions {
        top: "usernetes".into(),
        sync: false,
    }
}

/// Everything under `dir`, as sorted relative paths.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Extracts `entries` into `<tmp>/dest` and expects a refusal of `entry`, with `reason` in
/// the message; checks nothing appeared next to `dest`.
fn refused(case: &str, entries: &[Raw], entry: &str, reason: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("dest");
    fs::create_dir(&dest).unwrap();
    let tar = raw_tar(entries);
    match extract_tar(&tar[..], &dest, &opts()) {
        Err(Error::UnsafeEntry {
            entry: e,
            reason: r,
        }) => {
            assert_eq!(e, entry, "{case}: wrong entry named ({r})");
            assert!(r.contains(reason), "{case}: reason {r:?} lacks {reason:?}");
            let shown = Error::UnsafeEntry {
                entry: e.clone(),
                reason: r,
            }
            .to_string();
            // Shown quoted and escaped, so a hostile name cannot drive the terminal.
            assert!(shown.contains(&format!("{entry:?}")), "{case}: {shown}");
        }
        other => panic!("{case}: expected a refusal of {entry:?}, got {other:?}"),
    }
    assert_eq!(
        listing(tmp.path())
            .iter()
            .filter(|p| !p.starts_with("dest"))
            .count(),
        0,
        "{case}: {:?}",
        listing(tmp.path())
    );
}

fn top() -> Raw {
    Raw::dir("usernetes/")
}

#[test]
fn paths_that_leave_the_destination() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    let abs = format!("{}", outside.display());
    refused(
        "absolute path",
        &[top(), Raw::file(&abs, 0o644, b"x")],
        &abs,
        "absolute",
    );
    refused(
        "dot-dot",
        &[top(), Raw::file("usernetes/../outside", 0o644, b"x")],
        "usernetes/../outside",
        "'..'",
    );
    refused(
        "dot-dot inside",
        &[
            top(),
            Raw::dir("usernetes/a/"),
            Raw::file("usernetes/a/../../x", 0o644, b"x"),
        ],
        "usernetes/a/../../x",
        "'..'",
    );
    refused(
        "outside the top folder",
        &[top(), Raw::file("other/file", 0o644, b"x")],
        "other/file",
        "outside the top folder",
    );
    refused(
        "sibling of the top folder",
        &[Raw::file("usernetes-evil", 0o644, b"x")],
        "usernetes-evil",
        "outside the top folder",
    );
    assert!(!outside.exists());
}

#[test]
fn links() {
    refused(
        "hard link",
        &[
            top(),
            Raw::file("usernetes/a", 0o644, b"x"),
            Raw::other("usernetes/hard", EntryType::Link, 0o644, "usernetes/a"),
        ],
        "usernetes/hard",
        "hard link",
    );
    refused(
        "symlink escaping",
        &[top(), Raw::symlink("usernetes/esc", "../../outside")],
        "usernetes/esc",
        "leaves the destination",
    );
    refused(
        "symlink to the top's parent",
        &[
            top(),
            Raw::dir("usernetes/bin/"),
            Raw::symlink("usernetes/bin/up", "../.."),
        ],
        "usernetes/bin/up",
        "leaves the destination",
    );
    refused(
        "absolute symlink",
        &[top(), Raw::symlink("usernetes/passwd", "/etc/passwd")],
        "usernetes/passwd",
        "absolute",
    );
    refused(
        "symlink chain escaping",
        &[
            top(),
            Raw::dir("usernetes/d/"),
            Raw::symlink("usernetes/t", "d/s/.."),
            Raw::symlink("usernetes/d/s", ".."),
        ],
        "usernetes/t",
        "through other symlinks",
    );
    refused(
        "path through a symlink",
        &[
            top(),
            Raw::dir("usernetes/sub/"),
            Raw::symlink("usernetes/l", "sub"),
            Raw::file("usernetes/l/x", 0o644, b"x"),
        ],
        "usernetes/l/x",
        "symlink",
    );
    refused(
        "folder through a symlink",
        &[
            top(),
            Raw::dir("usernetes/sub/"),
            Raw::symlink("usernetes/l", "sub"),
            Raw::dir("usernetes/l/"),
        ],
        "usernetes/l/",
        "duplicate",
    );
    refused(
        "symlink then a file of the same name",
        &[
            top(),
            Raw::symlink("usernetes/l", "x"),
            Raw::file("usernetes/l", 0o644, b"overwrite"),
        ],
        "usernetes/l",
        "duplicate",
    );
}

#[test]
fn special_files_and_modes() {
    for (case, kind, why) in [
        ("char device", EntryType::Char, "character device"),
        ("block device", EntryType::Block, "block device"),
        ("fifo", EntryType::Fifo, "fifo"),
        ("sparse", EntryType::GNUSparse, "sparse"),
    ] {
        refused(
            case,
            &[top(), Raw::other("usernetes/special", kind, 0o644, "")],
            "usernetes/special",
            why,
        );
    }
    for (case, entry, why) in [
        ("setuid", Raw::file("usernetes/f", 0o4755, b"x"), "setuid"),
        ("setgid", Raw::file("usernetes/f", 0o2755, b"x"), "setgid"),
        (
            "sticky",
            Raw::other("usernetes/f/", EntryType::Directory, 0o1755, ""),
            "sticky",
        ),
        (
            "world-writable",
            Raw::file("usernetes/f", 0o666, b"x"),
            "writable",
        ),
        (
            "group-writable dir",
            Raw::other("usernetes/f/", EntryType::Directory, 0o775, ""),
            "writable",
        ),
        (
            "odd mode",
            Raw::file("usernetes/f", 0o600, b"x"),
            "is not 0755 or 0644",
        ),
    ] {
        let name = String::from_utf8(entry.name.clone()).unwrap();
        refused(case, &[top(), entry], &name, why);
    }
}

#[test]
fn duplicates_order_and_trailing_data() {
    refused(
        "duplicate file",
        &[
            top(),
            Raw::file("usernetes/a", 0o644, b"first"),
            Raw::file("usernetes/a", 0o644, b"second"),
        ],
        "usernetes/a",
        "duplicate",
    );
    refused("duplicate top", &[top(), top()], "usernetes/", "duplicate");
    refused(
        "parent missing",
        &[top(), Raw::file("usernetes/no/such/x", 0o644, b"x")],
        "usernetes/no/such/x",
        "does not come before",
    );
    refused(
        "control character",
        &[top(), Raw::file("usernetes/a\u{1b}[2J", 0o644, b"x")],
        "usernetes/a\u{1b}[2J",
        "control",
    );
    let mut tar = raw_tar(&[top(), Raw::file("usernetes/a", 0o644, b"x")]);
    tar.extend_from_slice(&raw_tar(&[Raw::file("usernetes/b", 0o644, b"hidden")]));
    // The first archive's end marker is followed by a second archive: refused, not ignored.
    let tmp = tempfile::tempdir().unwrap();
    match extract_tar(&tar[..], tmp.path(), &opts()) {
        Err(Error::UnsafeEntry { entry, reason }) => {
            assert!(entry.contains("end-of-archive"), "{entry}");
            assert!(reason.contains("data follows"), "{reason}");
        }
        other => panic!("trailing archive accepted: {other:?}"),
    }
}

#[test]
fn a_clean_archive_extracts() {
    let tar = raw_tar(&[
        top(),
        Raw::dir("usernetes/bin/"),
        Raw::file("usernetes/bin/x", 0o755, b"#!/bin/sh\n"),
        Raw::file("usernetes/README", 0o644, b"hi"),
        Raw::symlink("usernetes/bin/readme", "../README"),
        Raw::dir("usernetes/d/"),
        Raw::symlink("usernetes/d/s", ".."),
        Raw::symlink("usernetes/ok", "d/s/bin/x"),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let got = extract_tar(&tar[..], tmp.path(), &opts()).unwrap();
    let paths: Vec<&str> = got.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        ["README", "bin", "bin/readme", "bin/x", "d", "d/s", "ok"]
    );
    let x = &got.files[3];
    assert_eq!((x.size, x.mode), (10, 0o755));
    assert_eq!(
        x.sha256.as_deref(),
        Some(bundle::checksums::sha256_bytes(b"#!/bin/sh\n").as_str())
    );
    assert_eq!(fs::read(tmp.path().join("ok")).unwrap(), b"#!/bin/sh\n");
}
