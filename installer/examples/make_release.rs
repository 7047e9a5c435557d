//! Makes a release archive from a folder, as `u7s-build` would, for benchmarks and manual
//! tests of `u7s-install`: writes `DIR/manifest.json` (files only, no components), packs DIR as
//! `usernetes/` into `OUT/usernetes-x86_64.tbz` and writes `OUT/SHA256SUMS`.
//!
//! `cargo run --release -p u7s-installer --example make_release -- DIR VERSION OUT [THREADS]`

use std::path::PathBuf;
use std::process::ExitCode;

use bundle::checksums::Sha256Sums;
use bundle::manifest::{ARCHIVE_NAME, CHECKSUMS_NAME, MANIFEST_NAME, Manifest, TOP_DIR};
use bundle::pack::{PackOptions, pack_to_file, write_checksums_file};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 || args.len() > 4 {
        eprintln!("usage: make_release DIR VERSION OUT [THREADS (0 = all CPUs)]");
        return ExitCode::from(2);
    }
    let dir = PathBuf::from(&args[0]);
    let out = PathBuf::from(&args[2]);
    let threads = args.get(3).and_then(|t| t.parse().ok()).unwrap_or(0);
    let run = || -> bundle::Result<String> {
        let files = bundle::stage_scan::scan_tree(&dir)?;
        let manifest = Manifest {
            format: 1,
            version: args[1].clone(),
            source_date_epoch: 0,
            components: Vec::new(),
            files,
        };
        let path = dir.join(MANIFEST_NAME);
        std::fs::write(&path, manifest.to_json())
            .map_err(|e| bundle::Error::io("write", &path, e))?;
        let report = pack_to_file(
            &dir,
            &PackOptions {
                top: TOP_DIR.to_string(),
                mtime: 0,
                threads,
            },
            &out.join(ARCHIVE_NAME),
        )?;
        write_checksums_file(
            &out.join(CHECKSUMS_NAME),
            &Sha256Sums {
                entries: vec![(report.sha256.clone(), ARCHIVE_NAME.to_string())],
            },
        )?;
        Ok(format!(
            "{}  {} ({} bytes)",
            report.sha256,
            report.path.display(),
            report.size
        ))
    };
    match run() {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("make_release: {e}");
            ExitCode::FAILURE
        }
    }
}
