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

/// newcomer review L12, L14: a missing `--recipes` folder is named as the recipe folder, in
/// one error line with the tool's name and no repeated OS error.
#[test]
fn a_missing_recipes_folder_is_one_line_naming_it() {
    let o = run(&["release", "--recipes", "/nonexistent"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("u7s-build: error: recipe folder /nonexistent: no such folder"),
        "{err}"
    );
    assert!(!err.contains("caused by"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // Usage errors found by clap carry the tool's name too.
    let o = run(&["release", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("u7s-build: error: unexpected argument"),
        "{err}"
    );
}

/// newcomer review L13: each subcommand's help shows its own examples, not every one.
#[test]
fn subcommand_help_has_its_own_examples() {
    let help = |cmd: &str| String::from_utf8(run(&[cmd, "--help"]).stdout).unwrap();
    let build = help("build");
    assert!(
        build.contains("u7s-build build --only containerd,runc"),
        "{build}"
    );
    assert!(!build.contains("u7s-build patch --only"), "{build}");
    let release = help("release");
    assert!(release.contains("u7s-build release --offline"), "{release}");
    assert!(release.contains("MIRROR LAYOUT"), "{release}");
    assert!(!release.contains("u7s-build patch --only"), "{release}");
    assert!(!release.contains("u7s-build build --only"), "{release}");
    assert!(help("patch").contains("u7s-build patch --only kubernetes"));
    assert!(help("fetch").contains("u7s-build fetch"));
    let list = help("list");
    assert!(
        list.contains("u7s-build list --json") && !list.contains("u7s-build build"),
        "{list}"
    );
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
    // newcomer review L13: the table has a header row, and `-` (empty cache) is explained.
    let o = Command::new(BIN)
        .arg("list")
        .arg(format!("--recipes={}", dir.display()))
        .arg(format!("--cache={}", cache.path().display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].split_whitespace().collect::<Vec<_>>()
            == ["COMPONENT", "VERSION", "SOURCE", "BUILD", "PIN"],
        "{table}"
    );
    assert_eq!(lines.len(), recipes.len() + 2, "{table}");
    assert!(
        lines[lines.len() - 1].starts_with("BUILD -: unknown here"),
        "{table}"
    );
}
