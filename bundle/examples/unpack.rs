//! Extracts a release archive the way `u7s-install` does (parallel decoder + safe extract),
//! for benchmarks and manual checks:
//! `cargo run --release -p u7s-bundle --example unpack -- ARCHIVE DEST [THREADS]`.
//! DEST is created if missing and must be empty. With `--decode-only ARCHIVE` it only
//! decompresses (to nowhere) and prints the byte count.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use bundle::bzip::ParallelBzDecoder;
use bundle::manifest::TOP_DIR;
use bundle::safe_extract::{ExtractOptions, extract_archive};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--decode-only") && args.len() >= 2 {
        let threads = args.get(2).and_then(|t| t.parse().ok()).unwrap_or(0);
        let file = match std::fs::File::open(&args[1]) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("unpack: {}: {e}", args[1]);
                return ExitCode::FAILURE;
            }
        };
        let mut decoder = ParallelBzDecoder::new(std::io::BufReader::new(file), threads);
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            match decoder.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => total += n as u64,
                Err(e) => {
                    eprintln!("unpack: {}: {e}", args[1]);
                    return ExitCode::FAILURE;
                }
            }
        }
        println!("{total} bytes from {} streams", decoder.streams());
        return ExitCode::SUCCESS;
    }
    if args.len() < 2 || args.len() > 3 {
        eprintln!(
            "usage: unpack ARCHIVE DEST [THREADS (0 = all CPUs)] | unpack --decode-only ARCHIVE [THREADS]"
        );
        return ExitCode::from(2);
    }
    let dest = PathBuf::from(&args[1]);
    if let Err(e) = std::fs::create_dir_all(&dest) {
        eprintln!("unpack: {}: {e}", dest.display());
        return ExitCode::FAILURE;
    }
    let threads = args.get(2).and_then(|t| t.parse().ok()).unwrap_or(0);
    let opts = ExtractOptions {
        top: TOP_DIR.to_string(),
        sync: false,
    };
    match extract_archive(&PathBuf::from(&args[0]), &dest, &opts, threads) {
        Ok((extracted, sha256)) => {
            println!("{sha256}  {} ({} entries)", args[0], extracted.files.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("unpack: {e}");
            ExitCode::FAILURE
        }
    }
}
