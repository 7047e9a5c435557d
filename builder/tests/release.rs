//! End-to-end runs of `u7s-build` with the host executor on fixtures made here: a git
//! repository with an annotated tag and a later commit, a format-patch series, a tarball over
//! HTTP on 127.0.0.1, a local path source and a payload folder.

mod common;

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use common::*;

fn release(f: &Fixture, cache: &str, out: &str, extra: &[&str]) -> std::process::Output {
    let out_dir = f.out(out);
    let mut args = vec!["release", "--json", "--release-version", "9.9.9"];
    if !extra.contains(&"--jobs") {
        args.extend(["--jobs", "2"]);
    }
    let out_arg = format!("--out={}", out_dir.display());
    args.push(&out_arg);
    args.extend_from_slice(extra);
    f.run(cache, &args)
}

fn extract(archive: &Path, dest: &Path) {
    fs::create_dir_all(dest).unwrap();
    let st = Command::new("tar")
        .arg("xjf")
        .arg(archive)
        .arg("-C")
        .arg(dest)
        .status()
        .unwrap();
    assert!(st.success(), "tar xjf failed");
}

#[test]
fn release_runs_the_patched_program_and_describes_everything() {
    let f = Fixture::new();
    let o = release(&f, "cache", "out", &[]);
    assert_ok(&o);
    let summary = json(&o);
    let out = f.out("out");
    let archive = out.join("usernetes-x86_64.tbz");
    let sums = out.join("SHA256SUMS");
    assert!(archive.is_file() && sums.is_file());
    let left: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "only the two files: {left:?}");

    // SHA256SUMS is what `sha256sum -c` reads, and matches the summary.
    let st = Command::new("sha256sum")
        .arg("-c")
        .arg("--quiet")
        .arg("SHA256SUMS")
        .current_dir(&out)
        .status()
        .unwrap();
    assert!(st.success(), "sha256sum -c");
    let archive_bytes = fs::read(&archive).unwrap();
    let archive_sha = sha256(&archive_bytes);
    assert_eq!(
        fs::read_to_string(&sums).unwrap(),
        format!("{archive_sha}  usernetes-x86_64.tbz\n")
    );
    assert_eq!(summary["archive"]["sha256"], archive_sha.as_str());
    assert_eq!(summary["archive"]["size"], archive_bytes.len() as u64);
    assert_eq!(summary["version"], "9.9.9");

    // bzip2 -t and tar xjf accept it; the patched program runs from the extracted tree.
    assert!(
        Command::new("bzip2")
            .arg("-t")
            .arg(&archive)
            .status()
            .unwrap()
            .success(),
        "bzip2 -t"
    );
    let x = f.root().join("x");
    extract(&archive, &x);
    let top = x.join("usernetes");
    let run = Command::new(top.join("bin/hello")).output().unwrap();
    let said = String::from_utf8(run.stdout).unwrap();
    assert!(
        said.starts_with("hello, patched, from v1.0.0-1-g"),
        "{said}"
    );
    assert!(!said.contains("dirty"), "{said}");
    let run = Command::new(top.join("run.sh")).output().unwrap();
    assert!(
        String::from_utf8(run.stdout)
            .unwrap()
            .starts_with("hello, patched"),
        "payload wrapper runs"
    );
    assert_eq!(
        Command::new(top.join("bin/tool")).output().unwrap().stdout,
        b"tool 1.0\n"
    );
    assert_eq!(
        fs::read_to_string(top.join("config/local.conf")).unwrap(),
        "local = true\n"
    );
    assert_eq!(
        fs::read_to_string(top.join("share/licenses/hello/LICENSE")).unwrap(),
        "Hello licence text\n"
    );
    assert_eq!(
        fs::read_to_string(top.join("share/licenses/tool/LICENSE")).unwrap(),
        "Tool licence text\n"
    );
    assert!(top.join("LICENSE").is_file() && top.join("config/usernetes.conf").is_file());

    // SOURCE_DATE_EPOCH: the newest of the pinned commit's date and the patch's date.
    let epoch = PATCH_EPOCH.max(T1);
    assert_eq!(
        fs::read_to_string(top.join("share/hello/source-date-epoch"))
            .unwrap()
            .trim(),
        epoch.to_string()
    );
    assert_eq!(summary["source_date_epoch"], epoch);

    // Every entry: uid/gid 0, no names, one mtime, normalised modes, sorted, one top folder.
    let mut data = Vec::new();
    bzip2::read::MultiBzDecoder::new(&archive_bytes[..])
        .read_to_end(&mut data)
        .unwrap();
    let mut ar = tar::Archive::new(&data[..]);
    let mut names = Vec::new();
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        assert_eq!(h.uid().unwrap(), 0, "{name}");
        assert_eq!(h.gid().unwrap(), 0, "{name}");
        assert_eq!(h.mtime().unwrap(), epoch as u64, "{name}");
        assert!(h.username().unwrap().unwrap_or("").is_empty(), "{name}");
        assert!(h.groupname().unwrap().unwrap_or("").is_empty(), "{name}");
        let mode = h.mode().unwrap();
        assert!(mode == 0o755 || mode == 0o644, "{name}: {mode:o}");
        assert!(
            name.starts_with("usernetes/") || name == "usernetes",
            "{name}"
        );
        names.push(name);
    }
    assert!(names.iter().any(|n| n == "usernetes/bin/hello"));
    assert!(names.iter().any(|n| n == "usernetes/manifest.json"));

    // The manifest: pins, patch hashes, every file with its sha256.
    let manifest = bundle::manifest::Manifest::from_json(
        &fs::read_to_string(top.join("manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest.version, "9.9.9");
    assert_eq!(manifest.source_date_epoch, epoch as u64);
    let names: Vec<&str> = manifest
        .components
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["hello", "local", "tool"]);
    let hello = &manifest.components[0];
    assert_eq!(
        hello.source,
        bundle::manifest::Source::Git {
            url: format!("file://{}", f.upstream.path.display()),
            rev: f.upstream.tagged.clone(),
            tag: Some("v1.0.0".into())
        }
    );
    let patch_name = f.patch.file_name().unwrap().to_str().unwrap();
    assert_eq!(hello.patches.len(), 1);
    assert_eq!(hello.patches[0].file, patch_name);
    assert_eq!(
        hello.patches[0].sha256,
        sha256(&fs::read(&f.patch).unwrap())
    );
    assert_eq!(
        manifest.components[2].source,
        bundle::manifest::Source::Url {
            url: f.server.url("/dl/tool-1.0.tar.gz"),
            sha256: sha256(&f.tarball)
        }
    );
    assert_eq!(
        manifest.components[1].source,
        bundle::manifest::Source::Path {
            path: "../localsrc".into()
        }
    );
    let mut files_seen = 0;
    for entry in walkdir::WalkDir::new(&top).min_depth(1) {
        let entry = entry.unwrap();
        let rel = entry
            .path()
            .strip_prefix(&top)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        if rel == "manifest.json" {
            continue;
        }
        let m = manifest
            .files
            .iter()
            .find(|m| m.path == rel)
            .unwrap_or_else(|| panic!("{rel} not in the manifest"));
        if entry.file_type().is_file() {
            assert_eq!(
                m.sha256.as_deref(),
                Some(sha256(&fs::read(entry.path()).unwrap()).as_str()),
                "{rel}"
            );
            assert_eq!(m.size, entry.metadata().unwrap().len());
            files_seen += 1;
        }
    }
    assert_eq!(
        files_seen,
        manifest.files.iter().filter(|m| m.sha256.is_some()).count()
    );
    assert!(files_seen >= 9);

    // The JSON summary names pins, patches and cache keys.
    let comps = summary["components"].as_array().unwrap();
    assert_eq!(comps.len(), 3);
    assert_eq!(
        comps[0]["patches"][0]["sha256"],
        hello.patches[0].sha256.as_str()
    );
    assert_eq!(comps[0]["source"]["rev"], f.upstream.tagged.as_str());
    assert_eq!(comps[0]["cached"], false);
    assert_eq!(comps[0]["executor"], "host");
    assert!(
        comps
            .iter()
            .all(|c| c["cache_key"].as_str().unwrap().len() == 32)
    );
}

#[test]
fn cold_caches_give_identical_bytes_and_a_warm_cache_builds_offline() {
    let f = Fixture::new();
    assert_ok(&release(&f, "cache-a", "out-a", &[]));
    let downloads_after_first = f.server.requests().len();
    assert_eq!(downloads_after_first, 1, "{:?}", f.server.requests());
    assert_ok(&release(&f, "cache-b", "out-b", &["--jobs", "1"]));
    let a = fs::read(f.out("out-a/usernetes-x86_64.tbz")).unwrap();
    let b = fs::read(f.out("out-b/usernetes-x86_64.tbz")).unwrap();
    assert!(a == b, "two cold caches gave different archives");
    assert_eq!(
        fs::read(f.out("out-a/SHA256SUMS")).unwrap(),
        fs::read(f.out("out-b/SHA256SUMS")).unwrap()
    );

    // Warm cache, offline: no request, nothing rebuilt, the same bytes.
    let before = f.server.requests().len();
    let o = release(&f, "cache-a", "out-c", &["--offline"]);
    assert_ok(&o);
    assert_eq!(
        f.server.requests().len(),
        before,
        "an offline build made requests"
    );
    let s = json(&o);
    for c in s["components"].as_array().unwrap() {
        assert_eq!(c["cached"], true, "{} was rebuilt", c["name"]);
        assert_eq!(c["fetched"], false, "{} was fetched", c["name"]);
    }
    assert!(fs::read(f.out("out-c/usernetes-x86_64.tbz")).unwrap() == a);

    // A changed input (the recipe) rebuilds just that component.
    f.write_hello(
        &f.upstream.tagged.clone(),
        Some("v1.0.0"),
        &format!("{HELLO_SCRIPT}echo changed\n"),
        &["bin/hello"],
    );
    let o = f.run("cache-a", &["build", "--offline", "--json"]);
    assert_ok(&o);
    let s = json(&o);
    let cached: Vec<(String, bool)> = s["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["cached"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cached,
        [
            ("hello".to_string(), false),
            ("local".to_string(), true),
            ("tool".to_string(), true)
        ]
    );
}

#[test]
fn patched_head_is_the_commit_git_am_makes() {
    let f = Fixture::new();
    let o = f.run("cache", &["patch", "--only", "hello", "--json"]);
    assert_ok(&o);
    let s = json(&o);
    let ours = s["components"][0]["head"].as_str().unwrap().to_string();
    let theirs = git_am_head(&f.upstream, f.root(), &f.patch);
    assert_eq!(
        ours, theirs,
        "patched HEAD differs from git am --committer-date-is-author-date"
    );
    let tree = Path::new(s["components"][0]["src_dir"].as_str().unwrap());
    let status = Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(tree)
        .output()
        .unwrap();
    assert!(status.status.success());
    assert!(
        status.stdout.is_empty(),
        "the prepared tree is dirty: {}",
        String::from_utf8_lossy(&status.stdout)
    );
    let describe = Command::new("git")
        .args(["describe", "--tags", "--dirty"])
        .current_dir(tree)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&describe.stdout).starts_with("v1.0.0-1-g"));
    // The tag is annotated upstream and stays annotated: plain `git describe` sees it too.
    let describe = Command::new("git")
        .args(["describe", "--dirty"])
        .current_dir(tree)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&describe.stdout).starts_with("v1.0.0-1-g"),
        "{}",
        String::from_utf8_lossy(&describe.stderr)
    );
    let kind = Command::new("git")
        .args(["cat-file", "-t", "v1.0.0"])
        .current_dir(tree)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&kind.stdout).trim(), "tag");
}

#[test]
fn an_interrupted_download_resumes_with_range() {
    let f = Fixture::with_server(true);
    let o = f.run("cache", &["fetch", "--only", "tool"]);
    assert_ok(&o);
    let reqs = f.server.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[0].range, None);
    let half = f.tarball.len() / 2;
    assert_eq!(
        reqs[1].range.as_deref(),
        Some(format!("bytes={half}-").as_str())
    );
    assert_eq!(reqs[1].if_range.as_deref(), Some(ETAG));
    let cached = f.root().join("cache/dist/sha256").join(sha256(&f.tarball));
    assert_eq!(fs::read(cached).unwrap(), f.tarball);
    let partials: Vec<_> = fs::read_dir(f.root().join("cache/dist/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("partial"))
        .collect();
    assert!(partials.is_empty(), "{partials:?}");
}

#[test]
fn a_folder_mirror_serves_sources_when_upstream_is_unreachable() {
    let f = Fixture::new();
    // Upstream URLs that cannot be reached; the mirror holds both sources.
    let dead_git = "https://127.0.0.1:9/up/hello.git";
    let recipe = fs::read_to_string(f.repo().join("recipes/hello.toml")).unwrap();
    fs::write(
        f.repo().join("recipes/hello.toml"),
        recipe.replace(&format!("file://{}", f.upstream.path.display()), dead_git),
    )
    .unwrap();
    let tool = fs::read_to_string(f.repo().join("recipes/tool.toml")).unwrap();
    fs::write(
        f.repo().join("recipes/tool.toml"),
        tool.replace(&f.server.base, "http://127.0.0.1:9"),
    )
    .unwrap();
    let mirror = f.root().join("mirror");
    let bare = mirror.join("git/127.0.0.1/up/hello.git");
    fs::create_dir_all(bare.parent().unwrap()).unwrap();
    let st = Command::new("git")
        .args(["clone", "-q", "--mirror"])
        .arg(&f.upstream.path)
        .arg(&bare)
        .status()
        .unwrap();
    assert!(st.success());
    fs::create_dir_all(mirror.join("dist")).unwrap();
    fs::write(mirror.join("dist/tool-1.0.tar.gz"), &f.tarball).unwrap();

    let m = format!("--mirror={}", mirror.display());
    let o = f.run("cache", &["fetch", "--offline", &m, "--json"]);
    assert_ok(&o);
    assert!(f.server.requests().is_empty());
    let s = json(&o);
    assert!(
        s["components"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["source_cached"] == true)
    );

    // Pins are still checked: a wrong file in the mirror is refused.
    fs::write(mirror.join("dist/tool-1.0.tar.gz"), b"not the tarball").unwrap();
    let o = f.run("cache2", &["fetch", "--offline", &m, "--only", "tool"]);
    assert_failed(
        &o,
        &[
            "sha256 mismatch",
            &sha256(&f.tarball),
            &sha256(b"not the tarball"),
        ],
        &f.out("none"),
    );
}
