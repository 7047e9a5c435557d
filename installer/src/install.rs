//! The install and rollback sequences (installer-anchors §3.3): lock, clean up after a killed
//! run, find and check the archive's SHA-256, unpack and verify into staging, publish the
//! version, swap `current`, record, prune old versions, then set up the session integration.

use std::path::PathBuf;

use serde::Serialize;

use crate::activate::{activate, current_version};
use crate::cleanup::remove_stale;
use crate::error::{Error, Result};
use crate::extract::{UnpackOptions, unpack};
use crate::integration::{self, Outcome, Wanted};
use crate::lock::PrefixLock;
use crate::prefix::{Env, Prefix};
use crate::record::Record;
use crate::source::{self, Net, Source};
use crate::ui::Ui;
use crate::verify::{self, Expected};
use crate::versions;

/// What to install and how.
#[derive(Clone, Debug)]
pub struct InstallOptions {
    /// Path or URL of the archive.
    pub archive: String,
    /// Path or URL of a SHA256SUMS file (else the one beside the archive).
    pub checksums: Option<String>,
    /// Go on without checksums (`--insecure-skip-checksum`, never implied by `--yes`).
    pub skip_checksum: bool,
    /// The release's minisign public key: the checksums must carry a good signature by it.
    pub public_key: Option<String>,
    /// Previous versions to keep.
    pub keep: usize,
    pub integration: Wanted,
    pub threads: usize,
}

/// The result of an install, printed or emitted as `--json`.
#[derive(Serialize, Debug)]
pub struct InstallReport {
    pub action: &'static str,
    pub version: String,
    pub previous: Option<String>,
    pub prefix: PathBuf,
    pub path: PathBuf,
    pub archive: String,
    pub archive_sha256: String,
    /// Where the expected hash came from; `None` when installed unverified (`--insecure-skip-checksum`).
    pub verified_with: Option<String>,
    pub reused: bool,
    pub repaired: bool,
    pub removed_versions: Vec<String>,
    pub stale_removed: Vec<String>,
    pub integration: Outcome,
    /// A session runs (`u7s status`): it still runs the previous version's binaries.
    pub session_running: bool,
    pub doctor: Option<crate::checkup::Checkup>,
}

/// Finds the expected hash: `--checksums` (must exist and list the archive) or the SHA256SUMS
/// beside the archive (may be absent).
fn expected_hash(
    src: &Source,
    checksums: Option<&str>,
    public_key: Option<&str>,
    net: &mut Net,
) -> Result<Option<Expected>> {
    let name = src.file_name();
    let (sums, required) = match checksums {
        Some(c) => (Source::parse(c)?, true),
        None => (src.sibling(bundle::manifest::CHECKSUMS_NAME), false),
    };
    let key = public_key
        .map(crate::signature::load_public_key)
        .transpose()?;
    let text = source::read_text(&sums, net)?;
    if let Some(key) = &key {
        let sig_src = sums.sibling(&crate::signature::signature_name(&sums.file_name()));
        let sums_text = text.as_deref().ok_or_else(|| Error::Signature {
            sums: sums.display(),
            sig: sig_src.display(),
            reason: "a public key is configured and there is no checksums file to check".into(),
        })?;
        let sig = source::read_text(&sig_src, net)?;
        crate::signature::check(
            key,
            sums_text.as_bytes(),
            &sums.display(),
            sig.as_deref(),
            &sig_src.display(),
        )?;
    }
    match text {
        Some(t) => verify::expected_from(&t, &sums.display(), &name).map(Some),
        None if required => Err(Error::Io {
            action: "read",
            path: PathBuf::from(sums.display()),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not found"),
        }),
        None => Ok(None),
    }
}

/// Installs (or upgrades to) the release in `opts.archive`.
pub fn install(
    prefix: &Prefix,
    env: &Env,
    opts: &InstallOptions,
    ui: &Ui,
) -> Result<InstallReport> {
    let src = Source::parse(&opts.archive)?;
    if let Source::File(p) = &src {
        match p.metadata() {
            Ok(m) if m.is_file() => {}
            // A folder on the way the user cannot enter (an admin's download in /root): say
            // so, not "no such file".
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(Error::io("read", p, e));
            }
            _ => return Err(Error::ArchiveMissing(p.clone())),
        }
    }
    let _lock = PrefixLock::acquire(prefix)?;
    crate::ui::lap("start");
    let stale_removed = remove_stale(prefix)?;
    if !stale_removed.is_empty() {
        ui.info(format!(
            "removed leftovers of an interrupted run: {}",
            stale_removed.join(", ")
        ));
    }

    let mut net = Net::default();
    let expected = expected_hash(
        &src,
        opts.checksums.as_deref(),
        opts.public_key.as_deref(),
        &mut net,
    )?;
    match &expected {
        Some(e) => ui.info(format!("expected sha256 {} (from {})", e.sha256, e.from)),
        None if opts.skip_checksum => ui.warn(format!(
            "no {} beside {}: the archive's hash cannot be checked (going on because of \
             --insecure-skip-checksum; \
             its files are still checked against its manifest)",
            bundle::manifest::CHECKSUMS_NAME,
            src.display()
        )),
        None => {
            return Err(Error::NoChecksums {
                archive: src.display(),
                looked: format!(
                    "no {} beside it and no --checksums given",
                    bundle::manifest::CHECKSUMS_NAME
                ),
            });
        }
    }

    // Get the archive onto disk and know its hash before anything is unpacked.
    let (archive_path, verified, downloaded) = match &src {
        Source::File(p) => {
            let verified = match &expected {
                Some(e) => {
                    let size = p.metadata().map(|m| m.len()).unwrap_or(0);
                    let bar = ui.progress(size, "verifying");
                    let actual = verify::sha256_file(p, &bar)?;
                    bar.finish();
                    verify::check(&p.display().to_string(), &actual, e)?;
                    match &e.listed_as {
                        Some(listed) => ui.ok(format!(
                            "sha256 matches {listed} in {}: this file is that archive, renamed \
                             (a browser's second download)",
                            e.from
                        )),
                        None => ui.ok(format!("sha256 matches {}", e.from)),
                    }
                    Some(actual)
                }
                None => None,
            };
            (p.clone(), verified, false)
        }
        Source::Url(u) => {
            let bar = ui.progress(0, "downloading");
            let d = source::download(
                net.client()?,
                u,
                &prefix.downloads(),
                expected.as_ref(),
                &|done, total| {
                    if let Some(t) = total {
                        bar.set_length(t);
                    }
                    bar.set_position(done);
                },
            )?;
            bar.finish();
            if d.resumed_from > 0 {
                ui.info(format!("resumed the download at byte {}", d.resumed_from));
            }
            if let Some(e) = &expected {
                ui.ok(format!("downloaded; sha256 matches {}", e.from));
            }
            let verified = expected.as_ref().map(|_| d.sha256.clone());
            (d.path, verified, true)
        }
    };

    crate::ui::lap("verify sha256");
    let size = archive_path.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = ui.progress(size, "unpacking");
    let unpacked = unpack(
        prefix,
        &archive_path,
        UnpackOptions {
            verified_sha256: verified.as_deref(),
            threads: opts.threads,
            progress: bar.clone(),
            limit: None,
        },
    )
    .inspect_err(|e| {
        if downloaded && e.is_refusal() {
            // Do not keep a refused archive for the next run.
            let _ = std::fs::remove_file(&archive_path);
        }
    })?;
    bar.finish();
    if unpacked.reused {
        ui.info(format!(
            "version {} was already installed intact: kept it",
            unpacked.version
        ));
    } else {
        ui.ok(format!(
            "unpacked and checked {} files against the manifest",
            unpacked.manifest.files.len()
        ));
    }

    let record_path = prefix.record_file();
    let mut record = load_record(&record_path, ui);
    let previous = current_version(prefix)?;
    if let Some(p) = previous.as_ref().filter(|p| !record.history.contains(p)) {
        record.activated(p);
    }
    activate(prefix, &unpacked.version)?;
    record.activated(&unpacked.version);
    record.save(&record_path)?;
    ui.ok(format!(
        "current -> versions/{}{}",
        unpacked.version,
        previous
            .as_ref()
            .filter(|p| **p != unpacked.version)
            .map(|p| format!(" (was {p})"))
            .unwrap_or_default()
    ));

    let recency = versions::by_recency(&versions::installed(prefix)?, &record.history);
    let plan = versions::prune_plan(&recency, Some(&unpacked.version), opts.keep);
    let removed_versions = versions::remove_versions(prefix, &plan)?;
    for v in &removed_versions {
        record.forget(v);
    }
    if !removed_versions.is_empty() {
        ui.info(format!(
            "removed old versions (keeping {}): {}",
            opts.keep,
            removed_versions.join(", ")
        ));
    }

    crate::ui::lap("activate+prune");
    let integration = integration::apply(env, prefix, &mut record, &opts.integration);
    record.save(&record_path)?;
    crate::ui::lap("integration");
    for w in &integration.warnings {
        ui.warn(w);
    }
    if downloaded {
        // The archive is unpacked; the cached copy is only needed for a resumed download.
        let _ = std::fs::remove_file(&archive_path);
    }

    let session_running =
        crate::session::needs_restart(env, prefix, previous.as_deref(), &unpacked.version);
    Ok(InstallReport {
        action: "install",
        session_running,
        path: unpacked.dir.clone(),
        version: unpacked.version,
        previous,
        prefix: prefix.root().to_path_buf(),
        archive: src.display(),
        archive_sha256: unpacked.archive_sha256,
        verified_with: expected.map(|e| e.from),
        reused: unpacked.reused,
        repaired: unpacked.repaired,
        removed_versions,
        stale_removed,
        integration,
        doctor: None,
    })
}

/// The install record, or a fresh one (with a warning) when it cannot be read: a damaged
/// record must not block upgrades; the history is rebuilt from `current` onwards.
fn load_record(path: &std::path::Path, ui: &Ui) -> Record {
    Record::load(path).unwrap_or_else(|e| {
        ui.warn(format!("{e}: starting a new install record"));
        Record::default()
    })
}

/// The result of a rollback.
#[derive(Serialize, Debug)]
pub struct RollbackReport {
    pub action: &'static str,
    pub version: String,
    pub previous: Option<String>,
    pub prefix: PathBuf,
    pub completions: Vec<PathBuf>,
}

/// Makes `to` (or the previously current version) current again.
pub fn rollback(
    prefix: &Prefix,
    env: &Env,
    to: Option<&str>,
    completions: bool,
    ui: &Ui,
) -> Result<RollbackReport> {
    if !prefix.versions().is_dir() {
        return Err(Error::NotInstalled(prefix.root().to_path_buf()));
    }
    let _lock = PrefixLock::acquire(prefix)?;
    remove_stale(prefix)?;
    let record_path = prefix.record_file();
    let mut record = load_record(&record_path, ui);
    let current = current_version(prefix)?;
    let installed = versions::installed(prefix)?;
    let target = match to {
        Some(v) => {
            if !installed.iter().any(|(i, _)| i == v) {
                return Err(Error::UnknownVersion {
                    version: v.to_string(),
                    installed: installed
                        .iter()
                        .map(|(i, _)| i.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            v.to_string()
        }
        None => {
            let recency = versions::by_recency(&installed, &record.history);
            versions::rollback_target(&recency, current.as_deref())
                .ok_or_else(|| Error::NoPrevious(prefix.root().to_path_buf()))?
        }
    };
    if let Some(c) = current.as_ref().filter(|c| !record.history.contains(c)) {
        record.activated(c);
    }
    activate(prefix, &target)?;
    record.activated(&target);
    let completions = if completions {
        integration::completions::install(env, prefix, &mut record).unwrap_or_default()
    } else {
        Vec::new()
    };
    record.save(&record_path)?;
    Ok(RollbackReport {
        action: "rollback",
        version: target,
        previous: current,
        prefix: prefix.root().to_path_buf(),
        completions,
    })
}
