//! Test fixtures: a sandboxed HOME/XDG tree to run the real `u7s-install` in, and release
//! archives built here with the tar and bzip2 crates (valid ones, and hostile ones written
//! header by header, since a correct packer refuses to make them).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

pub const BIN: &str = env!("CARGO_BIN_EXE_u7s-install");
pub const MTIME: u64 = 1_700_000_000;

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Deterministic pseudo-random bytes (incompressible enough to make bzip2 work).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

// ---------------------------------------------------------------- releases

#[derive(Clone, Debug)]
pub enum Kind {
    Dir,
    File(Vec<u8>),
    Symlink(String),
}

#[derive(Clone, Debug)]
pub struct Entry {
    /// Relative to `usernetes/`.
    pub path: String,
    pub kind: Kind,
    pub mode: u32,
}

impl Entry {
    pub fn dir(p: &str) -> Entry {
        Entry {
            path: p.into(),
            kind: Kind::Dir,
            mode: 0o755,
        }
    }
    pub fn file(p: &str, data: &[u8], mode: u32) -> Entry {
        Entry {
            path: p.into(),
            kind: Kind::File(data.to_vec()),
            mode,
        }
    }
    pub fn link(p: &str, target: &str) -> Entry {
        Entry {
            path: p.into(),
            kind: Kind::Symlink(target.into()),
            mode: 0o777,
        }
    }
}

/// A raw tar entry (any name, type, mode, link name; for hostile archives): the test kit's.
pub use testkit::tar::Raw;

/// A release tree: entries under `usernetes/` and its manifest.
#[derive(Clone, Debug)]
pub struct Release {
    pub version: String,
    pub entries: Vec<Entry>,
}

/// A `bin/u7s` stand-in: answers `--completions SHELL`; logs `down`, `status` and `units …`
/// into `$U7S_TEST_LOG`. `status` exits 0 while `$XDG_RUNTIME_DIR/usernetes/test-running`
/// exists, else 3 (or `$U7S_TEST_STATUS`). `units install|remove` writes or deletes
/// `u7s.target` and `u7s.service` and prints their paths, as the real one does.
pub fn fake_u7s(version: &str) -> Vec<u8> {
    format!(
        "#!/bin/sh\n# test stand-in for u7s {version}\n\
         log() {{ [ -n \"$U7S_TEST_LOG\" ] && echo \"$*\" >> \"$U7S_TEST_LOG\"; }}\n\
         units=\"${{XDG_CONFIG_HOME:-$HOME/.config}}/systemd/user\"\n\
         case \"$1\" in\n\
         --completions) echo \"# completions for u7s {version} ($2)\" ;;\n\
         down) [ -n \"$U7S_TEST_DOWN_FAIL\" ] && {{ echo 'rootlesskit does not answer' >&2; exit 1; }}\n\
         \x20     log \"down {version}\"; rm -f \"$XDG_RUNTIME_DIR/usernetes/test-running\" ;;\n\
         status) log \"status {version}\"\n\
         \x20     [ -n \"$U7S_TEST_STATUS\" ] && exit \"$U7S_TEST_STATUS\"\n\
         \x20     [ -e \"$XDG_RUNTIME_DIR/usernetes/test-running\" ] || exit 3 ;;\n\
         units) log \"units $2 $3 $4 {version}\"\n\
         \x20     for u in u7s.target u7s.service; do\n\
         \x20       if [ \"$2\" = install ]; then mkdir -p \"$units\"; echo \"# {version} $*\" > \"$units/$u\";\n\
         \x20       else rm -f \"$units/$u\"; fi; echo \"$units/$u\"\n\
         \x20     done ;;\n\
         --version) echo \"u7s {version}\" ;;\n\
         *) exit 2 ;;\n\
         esac\n"
    )
    .into_bytes()
}

impl Release {
    /// A small valid release whose file contents depend on `version`.
    pub fn small(version: &str) -> Release {
        Release {
            version: version.into(),
            entries: vec![
                Entry::file("LICENSE", b"Apache-2.0\n", 0o644),
                Entry::dir("bin"),
                Entry::file("bin/u7s", &fake_u7s(version), 0o755),
                Entry::file("bin/tool", &noise(version.len() as u64 + 7, 70_000), 0o755),
                Entry::link("bin/tool-alias", "tool"),
                Entry::dir("config"),
                Entry::file(
                    "config/u7s.conf",
                    format!("version = {version}\n").as_bytes(),
                    0o644,
                ),
                Entry::dir("share"),
                Entry::dir("share/licenses"),
                Entry::link("share/licenses/main", "../../LICENSE"),
            ],
        }
    }

    /// A release of `files` files of `size` bytes each (for kill tests).
    pub fn large(version: &str, files: usize, size: usize) -> Release {
        let mut r = Release::small(version);
        r.entries.push(Entry::dir("lib"));
        for i in 0..files {
            r.entries.push(Entry::file(
                &format!("lib/f{i:05}"),
                &noise(i as u64 + 1000, size),
                0o644,
            ));
        }
        r
    }

    pub fn sorted(&self) -> Vec<Entry> {
        let mut v = self.entries.clone();
        v.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        v
    }

    pub fn manifest_value(&self) -> serde_json::Value {
        let files: Vec<serde_json::Value> = self
            .sorted()
            .iter()
            .map(|e| match &e.kind {
                Kind::Dir => {
                    serde_json::json!({"path": e.path, "kind": "dir", "size": 0, "mode": e.mode})
                }
                Kind::File(d) => serde_json::json!({
                    "path": e.path, "kind": "file", "size": d.len(), "mode": e.mode,
                    "sha256": sha256_hex(d)}),
                Kind::Symlink(t) => serde_json::json!({
                    "path": e.path, "kind": "symlink", "size": 0, "mode": 0o777, "target": t}),
            })
            .collect();
        serde_json::json!({
            "format": 1,
            "version": self.version,
            "source_date_epoch": MTIME,
            "components": [],
            "files": files,
        })
    }

    pub fn manifest_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.manifest_value()).unwrap();
        s.push('\n');
        s
    }

    /// The raw entries of the tar: `usernetes/`, then every entry and the manifest in name order.
    pub fn raws(&self, manifest: Option<&str>) -> Vec<Raw> {
        let mut all = self.sorted();
        if let Some(m) = manifest {
            all.push(Entry::file("manifest.json", m.as_bytes(), 0o644));
            all.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        }
        let mut raws = vec![Raw::new("usernetes/", tar::EntryType::Directory, 0o755)];
        for e in all {
            raws.push(match &e.kind {
                Kind::Dir => Raw::new(
                    &format!("usernetes/{}/", e.path),
                    tar::EntryType::Directory,
                    e.mode,
                ),
                Kind::File(d) => Raw::new(
                    &format!("usernetes/{}", e.path),
                    tar::EntryType::Regular,
                    e.mode,
                )
                .data(d),
                Kind::Symlink(t) => Raw::new(
                    &format!("usernetes/{}", e.path),
                    tar::EntryType::Symlink,
                    0o777,
                )
                .link(t),
            });
        }
        raws
    }

    /// The valid tar stream.
    pub fn tar(&self) -> Vec<u8> {
        tar_of(&self.raws(Some(&self.manifest_json())))
    }

    /// The valid `.tbz`.
    pub fn tbz(&self) -> Vec<u8> {
        bz(&self.tar())
    }
}

/// A tar stream of raw entries, each with the releases' mtime.
pub fn tar_of(raws: &[Raw]) -> Vec<u8> {
    let raws: Vec<Raw> = raws.iter().map(|r| r.clone().mtime(MTIME)).collect();
    testkit::tar::raw_tar(&raws)
}

/// Concatenated bzip2 streams of 900 000-byte chunks, as the release format makes them.
pub fn bz(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in data.chunks(900_000) {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        e.write_all(chunk).unwrap();
        out.extend(e.finish().unwrap());
    }
    out
}

// ---------------------------------------------------------------- sandbox

/// A temporary HOME with XDG folders, a stand-in `systemctl`, and helpers to run the binary.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let s = Sandbox {
            dir: tempfile::tempdir().unwrap(),
        };
        for d in ["home", "run", "dl", "fakebin"] {
            fs::create_dir_all(s.root().join(d)).unwrap();
        }
        fs::set_permissions(s.root().join("run"), fs::Permissions::from_mode(0o700)).unwrap();
        // A bash user: .bashrc exists, so it gets the PATH line too.
        fs::write(s.home().join(".bashrc"), "# bashrc\nalias ll='ls -l'").unwrap();
        s.set_systemctl("offline", 1);
        s
    }
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }
    pub fn prefix(&self) -> PathBuf {
        self.home().join(".local/share/usernetes")
    }
    pub fn config_home(&self) -> PathBuf {
        self.home().join(".config")
    }
    pub fn runtime_dir(&self) -> PathBuf {
        self.root().join("run")
    }
    pub fn log(&self) -> PathBuf {
        self.root().join("calls.log")
    }
    pub fn calls(&self) -> String {
        fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// A `systemctl` stand-in (no systemd user manager runs on the test machines): prints
    /// `state` for is-system-running, exits `rc` for it, logs every call.
    pub fn set_systemctl(&self, state: &str, rc: i32) {
        let p = self.root().join("fakebin/systemctl");
        testkit::write_executable(
            &p,
            format!(
                "#!/bin/sh\necho \"systemctl $*\" >> \"$U7S_TEST_LOG\"\n\
                 if [ \"$2\" = is-system-running ]; then echo {state}; exit {rc}; fi\nexit 0\n"
            )
            .as_bytes(),
        );
    }

    /// Writes `name` (+ SHA256SUMS beside it unless `sums` is false) into `dl/`.
    pub fn put_archive(&self, name: &str, tbz: &[u8], sums: bool) -> PathBuf {
        let p = self.root().join("dl").join(name);
        fs::write(&p, tbz).unwrap();
        if sums {
            fs::write(
                self.root().join("dl/SHA256SUMS"),
                format!("{}  {name}\n", sha256_hex(tbz)),
            )
            .unwrap();
        }
        p
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        let path = format!(
            "{}:{}",
            self.root().join("fakebin").display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        );
        c.env_clear()
            .env("PATH", path)
            .env("HOME", self.home())
            .env("XDG_RUNTIME_DIR", self.runtime_dir())
            .env("U7S_TEST_LOG", self.log())
            .env("SHELL", "/bin/bash")
            .env("NO_COLOR", "1")
            .current_dir(self.root());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Installs `rel` from a local archive with its SHA256SUMS; panics on failure.
    pub fn install_ok(&self, rel: &Release, extra: &[&str]) -> Output {
        let a = self.put_archive("usernetes-x86_64.tbz", &rel.tbz(), true);
        let mut args = vec![a.to_str().unwrap(), "--no-doctor"];
        args.extend_from_slice(extra);
        let o = self.run(&args);
        assert_success(&o);
        o
    }

    pub fn current(&self) -> Option<String> {
        fs::read_link(self.prefix().join("current"))
            .ok()
            .map(|t| t.to_string_lossy().into_owned())
    }

    pub fn versions(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.prefix().join("versions"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Asserts `current` is `versions/<rel.version>` and every file of `rel` is there, intact.
    pub fn assert_current(&self, rel: &Release) {
        assert_eq!(
            self.current().as_deref(),
            Some(format!("versions/{}", rel.version).as_str())
        );
        assert_tree_matches(&self.prefix().join("current"), rel);
    }

    /// Names in the prefix that an interrupted run may leave (must not be visible as versions).
    pub fn leftovers(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.prefix())
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| {
                        n.starts_with(".staging-")
                            || n.starts_with(".trash-")
                            || n.starts_with("current.tmp-")
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Everything under the sandbox except the prefix: path -> (kind, content hash or target).
    pub fn snapshot_outside_prefix(&self) -> BTreeMap<PathBuf, String> {
        let mut m = BTreeMap::new();
        snapshot(self.root(), self.root(), &[self.prefix()], &mut m);
        m
    }

    /// Everything under the sandbox, prefix included, except the lock file (it holds a pid).
    pub fn snapshot_all(&self) -> BTreeMap<PathBuf, String> {
        let mut m = BTreeMap::new();
        snapshot(
            self.root(),
            self.root(),
            &[self.prefix().join(".lock")],
            &mut m,
        );
        m
    }
}

fn snapshot(root: &Path, dir: &Path, skip: &[PathBuf], m: &mut BTreeMap<PathBuf, String>) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if skip.contains(&p) {
            continue;
        }
        let md = p.symlink_metadata().unwrap();
        let rel = p.strip_prefix(root).unwrap().to_path_buf();
        if md.is_dir() {
            m.insert(rel, format!("dir {:o}", md.permissions().mode()));
            snapshot(root, &p, skip, m);
        } else if md.file_type().is_symlink() {
            m.insert(
                rel,
                format!("link {}", fs::read_link(&p).unwrap().display()),
            );
        } else {
            m.insert(
                rel,
                format!(
                    "file {:o} {}",
                    md.permissions().mode(),
                    sha256_hex(&fs::read(&p).unwrap())
                ),
            );
        }
    }
}

/// Asserts that `dir` holds exactly `rel`'s entries (plus manifest.json) with their contents,
/// link targets and modes.
pub fn assert_tree_matches(dir: &Path, rel: &Release) {
    let mut expected: Vec<String> = rel.entries.iter().map(|e| e.path.clone()).collect();
    expected.push("manifest.json".into());
    expected.sort();
    let mut found = Vec::new();
    list_rel(dir, dir, &mut found);
    found.sort();
    assert_eq!(found, expected, "files in {}", dir.display());
    for e in &rel.entries {
        let p = dir.join(&e.path);
        let md = p.symlink_metadata().unwrap();
        match &e.kind {
            Kind::Dir => assert!(md.is_dir(), "{}", e.path),
            Kind::File(d) => {
                assert!(md.is_file(), "{}", e.path);
                assert_eq!(fs::read(&p).unwrap(), *d, "content of {}", e.path);
                assert_eq!(
                    md.permissions().mode() & 0o7777,
                    e.mode,
                    "mode of {}",
                    e.path
                );
            }
            Kind::Symlink(t) => assert_eq!(fs::read_link(&p).unwrap(), Path::new(t), "{}", e.path),
        }
    }
}

fn list_rel(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        if p.symlink_metadata().unwrap().is_dir() {
            list_rel(root, &p, out);
        }
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn assert_success(o: &Output) {
    assert!(o.status.success(), "{}", text(o));
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
