//! The packer's archive: deterministic bytes, accepted by tar/bzip2/lbzip2, normalised headers,
//! and read back by our own reader and manifest check.

mod common;

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use bundle::bzip::ParallelBzDecoder;
use bundle::checksums::sha256_file;
use bundle::manifest::{FileKind, Manifest, TOP_DIR};
use bundle::pack::{PackOptions, pack_to_file};
use bundle::safe_extract::{ExtractOptions, extract_archive, verify_against_manifest};
use bundle::stage_scan::scan_tree;
use common::{run, staged_tree};

const MTIME: u64 = 1_700_000_000;

fn opts(threads: usize) -> PackOptions {
    PackOptions {
        top: TOP_DIR.into(),
        mtime: MTIME,
        threads,
    }
}

fn packed(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let root = dir.join("stage/usernetes");
    staged_tree(&root);
    let archive = dir.join("usernetes-x86_64.tbz");
    pack_to_file(&root, &opts(2), &archive).unwrap();
    (root, archive)
}

#[test]
fn same_tree_same_bytes_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    let (root, a) = packed(dir.path());
    let b = dir.path().join("b.tbz");
    let c = dir.path().join("c.tbz");
    let report1 = pack_to_file(&root, &opts(1), &b).unwrap();
    let report4 = pack_to_file(&root, &opts(4), &c).unwrap();
    let bytes = fs::read(&a).unwrap();
    assert!(bytes == fs::read(&b).unwrap(), "1 thread differs from 2");
    assert!(bytes == fs::read(&c).unwrap(), "4 threads differ from 2");
    assert_eq!(report1.sha256, sha256_file(&a).unwrap());
    assert_eq!(report1.size, bytes.len() as u64);
    assert_eq!(report4, bundle::pack::PackReport { path: c, ..report1 });

    // The same content staged again elsewhere, later, with other on-disk modes and mtimes.
    let other = tempfile::tempdir().unwrap();
    let root2 = other.path().join("x/usernetes");
    staged_tree(&root2);
    fs::set_permissions(root2.join("bin/u7s"), fs::Permissions::from_mode(0o751)).unwrap();
    fs::set_permissions(root2.join("LICENSE"), fs::Permissions::from_mode(0o600)).unwrap();
    let d = other.path().join("d.tbz");
    pack_to_file(&root2, &opts(3), &d).unwrap();
    assert!(bytes == fs::read(&d).unwrap(), "a second staging differs");

    // Several bzip2 streams (one per 900 kB of tar).
    let starts = bytes.windows(10).filter(|w| w == b"BZh91AY&SY").count();
    assert!(starts >= 3, "{starts} streams");
    assert!(bytes.starts_with(b"BZh91AY&SY"));
}

#[test]
fn bzip2_lbzip2_and_tar_accept_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let (root, archive) = packed(dir.path());
    for tool in ["bzip2", "lbzip2"] {
        let (ok, _, err) = run(Command::new(tool).arg("-t").arg(&archive));
        assert!(ok, "{tool} -t: {err}");
    }

    let out = dir.path().join("tar-xjf");
    fs::create_dir(&out).unwrap();
    let (ok, _, err) = run(Command::new("tar")
        .arg("-C")
        .arg(&out)
        .arg("-xjf")
        .arg(&archive));
    assert!(ok, "tar xjf: {err}");
    let out2 = dir.path().join("lbzip2-d");
    fs::create_dir(&out2).unwrap();
    let plain = common::filter("lbzip2", &["-dc"], &fs::read(&archive).unwrap());
    tar::Archive::new(&plain[..]).unpack(&out2).unwrap();
    for base in [&out, &out2] {
        let tree = base.join(TOP_DIR);
        assert_eq!(scan_tree(&tree).unwrap(), scan_tree(&root).unwrap());
        let mode = |rel: &str| fs::metadata(tree.join(rel)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode("bin/dockerd"), 0o755);
        assert_eq!(mode("config/daemon.json"), 0o644);
        assert_eq!(
            fs::read_link(tree.join("config/u7s-link")).unwrap(),
            Path::new("../bin/u7s")
        );
    }

    // `tar tv` shows numeric owner 0/0 and one mtime for every entry.
    let (ok, listing, err) = run(Command::new("tar")
        .args(["--numeric-owner", "--utc", "-tvjf"])
        .arg(&archive));
    assert!(ok, "tar tvjf: {err}");
    let listing = String::from_utf8(listing).unwrap();
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 16, "{listing}");
    for line in &lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[1], "0/0", "{line}");
        assert_eq!((fields[3], fields[4]), ("2023-11-14", "22:13"), "{line}");
        assert!(
            ["drwxr-xr-x", "-rwxr-xr-x", "-rw-r--r--", "lrwxrwxrwx"].contains(&fields[0]),
            "{line}"
        );
    }
    assert!(lines[0].ends_with(" usernetes/"), "{}", lines[0]);
}

#[test]
fn headers_read_back_normalised_in_gnu_sort_order() {
    let dir = tempfile::tempdir().unwrap();
    let (_, archive) = packed(dir.path());
    let decoder = ParallelBzDecoder::new(fs::File::open(&archive).unwrap(), 2);
    let mut tar = tar::Archive::new(decoder);
    let mut names = Vec::new();
    for entry in tar.entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        assert!(h.as_gnu().is_some());
        assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
        assert_eq!(h.mtime().unwrap(), MTIME);
        assert_eq!(h.username_bytes(), Some(&b""[..]));
        assert_eq!(h.groupname_bytes(), Some(&b""[..]));
        let mode = h.mode().unwrap();
        let want = match h.entry_type() {
            tar::EntryType::Directory => 0o755,
            tar::EntryType::Symlink => 0o777,
            tar::EntryType::Regular => mode, // checked below by name
            other => panic!("unexpected entry type {other:?}"),
        };
        assert_eq!(mode, want);
        names.push((
            String::from_utf8(entry.path_bytes().to_vec()).unwrap(),
            mode,
        ));
    }
    let order: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
    let long = format!("usernetes/share/{}", "long-name-".repeat(12));
    assert_eq!(
        order,
        [
            "usernetes/",
            "usernetes/LICENSE",
            "usernetes/bin/",
            "usernetes/bin/cni/",
            "usernetes/bin/cni/bridge",
            "usernetes/bin/dockerd",
            "usernetes/bin/u7s",
            "usernetes/config/",
            "usernetes/config/daemon.json",
            "usernetes/config/u7s-link",
            "usernetes/manifest.json",
            "usernetes/share/",
            "usernetes/share/licenses/",
            "usernetes/share/licenses/containerd/",
            "usernetes/share/licenses/containerd/LICENSE",
            long.as_str(),
        ]
    );
    let mode_of = |n: &str| names.iter().find(|(x, _)| x == n).unwrap().1;
    assert_eq!(mode_of("usernetes/bin/dockerd"), 0o755);
    assert_eq!(mode_of("usernetes/LICENSE"), 0o644);
}

#[test]
fn our_reader_extracts_and_matches_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("stage/usernetes");
    staged_tree(&root);
    let manifest = Manifest {
        format: 1,
        version: "0.1.0".into(),
        source_date_epoch: MTIME,
        components: vec![],
        files: scan_tree(&root).unwrap(),
    };
    fs::write(root.join("manifest.json"), manifest.to_json()).unwrap();
    let archive = dir.path().join("a.tbz");
    let report = pack_to_file(&root, &opts(2), &archive).unwrap();

    let dest = dir.path().join("dest");
    fs::create_dir(&dest).unwrap();
    let options = ExtractOptions {
        top: TOP_DIR.into(),
        sync: true,
    };
    let (extracted, sha256) = extract_archive(&archive, &dest, &options, 3).unwrap();
    assert_eq!(sha256, report.sha256);
    verify_against_manifest(&manifest, &extracted).unwrap();
    let read_back = Manifest::from_json(&fs::read_to_string(dest.join("manifest.json")).unwrap());
    assert_eq!(read_back.unwrap(), manifest);
    assert_eq!(
        fs::read(dest.join("bin/dockerd")).unwrap(),
        fs::read(root.join("bin/dockerd")).unwrap()
    );
    let mode = fs::metadata(dest.join("bin/dockerd"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o755);
    let link = extracted
        .files
        .iter()
        .find(|f| f.path == "config/u7s-link")
        .unwrap();
    assert_eq!(link.kind, FileKind::Symlink);
    assert_eq!(
        fs::read_link(dest.join("config/u7s-link")).unwrap(),
        Path::new("../bin/u7s")
    );

    // A second extraction into a non-empty folder is refused.
    let err = extract_archive(&archive, &dest, &options, 1).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}

#[test]
fn verify_reports_missing_extra_changed_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("usernetes");
    staged_tree(&root);
    let files = scan_tree(&root).unwrap();
    let manifest = Manifest {
        format: 1,
        version: "1".into(),
        source_date_epoch: 0,
        components: vec![],
        files: files.clone(),
    };
    let ok = bundle::safe_extract::Extracted {
        files: files.clone(),
    };
    verify_against_manifest(&manifest, &ok).unwrap();

    let mut bad = ok.clone();
    bad.files.retain(|f| f.path != "LICENSE");
    let mut extra = bad.files[0].clone();
    extra.path = "bin/evil".into();
    bad.files.push(extra);
    for f in &mut bad.files {
        match f.path.as_str() {
            "bin/dockerd" => f.sha256 = Some("0".repeat(64)),
            "bin/u7s" => f.mode = 0o644,
            "config/daemon.json" => f.size += 1,
            "config/u7s-link" => f.target = Some("/etc".into()),
            _ => {}
        }
    }
    let err = verify_against_manifest(&manifest, &bad)
        .unwrap_err()
        .to_string();
    for needle in [
        "missing: LICENSE",
        "extra: bin/evil",
        "changed: bin/dockerd: sha256",
        "changed: bin/u7s: mode 644 (manifest: 755)",
        "changed: config/daemon.json: size",
        "changed: config/u7s-link: link target",
    ] {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
}

#[test]
fn reading_the_archive_through_plain_read() {
    // The decoder is a plain `Read`: all of it, in small reads, equals `bzip2 -dc`.
    let dir = tempfile::tempdir().unwrap();
    let (_, archive) = packed(dir.path());
    let bytes = fs::read(&archive).unwrap();
    let want = common::filter("bzip2", &["-dc"], &bytes);
    let mut decoder = ParallelBzDecoder::new(&bytes[..], 2);
    let mut got = Vec::new();
    let mut buf = [0u8; 4099];
    loop {
        let n = decoder.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got == want);
    assert!(decoder.streams() >= 3);
}

#[test]
fn a_damaged_archive_is_a_bzip2_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, archive) = packed(dir.path());
    let mut bytes = fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let damaged = dir.path().join("damaged.tbz");
    fs::write(&damaged, &bytes).unwrap();
    let truncated = dir.path().join("truncated.tbz");
    fs::write(&truncated, &bytes[..middle]).unwrap();
    let options = ExtractOptions {
        top: TOP_DIR.into(),
        sync: true,
    };
    for file in [&damaged, &truncated] {
        let dest = tempfile::tempdir().unwrap();
        match extract_archive(file, dest.path(), &options, 2) {
            Err(e @ bundle::Error::Bzip2(_)) => {
                assert!(e.to_string().contains(&file.display().to_string()), "{e}");
            }
            other => panic!("{}: {other:?}", file.display()),
        }
    }
}
