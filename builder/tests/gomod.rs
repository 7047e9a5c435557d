//! Go-module sources end to end, against a Go module proxy written by the test: tiny modules
//! zipped in Go's module-zip layout (hashed with the builder's own dirhash), served from a
//! file:// folder or a loopback HTTP server, with the checksum database off for `example.test`
//! (`GONOSUMDB`). Needs `go` on PATH (CI installs it); builds use Go's default GOCACHE.
//!
//! Covered: fetch + build + release of an in-module source, a `[source.main]` go.mod/go.sum
//! beside the recipe (a wrapper, Kubernetes-style), `go_mod_from` (docker/cli's vendor.mod);
//! `--offline` inside a new network namespace after a fetch; `--mirror DIR` serving modules;
//! dependencies between recipes (`$DEPS`, not shipped); and every bad input: wrong h1, wrong or
//! missing Origin commit, go.sum mismatch and missing lines, a local-path replace, Go too old,
//! a missing C library / command, the network cut mid-download, `--offline` with an empty cache.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use builder::dirhash;
use common::{assert_failed, assert_ok, json};
use testkit::http::Server;

const GREET_COMMIT: &str = "1111111111111111111111111111111111111111";
const APP_COMMIT: &str = "2222222222222222222222222222222222222222";
const GREET_GO: &str =
    "package greet\n\n// Hello says hello.\nfunc Hello() string { return \"hello from greet\" }\n";
const APP_MAIN: &str = "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.test/greet\"\n)\n\nfunc main() { fmt.Println(greet.Hello()) }\n";

/// A Go module proxy folder (GOPROXY layout).
struct Proxy {
    dir: PathBuf,
}

/// Hashes of one published module.
struct Published {
    h1: String,
    mod_h1: String,
}

impl Proxy {
    fn new(dir: &Path) -> Proxy {
        fs::create_dir_all(dir).unwrap();
        Proxy {
            dir: dir.to_path_buf(),
        }
    }

    fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    /// Publishes `module@version` with `files` (relative path, text); `go_mod` is the `.mod`
    /// the proxy serves (the zip's go.mod, or a synthesized one when the zip has none).
    fn publish(
        &self,
        module: &str,
        version: &str,
        files: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Published {
        let at = self.dir.join(builder::gomod::escape(module)).join("@v");
        fs::create_dir_all(&at).unwrap();
        let zip_path = at.join(format!("{version}.zip"));
        let mut w = zip::ZipWriter::new(fs::File::create(&zip_path).unwrap());
        for (rel, text) in files {
            w.start_file(
                format!("{module}@{version}/{rel}"),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            w.write_all(text.as_bytes()).unwrap();
        }
        w.finish().unwrap();
        let go_mod = files
            .iter()
            .find(|(n, _)| *n == "go.mod")
            .map(|(_, t)| t.to_string())
            .unwrap_or_else(|| format!("module {module}\n"));
        fs::write(at.join(format!("{version}.mod")), &go_mod).unwrap();
        let mut info = serde_json::json!({"Version": version, "Time": "2024-05-06T07:08:09Z"});
        if let Some(c) = origin {
            info["Origin"] = serde_json::json!({
                "VCS": "git",
                "URL": format!("https://{module}"),
                "Hash": c,
                "Ref": format!("refs/tags/{version}"),
            });
        }
        fs::write(at.join(format!("{version}.info")), info.to_string()).unwrap();
        let mut list = fs::read_to_string(at.join("list")).unwrap_or_default();
        list.push_str(&format!("{version}\n"));
        fs::write(at.join("list"), list).unwrap();
        Published {
            h1: dirhash::hash_zip(&zip_path).unwrap(),
            mod_h1: dirhash::hash_go_mod(go_mod.as_bytes()),
        }
    }
}

/// The world of one test: a proxy with `greet` and `app`, a repository, a cache.
struct World {
    dir: tempfile::TempDir,
    proxy: Proxy,
    greet: Published,
    app: Published,
    /// The go.sum lines of `greet` v1.0.0.
    greet_sum: String,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let proxy = Proxy::new(&dir.path().join("proxy"));
        let greet = proxy.publish(
            "example.test/greet",
            "v1.0.0",
            &[
                ("go.mod", "module example.test/greet\n\ngo 1.21\n"),
                ("greet.go", GREET_GO),
                ("LICENSE", "greet licence\n"),
            ],
            Some(GREET_COMMIT),
        );
        let greet_sum = format!(
            "example.test/greet v1.0.0 {}\nexample.test/greet v1.0.0/go.mod {}\n",
            greet.h1, greet.mod_h1
        );
        let app = proxy.publish(
            "example.test/app",
            "v1.0.0",
            &[
                (
                    "go.mod",
                    "module example.test/app\n\ngo 1.21\n\nrequire example.test/greet v1.0.0\n",
                ),
                ("go.sum", &greet_sum),
                ("main.go", APP_MAIN),
                ("LICENSE", "app licence\n"),
            ],
            Some(APP_COMMIT),
        );
        let w = World {
            dir,
            proxy,
            greet,
            app,
            greet_sum,
        };
        fs::create_dir_all(w.repo().join("recipes")).unwrap();
        w.app_recipe(&w.app.h1.clone(), Some(APP_COMMIT));
        w
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn repo(&self) -> PathBuf {
        self.root().join("repo")
    }

    fn out(&self) -> PathBuf {
        self.root().join("out")
    }

    fn write_recipe(&self, name: &str, text: &str) {
        fs::write(self.repo().join(format!("recipes/{name}.toml")), text).unwrap();
    }

    fn go_recipe(&self, name: &str, module: &str, version: &str, h1: &str, extra: &str) {
        self.write_recipe(
            name,
            &format!(
                r#"name = "{name}"
version = "{version}"
license = "MIT"
license_files = ["LICENSE"]

[source]
go = "{module}"
version = "{version}"
h1 = "{h1}"
{extra}
[build]
env = {{ CGO_ENABLED = "0", GOFLAGS = "-trimpath" }}
script = '''
test "$GOPROXY" = off
case "$GOFLAGS" in -mod=readonly*-trimpath) ;; *) echo "GOFLAGS=$GOFLAGS"; exit 1 ;; esac
test -w go.mod
go build -o "$OUT/bin/{name}" .
'''
outputs = ["bin/{name}"]
"#
            ),
        );
    }

    fn app_recipe(&self, h1: &str, commit: Option<&str>) {
        let extra = commit
            .map(|c| format!("commit = \"{c}\"\n"))
            .unwrap_or_default();
        self.go_recipe("app", "example.test/app", "v1.0.0", h1, &extra);
    }

    /// Runs u7s-build with GOPROXY set to `proxy` (and the checksum database off for
    /// example.test), `--cache <root>/<cache>`.
    fn run_with(&self, cache: &str, proxy: &str, args: &[&str], wrap: &[&str]) -> Output {
        let mut cmd = if wrap.is_empty() {
            Command::new(common::BIN)
        } else {
            let mut c = Command::new(wrap[0]);
            c.args(&wrap[1..]).arg(common::BIN);
            c
        };
        cmd.current_dir(self.repo())
            .arg(args[0])
            .arg(format!("--cache={}", self.root().join(cache).display()))
            .args(&args[1..])
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("GOFLAGS")
            .env_remove("GOMODCACHE")
            .env("GOTOOLCHAIN", "local")
            .env("GOPROXY", proxy)
            .env("GONOSUMDB", "example.test")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("NO_COLOR", "1");
        cmd.output().unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with("cache", &self.proxy.url(), args, &[])
    }

    fn release(&self, extra: &[&str]) -> Output {
        let out = format!("--out={}", self.out().display());
        let mut args = vec!["release", "--jobs", "2", &out];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// Lists the archive and runs `bin/<name>` from it.
    fn unpack_and_run(&self, name: &str) -> (Vec<String>, String) {
        let dest = self.root().join("unpacked");
        let _ = fs::remove_dir_all(&dest);
        fs::create_dir_all(&dest).unwrap();
        let st = Command::new("tar")
            .args(["-xjf"])
            .arg(self.out().join("usernetes-x86_64.tbz"))
            .arg("-C")
            .arg(&dest)
            .status()
            .unwrap();
        assert!(st.success());
        let files: Vec<String> = walkdir::WalkDir::new(&dest)
            .into_iter()
            .map(|e| {
                e.unwrap()
                    .path()
                    .strip_prefix(&dest)
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        let out = Command::new(dest.join("usernetes/bin").join(name))
            .output()
            .unwrap();
        (files, String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn have_go() {
    let ok = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "these tests need the `go` command on PATH (Go >= 1.21; CI installs Go 1.26 in /usr/local/go)"
    );
}

#[test]
fn an_in_module_source_is_fetched_built_and_recorded() {
    have_go();
    let w = World::new();
    let o = w.run(&["fetch", "--json"]);
    assert_ok(&o);
    assert_eq!(json(&o)["components"][0]["fetched"], true);
    // Every dependency is in the cache's GOMODCACHE; the pinned zip is there too.
    let dl = w.root().join("cache/gomod/cache/download/example.test");
    assert!(dl.join("greet/@v/v1.0.0.zip").is_file());
    assert!(dl.join("app/@v/v1.0.0.zip").is_file());

    let o = w.release(&["--json"]);
    assert_ok(&o);
    let (files, said) = w.unpack_and_run("app");
    assert_eq!(said.trim(), "hello from greet");
    assert!(
        files.contains(&"usernetes/share/licenses/app/LICENSE".to_string()),
        "{files:?}"
    );
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs::read(w.root().join("unpacked/usernetes/manifest.json")).unwrap(),
    )
    .unwrap();
    let app = &manifest["components"][0];
    assert_eq!(app["source"]["kind"], "go");
    assert_eq!(app["source"]["module"], "example.test/app");
    assert_eq!(app["source"]["h1"], w.app.h1);
    assert_eq!(app["source"]["commit"], APP_COMMIT);
    // SOURCE_DATE_EPOCH comes from the version's time (2024-05-06T07:08:09Z).
    assert_eq!(json(&o)["source_date_epoch"], 1_714_979_289);

    // A second run is a no-op for the cache (nothing fetched, build reused).
    let o = w.run(&["build", "--json"]);
    assert_ok(&o);
    let c = &json(&o)["components"][0];
    assert_eq!(c["fetched"], false);
    assert_eq!(c["cached"], true);
}

/// `u7s-build fetch`, then `release --offline` in a new network namespace that has no route at
/// all (not even loopback up): every module comes from the cache.
#[test]
fn offline_release_runs_with_the_network_really_off() {
    have_go();
    let w = World::new();
    // Fetch over a loopback HTTP proxy, so "the network" is a real socket.
    let server = Server::serve_dir(&w.proxy.dir, None);
    let o = w.run_with("cache", &server.base, &["fetch"], &[]);
    assert_ok(&o);
    assert!(
        !server.requests().is_empty(),
        "the fetch used the HTTP proxy"
    );

    let root = nix::unistd::geteuid().is_root();
    let wrap: &[&str] = if root {
        &["unshare", "--net", "--"]
    } else {
        &["unshare", "--map-root-user", "--net", "--"]
    };
    // The namespace works, and inside it the proxy (reachable from here) is not.
    let port = server.base.rsplit(':').next().unwrap().to_string();
    let connect = format!("echo > /dev/tcp/127.0.0.1/{port}");
    let here = Command::new("bash")
        .args(["-c", &connect])
        .status()
        .unwrap();
    assert!(here.success(), "the proxy answers outside the namespace");
    let probe = Command::new(wrap[0])
        .args(&wrap[1..])
        .args([
            "bash",
            "-c",
            &format!("{connect} 2>/dev/null && echo reachable || echo unreachable"),
        ])
        .output()
        .expect("unshare (util-linux) is installed");
    assert!(
        probe.status.success(),
        "cannot create a network namespace (as root in CI, or with unprivileged user namespaces): {}",
        String::from_utf8_lossy(&probe.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&probe.stdout).trim(),
        "unreachable",
        "the new network namespace reaches 127.0.0.1:{port}"
    );
    let before = server.requests().len();

    let out = format!("--out={}", w.out().display());
    let o = w.run_with(
        "cache",
        &server.base,
        &["release", "--offline", "--jobs", "2", &out],
        wrap,
    );
    assert_ok(&o);
    assert_eq!(
        server.requests().len(),
        before,
        "--offline talked to the proxy"
    );
    let (_, said) = w.unpack_and_run("app");
    assert_eq!(said.trim(), "hello from greet");
}

#[test]
fn offline_with_an_empty_cache_names_the_module() {
    have_go();
    let w = World::new();
    let o = w.release(&["--offline"]);
    assert_failed(
        &o,
        &[
            "app: Go module example.test/app@v1.0.0 is not in the cache and --offline forbids the network",
            "u7s-build fetch",
        ],
        &w.out(),
    );
    // The cache is usable afterwards: fetch, then the same offline release works.
    assert_ok(&w.run(&["fetch"]));
    assert_ok(&w.release(&["--offline"]));
    // A dependency that left the cache is named, not a compiler error deep in a log.
    fs::remove_dir_all(w.out()).unwrap();
    fs::remove_file(
        w.root()
            .join("cache/gomod/cache/download/example.test/greet/@v/v1.0.0.zip"),
    )
    .unwrap();
    let o = w.release(&["--offline"]);
    assert_failed(
        &o,
        &[
            "app: Go module example.test/greet@v1.0.0 is not in the cache and --offline forbids the network",
        ],
        &w.out(),
    );
    assert_ok(&w.run(&["fetch"]));
    assert_ok(&w.release(&["--offline"]));
}

#[test]
fn a_mirror_folder_serves_go_modules() {
    have_go();
    let w = World::new();
    assert_ok(&w.run(&["fetch"]));
    // The mirror is made from the warm cache, as --help says.
    let mirror = w.root().join("mirror");
    fs::create_dir_all(mirror.join("go")).unwrap();
    let st = Command::new("cp")
        .arg("-a")
        .arg(w.root().join("cache/gomod/cache/download/."))
        .arg(mirror.join("go"))
        .status()
        .unwrap();
    assert!(st.success());
    // Another cache, and a GOPROXY that cannot work: only the mirror can serve.
    let out = format!("--out={}", w.out().display());
    let m = format!("--mirror={}", mirror.display());
    let o = w.run_with(
        "cache2",
        "http://127.0.0.1:9/unreachable",
        &["release", &m, &out],
        &[],
    );
    assert_ok(&o);
    assert!(
        w.root()
            .join("cache2/gomod/cache/download/example.test/greet/@v/v1.0.0.zip")
            .is_file()
    );
    // --offline may use a folder mirror (an air-gapped first build).
    let o = w.run_with(
        "cache3",
        "http://127.0.0.1:9/unreachable",
        &["release", "--offline", &m, &out],
        &[],
    );
    assert_ok(&o);
}

#[test]
fn a_wrong_h1_stops_the_build_and_a_fixed_one_works() {
    have_go();
    let w = World::new();
    let wrong = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    w.app_recipe(wrong, Some(APP_COMMIT));
    let o = w.release(&[]);
    assert_failed(
        &o,
        &[
            "app: example.test/app@v1.0.0: h1 mismatch",
            &format!("the recipe pins {wrong}"),
            &format!("go found {}", w.app.h1),
            "pin a new version",
        ],
        &w.out(),
    );
    w.app_recipe(&w.app.h1.clone(), Some(APP_COMMIT));
    assert_ok(&w.release(&[]));
}

#[test]
fn origin_commit_is_checked_and_required() {
    have_go();
    let w = World::new();
    let wrong = "3333333333333333333333333333333333333333";
    w.app_recipe(&w.app.h1.clone(), Some(wrong));
    let o = w.release(&[]);
    assert_failed(
        &o,
        &[
            &format!(
                "app: example.test/app@v1.0.0: the proxy records commit {APP_COMMIT} (refs/tags/v1.0.0)"
            ),
            &format!("the recipe pins commit {wrong}"),
            "fix commit",
        ],
        &w.out(),
    );
    w.app_recipe(&w.app.h1.clone(), None);
    let o = w.release(&[]);
    assert_failed(
        &o,
        &[
            "recipes/app.toml: [source]: the proxy records commit",
            &format!("add commit = \"{APP_COMMIT}\""),
        ],
        &w.out(),
    );
}

#[test]
fn go_sum_mismatch_and_missing_lines_stop_the_fetch() {
    have_go();
    let w = World::new();
    // v1.0.1: go.sum claims another hash for greet.
    let bad_sum = w.greet_sum.replace(
        &w.greet.h1,
        "h1:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=",
    );
    let go_mod = "module example.test/app\n\ngo 1.21\n\nrequire example.test/greet v1.0.0\n";
    let v101 = w.proxy.publish(
        "example.test/app",
        "v1.0.1",
        &[
            ("go.mod", go_mod),
            ("go.sum", &bad_sum),
            ("main.go", APP_MAIN),
            ("LICENSE", "app licence\n"),
        ],
        None,
    );
    w.go_recipe("app", "example.test/app", "v1.0.1", &v101.h1, "");
    let o = w.run(&["fetch"]);
    assert_failed(
        &o,
        &[
            "app: the dependencies of example.test/app@v1.0.1: verifying example.test/greet@v1.0.0: checksum mismatch",
            &format!("downloaded: {}", w.greet.h1),
            "go.sum:     h1:BBBB",
            "do not build it",
        ],
        &w.out(),
    );
    // v1.0.2: go.sum lacks greet's lines.
    let v102 = w.proxy.publish(
        "example.test/app",
        "v1.0.2",
        &[
            ("go.mod", go_mod),
            ("go.sum", ""),
            ("main.go", APP_MAIN),
            ("LICENSE", "app licence\n"),
        ],
        None,
    );
    w.go_recipe("app", "example.test/app", "v1.0.2", &v102.h1, "");
    let o = w.run(&["fetch"]);
    assert_failed(
        &o,
        &[
            "app: go.sum lacks",
            "example.test/greet v1.0.0",
            "go mod tidy",
        ],
        &w.out(),
    );
    // Nothing was marked verified: the good pin still fetches and builds.
    w.app_recipe(&w.app.h1.clone(), Some(APP_COMMIT));
    assert_ok(&w.release(&[]));
}

#[test]
fn a_wrapper_go_mod_beside_the_recipe_and_vendor_mod_in_the_module() {
    have_go();
    let w = World::new();
    // Kubernetes-style: the published go.mod requires v0.0.0 through a local-path replace.
    let kube_mod = "module example.test/kube\n\ngo 1.21\n\nrequire example.test/greet v0.0.0\n\nreplace example.test/greet => ./staging/greet\n";
    let kube = w.proxy.publish(
        "example.test/kube",
        "v1.0.0",
        &[
            ("go.mod", kube_mod),
            ("main.go", APP_MAIN),
            ("LICENSE", "kube licence\n"),
        ],
        None,
    );
    w.go_recipe("kube", "example.test/kube", "v1.0.0", &kube.h1, "");
    let o = w.run(&["fetch", "--only", "kube"]);
    assert_failed(
        &o,
        &[
            "recipes/kube.toml: the go.mod of example.test/kube@v1.0.0 replaces example.test/greet with the local path ./staging/greet",
            "[source.main]",
        ],
        &w.out(),
    );
    fs::write(
        w.repo().join("recipes/kube.go.mod"),
        "module example.test/kube\n\ngo 1.21\n\nrequire example.test/greet v0.0.0\n\nreplace example.test/greet => example.test/greet v1.0.0\n",
    )
    .unwrap();
    fs::write(w.repo().join("recipes/kube.go.sum"), &w.greet_sum).unwrap();
    w.go_recipe(
        "kube",
        "example.test/kube",
        "v1.0.0",
        &kube.h1,
        "[source.main]\ngo_mod = \"kube.go.mod\"\ngo_sum = \"kube.go.sum\"\n",
    );
    // docker/cli-style: no go.mod in the module, vendor.mod/vendor.sum instead.
    let cli = w.proxy.publish(
        "example.test/cli",
        "v1.0.0",
        &[
            (
                "vendor.mod",
                "module example.test/cli\n\ngo 1.21\n\nrequire example.test/greet v1.0.0\n",
            ),
            ("vendor.sum", &w.greet_sum),
            ("main.go", APP_MAIN),
            ("LICENSE", "cli licence\n"),
        ],
        None,
    );
    w.go_recipe(
        "cli",
        "example.test/cli",
        "v1.0.0",
        &cli.h1,
        "[source.main]\ngo_mod_from = \"vendor.mod\"\ngo_sum_from = \"vendor.sum\"\n",
    );
    let o = w.release(&["--only", "kube,cli"]);
    assert_ok(&o);
    for name in ["kube", "cli"] {
        let (_, said) = w.unpack_and_run(name);
        assert_eq!(said.trim(), "hello from greet", "{name}");
    }
    // The wrapper files are part of the pin: changing go.sum rebuilds (and here fails).
    fs::remove_dir_all(w.out()).unwrap();
    fs::write(w.repo().join("recipes/kube.go.sum"), "").unwrap();
    let o = w.run(&["build", "--only", "kube"]);
    assert_failed(&o, &["kube: go.sum lacks"], &w.out());
}

/// A git source whose tree is a Go main module (`[source.main]`): its dependencies are fetched
/// into the cache too, so `--offline` builds it.
#[test]
fn a_git_tree_as_a_go_main_module() {
    have_go();
    let w = World::new();
    fs::remove_file(w.repo().join("recipes/app.toml")).unwrap();
    let up = w.root().join("upstream-app");
    let repo = git2::Repository::init(&up).unwrap();
    for (rel, text) in [
        (
            "go.mod",
            "module example.test/gitapp\n\ngo 1.21\n\nrequire example.test/greet v1.0.0\n",
        ),
        ("go.sum", w.greet_sum.as_str()),
        ("main.go", APP_MAIN),
        ("LICENSE", "gitapp licence\n"),
    ] {
        fs::write(up.join(rel), text).unwrap();
    }
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig =
        git2::Signature::new("U", "u@example.org", &git2::Time::new(1_700_000_000, 0)).unwrap();
    let rev = repo
        .commit(Some("HEAD"), &sig, &sig, "gitapp", &tree, &[])
        .unwrap()
        .to_string();
    w.write_recipe(
        "gitapp",
        &format!(
            r#"name = "gitapp"
version = "v1"
license = "MIT"
license_files = ["LICENSE"]

[source]
git = "file://{}"
rev = "{rev}"

[source.main]
go_mod_from = "go.mod"
go_sum_from = "go.sum"

[build]
env = {{ CGO_ENABLED = "0" }}
script = 'test "$GOPROXY" = off && go build -o "$OUT/bin/gitapp" .'
outputs = ["bin/gitapp"]
"#,
            up.display()
        ),
    );
    assert_ok(&w.run(&["fetch"]));
    assert!(
        w.root()
            .join("cache/gomod/cache/download/example.test/greet/@v/v1.0.0.zip")
            .is_file()
    );
    assert_ok(&w.release(&["--offline"]));
    let (_, said) = w.unpack_and_run("gitapp");
    assert_eq!(said.trim(), "hello from greet");
}

#[test]
fn a_go_too_old_for_the_module() {
    have_go();
    let w = World::new();
    let future = w.proxy.publish(
        "example.test/future",
        "v1.0.0",
        &[
            ("go.mod", "module example.test/future\n\ngo 1.99.0\n"),
            ("main.go", "package main\n\nfunc main() {}\n"),
            ("LICENSE", "x\n"),
        ],
        None,
    );
    w.go_recipe("future", "example.test/future", "v1.0.0", &future.h1, "");
    let o = w.release(&["--only", "future"]);
    let host = String::from_utf8(
        Command::new("go")
            .args(["env", "GOVERSION"])
            .env("GOTOOLCHAIN", "local")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_failed(
        &o,
        &[
            "future: go.mod requires go >= 1.99.0",
            &format!("the toolchain here is {} (GOTOOLCHAIN=local)", host.trim()),
            "install Go 1.99.0 or newer",
            "export GOTOOLCHAIN=go1.27.3",
        ],
        &w.out(),
    );
}

#[test]
fn missing_c_library_and_command_name_the_debian_package() {
    let w = World::new();
    fs::remove_file(w.repo().join("recipes/app.toml")).unwrap();
    fs::create_dir_all(w.repo().join("src")).unwrap();
    fs::write(w.repo().join("src/x"), "x\n").unwrap();
    let recipe = |needs: &str| {
        format!(
            "name = \"cthing\"\nversion = \"1\"\nlicense = \"MIT\"\n[source]\npath = \"../src\"\n[build]\nscript = 'install -D x \"$OUT/share/x\"'\n{needs}"
        )
    };
    w.write_recipe(
        "cthing",
        &recipe(
            "[build.needs]\npkg_config = { \"u7s-no-such-library\" = \"libu7s-nothing-dev\" }\n",
        ),
    );
    let o = w.release(&["--executor", "host"]);
    assert_failed(
        &o,
        &[
            "cthing: needs the C library (pkg-config) 'u7s-no-such-library'",
            "install the Debian package libu7s-nothing-dev (apt-get install libu7s-nothing-dev)",
        ],
        &w.out(),
    );
    w.write_recipe(
        "cthing",
        &recipe("[build.needs]\ncommands = { \"u7s-no-such-tool\" = \"u7s-tools\" }\n"),
    );
    let o = w.release(&[]);
    assert_failed(
        &o,
        &[
            "cthing: needs the command 'u7s-no-such-tool'",
            "apt-get install u7s-tools",
        ],
        &w.out(),
    );
    // Present things pass.
    w.write_recipe(
        "cthing",
        &recipe("[build.needs]\ncommands = { \"sh\" = \"dash\" }\n"),
    );
    assert_ok(&w.release(&[]));
}

#[test]
fn a_container_image_must_be_pinned_by_digest() {
    let w = World::new();
    let text = fs::read_to_string(w.repo().join("recipes/app.toml")).unwrap();
    w.write_recipe(
        "app",
        &text.replace("[build]\n", "[build]\nimage = \"golang:1.26-bookworm\"\n"),
    );
    let o = w.release(&["--executor", "docker"]);
    assert_failed(
        &o,
        &[
            "recipes/app.toml: [build]: image: 'golang:1.26-bookworm' is not pinned by digest",
            "docker image inspect --format '{{index .RepoDigests 0}}' golang:1.26-bookworm",
            "--executor host",
        ],
        &w.out(),
    );
    assert!(
        !w.root().join("cache").exists(),
        "work started before the check"
    );
}

/// The connection drops in the middle of the module zip: the fetch stops naming the component,
/// no archive is written, and the next run (the server now behaves) succeeds.
#[test]
fn the_network_cut_mid_download() {
    have_go();
    let w = World::new();
    let server = Server::serve_dir(&w.proxy.dir, Some(".zip"));
    let out = format!("--out={}", w.out().display());
    let o = w.run_with("cache", &server.base, &["release", &out], &[]);
    assert_failed(
        &o,
        &["app: go mod download example.test/app@v1.0.0", "run again"],
        &w.out(),
    );
    assert_eq!(server.cuts().len(), 1, "the server cut a transfer");
    let o = w.run_with("cache", &server.base, &["release", &out], &[]);
    assert_ok(&o);
    let (_, said) = w.unpack_and_run("app");
    assert_eq!(said.trim(), "hello from greet");
}

#[test]
fn a_dependency_recipe_is_built_first_and_not_shipped() {
    let w = World::new();
    fs::remove_file(w.repo().join("recipes/app.toml")).unwrap();
    for d in ["libsrc", "usesrc"] {
        fs::create_dir_all(w.repo().join(d)).unwrap();
    }
    fs::write(w.repo().join("libsrc/lib.h"), "#define LIB 42\n").unwrap();
    fs::write(w.repo().join("libsrc/COPYING"), "lib licence\n").unwrap();
    w.write_recipe(
        "libthing",
        "name = \"libthing\"\nversion = \"1\"\nlicense = \"MIT\"\nlicense_files = [\"COPYING\"]\n[source]\npath = \"../libsrc\"\n[build]\nscript = 'install -D -m 0644 lib.h \"$OUT/include/lib.h\"'\noutputs = [\"include/lib.h\"]\n",
    );
    w.write_recipe(
        "user",
        "name = \"user\"\nversion = \"1\"\nlicense = \"MIT\"\n[source]\npath = \"../usesrc\"\n[build]\ndeps = [\"libthing\"]\nscript = '''\ngrep -q 'LIB 42' \"$DEPS/libthing/include/lib.h\"\nmkdir -p \"$OUT/bin\"\nprintf '#!/bin/sh\\necho uses lib\\n' > \"$OUT/bin/user\"\nchmod 0755 \"$OUT/bin/user\"\n'''\noutputs = [\"bin/user\"]\n",
    );
    // --only user pulls in libthing.
    let o = w.release(&["--only", "user", "--json"]);
    assert_ok(&o);
    let (files, said) = w.unpack_and_run("user");
    assert_eq!(said.trim(), "uses lib");
    assert!(
        !files.iter().any(|f| f.contains("include/lib.h")),
        "{files:?}"
    );
    assert!(
        files.contains(&"usernetes/share/licenses/libthing/COPYING".to_string()),
        "{files:?}"
    );
    // Asked for: shipped.
    let text = fs::read_to_string(w.repo().join("recipes/libthing.toml")).unwrap();
    w.write_recipe(
        "libthing",
        &text.replace("license_files", "ship = true\nlicense_files"),
    );
    assert_ok(&w.release(&[]));
    let (files, _) = w.unpack_and_run("user");
    assert!(
        files.contains(&"usernetes/include/lib.h".to_string()),
        "{files:?}"
    );
    // Unknown dependency.
    fs::remove_dir_all(w.out()).unwrap();
    w.write_recipe(
        "user",
        "name = \"user\"\nversion = \"1\"\nlicense = \"MIT\"\n[source]\npath = \"../usesrc\"\n[build]\ndeps = [\"nope\"]\nscript = 'true'\n",
    );
    let o = w.release(&[]);
    assert_failed(
        &o,
        &["recipes/user.toml: [build]: deps: no recipe is named 'nope'"],
        &w.out(),
    );
}
