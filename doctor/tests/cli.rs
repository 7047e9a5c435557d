//! The command line: exit codes (usage errors are 2), help with examples, completions, man
//! page, and the JSON document validated against the committed schema.

mod common;

use common::{D, healthy};
use std::process::Command;

fn doctor(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_u7s-doctor"))
        .args(args)
        .output()
        .unwrap()
}

fn schema() -> jsonschema::Validator {
    let text = include_str!("../report.schema.json");
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    jsonschema::validator_for(&v).unwrap()
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["--bogus"][..],
        &["--for", "podman"],
        &["--completions", "tcsh-ish"],
        &["--root"],
        &["--root", "/nonexistent/tree/x"],
    ] {
        let o = doctor(args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!o.stderr.is_empty());
    }
}

#[test]
fn help_version_completions_man() {
    let o = doctor(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = String::from_utf8(o.stdout).unwrap();
    for needle in [
        "EXAMPLES:",
        "--json",
        "--root <DIR>",
        "--user <NAME>",
        "--for <TARGET>",
        "--completions <SHELL>",
        "--man",
        "EXIT STATUS",
    ] {
        assert!(
            help.contains(needle),
            "{needle} missing from --help:\n{help}"
        );
    }
    let o = doctor(&["--version"]);
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .starts_with("u7s-doctor ")
    );
    let o = doctor(&["--completions", "bash"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .contains("complete -F _u7s__doctor")
    );
    let o = doctor(&["--man"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .starts_with(".ie \\n(.g .ds Aq")
    );
}

#[test]
fn json_matches_the_schema() {
    let v = schema();
    // A healthy tree, one with many defects, and an unknown distro.
    let good = healthy(D::Fedora40);
    let mut bad = healthy(D::Alpine320);
    bad.subid("", "")
        .sysctl("user.max_user_namespaces", "0")
        .attr("/dev/net/tun", "0 0 c0600 -")
        .rm("/etc/os-release");
    for (t, code) in [(&good, 0), (&bad, 1)] {
        let o = t.run(&["--user", "alice"]);
        assert_eq!(o.code, code);
        let doc: serde_json::Value = serde_json::from_str(&o.raw).unwrap();
        let errors: Vec<String> = v
            .iter_errors(&doc)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        assert_eq!(doc["summary"]["fail"].as_u64().unwrap() > 0, code == 1);
        assert_eq!(doc["result"], if code == 0 { "ok" } else { "fail" });
    }
    // The schema is strict: unknown fields and statuses are rejected.
    let o = good.run(&["--user", "alice"]);
    let mut doc: serde_json::Value = serde_json::from_str(&o.raw).unwrap();
    doc["checks"][0]["status"] = "ok".into();
    assert!(!v.is_valid(&doc));
    let mut doc: serde_json::Value = serde_json::from_str(&o.raw).unwrap();
    doc["extra"] = 1.into();
    assert!(!v.is_valid(&doc));
    // And the typed round trip is strict too (deny_unknown_fields).
    let mut doc: serde_json::Value = serde_json::from_str(&o.raw).unwrap();
    doc["checks"][0]["evidence"] = "x".into();
    assert!(serde_json::from_value::<doctor::report::JsonReport>(doc).is_err());
}

#[test]
fn no_color_and_table_output() {
    let t = healthy(D::Debian12);
    let (code, table) = t.table(&["--user", "alice"]);
    assert_eq!(code, 0);
    assert!(table.starts_with(
        "u7s-doctor: Debian GNU/Linux 12 (bookworm) for user alice, target Kubernetes"
    ));
    assert!(table.contains("\nsession\n  PASS  session.not_root"));
    assert!(table.contains(" passed, "));
}
