//! The write-then-exec race on this machine, with and without [`testkit::write_executable`]:
//! two threads keep starting processes while two others write small scripts and run each one
//! at once. Prints how many runs failed with ETXTBSY ("Text file busy") per way of writing.
//!
//! `cargo run -p u7s-testkit --example etxtbsy_race -- [ROUNDS]` (scripts/stress-exec.sh runs it).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Writes like most tests did: `fs::write` (or `fs::copy`), then `chmod`.
fn plain(p: &Path, contents: &[u8]) {
    let mut f = std::fs::File::create(p).unwrap();
    f.write_all(contents).unwrap();
    drop(f);
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn race(rounds: usize, write: fn(&Path, &[u8])) -> (usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(false);
    let (busy, runs) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let _ = Command::new("true").status();
                }
            });
        }
        let writers: Vec<_> = (0..2)
            .map(|t| {
                let (dir, busy, runs) = (dir.path(), &busy, &runs);
                s.spawn(move || {
                    for i in 0..rounds {
                        let p = dir.join(format!("s{t}-{i}"));
                        write(&p, b"#!/bin/sh\nexit 0\n");
                        runs.fetch_add(1, Ordering::Relaxed);
                        match Command::new(&p).status() {
                            Ok(st) => assert!(st.success()),
                            Err(e)
                                if e.raw_os_error()
                                    == Some(rustix::io::Errno::TXTBSY.raw_os_error()) =>
                            {
                                busy.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => panic!("{}: {e}", p.display()),
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    (busy.into_inner(), runs.into_inner())
}

fn main() {
    let rounds = std::env::args()
        .nth(1)
        .map_or(500, |a| a.parse().expect("ROUNDS is a number"));
    for (name, write) in [
        ("fs::write + chmod", plain as fn(&Path, &[u8])),
        ("testkit::write_executable", |p: &Path, c: &[u8]| {
            testkit::write_executable(p, c)
        }),
    ] {
        let (busy, runs) = race(rounds, write);
        println!("{name:<28} {busy:>6} of {runs:>6} runs failed with ETXTBSY");
    }
}
