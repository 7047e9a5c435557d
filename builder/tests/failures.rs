//! Every way a build can go wrong stops it with a non-zero exit, an error naming the culprit,
//! and no archive (nor temporary file) left in the output folder.

mod common;

use std::fs;

use common::*;

fn release(f: &Fixture, extra: &[&str]) -> std::process::Output {
    let out_arg = format!("--out={}", f.out("out").display());
    let mut args = vec!["release", "--jobs", "2", &out_arg];
    args.extend_from_slice(extra);
    f.run("cache", &args)
}

#[test]
fn offline_with_a_cold_cache() {
    let f = Fixture::new();
    let o = release(&f, &["--offline", "--only", "tool"]);
    let url = f.server.url("/dl/tool-1.0.tar.gz");
    assert_failed(
        &o,
        &[&format!("tool: {url} is not in the cache"), "--offline"],
        &f.out("out"),
    );
    assert!(
        f.server.requests().is_empty(),
        "--offline touched the network"
    );
    // A git source over the network (a local path or file:// URL needs no network).
    let recipe = fs::read_to_string(f.repo().join("recipes/hello.toml")).unwrap();
    let remote = "https://git.example.invalid/up/hello.git";
    fs::write(
        f.repo().join("recipes/hello.toml"),
        recipe.replace(&format!("file://{}", f.upstream.path.display()), remote),
    )
    .unwrap();
    let o = release(&f, &["--offline", "--only", "hello"]);
    assert_failed(
        &o,
        &[
            &format!("hello: git {remote} @ {}", f.upstream.tagged),
            "not in the cache and --offline",
        ],
        &f.out("out"),
    );
}

#[test]
fn a_wrong_sha256() {
    let f = Fixture::new();
    let wrong = "0".repeat(64);
    f.write_tool(&wrong);
    let o = release(&f, &["--only", "tool"]);
    let url = f.server.url("/dl/tool-1.0.tar.gz");
    assert_failed(
        &o,
        &[
            &url,
            "sha256 mismatch",
            &format!("expected {wrong}"),
            &format!("got {}", sha256(&f.tarball)),
        ],
        &f.out("out"),
    );
    let dist: Vec<_> = fs::read_dir(f.root().join("cache/dist/sha256"))
        .unwrap()
        .collect();
    assert!(dist.is_empty(), "the bad download was kept");
}

#[test]
fn a_tag_that_resolves_elsewhere() {
    let f = Fixture::new();
    let later = f.upstream.later.clone();
    f.write_hello(&later, Some("v1.0.0"), HELLO_SCRIPT, &["bin/hello"]);
    let o = release(&f, &["--only", "hello"]);
    assert_failed(
        &o,
        &[
            "recipes/hello.toml",
            "tag 'v1.0.0'",
            &f.upstream.tagged,
            &later,
        ],
        &f.out("out"),
    );
}

#[test]
fn a_patch_that_does_not_apply() {
    let f = Fixture::new();
    let text = fs::read_to_string(&f.patch).unwrap();
    // Same series name, a context line the pinned tree does not have.
    fs::write(
        &f.patch,
        text.replace(
            "-echo \"hello from @VERSION@\"",
            "-echo \"hello from somewhere else\"",
        ),
    )
    .unwrap();
    let o = release(&f, &["--only", "hello"]);
    let name = f.patch.file_name().unwrap().to_str().unwrap();
    assert_failed(&o, &[name, "does not apply to hello.sh"], &f.out("out"));
}

#[test]
fn a_declared_output_not_produced() {
    let f = Fixture::new();
    f.write_hello(
        &f.upstream.tagged.clone(),
        Some("v1.0.0"),
        HELLO_SCRIPT,
        &["bin/hello", "bin/hello-helper"],
    );
    let o = release(&f, &["--only", "hello"]);
    assert_failed(
        &o,
        &["hello: declared output 'bin/hello-helper' was not produced"],
        &f.out("out"),
    );
}

#[test]
fn a_failing_script() {
    let f = Fixture::new();
    f.write_hello(
        &f.upstream.tagged.clone(),
        Some("v1.0.0"),
        "echo marker-from-the-script\nfalse\necho never\n",
        &["bin/hello"],
    );
    let o = release(&f, &["--only", "hello"]);
    let err = assert_failed(
        &o,
        &[
            "hello: build script failed (exit status 1)",
            "marker-from-the-script",
            "build.log",
        ],
        &f.out("out"),
    );
    assert!(!err.contains("never"), "sh -e did not stop at the failure");
    // The log is kept in the cache.
    let log_line = err.lines().find(|l| l.contains("log: ")).unwrap();
    let log = log_line.rsplit("log: ").next().unwrap().trim();
    assert!(
        fs::read_to_string(log)
            .unwrap()
            .contains("marker-from-the-script")
    );
}

#[test]
fn an_unset_variable_fails_the_script() {
    let f = Fixture::new();
    f.write_hello(
        &f.upstream.tagged.clone(),
        Some("v1.0.0"),
        "echo \"$NOT_SET_ANYWHERE\"\n",
        &["bin/hello"],
    );
    let o = release(&f, &["--only", "hello"]);
    assert_failed(
        &o,
        &["hello: build script failed", "NOT_SET_ANYWHERE"],
        &f.out("out"),
    );
}

#[test]
fn an_invalid_recipe_names_file_and_field() {
    let f = Fixture::new();
    f.write_recipe("bad", "name = \"bad\"\nversion = \"1\"\nlicense = \"MIT\"\n[source]\ngit = \"x\"\nrev = \"0123ab\"\n[build]\nscript = \"true\"\n");
    let o = release(&f, &[]);
    assert_failed(
        &o,
        &["recipes/bad.toml: [source]: rev must be a full 40-hex commit id, got '0123ab'"],
        &f.out("out"),
    );
}

#[test]
fn unknown_only_name() {
    let f = Fixture::new();
    let o = release(&f, &["--only", "nope"]);
    assert_failed(
        &o,
        &["--only: no recipe named 'nope' (known: hello, local, tool)"],
        &f.out("out"),
    );
}

#[test]
fn unreachable_servers_get_a_one_line_hint() {
    let f = Fixture::new();
    let dead = "http://127.0.0.1:9/dl/tool-1.0.tar.gz";
    let tool = fs::read_to_string(f.repo().join("recipes/tool.toml")).unwrap();
    fs::write(
        f.repo().join("recipes/tool.toml"),
        tool.replace(&f.server.url("/dl/tool-1.0.tar.gz"), dead),
    )
    .unwrap();
    let o = release(&f, &["--only", "tool"]);
    let err = assert_failed(
        &o,
        &[&format!("cannot reach {dead}"), "--offline", "--mirror"],
        &f.out("out"),
    );
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with("u7s-build: error:"))
            .count(),
        1,
        "{err}"
    );

    let dead_git = "https://127.0.0.1:9/up/hello.git";
    let hello = fs::read_to_string(f.repo().join("recipes/hello.toml")).unwrap();
    fs::write(
        f.repo().join("recipes/hello.toml"),
        hello.replace(&format!("file://{}", f.upstream.path.display()), dead_git),
    )
    .unwrap();
    let o = release(&f, &["--only", "hello"]);
    assert_failed(
        &o,
        &[&format!("cannot reach {dead_git}"), "--offline", "--mirror"],
        &f.out("out"),
    );
}

const PINNED: &str =
    "debian:bookworm@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

#[test]
fn an_image_recipe_without_a_container_engine() {
    let f = Fixture::new();
    let text = fs::read_to_string(f.repo().join("recipes/local.toml")).unwrap();
    fs::write(
        f.repo().join("recipes/local.toml"),
        text.replace("[build]\n", &format!("[build]\nimage = \"{PINNED}\"\n")),
    )
    .unwrap();
    // No docker, no podman on this PATH; the error comes before any work.
    let empty = f.root().join("empty-path");
    fs::create_dir(&empty).unwrap();
    let o = std::process::Command::new(BIN)
        .current_dir(f.repo())
        .args(["release", "--only", "local"])
        .arg(format!("--cache={}", f.root().join("cache").display()))
        .arg(format!("--out={}", f.out("out").display()))
        .env("PATH", &empty)
        .output()
        .unwrap();
    assert_failed(
        &o,
        &[
            &format!(
                "local: the recipe needs a container image ({PINNED}), but neither docker nor podman is usable"
            ),
            "--executor host",
        ],
        &f.out("out"),
    );
    assert!(
        !f.root().join("cache").exists(),
        "work started before the executor check"
    );
}
