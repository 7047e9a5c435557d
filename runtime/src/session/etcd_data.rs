//! Which etcd wrote the data folder: after etcd becomes ready the supervisor writes its version
//! to `DATA/etcd.version` (beside `DATA/etcd`, never inside it), and `u7s up` reads it before
//! anything starts. A folder written by a newer etcd than the release's would be refused by the
//! older etcd, or worse, half-read, so the start is refused naming the folder, both versions and
//! the fix; the folder is never touched.
//!
//! Versions compare as major.minor: that is the version of etcd's data (its storage and
//! cluster version); etcd itself accepts a patch downgrade within a minor series.
//!
//! [`EtcdVersion::parse`] and [`decide`] are pure; [`check`] reads the files and asks the
//! release's etcd for its version.

use crate::error::{Error, Result};
use crate::session::paths::Paths;
use std::cmp::Ordering;
use std::path::{Path, PathBuf};

/// The marker's file name, in the data folder beside `etcd/`.
pub const MARKER: &str = "etcd.version";

/// An etcd release version (major.minor.patch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EtcdVersion {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl std::fmt::Display for EtcdVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl EtcdVersion {
    /// The first `X.Y.Z` (optionally `vX.Y.Z`, a suffix after the patch ignored) in `text`: the
    /// marker's content, or `etcd --version`'s "etcd Version: 3.5.16".
    pub fn parse(text: &str) -> Option<EtcdVersion> {
        text.split_whitespace().find_map(|token| {
            let mut parts = token.trim_start_matches('v').splitn(3, '.');
            let major = parts.next()?.parse().ok()?;
            let minor = parts.next()?.parse().ok()?;
            let patch_text = parts.next()?;
            let end = patch_text
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(patch_text.len());
            let patch = patch_text[..end].parse().ok()?;
            Some(EtcdVersion {
                major,
                minor,
                patch,
            })
        })
    }

    /// The version of the data it writes (major.minor).
    fn data_version(&self) -> (u64, u64) {
        (self.major, self.minor)
    }
}

/// What the marker says about starting the release's etcd on the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing written yet, no marker (data from before the markers), an unreadable marker or
    /// no version of the release's etcd: etcd itself decides.
    Start,
    /// Written by this data version or an older one (etcd upgrades it).
    Compatible,
    /// Written by a newer etcd than the release's.
    TooNew {
        written_by: EtcdVersion,
        release: EtcdVersion,
    },
}

/// The verdict for a folder that holds data (`has_data`) with `marker`'s content, and the
/// release's etcd version (pure).
pub fn decide(has_data: bool, marker: Option<&str>, release: Option<EtcdVersion>) -> Verdict {
    let (true, Some(written_by), Some(release)) =
        (has_data, marker.and_then(EtcdVersion::parse), release)
    else {
        return Verdict::Start;
    };
    match written_by.data_version().cmp(&release.data_version()) {
        Ordering::Greater => Verdict::TooNew {
            written_by,
            release,
        },
        _ => Verdict::Compatible,
    }
}

/// The marker of `paths`' data folder.
pub fn marker(paths: &Paths) -> PathBuf {
    paths.data.join(MARKER)
}

/// The etcd data folder of `paths`.
pub fn folder(paths: &Paths) -> PathBuf {
    paths.data_dir("etcd")
}

/// `etcd --version` of `bin`, parsed.
pub fn release_version(bin: &Path) -> Option<EtcdVersion> {
    let out = std::process::Command::new(bin)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    EtcdVersion::parse(&String::from_utf8_lossy(&out.stdout))
}

/// Refuses a start when the etcd data folder was written by a newer etcd than `release`
/// ([`Error::EtcdDataTooNew`]); reads only.
pub fn check(paths: &Paths, release: Option<EtcdVersion>) -> Result<()> {
    let folder = folder(paths);
    let marker = marker(paths);
    let has_data = folder.join("member").exists();
    let text = std::fs::read_to_string(&marker).ok();
    match decide(has_data, text.as_deref(), release) {
        Verdict::TooNew {
            written_by,
            release,
        } => Err(Error::EtcdDataTooNew {
            folder,
            marker,
            written_by: written_by.to_string(),
            release: release.to_string(),
        }),
        Verdict::Start | Verdict::Compatible => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> EtcdVersion {
        EtcdVersion::parse(s).unwrap()
    }

    #[test]
    fn versions_are_read_from_the_marker_and_from_etcd() {
        assert_eq!(
            v("etcd Version: 3.5.16\nGit SHA: f20bbad\nGo Version: go1.22.7\n"),
            EtcdVersion {
                major: 3,
                minor: 5,
                patch: 16
            }
        );
        assert_eq!(v("3.4.23\n").to_string(), "3.4.23");
        assert_eq!(v("v3.6.0-rc.1").to_string(), "3.6.0");
        assert_eq!(EtcdVersion::parse("etcd Version: unknown"), None);
        assert_eq!(EtcdVersion::parse(""), None);
        assert_eq!(EtcdVersion::parse("3.5"), None);
    }

    #[test]
    fn a_folder_from_a_newer_minor_is_refused_and_everything_else_starts() {
        let r = Some(v("3.5.16"));
        assert_eq!(
            decide(true, Some("3.6.0\n"), r),
            Verdict::TooNew {
                written_by: v("3.6.0"),
                release: v("3.5.16")
            }
        );
        assert_eq!(
            decide(true, Some("4.0.0"), r),
            Verdict::TooNew {
                written_by: v("4.0.0"),
                release: v("3.5.16")
            }
        );
        // Same data version: a patch either way is fine; an older folder is upgraded.
        assert_eq!(decide(true, Some("3.5.21"), r), Verdict::Compatible);
        assert_eq!(decide(true, Some("3.5.16"), r), Verdict::Compatible);
        assert_eq!(decide(true, Some("3.4.23"), r), Verdict::Compatible);
        // No data, no marker, a marker that says nothing, no release version: etcd decides.
        assert_eq!(decide(false, Some("3.6.0"), r), Verdict::Start);
        assert_eq!(decide(true, None, r), Verdict::Start);
        assert_eq!(decide(true, Some("garbage"), r), Verdict::Start);
        assert_eq!(decide(true, Some("3.6.0"), None), Verdict::Start);
    }

    #[test]
    fn check_reads_the_folder_and_names_both_versions_and_the_fix() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths {
            home: d.path().into(),
            runtime_dir: d.path().join("run"),
            state: d.path().join("run/usernetes"),
            data: d.path().join("data"),
            config: d.path().join("config"),
        };
        let release = Some(v("3.5.16"));
        check(&paths, release).unwrap();
        std::fs::create_dir_all(folder(&paths).join("member/snap")).unwrap();
        std::fs::write(folder(&paths).join("member/snap/db"), "data").unwrap();
        check(&paths, release).unwrap();
        std::fs::write(marker(&paths), "3.6.1\n").unwrap();
        let e = check(&paths, release).unwrap_err();
        let t = e.to_string();
        for want in [
            folder(&paths).display().to_string(),
            "etcd 3.6.1".into(),
            "etcd 3.5.16".into(),
            "u7s reset".into(),
            "install the release".into(),
        ] {
            assert!(t.contains(&want), "{want}: {t}");
        }
        assert_eq!(
            std::fs::read(folder(&paths).join("member/snap/db")).unwrap(),
            b"data"
        );
    }
}
