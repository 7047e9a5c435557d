//! The container executor for real: a busybox root filesystem made here is imported as a
//! local docker image, and `u7s-build release --executor auto` runs as the unprivileged test
//! user (env `U7S_TEST_USER`, a member of the docker group) to build a fixture recipe in it.
//! The script runs as root in the container (upstream build images install packages), and
//! every output must still belong to the invoking user, also after a failed script.
//!
//! Needs: a running dockerd the test process can use (CI starts it), `busybox` (Debian's
//! busybox-static), root to switch to the test user with `runuser` (or running as that user).
//! Ignored by a plain `cargo test`; run with `--include-ignored` (scripts/test.sh, CI), it fails
//! naming what is missing.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

const IMAGE: &str = "u7s-test/busybox:latest";

fn docker_answers() -> bool {
    Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// `<rootfs>/bin/busybox` plus a symlink per applet, imported as IMAGE; returns the image id
/// (`sha256:<64 hex>`), which recipes must use: images are pinned by digest.
fn import_busybox(rootfs: &Path) -> String {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("busybox (Debian package busybox-static) is installed");
    fs::create_dir_all(rootfs.join("bin")).unwrap();
    fs::create_dir_all(rootfs.join("tmp")).unwrap();
    fs::copy(busybox, rootfs.join("bin/busybox")).unwrap();
    let list = Command::new(busybox).arg("--list").output().unwrap();
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if applet != "busybox" && !applet.is_empty() {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
    }
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(rootfs)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let import = Command::new("docker")
        .args(["import", "-", IMAGE])
        .stdin(tar.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(
        tar.wait().unwrap().success(),
        "tar of the busybox root filesystem"
    );
    assert!(
        import.status.success(),
        "docker import: {}",
        String::from_utf8_lossy(&import.stderr)
    );
    let id = String::from_utf8_lossy(&import.stdout).trim().to_string();
    assert!(
        builder::recipe::image_is_pinned(&id),
        "docker import printed {id:?}, not an image id"
    );
    id
}

#[test]
#[ignore = "needs U7S_TEST_USER in the docker group, a running dockerd and busybox (scripts/ci-setup.sh)"]
fn container_build_outputs_belong_to_the_invoking_user() {
    let account = testkit::test_user_reachable();
    let user = account.name.clone();
    testkit::require(
        docker_answers().then_some(()),
        "a docker that answers `docker version` (start dockerd; scripts/ci-setup.sh does)",
    );

    // Everything the test user reads or writes lives in a world-readable folder of its own.
    let work = tempfile::Builder::new()
        .prefix("u7s-container-")
        .tempdir_in("/tmp")
        .unwrap();
    let w = work.path();
    chmod(w, 0o755);
    let image = import_busybox(&w.join("rootfs"));

    let bin = w.join("u7s-build");
    testkit::copy_executable(env!("CARGO_BIN_EXE_u7s-build").as_ref(), &bin);
    let repo = w.join("repo");
    fs::create_dir_all(repo.join("recipes")).unwrap();
    fs::create_dir_all(repo.join("src")).unwrap();
    fs::write(repo.join("src/boxed.sh"), "#!/bin/sh\necho boxed\n").unwrap();
    fs::write(repo.join("src/LICENSE"), "boxed licence\n").unwrap();
    fs::write(
        repo.join("recipes/boxed.toml"),
        format!(
            r#"name = "boxed"
version = "1.0"
license = "MIT"
license_files = ["LICENSE"]

[source]
path = "../src"

[build]
image = "{image}"
script = '''
test "$SRC" = /u7s/src
test "$(pwd)" = /u7s/src
mkdir -p "$OUT/bin" "$OUT/share/boxed"
cp boxed.sh "$OUT/bin/boxed"
chmod 0755 "$OUT/bin/boxed"
id -u > "$OUT/share/boxed/uid"
mkdir -p _build/objects && echo o > _build/objects/x.o
echo "$VERSION $SOURCE_DATE_EPOCH $HOME $GREETING" > "$OUT/share/boxed/env"
'''
env = {{ GREETING = "hi" }}
outputs = ["bin/boxed", "share/boxed/uid"]
"#
        ),
    )
    .unwrap();
    for d in [w.join("cache"), w.join("out")] {
        fs::create_dir(&d).unwrap();
        nix::unistd::chown(&d, Some(account.uid), Some(account.gid)).unwrap();
    }

    let args = [
        "release".to_string(),
        format!("--recipes={}", repo.join("recipes").display()),
        format!("--cache={}", w.join("cache").display()),
        format!("--out={}", w.join("out").display()),
        "--executor=auto".into(),
        "--offline".into(),
        "--json".into(),
    ];
    let mut cmd = if nix::unistd::getuid() == account.uid {
        let mut c = Command::new(&bin);
        c.args(&args);
        c
    } else {
        let mut c = Command::new("runuser");
        c.args(["-u", &user, "--", "env", "-i"])
            .arg(format!("HOME={}", account.dir.display()))
            .arg("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .arg("NO_COLOR=1")
            .arg(&bin)
            .args(&args);
        c
    };
    let out = cmd.current_dir(w).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "u7s-build as {user} failed:\n{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let comp = &summary["components"][0];
    assert_eq!(
        comp["executor"], "docker",
        "auto picks docker for an image recipe"
    );
    assert_eq!(comp["image"], image.as_str());

    // The script ran as root in the container, and every output belongs to the user.
    let build_dir = Path::new(comp["build_dir"].as_str().unwrap());
    let uid = fs::read_to_string(build_dir.join("out/share/boxed/uid")).unwrap();
    assert_eq!(uid.trim(), "0");
    let env = fs::read_to_string(build_dir.join("out/share/boxed/env")).unwrap();
    assert_eq!(env.trim(), "1.0 315532800 /u7s/home hi");
    let mut n = 0;
    for e in walkdir::WalkDir::new(build_dir) {
        let e = e.unwrap();
        let m = fs::symlink_metadata(e.path()).unwrap();
        assert_eq!(
            m.uid(),
            account.uid.as_raw(),
            "{} is not owned by {user}",
            e.path().display()
        );
        n += 1;
    }
    assert!(n >= 6);

    // And the archive carries the program.
    let x = w.join("x");
    fs::create_dir(&x).unwrap();
    let st = Command::new("tar")
        .arg("xjf")
        .arg(w.join("out/usernetes-x86_64.tbz"))
        .arg("-C")
        .arg(&x)
        .status()
        .unwrap();
    assert!(st.success());
    let run = Command::new(x.join("usernetes/bin/boxed"))
        .output()
        .unwrap();
    assert_eq!(run.stdout, b"boxed\n");
    assert_eq!(
        fs::read_to_string(x.join("usernetes/share/licenses/boxed/LICENSE")).unwrap(),
        "boxed licence\n"
    );

    // A script that fails after writing as root: the error names it, and the user could
    // remove every work folder (they were handed back).
    let recipe = fs::read_to_string(repo.join("recipes/boxed.toml")).unwrap();
    let failing = recipe.replace("'''\nenv", "echo about-to-fail\nexit 4\n'''\nenv");
    assert_ne!(recipe, failing);
    fs::write(repo.join("recipes/boxed.toml"), failing).unwrap();
    let out = cmd.current_dir(w).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("boxed: build script failed (exit status 4)")
            && stderr.contains("about-to-fail"),
        "{stderr}"
    );
    let tmp: Vec<_> = fs::read_dir(w.join("cache/tmp")).unwrap().collect();
    assert!(
        tmp.is_empty(),
        "work folders the user could not remove: {tmp:?}"
    );
    let builds: Vec<_> = fs::read_dir(w.join("cache/build"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(builds.iter().all(|b| !b.contains(".tmp-")), "{builds:?}");
}
