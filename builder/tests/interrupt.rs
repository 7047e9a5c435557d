//! Ctrl-C during a build: the script's whole process group is stopped, the run exits 130,
//! no archive reaches the output folder and the cache keeps no temporary folder.

mod common;

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn gone_or_zombie(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn ctrl_c_stops_the_build_and_leaves_nothing_behind() {
    let f = Fixture::new();
    let mark = f.root().join("mark");
    // A path source: the fixture's patch series would not apply to it.
    fs::remove_dir_all(f.repo().join("patches/hello")).unwrap();
    f.write_recipe(
        "hello",
        &format!(
            r#"name = "hello"
version = "1"
license = "MIT"
[source]
path = "../localsrc"
[build]
script = '''
sleep 600 &
echo $! > "$MARK.pid"
touch "$MARK"
wait
'''
env = {{ MARK = "{}" }}
outputs = ["bin/hello"]
"#,
            mark.display()
        ),
    );
    let out = f.out("out");
    let mut child = Command::new(BIN)
        .current_dir(f.repo())
        .args(["release", "--only", "hello"])
        .arg(format!("--cache={}", f.root().join("cache").display()))
        .arg(format!("--out={}", out.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded, so a broken build cannot hang the suite) until the script is running.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !mark.exists() {
        assert!(Instant::now() < deadline, "the build script never started");
        if child.try_wait().unwrap().is_some() {
            let o = child.wait_with_output().unwrap();
            panic!(
                "u7s-build ended before the script started: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let sleeper: i32 = fs::read_to_string(format!("{}.pid", mark.display()))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(
        gone_or_zombie(sleeper),
        "the script's child {sleeper} survived Ctrl-C"
    );
    assert!(!out.join("usernetes-x86_64.tbz").exists());
    let tmp: Vec<_> = fs::read_dir(f.root().join("cache/tmp")).unwrap().collect();
    assert!(
        tmp.is_empty(),
        "temporary folders left in the cache: {tmp:?}"
    );
    let builds: Vec<_> = fs::read_dir(f.root().join("cache/build"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(builds.is_empty(), "a build entry was left: {builds:?}");
}
