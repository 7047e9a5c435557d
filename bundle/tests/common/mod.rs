//! Fixtures shared by the integration tests: staged trees, deterministic data, hand-made tar
//! entries, and running the system's bzip2/lbzip2/tar.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Command, Stdio};

/// Deterministic, somewhat compressible bytes.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let words: [&[u8]; 6] = [
        b"usernetes ",
        b"\x7fELF\x02\x01\x01",
        b"\0\0\0\0\0\0\0\0",
        b"containerd\n",
        b"rootlesskit ",
        b"0123456789abcdef",
    ];
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if state.is_multiple_of(3) {
            out.extend_from_slice(&state.to_le_bytes()[..3]);
        } else {
            out.extend_from_slice(words[(state >> 40) as usize % words.len()]);
        }
    }
    out.truncate(len);
    out
}

/// A staged `usernetes/` tree: nested folders, executables, plain files, a symlink, a long
/// name, and a few MB so the archive has several bzip2 streams.
pub fn staged_tree(root: &Path) {
    fs::create_dir_all(root.join("bin/cni")).unwrap();
    fs::create_dir_all(root.join("config")).unwrap();
    fs::create_dir_all(root.join("share/licenses/containerd")).unwrap();
    let exe = |rel: &str, bytes: &[u8]| {
        fs::write(root.join(rel), bytes).unwrap();
        fs::set_permissions(root.join(rel), fs::Permissions::from_mode(0o700)).unwrap();
    };
    exe("bin/dockerd", &data(2_100_000, 1));
    exe("bin/cni/bridge", &data(700_000, 2));
    exe("bin/u7s", b"#!/bin/sh\necho u7s\n");
    fs::write(root.join("config/daemon.json"), b"{}\n").unwrap();
    fs::set_permissions(
        root.join("config/daemon.json"),
        fs::Permissions::from_mode(0o664),
    )
    .unwrap();
    fs::write(
        root.join("share/licenses/containerd/LICENSE"),
        data(11_000, 3),
    )
    .unwrap();
    fs::write(root.join("LICENSE"), b"Apache-2.0\n").unwrap();
    let long = format!("share/{}", "long-name-".repeat(12));
    fs::write(root.join(long), b"long\n").unwrap();
    symlink("../bin/u7s", root.join("config/u7s-link")).unwrap();
    fs::write(root.join("manifest.json"), b"{}\n").unwrap();
}

/// Runs a command, returns (success, stdout, stderr).
pub fn run(cmd: &mut Command) -> (bool, Vec<u8>, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    (
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Pipes `input` through a command and returns its stdout (panics on failure).
pub fn filter(cmd: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Hand-made tar entries and archives: the shared ones of the test kit.
#[allow(unused_imports)] // not every test binary that includes this module builds archives
pub use testkit::tar::{Raw, raw_tar};
