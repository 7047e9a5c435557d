//! `u7s reset`: stops the session, then removes runtime state and data. Files owned by
//! sub-UIDs (image layers, container files) cannot be removed by the user directly; what plain
//! removal leaves is removed from inside a user namespace (`rootlesskit --net=host rm -rf`,
//! where the user is root over every mapped id). Installed versions stay; the config and TLS
//! material stay unless asked.

use crate::error::{Error, Result};
use crate::host::binaries::Bins;
use crate::host::fsutil::remove_any;
use crate::session::paths::Paths;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// What reset did.
#[derive(Debug, Default)]
pub struct ResetOutcome {
    pub stopped: Option<crate::session::Stopped>,
    pub removed: Vec<PathBuf>,
    /// Removed only from inside a user namespace.
    pub removed_in_userns: Vec<PathBuf>,
}

/// Removes `paths`; whatever plain removal leaves is retried inside a user namespace.
/// Returns (removed plainly, removed in the namespace).
pub fn remove_all(bins: &Bins, targets: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut plain = vec![];
    let mut left = vec![];
    for t in targets {
        if std::fs::symlink_metadata(t).is_err() {
            continue;
        }
        match remove_any(t) {
            Ok(()) => plain.push(t.clone()),
            Err(_) => left.push(t.clone()),
        }
    }
    if left.is_empty() {
        return Ok((plain, vec![]));
    }
    let rk = bins.require("rootlesskit", "removing files owned by sub-UIDs")?;
    // RootlessKit's state dir for this one command: created here exclusively, private.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = std::env::temp_dir().join(format!("u7s-reset-{}-{nanos:08x}", std::process::id()));
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
    }
    let out = Command::new(&rk)
        .arg(format!("--state-dir={}", tmp.display()))
        .arg("--net=host")
        .args(["rm", "-rf", "--"])
        .args(&left)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::os(format!("running {}", rk.display()), e))?;
    let _ = remove_any(&tmp);
    let still: Vec<&PathBuf> = left
        .iter()
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .collect();
    if !still.is_empty() {
        return Err(Error::Usage(format!(
            "could not remove {} even inside a user namespace: {}",
            still
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok((plain, left))
}

/// Stops the session and removes state and data (and config when `with_config`).
pub fn reset(paths: &Paths, bins: &Bins, with_config: bool) -> Result<ResetOutcome> {
    // A session of another XDG_RUNTIME_DIR or host still uses the data: never delete under it.
    crate::session::check_data_free(paths)?;
    let stopped = crate::session::stop(paths, Duration::from_secs(60))?;
    let (removed, removed_in_userns) = remove_all(bins, &paths.reset_targets(with_config))?;
    Ok(ResetOutcome {
        stopped,
        removed,
        removed_in_userns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_files_go_without_a_namespace() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a/b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::write(a.join("f"), "x").unwrap();
        let bins = Bins {
            release_bin: None,
            path: vec![],
        };
        let (plain, ns) =
            remove_all(&bins, &[d.path().join("a"), d.path().join("absent")]).unwrap();
        assert_eq!(plain, vec![d.path().join("a")]);
        assert!(ns.is_empty());
        assert!(!d.path().join("a").exists());
    }
}
