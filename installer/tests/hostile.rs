//! The corpus of hostile and damaged archives. Each one is offered to the real `u7s-install`
//! over a working install of 1.0.0: it must be refused (non-zero exit, the entry or file
//! named), `current` must still point to 1.0.0 with every file intact, no staging folder may
//! remain, and nothing else in the sandbox (HOME, XDG folders, the prefix) may change.
//!
//! Sockets are not in the corpus: tar has no entry type for them (GNU tar skips sockets with
//! "socket ignored"), so no archive can carry one. An unknown type flag stands in for "any
//! other special file".

mod common;

use common::*;
use tar::EntryType;

/// Where the hostile archive's SHA256SUMS comes from.
enum Sums {
    /// The true hash of the hostile archive (so the extractor itself must refuse it).
    Matching,
    /// The hash of the good 2.0.0 archive (a damaged download).
    OfGood,
    /// This exact text.
    Text(String),
}

struct Case {
    name: &'static str,
    archive: Vec<u8>,
    sums: Sums,
    /// Substrings stderr must contain (the entry or file named).
    expect: Vec<String>,
}

fn good() -> Release {
    Release::small("2.0.0")
}

/// The good 2.0.0 tar entries with `extra` inserted right after `usernetes/` (so a naive
/// extractor would act on it before anything else) or at the end.
fn with_raw(extra: Vec<Raw>, first: bool) -> Vec<u8> {
    let g = good();
    let mut raws = g.raws(Some(&g.manifest_json()));
    if first {
        for (i, r) in extra.into_iter().enumerate() {
            raws.insert(1 + i, r);
        }
    } else {
        raws.extend(extra);
    }
    bz(&tar_of(&raws))
}

fn case(name: &'static str, archive: Vec<u8>, expect: &[&str]) -> Case {
    Case {
        name,
        archive,
        sums: Sums::Matching,
        expect: expect.iter().map(|s| s.to_string()).collect(),
    }
}

fn corpus() -> Vec<Case> {
    let pid = std::process::id();
    let abs = format!("/tmp/u7s-evil-abs-{pid}");
    let g = good();
    let file = |n: &str, mode| Raw::new(n, EntryType::Regular, mode).data(b"evil\n");
    let mut v = vec![
        case(
            "absolute path",
            with_raw(vec![file(&abs, 0o644)], true),
            &[&abs],
        ),
        case(
            "dot-dot",
            with_raw(vec![file("usernetes/../evil-dotdot", 0o644)], true),
            &["usernetes/../evil-dotdot"],
        ),
        case(
            "dot-dot deep",
            with_raw(vec![file("usernetes/bin/../../../evil-deep", 0o644)], true),
            &["usernetes/bin/../../../evil-deep"],
        ),
        case(
            "outside the top folder",
            with_raw(vec![file("other/evil", 0o644)], true),
            &["other/evil"],
        ),
        case(
            "hard link leaving the tree",
            with_raw(
                vec![Raw::new("usernetes/bin/hl", EntryType::Link, 0o644).link("/etc/passwd")],
                false,
            ),
            &["usernetes/bin/hl"],
        ),
        case(
            "hard link up and out",
            with_raw(
                vec![
                    Raw::new("usernetes/hl2", EntryType::Link, 0o644)
                        .link("usernetes/../../../../etc/hostname"),
                ],
                true,
            ),
            &["usernetes/hl2"],
        ),
        case(
            "symlink escaping",
            with_raw(
                vec![Raw::new("usernetes/esc", EntryType::Symlink, 0o777).link("../../..")],
                true,
            ),
            &["usernetes/esc"],
        ),
        case(
            "symlink escaping from a subfolder",
            with_raw(
                vec![Raw::new("usernetes/bin/esc", EntryType::Symlink, 0o777).link("../../x")],
                false,
            ),
            &["usernetes/bin/esc"],
        ),
        case(
            "absolute symlink",
            with_raw(
                vec![Raw::new("usernetes/bin/etc", EntryType::Symlink, 0o777).link("/etc")],
                false,
            ),
            &["usernetes/bin/etc"],
        ),
        case(
            "symlink then write through it",
            with_raw(
                vec![
                    Raw::new("usernetes/lnk", EntryType::Symlink, 0o777).link("."),
                    file("usernetes/lnk/through", 0o644),
                ],
                true,
            ),
            &["usernetes/lnk/through"],
        ),
        case(
            "character device",
            with_raw(
                vec![Raw::new("usernetes/null", EntryType::Char, 0o644)],
                true,
            ),
            &["usernetes/null"],
        ),
        case(
            "block device",
            with_raw(
                vec![Raw::new("usernetes/sda", EntryType::Block, 0o644)],
                true,
            ),
            &["usernetes/sda"],
        ),
        case(
            "fifo",
            with_raw(
                vec![Raw::new("usernetes/fifo", EntryType::Fifo, 0o644)],
                true,
            ),
            &["usernetes/fifo"],
        ),
        case(
            "unknown entry type",
            with_raw(
                vec![Raw::new("usernetes/odd", EntryType::new(b'Z'), 0o644)],
                true,
            ),
            &["usernetes/odd"],
        ),
        case(
            "setuid file",
            with_raw(vec![file("usernetes/bin/suid", 0o4755)], false),
            &["usernetes/bin/suid"],
        ),
        case(
            "setgid file",
            with_raw(vec![file("usernetes/bin/sgid", 0o2755)], false),
            &["usernetes/bin/sgid"],
        ),
        case(
            "sticky folder",
            with_raw(
                vec![Raw::new("usernetes/tmp/", EntryType::Directory, 0o1777)],
                true,
            ),
            &["usernetes/tmp"],
        ),
        case(
            "group-writable file",
            with_raw(vec![file("usernetes/gw", 0o664)], true),
            &["usernetes/gw"],
        ),
        case(
            "world-writable file",
            with_raw(vec![file("usernetes/ww", 0o646)], true),
            &["usernetes/ww"],
        ),
        case(
            "world-writable folder",
            with_raw(
                vec![Raw::new("usernetes/wwd/", EntryType::Directory, 0o777)],
                true,
            ),
            &["usernetes/wwd"],
        ),
        case(
            "duplicate entry",
            with_raw(vec![file("usernetes/LICENSE", 0o644)], false),
            &["usernetes/LICENSE"],
        ),
    ];

    // Files that disagree with the manifest.
    let mut tampered = g.clone();
    for e in &mut tampered.entries {
        if e.path == "bin/tool"
            && let Kind::File(d) = &mut e.kind
        {
            d[1000] ^= 0x55;
        }
    }
    v.push(case(
        "tampered file",
        bz(&tar_of(&tampered.raws(Some(&g.manifest_json())))),
        &["bin/tool"],
    ));

    let mut missing = g.clone();
    missing.entries.retain(|e| e.path != "config/u7s.conf");
    v.push(case(
        "missing file",
        bz(&tar_of(&missing.raws(Some(&g.manifest_json())))),
        &["config/u7s.conf"],
    ));

    let mut extra = g.clone();
    extra
        .entries
        .push(Entry::file("bin/extra", b"#!/bin/sh\n", 0o755));
    v.push(case(
        "extra file",
        bz(&tar_of(&extra.raws(Some(&g.manifest_json())))),
        &["bin/extra"],
    ));

    let mut remode = g.clone();
    for e in &mut remode.entries {
        if e.path == "config/u7s.conf" {
            e.mode = 0o755;
        }
    }
    v.push(case(
        "mode differs from the manifest",
        bz(&tar_of(&remode.raws(Some(&g.manifest_json())))),
        &["config/u7s.conf"],
    ));

    let mut relink = g.clone();
    for e in &mut relink.entries {
        if e.path == "bin/tool-alias" {
            e.kind = Kind::Symlink("u7s".into());
        }
    }
    v.push(case(
        "symlink target differs from the manifest",
        bz(&tar_of(&relink.raws(Some(&g.manifest_json())))),
        &["bin/tool-alias"],
    ));

    v.push(case(
        "no manifest",
        bz(&tar_of(&g.raws(None))),
        &["manifest.json"],
    ));

    let mut m = g.manifest_value();
    m["version"] = "../../x".into();
    v.push(case(
        "version that is a path",
        bz(&tar_of(&g.raws(Some(&m.to_string())))),
        &["\"../../x\""],
    ));

    let mut m = g.manifest_value();
    m["format"] = 2.into();
    v.push(case(
        "newer release format",
        bz(&tar_of(&g.raws(Some(&m.to_string())))),
        &["format 2"],
    ));

    v.push(case(
        "manifest is not JSON",
        bz(&tar_of(&g.raws(Some("{not json")))),
        &["manifest.json"],
    ));

    // Damaged streams.
    let tbz = g.tbz();
    v.push(case(
        "truncated stream",
        tbz[..tbz.len() / 2].to_vec(),
        &["usernetes-x86_64.tbz"],
    ));
    let mut flipped = tbz.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    v.push(case(
        "flipped byte",
        flipped.clone(),
        &["usernetes-x86_64.tbz"],
    ));
    v.push(Case {
        name: "flipped byte, published SHA256SUMS",
        archive: flipped,
        sums: Sums::OfGood,
        expect: vec!["sha256 mismatch".into(), "usernetes-x86_64.tbz".into()],
    });
    v.push(case(
        "not bzip2 (a plain tar)",
        g.tar(),
        &["usernetes-x86_64.tbz"],
    ));
    v.push(case(
        "not bzip2 (an HTML error page)",
        b"<html>404 Not Found</html>\n".to_vec(),
        &["usernetes-x86_64.tbz"],
    ));
    v.push(Case {
        name: "wrong SHA256SUMS",
        archive: tbz.clone(),
        sums: Sums::Text(format!("{}  usernetes-x86_64.tbz\n", "ab".repeat(32))),
        expect: vec!["sha256 mismatch".into(), "abababab".into()],
    });
    v.push(Case {
        name: "SHA256SUMS without the archive",
        archive: tbz.clone(),
        sums: Sums::Text(format!("{}  other.tbz\n", sha256_hex(&tbz))),
        expect: vec!["has no line for usernetes-x86_64.tbz".into()],
    });
    v.push(Case {
        name: "malformed SHA256SUMS",
        archive: tbz,
        sums: Sums::Text("this is not a checksums file\n".into()),
        expect: vec!["SHA256SUMS".into()],
    });
    v
}

#[test]
fn every_hostile_or_damaged_archive_is_refused_and_changes_nothing() {
    let base = Release::small("1.0.0");
    let good_tbz = good().tbz();
    let mut failures = Vec::new();
    let corpus = corpus();
    assert!(corpus.len() >= 30);
    for c in corpus {
        let s = Sandbox::new();
        s.install_ok(&base, &[]);
        let archive = s.root().join("dl/usernetes-x86_64.tbz");
        std::fs::write(&archive, &c.archive).unwrap();
        let sums = match &c.sums {
            Sums::Matching => format!("{}  usernetes-x86_64.tbz\n", sha256_hex(&c.archive)),
            Sums::OfGood => format!("{}  usernetes-x86_64.tbz\n", sha256_hex(&good_tbz)),
            Sums::Text(t) => t.clone(),
        };
        std::fs::write(s.root().join("dl/SHA256SUMS"), sums).unwrap();
        let before = s.snapshot_all();

        let o = s.run(&[archive.to_str().unwrap(), "--no-doctor"]);

        let mut problems = Vec::new();
        if o.status.success() {
            problems.push("was accepted".to_string());
        } else if !matches!(o.status.code(), Some(1) | Some(3)) {
            problems.push(format!("exit status {:?} (a crash?)", o.status.code()));
        }
        let err = stderr(&o);
        for e in &c.expect {
            if !err.contains(e.as_str()) {
                problems.push(format!("stderr does not name {e:?}"));
            }
        }
        if s.current().as_deref() != Some("versions/1.0.0") {
            problems.push(format!("current is now {:?}", s.current()));
        }
        if s.versions() != ["1.0.0"] {
            problems.push(format!("versions/ holds {:?}", s.versions()));
        }
        if !s.leftovers().is_empty() {
            problems.push(format!("left behind {:?}", s.leftovers()));
        }
        let after = s.snapshot_all();
        if before != after {
            let changed: Vec<_> = after
                .iter()
                .filter(|(k, v)| before.get(*k) != Some(v))
                .map(|(k, _)| k.display().to_string())
                .chain(
                    before
                        .keys()
                        .filter(|k| !after.contains_key(*k))
                        .map(|k| format!("-{}", k.display())),
                )
                .collect();
            problems.push(format!("the sandbox changed: {changed:?}"));
        }
        if std::path::Path::new(&format!("/tmp/u7s-evil-abs-{}", std::process::id())).exists() {
            problems.push("wrote the absolute path".into());
        }
        eprintln!(
            "{:<42} exit {:?}: {}",
            c.name,
            o.status.code(),
            err.lines()
                .find(|l| l.starts_with("u7s-install: error:"))
                .unwrap_or("")
        );
        if problems.is_empty() {
            // The old version's files still verify.
            s.assert_current(&base);
        } else {
            failures.push(format!("{}: {}\n{}", c.name, problems.join("; "), text(&o)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn unpacking_stops_at_the_size_limit() {
    // The limit is the free space of the prefix's filesystem; a small one stands in for a
    // decompression bomb here.
    let dir = tempfile::tempdir().unwrap();
    let prefix = installer::prefix::Prefix::at(dir.path().join("p"));
    std::fs::create_dir_all(prefix.root()).unwrap();
    let archive = dir.path().join("usernetes-x86_64.tbz");
    std::fs::write(&archive, Release::small("1.0.0").tbz()).unwrap();
    let err = installer::extract::unpack(
        &prefix,
        &archive,
        installer::extract::UnpackOptions {
            verified_sha256: None,
            threads: 2,
            progress: installer::ui::Progress::hidden(),
            limit: Some(20_000),
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, installer::Error::TooLarge { limit: 20_000, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("usernetes-x86_64.tbz"), "{err}");
    // Nothing left in the prefix.
    assert_eq!(std::fs::read_dir(prefix.root()).unwrap().count(), 0);
}
