//! `--uninstall [--purge]`: stops a session that runs this install's binaries first
//! (`current/bin/u7s down`), removes the systemd units (`u7s units remove`), completions, the
//! PATH lines we added and the env file, then every version and `current`. `--purge` of the
//! default prefix also deletes the data (`$XDG_DATA_HOME/usernetes/{docker,containerd,etcd,…}`),
//! the config and the session folder; files owned by sub-UIDs are deleted from inside a user
//! namespace (the release's `rootlesskit`, else the one on PATH, else `unshare --map-auto`), as
//! the original cleanup did. The data and config are shared by every install of the user, so a
//! `--prefix` elsewhere removes only its own files. Which session uses the data is read from the
//! data folder's lock (`doctor::session_lock`): a purge refuses, before removing anything, while
//! a session it cannot stop (another install's, another `XDG_RUNTIME_DIR`'s, another host's)
//! uses the data.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use doctor::session_lock::{self, Holder};
use serde::Serialize;

use crate::activate::current_version;
use crate::cleanup::remove_stale;
use crate::error::{Error, Result};
use crate::fsutil::{remove_any, remove_dir_via_trash};
use crate::integration::{completions, path, units};
use crate::lock::PrefixLock;
use crate::prefix::{Env, Prefix};
use crate::record::Record;
use crate::run::run_with_timeout;
use crate::session::{self, SessionState};
use crate::ui::Ui;

/// What was removed.
#[derive(Serialize, Debug, Default)]
pub struct UninstallReport {
    pub action: &'static str,
    pub prefix: PathBuf,
    pub session_stopped: bool,
    pub units_removed: Vec<PathBuf>,
    pub completions_removed: Vec<PathBuf>,
    pub rc_files_edited: Vec<PathBuf>,
    pub versions_removed: Vec<String>,
    pub purged: Vec<PathBuf>,
    /// Data left in place (no `--purge`, or a `--prefix` other than the data folder).
    pub kept: Vec<PathBuf>,
    /// True when the data and config were kept because they are not this prefix's.
    pub kept_shared: bool,
    pub warnings: Vec<String>,
}

/// The installer's own names inside the prefix (everything else there is runtime data).
const OWN_NAMES: [&str; 6] = [
    "versions",
    "current",
    "env",
    "install-record.json",
    ".downloads",
    ".lock",
];

/// A program that runs a command inside a user namespace where sub-UID-owned files can be
/// deleted: (program, arguments placed before the command).
pub fn userns_helpers(release_bin: Option<&Path>) -> Vec<(PathBuf, Vec<OsString>)> {
    let mut out = Vec::new();
    let rk_args = || vec![OsString::from("--net=host"), OsString::from("--")];
    if let Some(bin) = release_bin {
        let rk = bin.join("rootlesskit");
        if rk.is_file() {
            out.push((rk, rk_args()));
        }
    }
    if let Some(rk) = path::find_in_path("rootlesskit") {
        out.push((rk, rk_args()));
    }
    if let Some(un) = path::find_in_path("unshare") {
        out.push((
            un,
            vec![
                OsString::from("--map-root-user"),
                OsString::from("--map-auto"),
                OsString::from("--"),
            ],
        ));
    }
    out
}

/// Deletes `target` (any kind): directly when we can, else from inside a user namespace.
pub fn remove_tree(target: &Path, release_bin: Option<&Path>) -> Result<()> {
    if target.symlink_metadata().is_err() {
        return Ok(());
    }
    let direct = remove_any(target);
    if direct.is_ok() && target.symlink_metadata().is_err() {
        return Ok(());
    }
    let mut tried = Vec::new();
    for (prog, args) in userns_helpers(release_bin) {
        let mut cmd = Command::new(&prog);
        cmd.args(&args)
            .arg("rm")
            .arg("-rf")
            .arg("--")
            .arg(target)
            .stdin(Stdio::null());
        match run_with_timeout(cmd, Duration::from_secs(600)) {
            Ok(o) if o.status.success() && target.symlink_metadata().is_err() => return Ok(()),
            Ok(o) => tried.push(format!(
                "{}: {}",
                prog.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => tried.push(format!("{}: {e}", prog.display())),
        }
    }
    Err(Error::Purge {
        path: target.to_path_buf(),
        reason: match direct {
            Err(e) => format!("{e}; in a user namespace: {}", tried.join("; ")),
            Ok(_) => tried.join("; "),
        },
    })
}

/// What uninstalling a prefix does about a session that holds the data folder's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionPlan {
    /// No session uses the data.
    Nothing,
    /// The session runs this prefix's binaries here: `current/bin/u7s down` stops it.
    Stop,
    /// Another install's session, and the data stays: leave it running.
    Leave,
    /// It cannot be stopped from here and would lose its data or binaries: refuse.
    Refuse,
}

/// True when `exe` (a running `u7s`) lies inside the prefix `root`.
pub fn runs_from(exe: Option<&Path>, root: &Path) -> bool {
    let canon = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    exe.is_some_and(|e| canon(e).starts_with(canon(root)))
}

/// Decides what to do about `holder`, the session using the data folder (pure).
/// `reachable`: our `u7s down` reaches it (same host, same `XDG_RUNTIME_DIR`);
/// `from_prefix`: it runs binaries of the prefix being removed; `purge_data`: the data goes.
pub fn session_plan(
    holder: Option<&Holder>,
    reachable: bool,
    from_prefix: bool,
    purge_data: bool,
) -> SessionPlan {
    match holder {
        None => SessionPlan::Nothing,
        Some(_) if from_prefix && reachable => SessionPlan::Stop,
        Some(_) if from_prefix || purge_data => SessionPlan::Refuse,
        Some(_) => SessionPlan::Leave,
    }
}

/// The refusal naming `holder`.
fn in_use(data: &Path, holder: &Holder) -> Error {
    Error::SessionInUse {
        data: data.to_path_buf(),
        holder: holder.describe(),
        exe: holder
            .exe
            .as_ref()
            .map(|e| format!(", running {}", e.display()))
            .unwrap_or_default(),
        runtime_dir: holder.runtime_dir.clone(),
    }
}

/// Releases older than the data-folder lock: stop the session when `u7s status` says one runs
/// (or, when it cannot tell, when the session state folder exists).
fn legacy_session_running(env: &Env, prefix: &Prefix) -> bool {
    match session::state(env, prefix) {
        SessionState::Stopped => false,
        SessionState::Running => true,
        SessionState::Unknown => env.session_dir().is_some_and(|s| s.exists()),
    }
}

/// Stops the session with the release's `u7s down`.
fn stop_session(env: &Env, prefix: &Prefix, ui: &Ui) -> Result<bool> {
    let u7s = prefix.current_bin().join("u7s");
    if !u7s.is_file() {
        ui.warn(format!(
            "a session may run but there is no {} to stop it",
            u7s.display()
        ));
        return Ok(false);
    }
    ui.info(format!(
        "stopping the running session: {} down",
        u7s.display()
    ));
    let mut cmd = Command::new(&u7s);
    cmd.arg("down").stdin(Stdio::null());
    session::apply_env(&mut cmd, env);
    match run_with_timeout(cmd, Duration::from_secs(180)) {
        Ok(o) if o.status.success() => Ok(true),
        Ok(o) => Err(Error::SessionStop(format!(
            "{} down exited with {}: {}",
            u7s.display(),
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ))),
        Err(e) => Err(Error::SessionStop(format!("{} down: {e}", u7s.display()))),
    }
}

/// Runtime data in the data folder: everything but an installer's own entries (this prefix's,
/// or those of the default install when the data folder is not this prefix).
fn data_entries(data_dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(data_dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| !OWN_NAMES.contains(&e.file_name().to_string_lossy().as_ref()))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// Removes the installation (and with `purge`, the data and config).
pub fn uninstall(
    prefix: &Prefix,
    env: &Env,
    purge: bool,
    yes: bool,
    ui: &Ui,
) -> Result<UninstallReport> {
    let data_dir = env.data_dir()?;
    let config_dir = env.config_dir()?;
    // The data and config belong to the default prefix (the data folder itself); another
    // prefix holds only its own versions.
    let purge_data = purge && prefix.root() == data_dir;
    if purge_data && !yes {
        let q = format!(
            "Delete all usernetes data (containers, images, volumes, etcd) in {} and the config in {}?",
            data_dir.display(),
            config_dir.display()
        );
        match ui.confirm(&q) {
            Some(true) => {}
            Some(false) => return Err(Error::Cancelled),
            None => return Err(Error::NeedsConfirmation("--uninstall --purge".into())),
        }
    }
    let mut rep = UninstallReport {
        action: "uninstall",
        prefix: prefix.root().to_path_buf(),
        ..Default::default()
    };
    let lock = PrefixLock::acquire(prefix)?;
    remove_stale(prefix)?;
    let record_path = prefix.record_file();
    let mut record = Record::load(&record_path).unwrap_or_else(|e| {
        rep.warnings
            .push(format!("{e}: removing what can be found without it"));
        Record::default()
    });

    // Who uses the data decides, before anything is removed.
    let holder = session_lock::holder(&data_dir)
        .map_err(|e| Error::io("read", session_lock::path(&data_dir), e))?;
    let reachable = holder.as_ref().is_some_and(|h| {
        h.is_local() && env.xdg_runtime_dir.as_deref() == Some(h.runtime_dir.as_path())
    });
    let from_prefix = holder
        .as_ref()
        .is_some_and(|h| runs_from(h.exe.as_deref(), prefix.root()));
    let plan = session_plan(holder.as_ref(), reachable, from_prefix, purge_data);
    let legacy = !session_lock::path(&data_dir).exists() && prefix.root() == data_dir;
    match plan {
        SessionPlan::Refuse => {
            return Err(in_use(&data_dir, holder.as_ref().expect("a holder")));
        }
        SessionPlan::Stop => {
            rep.session_stopped = stop_session(env, prefix, ui)?;
            if let Some(h) = session_lock::holder(&data_dir)
                .map_err(|e| Error::io("read", session_lock::path(&data_dir), e))?
            {
                if purge_data {
                    return Err(in_use(&data_dir, &h));
                }
            }
        }
        SessionPlan::Nothing if legacy && legacy_session_running(env, prefix) => {
            rep.session_stopped = stop_session(env, prefix, ui)?;
        }
        SessionPlan::Nothing | SessionPlan::Leave => {}
    }
    let (removed, warnings) = units::remove(env, prefix, &mut record);
    rep.units_removed = removed;
    for w in warnings {
        ui.warn(&w);
        rep.warnings.push(w);
    }
    rep.completions_removed = completions::remove(&mut record)?;
    rep.rc_files_edited = path::remove(env, prefix, &mut record)?;

    // The release's own rootlesskit, kept reachable until the data is gone.
    let release_bin = current_version(prefix)
        .ok()
        .flatten()
        .map(|v| prefix.version(&v).join("bin"));
    if purge_data {
        let mut targets = data_entries(&data_dir);
        targets.push(config_dir.clone());
        if let Some(s) = env.session_dir() {
            targets.push(s);
        }
        for t in targets {
            if t.symlink_metadata().is_ok() {
                ui.info(format!("deleting {}", t.display()));
                remove_tree(&t, release_bin.as_deref())?;
                rep.purged.push(t);
            }
        }
    }

    if current_version(prefix).is_ok() {
        remove_any(&prefix.current())?;
    }
    for (v, _) in crate::versions::installed(prefix)? {
        remove_dir_via_trash(&prefix.version(&v), prefix.root())?;
        rep.versions_removed.push(v);
    }
    rep.versions_removed.sort();
    for p in [
        prefix.versions(),
        prefix.downloads(),
        prefix.env_file(),
        record_path,
    ] {
        remove_any(&p)?;
    }
    remove_stale(prefix)?;
    remove_any(&prefix.lock_file())?;
    drop(lock);
    // The prefix itself goes only when nothing else is left in it.
    let _ = fs::remove_dir(prefix.root());
    if !purge_data {
        rep.kept = data_entries(&data_dir);
        if config_dir.exists() {
            rep.kept.push(config_dir);
        }
        rep.kept_shared = purge;
    }
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_release_rootlesskit_comes_first() {
        let d = tempfile::tempdir().unwrap();
        let rk = d.path().join("rootlesskit");
        fs::write(&rk, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&rk, fs::Permissions::from_mode(0o755)).unwrap();
        let helpers = userns_helpers(Some(d.path()));
        assert_eq!(helpers[0].0, rk);
        assert_eq!(helpers[0].1, ["--net=host", "--"]);
        // Without a release, only programs found on PATH remain.
        assert!(userns_helpers(None).iter().all(|(p, _)| p != &rk));
    }

    #[test]
    fn removes_plain_trees_directly() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("data/docker/x");
        fs::create_dir_all(&t).unwrap();
        fs::write(t.join("f"), b"x").unwrap();
        remove_tree(&d.path().join("data"), None).unwrap();
        assert!(!d.path().join("data").exists());
        remove_tree(&d.path().join("data"), None).unwrap();
    }

    #[test]
    fn own_names_are_not_data() {
        let d = tempfile::tempdir().unwrap();
        for n in ["versions", "docker", "etcd", ".lock", "env"] {
            fs::create_dir_all(d.path().join(n)).unwrap();
        }
        let names: Vec<_> = data_entries(d.path())
            .iter()
            .map(|e| e.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["docker", "etcd"]);
    }
}
