//! `u7s __child`: the first thing that runs inside the namespaces. Prepares them, learns the
//! facts the plan depends on (storage that works, containerd's version), writes folders,
//! generated configs and TLS material, then hands over to the supervisor. A failure before the
//! supervisor starts is written to the status file so `u7s up` can report it.

use crate::components::{self, Facts};
use crate::error::{Error, Result};
use crate::host::fsutil::{ensure_dir, write_atomic};
use crate::host::storage::{self, Storage};
use crate::session::config::{ChildConfig, Cri};
use crate::session::status::{State, SupervisorStatus, write_json};
use crate::supervisor::Supervisor;

fn containerd_major(cfg: &ChildConfig) -> u32 {
    let Some(bin) = cfg.bins.find("containerd") else {
        return 1;
    };
    std::process::Command::new(bin)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| components::containerd::parse_major(&String::from_utf8_lossy(&o.stdout)))
        .unwrap_or(1)
}

fn storage_choice(cfg: &ChildConfig) -> Result<Storage> {
    let tmp = cfg.paths.data_dir("tmp");
    ensure_dir(&tmp, 0o700)?;
    let overlay =
        storage::overlay_works(&tmp.join(format!("overlay-probe-{}", std::process::id())));
    let fuse = !overlay && storage::fuse_works(cfg.bins.find("fuse-overlayfs").as_deref());
    Ok(Storage::choose(overlay, fuse))
}

fn prepare_and_run(cfg: ChildConfig) -> Result<i32> {
    let release_root = cfg
        .bins
        .release_bin
        .as_deref()
        .and_then(|b| b.parent())
        .map(|p| p.to_path_buf());
    crate::process::nsprep::prepare(&cfg.paths, release_root.as_deref())?;
    let storage = storage_choice(&cfg)?;
    let facts = Facts {
        storage,
        containerd_major: if matches!(cfg.session.cri, Cri::Containerd | Cri::Docker) {
            containerd_major(&cfg)
        } else {
            1
        },
        cgroup2: cfg.cgroup2,
        etcd_version: cfg
            .bins
            .find("etcd")
            .filter(|_| cfg.session.etcd || cfg.session.kube)
            .and_then(|b| crate::session::etcd_data::release_version(&b))
            .map(|v| v.to_string()),
    };
    let find = |n: &str| cfg.bins.find(n);
    let plan = components::plan(&cfg, &facts, &find)?;
    for (d, mode) in &plan.dirs {
        ensure_dir(d, *mode)?;
    }
    for (f, text, mode) in &plan.files {
        if let Some(parent) = f.parent() {
            ensure_dir(parent, 0o700)?;
        }
        write_atomic(f, text.as_bytes(), *mode)?;
    }
    if let Some(dir) = &plan.pki {
        crate::pki::Pki::new(dir).ensure(&crate::pki::PkiSpec::from_session(&cfg.session)?)?;
    }
    let storage_name = match storage {
        Storage::Overlay => "overlay (native overlayfs in the user namespace)",
        Storage::FuseOverlayfs => "fuse-overlayfs",
        Storage::Copy => "copy (vfs/native: no overlay works here)",
    };
    Ok(Supervisor::new(cfg, plan, storage_name)?.run())
}

/// Runs the inside of a session; returns the process exit code.
pub fn run() -> i32 {
    let cfg = match ChildConfig::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("u7s: {e}");
            return 2;
        }
    };
    let status_file = cfg.paths.status_file();
    let failed = |e: &Error, cfg: &ChildConfig| SupervisorStatus {
        session_id: cfg.session_id.clone(),
        leader_pid: cfg.leader_pid,
        state: State::Failed,
        started_at: cfg.started_at,
        ready_at: None,
        storage: String::new(),
        components: vec![],
        error: Some(e.to_string()),
        rootlesskit_version: None,
        cgroups: Some(crate::host::cgroups::CgroupMode::from_delegated(
            cfg.cgroup2,
        )),
    };
    let keep = cfg.clone();
    match prepare_and_run(cfg) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("u7s: cannot start the session: {e}");
            let _ = write_json(&status_file, &failed(&e, &keep));
            1
        }
    }
}
