//! The command line as users meet it: help with examples and the mirror layout, version,
//! completions, man page, usage errors, and the repository's real recipes.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_u7s-build");

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn help_has_examples_and_the_mirror_layout() {
    let o = run(&["--help"]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    for want in [
        "EXAMPLES:",
        "u7s-build release --offline",
        "<mirror>/git/<host>/<path>.git",
        "<mirror>/sha256/<hex>",
        "SOURCE_DATE_EPOCH",
        "--completions",
        "--man",
    ] {
        assert!(text.contains(want), "--help lacks {want:?}");
    }
    let o = run(&["release", "--help"]);
    let text = String::from_utf8(o.stdout).unwrap();
    for flag in [
        "--recipes",
        "--patches",
        "--payload",
        "--out",
        "--only",
        "--cache",
        "--offline",
        "--mirror",
        "--executor",
        "--jobs",
        "--release-version",
        "--json",
        "EXAMPLES:",
    ] {
        assert!(text.contains(flag), "release --help lacks {flag}");
    }
}

#[test]
fn version_completions_and_man_page() {
    let o = run(&["--version"]);
    assert_eq!(
        String::from_utf8(o.stdout).unwrap().trim(),
        format!("u7s-build {}", env!("CARGO_PKG_VERSION"))
    );
    let o = run(&["--completions", "bash"]);
    assert!(o.status.success());
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .contains("complete -F _u7s__build")
    );
    let o = run(&["--man"]);
    assert!(o.status.success());
    let man = String::from_utf8(o.stdout).unwrap();
    assert!(
        man.contains(".TH u7s-build 1"),
        "{}",
        &man[..200.min(man.len())]
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(
        run(&["release", "--executor", "chroot"]).status.code(),
        Some(2)
    );
    assert_eq!(run(&["build", "--jobs", "0"]).status.code(), Some(2));
}

#[test]
fn outside_a_repository_the_error_says_what_to_pass() {
    let t = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .current_dir(t.path())
        .args(["list"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("pass --recipes DIR"));
}

/// Every real recipe of the repository parses and validates; the set is complete enough to
/// be the distribution (at least 15 components).
#[test]
fn the_repository_recipes_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../recipes");
    let recipes = builder::recipe::load_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        recipes.len() >= 15,
        "only {} recipes in recipes/",
        recipes.len()
    );
    for r in &recipes {
        assert!(
            !r.build.outputs.is_empty(),
            "{}: declares no outputs",
            r.file.display()
        );
        if let builder::recipe::Source::Path { resolved, .. } = &r.source {
            assert!(
                resolved.is_dir(),
                "{}: path source {} does not exist",
                r.file.display(),
                resolved.display()
            );
        }
    }
    // `list` reads them without touching the network.
    let cache = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .arg("list")
        .arg(format!("--recipes={}", dir.display()))
        .arg(format!("--cache={}", cache.path().display()))
        .arg("--json")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["components"].as_array().unwrap().len(), recipes.len());
}
