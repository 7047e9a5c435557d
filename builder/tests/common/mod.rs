//! Fixtures for the integration tests: a git repository made with git2 (annotated tag, later
//! commit), a `git format-patch` series, a source tarball served by an HTTP server on
//! 127.0.0.1 (with Range support and an optional cut first transfer), recipes for the host
//! executor, and a runner for the `u7s-build` binary.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use git2::{Oid, Repository, Signature, Time};

pub const BIN: &str = env!("CARGO_BIN_EXE_u7s-build");

/// Commit time of the tagged commit (2023-11-14T22:13:20Z) and of the later one.
pub const T1: i64 = 1_700_000_000;
pub const T2: i64 = 1_700_100_000;
/// Author date of the fixture patch: 2024-03-04T05:06:07+09:00.
pub const PATCH_DATE: &str = "2024-03-04T05:06:07+09:00";
pub const PATCH_EPOCH: i64 = 1_709_496_367;

pub fn sha256(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(data))
}

fn commit_file(
    repo: &Repository,
    path: &str,
    content: &str,
    msg: &str,
    time: i64,
    parent: Option<Oid>,
) -> Oid {
    let workdir = repo.workdir().unwrap();
    let full = workdir.join(path);
    fs::create_dir_all(full.parent().unwrap()).unwrap();
    fs::write(&full, content).unwrap();
    if path.ends_with(".sh") {
        fs::set_permissions(&full, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut index = repo.index().unwrap();
    index.add_path(Path::new(path)).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = Signature::new("Up Stream", "up@example.org", &Time::new(time, 0)).unwrap();
    let parents: Vec<git2::Commit> = parent
        .map(|p| repo.find_commit(p).unwrap())
        .into_iter()
        .collect();
    let refs: Vec<&git2::Commit> = parents.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, msg, &tree, &refs)
        .unwrap()
}

/// The upstream repository of the `hello` component.
pub struct Upstream {
    pub path: PathBuf,
    /// The commit tagged v1.0.0 (annotated).
    pub tagged: String,
    /// A later commit on the branch.
    pub later: String,
}

pub const HELLO_V1: &str = "#!/bin/sh\necho \"hello from @VERSION@\"\n";

pub fn make_upstream(dir: &Path) -> Upstream {
    let repo = Repository::init(dir).unwrap();
    let c0 = commit_file(
        &repo,
        "LICENSE",
        "Hello licence text\n",
        "Add licence",
        T1 - 1000,
        None,
    );
    let c1 = commit_file(
        &repo,
        "hello.sh",
        HELLO_V1,
        "hello: first version",
        T1,
        Some(c0),
    );
    let sig = Signature::new("Up Stream", "up@example.org", &Time::new(T1 + 10, 0)).unwrap();
    let obj = repo.find_object(c1, None).unwrap();
    repo.tag("v1.0.0", &obj, &sig, "Release v1.0.0", false)
        .unwrap();
    let c2 = commit_file(
        &repo,
        "hello.sh",
        "#!/bin/sh\necho \"hello from main\"\n",
        "hello: work after the release",
        T2,
        Some(c1),
    );
    Upstream {
        path: dir.to_path_buf(),
        tagged: c1.to_string(),
        later: c2.to_string(),
    }
}

fn git(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .envs(env.iter().copied())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git is installed");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const PATCH_AUTHOR: [(&str, &str); 6] = [
    ("GIT_AUTHOR_NAME", "Pat Cher"),
    ("GIT_AUTHOR_EMAIL", "pat@example.org"),
    ("GIT_AUTHOR_DATE", PATCH_DATE),
    ("GIT_COMMITTER_NAME", "Pat Cher"),
    ("GIT_COMMITTER_EMAIL", "pat@example.org"),
    ("GIT_COMMITTER_DATE", PATCH_DATE),
];

/// Clones the fixture upstream into `scratch/name` and checks out its tag v1.0.0.
fn checkout_tag(upstream: &Upstream, scratch: &Path, name: &str) -> PathBuf {
    let work = scratch.join(name);
    git(
        scratch,
        &[
            "clone",
            "-q",
            upstream.path.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
        &[],
    );
    git(&work, &["checkout", "-q", "v1.0.0"], &[]);
    work
}

/// Writes `patches/hello/0001-*.patch` with `git format-patch`: the tagged hello.sh says
/// "hello, patched, from". Returns the patch file.
pub fn make_patch(upstream: &Upstream, scratch: &Path, patches: &Path) -> PathBuf {
    let work = checkout_tag(upstream, scratch, "patch-work");
    fs::write(
        work.join("hello.sh"),
        "#!/bin/sh\necho \"hello, patched, from @VERSION@\"\n",
    )
    .unwrap();
    git(
        &work,
        &[
            "commit",
            "-q",
            "-a",
            "-m",
            "hello: say that it is patched\n\nThe usernetes build needs to know.\n\nSigned-off-by: Pat Cher <pat@example.org>",
        ],
        &PATCH_AUTHOR,
    );
    let dir = patches.join("hello");
    fs::create_dir_all(&dir).unwrap();
    let name = git(
        &work,
        &["format-patch", "-1", "-o", dir.to_str().unwrap()],
        &PATCH_AUTHOR,
    );
    let path = PathBuf::from(name.trim());
    assert!(path.is_file(), "format-patch wrote {path:?}");
    path
}

/// Applies the patch with `git am` the way the builder promises to match, returns HEAD.
pub fn git_am_head(upstream: &Upstream, scratch: &Path, patch: &Path) -> String {
    let work = checkout_tag(upstream, scratch, "am-work");
    git(
        &work,
        &[
            "am",
            "-q",
            "--committer-date-is-author-date",
            patch.to_str().unwrap(),
        ],
        &[
            ("GIT_COMMITTER_NAME", "usernetes build"),
            ("GIT_COMMITTER_EMAIL", "build@usernetes.invalid"),
        ],
    );
    git(&work, &["rev-parse", "HEAD"], &[]).trim().to_string()
}

/// A gzipped tarball `tool-1.0/{bin/tool,LICENSE}`, built in memory.
pub fn make_tool_tarball() -> Vec<u8> {
    let enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut b = tar::Builder::new(enc);
    for (path, data, mode) in [
        ("tool-1.0/bin/tool", "#!/bin/sh\necho \"tool 1.0\"\n", 0o755),
        ("tool-1.0/LICENSE", "Tool licence text\n", 0o644),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(T1 as u64);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, data.as_bytes()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

/// The download tests' HTTP file server: the test kit's.
#[allow(unused_imports)] // not every test binary that includes this module downloads
pub use testkit::http::{ETAG, Seen, Server};

/// A complete build setup in a temporary folder.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub upstream: Upstream,
    pub patch: PathBuf,
    pub tarball: Vec<u8>,
    pub server: Server,
}

pub const HELLO_SCRIPT: &str = r#"v=$(git describe --tags --dirty)
mkdir -p "$OUT/bin" "$OUT/share/hello"
sed "s/@VERSION@/$v/" hello.sh > "$OUT/bin/hello"
chmod 0755 "$OUT/bin/hello"
printf '%s\n' "$SOURCE_DATE_EPOCH" > "$OUT/share/hello/source-date-epoch"
test "$SRC" = "$(pwd)"
test -n "$JOBS"
echo "built hello $VERSION"
"#;

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with_server(false)
    }

    pub fn with_server(cut_first: bool) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let upstream = make_upstream(&root.join("upstream/hello"));
        let patch = make_patch(&upstream, root, &root.join("repo/patches"));
        let tarball = make_tool_tarball();
        let mut files = HashMap::new();
        files.insert("/dl/tool-1.0.tar.gz".to_string(), tarball.clone());
        let server = Server::start(files, cut_first);

        let repo = root.join("repo");
        fs::create_dir_all(repo.join("recipes")).unwrap();
        fs::create_dir_all(repo.join("release/config")).unwrap();
        fs::write(
            repo.join("release/LICENSE"),
            "Apache License 2.0 (fixture)\n",
        )
        .unwrap();
        fs::write(
            repo.join("release/run.sh"),
            "#!/bin/sh\nexec \"$(dirname \"$0\")/bin/hello\"\n",
        )
        .unwrap();
        fs::set_permissions(
            repo.join("release/run.sh"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        fs::write(
            repo.join("release/config/usernetes.conf"),
            "# fixture config\n",
        )
        .unwrap();
        fs::create_dir_all(repo.join("localsrc/conf")).unwrap();
        fs::write(repo.join("localsrc/conf/local.conf"), "local = true\n").unwrap();
        fs::create_dir_all(repo.join("localsrc/target")).unwrap();
        fs::write(repo.join("localsrc/target/ignored"), "build junk\n").unwrap();

        let f = Fixture {
            dir,
            upstream,
            patch,
            tarball,
            server,
        };
        f.write_hello(
            &f.upstream.tagged.clone(),
            Some("v1.0.0"),
            HELLO_SCRIPT,
            &["bin/hello"],
        );
        f.write_tool(&sha256(&f.tarball));
        f.write_recipe(
            "local",
            r#"name = "local"
version = "0.1.0"
license = "Apache-2.0"

[source]
path = "../localsrc"

[build]
script = """
install -D -m 0644 conf/local.conf "$OUT/config/local.conf"
test ! -e target
"""
outputs = ["config/local.conf"]
"#,
        );
        f
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn repo(&self) -> PathBuf {
        self.root().join("repo")
    }

    pub fn write_recipe(&self, name: &str, text: &str) {
        fs::write(
            self.repo().join("recipes").join(format!("{name}.toml")),
            text,
        )
        .unwrap();
    }

    pub fn write_hello(&self, rev: &str, tag: Option<&str>, script: &str, outputs: &[&str]) {
        let tag_line = tag.map(|t| format!("tag = \"{t}\"\n")).unwrap_or_default();
        let outputs = outputs
            .iter()
            .map(|o| format!("\"{o}\""))
            .collect::<Vec<_>>()
            .join(", ");
        self.write_recipe(
            "hello",
            &format!(
                r#"name = "hello"
version = "v1.0.0"
license = "Apache-2.0"
license_files = ["LICENSE"]

[source]
git = "file://{}"
rev = "{rev}"
{tag_line}
[build]
script = '''
{script}'''
env = {{ GREETING = "hi" }}
outputs = [{outputs}]
"#,
                self.upstream.path.display()
            ),
        );
    }

    pub fn write_tool(&self, sha: &str) {
        self.write_recipe(
            "tool",
            &format!(
                r#"name = "tool"
version = "1.0"
license = "MIT"
license_files = ["LICENSE"]

[source]
url = "{}"
sha256 = "{sha}"

[build]
script = 'install -D -m 0755 bin/tool "$OUT/bin/tool"'
outputs = ["bin/tool"]
"#,
                self.server.url("/dl/tool-1.0.tar.gz")
            ),
        );
    }

    /// Runs u7s-build in the fixture repository with `--cache <root>/<cache>`.
    pub fn run(&self, cache: &str, args: &[&str]) -> Output {
        let mut full: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        full.insert(1, format!("--cache={}", self.root().join(cache).display()));
        run_in(&self.repo(), &full)
    }

    pub fn out(&self, name: &str) -> PathBuf {
        self.root().join(name)
    }
}

/// Runs the binary in `dir` with a clean build environment.
pub fn run_in(dir: &Path, args: &[String]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .env_remove("SOURCE_DATE_EPOCH")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "u7s-build failed: {}\n{}",
        o.status,
        stderr(o)
    );
}

/// Asserts a failed run whose stderr contains every needle, and that `out` holds no archive,
/// no checksums and no temporary leftovers.
pub fn assert_failed(o: &Output, needles: &[&str], out: &Path) -> String {
    let err = stderr(o);
    assert!(
        !o.status.success(),
        "expected a failure, got success:\n{err}"
    );
    assert_eq!(o.status.code(), Some(1), "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}:\n{err}");
    }
    if out.exists() {
        let left: Vec<_> = fs::read_dir(out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            left.is_empty(),
            "left behind in {}: {left:?}",
            out.display()
        );
    }
    err
}

pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}
