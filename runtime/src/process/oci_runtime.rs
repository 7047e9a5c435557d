//! The OCI runtime of sessions without writable cgroups (`u7s __oci-runtime --runc PATH --
//! ARGS…`, run through the script [`crate::host::cgroups::wrapper_script`] that containerd, CRI-O
//! and dockerd are given as their runtime binary). On cgroup v1, and on v2 without delegation,
//! runc cannot create the container's cgroup; it tolerates that only when the bundle names no
//! cgroup path and no limits (`opencontainers/cgroups`: errors are ignored for rootless only
//! with an empty path, and `Set` fails "container could not join or create cgroup" for any
//! limit). containerd 2 always writes both (the sandbox's CPU shares, the pod's resources, the
//! kubelet's cgroup parent), so on `create` and `run` this removes `linux.resources` and
//! `linux.cgroupsPath` from the bundle's `config.json` (rewritten atomically), then execs the
//! real runc with the same arguments. `update` (limits of a running container) is answered
//! with success without touching anything: there is nothing to update. Every other command goes
//! to runc unchanged.

use crate::error::{Error, Result};
use serde_json::Value;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// What the wrapper does with one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `create`/`run`: strip the cgroup settings of `bundle/config.json`, then run runc.
    StripThenRun { bundle: PathBuf },
    /// `update`: nothing to update without cgroups; succeed at once.
    Skip,
    /// Anything else: runc as is.
    Run,
}

/// runc's global options that take a value (`--root DIR`), before the command word.
const GLOBAL_WITH_VALUE: &[&str] = &["root", "log", "log-format", "criu", "rootless"];

/// The name of a flag (`--bundle=x` → `bundle`, `-b` → `b`), and its inline value.
fn flag(arg: &OsStr) -> Option<(String, Option<OsString>)> {
    let s = arg.to_str()?;
    let body = s.strip_prefix("--").or_else(|| s.strip_prefix('-'))?;
    if body.is_empty() {
        return None;
    }
    Some(match body.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(v.into())),
        None => (body.to_string(), None),
    })
}

/// Decides what to do with runc's arguments `args` (without the program name): the command is
/// the first word that is neither a global option nor its value; `create` and `run` take the
/// bundle from `--bundle`/`-b` (urfave/cli also accepts one dash and `=`), else the current
/// folder.
pub fn action(args: &[OsString]) -> Action {
    let mut i = 0;
    while i < args.len() {
        match flag(&args[i]) {
            Some((name, inline)) => {
                if inline.is_none() && GLOBAL_WITH_VALUE.contains(&name.as_str()) {
                    i += 1;
                }
                i += 1;
            }
            None => break,
        }
    }
    let Some(cmd) = args.get(i).and_then(|c| c.to_str()) else {
        return Action::Run;
    };
    match cmd {
        "create" | "run" => {}
        "update" => return Action::Skip,
        _ => return Action::Run,
    }
    let rest = &args[i + 1..];
    let mut bundle = PathBuf::from(".");
    let mut j = 0;
    while j < rest.len() {
        if let Some((name, inline)) = flag(&rest[j])
            && (name == "bundle" || name == "b")
        {
            match inline {
                Some(v) => bundle = v.into(),
                None => {
                    if let Some(v) = rest.get(j + 1) {
                        bundle = v.into();
                    }
                    j += 1;
                }
            }
        }
        j += 1;
    }
    Action::StripThenRun { bundle }
}

/// Removes `linux.resources` and `linux.cgroupsPath` from an OCI runtime config; returns the
/// names of what it removed (empty: the config is left as it was).
pub fn strip_cgroups(config: &mut Value) -> Vec<&'static str> {
    let mut removed = vec![];
    if let Some(linux) = config.get_mut("linux").and_then(Value::as_object_mut) {
        for key in ["resources", "cgroupsPath"] {
            if linux.remove(key).is_some() {
                removed.push(key);
            }
        }
    }
    removed
}

/// Rewrites `bundle/config.json` without its cgroup settings (atomically; untouched when it
/// has none).
pub fn strip_bundle(bundle: &Path) -> Result<Vec<&'static str>> {
    let path = bundle.join("config.json");
    let text = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let mut config: Value = serde_json::from_slice(&text).map_err(|source| Error::Json {
        path: path.clone(),
        source,
    })?;
    let removed = strip_cgroups(&mut config);
    if !removed.is_empty() {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path)
                .map_err(|e| Error::io(&path, e))?
                .permissions(),
        ) & 0o7777;
        let bytes = serde_json::to_vec(&config).expect("a JSON value serialises");
        crate::host::fsutil::write_atomic(&path, &bytes, mode)?;
    }
    Ok(removed)
}

/// Does what [`action`] says: `Ok` when there is nothing to run (`update`); otherwise becomes
/// runc and returns only on failure.
pub fn run(runc: &Path, args: &[OsString]) -> Result<()> {
    match action(args) {
        Action::Skip => return Ok(()),
        Action::StripThenRun { bundle } => {
            strip_bundle(&bundle)?;
        }
        Action::Run => {}
    }
    let e = std::os::unix::process::CommandExt::exec(std::process::Command::new(runc).args(args));
    Err(Error::os(format!("running {}", runc.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn a(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn create_as_containerds_shim_calls_it() {
        let args = a(&[
            "--root",
            "/run/containerd/runc/k8s.io",
            "--log",
            "/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/log.json",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc",
            "--pid-file",
            "/x/init.pid",
            "abc",
        ]);
        assert_eq!(
            action(&args),
            Action::StripThenRun {
                bundle: "/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc".into()
            }
        );
    }

    #[test]
    fn bundle_spellings_and_default() {
        for args in [
            a(&["run", "-b", "/b", "id"]),
            a(&["run", "--bundle=/b", "id"]),
            a(&["--systemd-cgroup", "create", "-bundle", "/b", "id"]),
            a(&["--root=/r", "--debug", "create", "-b=/b", "id"]),
        ] {
            assert_eq!(
                action(&args),
                Action::StripThenRun {
                    bundle: "/b".into()
                },
                "{args:?}"
            );
        }
        assert_eq!(
            action(&a(&["create", "id"])),
            Action::StripThenRun { bundle: ".".into() }
        );
    }

    #[test]
    fn other_commands_pass_through_and_update_is_skipped() {
        assert_eq!(action(&a(&["--root", "/r", "start", "id"])), Action::Run);
        // A global option's value that looks like a command is not one.
        assert_eq!(
            action(&a(&["--root", "create", "delete", "id"])),
            Action::Run
        );
        assert_eq!(
            action(&a(&["exec", "--process", "/p.json", "id"])),
            Action::Run
        );
        assert_eq!(action(&a(&["--version"])), Action::Run);
        assert_eq!(action(&[]), Action::Run);
        assert_eq!(
            action(&a(&["--root", "/r", "update", "--resources", "-", "id"])),
            Action::Skip
        );
    }

    #[test]
    fn strips_limits_and_cgroup_path_only() {
        let mut c = json!({
            "ociVersion": "1.2.0",
            "process": {"args": ["/pause"], "oomScoreAdj": -998},
            "linux": {
                "resources": {"cpu": {"shares": 2}, "devices": [{"allow": false, "access": "rwm"}]},
                "cgroupsPath": "/k8s.io/abc",
                "namespaces": [{"type": "pid"}, {"type": "network", "path": "/var/run/netns/x"}],
                "maskedPaths": ["/proc/kcore"],
            },
        });
        let before = c.clone();
        assert_eq!(strip_cgroups(&mut c), ["resources", "cgroupsPath"]);
        let mut expect = before;
        let linux = expect["linux"].as_object_mut().unwrap();
        linux.remove("resources");
        linux.remove("cgroupsPath");
        assert_eq!(c, expect, "everything else is kept");
        assert!(strip_cgroups(&mut c).is_empty(), "nothing left to strip");
        let mut no_linux = json!({"process": {}});
        assert!(strip_cgroups(&mut no_linux).is_empty());
    }

    #[test]
    fn bundle_rewritten_in_place_keeping_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("config.json");
        std::fs::write(
            &p,
            r#"{"linux":{"cgroupsPath":"/x","resources":{"pids":{"limit":5}},"sysctl":{"a":"1"}}}"#,
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(
            strip_bundle(d.path()).unwrap(),
            ["resources", "cgroupsPath"]
        );
        let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(v, json!({"linux": {"sysctl": {"a": "1"}}}));
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        std::fs::write(&p, "{not json").unwrap();
        let e = strip_bundle(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("config.json") && e.contains("invalid JSON"),
            "{e}"
        );
    }
}
