//! Installed versions: listing them (with the current marker and sizes), choosing the rollback
//! target, and pruning old ones so that `--keep N` previous versions stay. The choice logic is
//! pure; deletion goes through a trash folder so no half-deleted version is ever visible.

use std::collections::HashMap;
use std::fs;
use std::time::SystemTime;

use serde::Serialize;

use crate::activate::current_version;
use crate::error::{Error, IoContext, Result};
use crate::fsutil::{remove_dir_via_trash, tree_size};
use crate::prefix::Prefix;

/// One installed version, as `--list` shows it.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    pub version: String,
    pub current: bool,
    pub size: u64,
    pub path: String,
}

/// Folders in `versions/` with their modification times (hidden names skipped).
pub fn installed(prefix: &Prefix) -> Result<Vec<(String, SystemTime)>> {
    let dir = prefix.versions();
    let rd = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read", &dir, e)),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.ctx("read", &dir)?;
        let name = e.file_name().to_string_lossy().into_owned();
        let md = e.path().symlink_metadata().ctx("stat", e.path())?;
        if name.starts_with('.') || !md.is_dir() {
            continue;
        }
        out.push((name, md.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
    }
    out.sort();
    Ok(out)
}

/// Installed versions from most to least recently used: those in the activation history
/// first (latest first), then the others by folder time (newest first), then by name.
pub fn by_recency(installed: &[(String, SystemTime)], history: &[String]) -> Vec<String> {
    let present: HashMap<&str, SystemTime> =
        installed.iter().map(|(v, t)| (v.as_str(), *t)).collect();
    let mut out: Vec<String> = history
        .iter()
        .rev()
        .filter(|v| present.contains_key(v.as_str()))
        .cloned()
        .collect();
    let mut rest: Vec<&(String, SystemTime)> = installed
        .iter()
        .filter(|(v, _)| !history.contains(v))
        .collect();
    rest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    out.extend(rest.into_iter().map(|(v, _)| v.clone()));
    out
}

/// The version `--rollback` goes to: the one that was current before the current one.
pub fn rollback_target(recency: &[String], current: Option<&str>) -> Option<String> {
    recency
        .iter()
        .find(|v| Some(v.as_str()) != current)
        .cloned()
}

/// The versions to delete so that `current` and the `keep` most recent others remain.
pub fn prune_plan(recency: &[String], current: Option<&str>, keep: usize) -> Vec<String> {
    recency
        .iter()
        .filter(|v| Some(v.as_str()) != current)
        .skip(keep)
        .cloned()
        .collect()
}

/// Deletes `versions` (never the current one); returns what was removed.
pub fn remove_versions(prefix: &Prefix, versions: &[String]) -> Result<Vec<String>> {
    let current = current_version(prefix)?;
    let mut removed = Vec::new();
    for v in versions {
        if current.as_deref() == Some(v.as_str()) {
            continue;
        }
        remove_dir_via_trash(&prefix.version(v), prefix.root())?;
        removed.push(v.clone());
    }
    Ok(removed)
}

/// Everything `--list` shows, newest use first.
pub fn list(prefix: &Prefix, history: &[String]) -> Result<Vec<VersionInfo>> {
    let current = current_version(prefix)?;
    let inst = installed(prefix)?;
    Ok(by_recency(&inst, history)
        .into_iter()
        .map(|v| {
            let path = prefix.version(&v);
            VersionInfo {
                current: current.as_deref() == Some(v.as_str()),
                size: tree_size(&path),
                path: path.display().to_string(),
                version: v,
            }
        })
        .collect())
}

/// Human size with binary units, e.g. `212.4 MiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

/// The `--list` table.
pub fn render_list(infos: &[VersionInfo]) -> String {
    let w = infos.iter().map(|i| i.version.len()).max().unwrap_or(0);
    let mut out = String::new();
    for i in infos {
        let mark = if i.current { "*" } else { " " };
        let note = if i.current { "  (current)" } else { "" };
        out.push_str(&format!(
            "{mark} {:<w$}  {:>10}{note}\n",
            i.version,
            human_size(i.size)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }
    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn recency_prefers_history_then_time() {
        let inst = vec![
            ("a".into(), t(1)),
            ("b".into(), t(5)),
            ("c".into(), t(3)),
            ("d".into(), t(4)),
        ];
        // history: a then c (c current); b and d unknown: by time b(5) then d(4); "gone" not installed
        let r = by_recency(&inst, &s(&["gone", "a", "c"]));
        assert_eq!(r, s(&["c", "a", "b", "d"]));
    }

    #[test]
    fn rollback_goes_to_the_previously_current() {
        let r = s(&["3", "1", "2"]);
        assert_eq!(rollback_target(&r, Some("3")).as_deref(), Some("1"));
        assert_eq!(rollback_target(&s(&["3"]), Some("3")), None);
        assert_eq!(rollback_target(&r, None).as_deref(), Some("3"));
    }

    #[test]
    fn prune_keeps_current_and_n_previous() {
        let r = s(&["5", "4", "3", "2", "1"]);
        assert_eq!(prune_plan(&r, Some("5"), 2), s(&["2", "1"]));
        assert_eq!(prune_plan(&r, Some("3"), 2), s(&["2", "1"]));
        assert_eq!(prune_plan(&r, Some("5"), 0), s(&["4", "3", "2", "1"]));
        assert!(prune_plan(&r, Some("5"), 10).is_empty());
    }

    #[test]
    fn sizes_and_table() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(212 * 1024 * 1024), "212.0 MiB");
        let table = render_list(&[
            VersionInfo {
                version: "0.2.0".into(),
                current: true,
                size: 2048,
                path: "/p".into(),
            },
            VersionInfo {
                version: "0.1.10".into(),
                current: false,
                size: 10,
                path: "/q".into(),
            },
        ]);
        assert_eq!(
            table,
            "* 0.2.0      2.0 KiB  (current)\n  0.1.10        10 B\n"
        );
    }

    #[test]
    fn list_and_remove_on_disk() {
        let d = tempfile::tempdir().unwrap();
        let p = Prefix::at(d.path());
        for v in ["1", "2", "3"] {
            fs::create_dir_all(p.version(v).join("bin")).unwrap();
            fs::write(p.version(v).join("bin/x"), v.repeat(100)).unwrap();
        }
        fs::create_dir_all(p.versions().join(".hidden")).unwrap();
        crate::activate::activate(&p, "2").unwrap();
        let l = list(&p, &s(&["1", "3", "2"])).unwrap();
        assert_eq!(
            l.iter().map(|i| i.version.as_str()).collect::<Vec<_>>(),
            ["2", "3", "1"]
        );
        assert!(l[0].current && !l[1].current);
        assert_eq!(l[0].size, 100);
        let removed = remove_versions(&p, &s(&["2", "1"])).unwrap();
        assert_eq!(removed, s(&["1"]));
        assert!(p.version("2").is_dir() && !p.version("1").exists());
    }
}
