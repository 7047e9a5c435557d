//! End-to-end: the CIS Kubernetes Benchmark as kube-bench (Aqua Security's runner, built from
//! its pin by `e2e/tools/kube-bench.toml`) checks it, against a real session of the release
//! binaries in `$U7S_E2E_KUBE_BIN`, as the unprivileged test user in a network namespace of its
//! own. kube-bench runs inside the session's namespaces (`u7s nsenter`: it finds the components
//! with `ps` and reads their files), with the newest CIS benchmark it has for Kubernetes 1.3x
//! (`cis-1.11`) and a `config.yaml` written here from the session's real paths (PKI, kubelet
//! and kube-proxy configuration, etcd's data), for the targets master, node, etcd and policies;
//! the few kubeadm paths `master.yaml` names in its audits (admin.conf, /etc/kubernetes/pki) are
//! pointed at the session's files too, the checks themselves are kube-bench's. Inside the
//! session's user namespace the user is uid 0, so `stat` shows its files as root:root.
//! The test fails when a check FAILs that README.md's deviation table (section "Security
//! settings and CIS deviations") does not list: every FAIL is fixed or a documented rootless
//! deviation. It prints the pass/fail/warn/info totals of each target.

use e2e::kube::*;
use e2e::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The folder of the kube-bench build (`bin/kube-bench`, `cfg/`): `u7s-build build --recipes
/// e2e/tools --only kube-bench` makes it; scripts/test.sh passes its location.
const KUBE_BENCH_ENV: &str = "U7S_E2E_KUBE_BENCH";

/// The benchmark: kube-bench v0.14.0 maps Kubernetes 1.29 to 1.32 to `cis-1.11`, its newest for
/// upstream Kubernetes (the release runs 1.37, which no kube-bench benchmark names yet).
const BENCHMARK: &str = "cis-1.11";

/// The line of README.md that introduces the deviation table this test reads.
const TABLE_MARK: &str =
    "<!-- cis-deviations: e2e/tests/cis.rs reads the check ids of this table -->";

/// The CIS check ids of README.md's deviation table: the start of the first column of each row
/// after [`TABLE_MARK`], ids in backquotes separated by `/` (`` `1.1.1`/`1.1.2` what… ``).
fn readme_deviations() -> BTreeSet<String> {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let text =
        std::fs::read_to_string(&readme).unwrap_or_else(|e| panic!("{}: {e}", readme.display()));
    let start = text
        .find(TABLE_MARK)
        .unwrap_or_else(|| panic!("README.md has no line {TABLE_MARK:?}"));
    let mut ids = BTreeSet::new();
    let rows = text[start + TABLE_MARK.len()..]
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.starts_with('|'));
    for row in rows.skip(2) {
        // The cell starts with the ids, `a`/`b`/…, then says what they check.
        let mut rest = row.split('|').nth(1).unwrap_or_default().trim_start();
        while let Some(tail) = rest.strip_prefix('`') {
            let (id, after) = tail
                .split_once('`')
                .unwrap_or_else(|| panic!("README.md deviation table: unclosed ` in {row:?}"));
            assert!(
                !id.is_empty() && id.split('.').all(|n| n.parse::<u32>().is_ok()),
                "README.md deviation table: {id:?} is no check id (row {row:?})"
            );
            ids.insert(id.to_string());
            rest = after.strip_prefix('/').unwrap_or("");
        }
    }
    assert!(
        !ids.is_empty(),
        "README.md: the deviation table has no check id"
    );
    ids
}

/// `cis-1.11/config.yaml` (kube-bench merges it over `cfg/config.yaml`): where this session keeps
/// what the benchmark looks for under /etc/kubernetes and /var/lib in a kubeadm cluster.
fn session_config(pki: &Path, state: &Path, data: &Path) -> String {
    let p = |f: &str| pki.join(f).display().to_string();
    let s = |f: &str| state.join(f).display().to_string();
    let etcd = data.join("etcd").display().to_string();
    format!(
        r#"---
## Written by e2e/tests/cis.rs: the files of a usernetes session.
master:
  scheduler:
    kubeconfig: ["{scheduler}"]
  controllermanager:
    kubeconfig: ["{cm}"]
  etcd:
    datadirs: ["{etcd}"]
node:
  kubelet:
    cafile: ["{ca}"]
    kubeconfig: ["{kubelet_kc}"]
    confs: ["{kubelet_conf}"]
  proxy:
    kubeconfig: ["{proxy_kc}"]
    confs: ["{proxy_conf}"]
etcd:
  etcd:
    datadirs: ["{etcd}"]
"#,
        scheduler = p("scheduler.kubeconfig"),
        cm = p("controller-manager.kubeconfig"),
        ca = p("ca.pem"),
        kubelet_kc = p("kubelet.kubeconfig"),
        kubelet_conf = s("kubelet-config.yaml"),
        proxy_kc = p("kube-proxy.kubeconfig"),
        proxy_conf = s("kube-proxy-config.yaml"),
    )
}

/// The kubeadm paths `master.yaml` names in its audits rather than through `config.yaml`
/// (1.1.13/1.1.14 the admin credentials, 1.1.19 to 1.1.21 the PKI folder, its certificates and
/// keys), and this session's: the checks stay the same, on our files.
fn kubeadm_paths(pki: &Path) -> Vec<(String, String)> {
    let p = |f: &str| pki.join(f).display().to_string();
    vec![
        ("/etc/kubernetes/admin.conf".into(), p("admin.kubeconfig")),
        (
            "/etc/kubernetes/super-admin.conf".into(),
            p("super-admin.kubeconfig"),
        ),
        ("/etc/kubernetes/pki/".into(), format!("{}/", pki.display())),
        ("-name '*.crt'".into(), "-name '*.pem'".into()),
        ("-name '*.key'".into(), "-name '*-key.pem'".into()),
    ]
}

/// Copies kube-bench and its `cfg/` into the sandbox (the test user cannot read root's cache),
/// with this session's `cis-1.11/config.yaml` and paths ([`kubeadm_paths`]); the binary's path
/// and the config folder.
fn install_kube_bench(sb: &Sandbox, build: &Path, pki: &Path, config: &str) -> (PathBuf, PathBuf) {
    let dir = sb.path().join("kube-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let status = std::process::Command::new("cp")
        .arg("-R")
        .arg(build.join("cfg"))
        .arg(&dir)
        .status()
        .expect("cp");
    assert!(status.success(), "copying {}/cfg", build.display());
    let bin = dir.join("kube-bench");
    testkit::copy_executable(&build.join("bin/kube-bench"), &bin);
    let cfg = dir.join("cfg");
    std::fs::write(cfg.join(BENCHMARK).join("config.yaml"), config).unwrap();
    let master = cfg.join(BENCHMARK).join("master.yaml");
    let mut text = std::fs::read_to_string(&master).unwrap();
    for (from, to) in kubeadm_paths(pki) {
        assert!(
            text.contains(&from),
            "{BENCHMARK}/master.yaml no longer has {from:?}: look again at the paths it checks"
        );
        text = text.replace(&from, &to);
    }
    std::fs::write(&master, text).unwrap();
    let status = std::process::Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(&dir)
        .status()
        .expect("chmod");
    assert!(status.success(), "chmod {}", dir.display());
    (bin, cfg)
}

#[test]
#[ignore = "needs root, U7S_TEST_USER, U7S_E2E_KUBE_BIN and U7S_E2E_KUBE_BENCH (scripts/test.sh prepares them)"]
fn kube_bench_cis_checks_fail_only_on_documented_deviations() {
    let deviations = readme_deviations();
    let build = std::env::var_os(KUBE_BENCH_ENV)
        .map(PathBuf::from)
        .filter(|d| d.join("bin/kube-bench").is_file() && d.join("cfg/config.yaml").is_file());
    let build = testkit::require(
        build,
        &format!(
            "{KUBE_BENCH_ENV}: the kube-bench build (bin/kube-bench, cfg/), made by u7s-build build --recipes e2e/tools --only kube-bench"
        ),
    );
    let user = test_user();
    let netns = PrivateNetns::new("cis");
    let mut sb = Sandbox::new(user);
    sb.enter_netns(&netns.path);
    sb.release = kube_release_tree(sb.path());
    sb.u7s_ok(&["up", "--cri", "containerd", "--detach"]);
    wait_node_ready(&sb, Duration::from_secs(90));

    let pki = sb.config().join("pki");
    let state = sb.runtime_dir.join("usernetes");
    let config = session_config(&pki, &state, &sb.data());
    let (bin, cfg) = install_kube_bench(&sb, &build, &pki, &config);
    let kubeconfig = format!("KUBECONFIG={}", pki.join("admin.kubeconfig").display());
    let r = sb.run_for(
        &sb.release.join("bin/u7s"),
        &[
            "nsenter",
            "env",
            &kubeconfig,
            &bin.display().to_string(),
            "run",
            "--targets",
            "master,node,etcd,policies",
            "--benchmark",
            BENCHMARK,
            "--config-dir",
            &cfg.display().to_string(),
            "--json",
        ],
        Duration::from_secs(300),
    );
    let report: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "kube-bench gave no JSON report ({e}, {}):\nstdout:\n{}\nstderr:\n{}\n{}",
            r.status,
            r.stdout,
            r.stderr,
            diagnostics(&sb)
        )
    });

    let controls = report["Controls"]
        .as_array()
        .unwrap_or_else(|| panic!("kube-bench's report has no Controls: {report}"));
    let mut targets = BTreeSet::new();
    let mut failed = Vec::new();
    let mut failed_ids = BTreeSet::new();
    for c in controls {
        let target = c["node_type"].as_str().unwrap_or("?").to_string();
        eprintln!(
            "kube-bench {BENCHMARK} {target}: {} pass, {} fail, {} warn, {} info",
            c["total_pass"], c["total_fail"], c["total_warn"], c["total_info"]
        );
        targets.insert(target.clone());
        let mut warned = Vec::new();
        for group in c["tests"].as_array().into_iter().flatten() {
            for check in group["results"].as_array().into_iter().flatten() {
                let id = check["test_number"].as_str().unwrap_or("?").to_string();
                let status = check["status"].as_str().unwrap_or("?");
                if status == "WARN" {
                    warned.push(id.clone());
                }
                if status == "FAIL" {
                    let known = deviations.contains(&id);
                    eprintln!(
                        "  FAIL {id} {} ({}): actual {:?}, expected {:?}",
                        check["test_desc"].as_str().unwrap_or(""),
                        if known {
                            "README deviation"
                        } else {
                            "NOT IN README"
                        },
                        check["actual_value"].as_str().unwrap_or(""),
                        check["expected_result"].as_str().unwrap_or(""),
                    );
                    failed_ids.insert(id.clone());
                    if !known {
                        failed.push(format!(
                            "{id} [{target}] {}\n    audit: {}\n    actual: {:?}\n    expected: {:?}\n    reason: {}",
                            check["test_desc"].as_str().unwrap_or(""),
                            check["audit"].as_str().unwrap_or(""),
                            check["actual_value"].as_str().unwrap_or(""),
                            check["expected_result"].as_str().unwrap_or(""),
                            check["reason"].as_str().unwrap_or(""),
                        ));
                    }
                }
            }
        }
        eprintln!("  WARN (manual checks, or scored ones kube-bench could not decide): {warned:?}");
    }
    let t = &report["Totals"];
    eprintln!(
        "kube-bench {BENCHMARK} total: {} pass, {} fail, {} warn, {} info",
        t["total_pass"], t["total_fail"], t["total_warn"], t["total_info"]
    );
    let stale: Vec<&String> = deviations.difference(&failed_ids).collect();
    if !stale.is_empty() {
        eprintln!("README deviations kube-bench did not fail here: {stale:?}");
    }
    for want in ["master", "node", "etcd", "policies"] {
        assert!(
            targets.contains(want),
            "kube-bench ran no {want} checks (targets {targets:?}); stderr:\n{}",
            r.stderr
        );
    }
    assert!(
        failed.is_empty(),
        "CIS checks FAIL that README.md's deviation table does not list (fix them, or list them with the rootless reason):\n{}",
        failed.join("\n")
    );

    sb.u7s_ok(&["down"]);
    drop(sb);
    drop(netns);
}
