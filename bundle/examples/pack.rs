//! Packs a folder the way `u7s-build` does, for benchmarks and manual checks:
//! `cargo run --release -p u7s-bundle --example pack -- DIR OUT.tbz [THREADS] [MTIME]`.
//! DIR becomes the archive's `usernetes/` folder.

use std::path::PathBuf;
use std::process::ExitCode;

use bundle::manifest::TOP_DIR;
use bundle::pack::{PackOptions, pack_to_file};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 || args.len() > 4 {
        eprintln!("usage: pack DIR OUT.tbz [THREADS (0 = all CPUs)] [MTIME]");
        return ExitCode::from(2);
    }
    let number = |i: usize, default: u64| -> u64 {
        args.get(i).map_or(default, |s| {
            s.parse().unwrap_or_else(|_| {
                eprintln!("pack: {s:?} is not a number");
                std::process::exit(2)
            })
        })
    };
    let opts = PackOptions {
        top: TOP_DIR.to_string(),
        threads: number(2, 0) as usize,
        mtime: number(3, 0),
    };
    match pack_to_file(&PathBuf::from(&args[0]), &opts, &PathBuf::from(&args[1])) {
        Ok(report) => {
            println!(
                "{}  {} ({} bytes)",
                report.sha256,
                report.path.display(),
                report.size
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pack: {e}");
            ExitCode::FAILURE
        }
    }
}
