//! Where build scripts run: on the host, or in a container (docker or podman).
//!
//! The script contract (design.md §2): `sh -eu -c <script>`, working directory the prepared
//! source tree, variables `SRC`, `OUT`, `VERSION`, `JOBS`, `SOURCE_DATE_EPOCH` plus the
//! recipe's `env`.
//!
//! * `host`: the script runs in its own process group with the caller's environment plus the
//!   variables above.
//! * `docker`/`podman`: `run --rm` of the recipe's image with the source tree bind-mounted at
//!   `/u7s/src`, the output folder at `/u7s/out` and a scratch `HOME` at `/u7s/home`, only the
//!   variables above set, `--pull=never` when `--offline`. The script runs as root in the
//!   container, because upstream build images install their build dependencies with
//!   `apt-get`/`apk`; every output still belongs to the invoking user: with a rootless engine
//!   (rootless docker, rootless podman) container root *is* that user, and with a rootful
//!   engine the run ends with `chown -R <uid>:<gid>` of the mounted folders (also after a
//!   failed script, and after Ctrl-C in a follow-up container).
//! * `auto`: a recipe without `image` runs on the host; with one, in docker when `docker`
//!   answers, else podman when `podman` answers, else the run stops with a clear error.
//!   `--executor host` runs image recipes on the host too (the host then needs their
//!   toolchains); `--executor docker|podman` picks the engine for image recipes.
//! * Images must be pinned by digest (`NAME@sha256:…` or a local image id `sha256:…`): a
//!   container run of anything else is refused, naming the recipe and how to get the digest.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::error::{Error, IoContext, Result};
use crate::recipe::Recipe;

/// The `--executor` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecutorChoice {
    Auto,
    Host,
    Docker,
    Podman,
}

/// A container engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Docker,
    Podman,
}

impl Engine {
    pub fn program(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
        }
    }
}

/// Where one recipe's script runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Executor {
    Host,
    Container {
        engine: Engine,
        image: String,
        /// The engine runs in the user's namespace: container root is the invoking user.
        rootless: bool,
    },
}

impl Executor {
    /// `host`, `docker` or `podman`: part of the build cache key.
    pub fn kind(&self) -> &'static str {
        match self {
            Executor::Host => "host",
            Executor::Container { engine, .. } => engine.program(),
        }
    }

    pub fn image(&self) -> Option<&str> {
        match self {
            Executor::Host => None,
            Executor::Container { image, .. } => Some(image),
        }
    }
}

/// Picks executors for recipes, probing the engines once.
pub struct Resolver {
    choice: ExecutorChoice,
    docker: OnceLock<Option<bool>>,
    podman: OnceLock<Option<bool>>,
}

impl Resolver {
    pub fn new(choice: ExecutorChoice) -> Resolver {
        Resolver {
            choice,
            docker: OnceLock::new(),
            podman: OnceLock::new(),
        }
    }

    /// `Some(rootless)` when the engine answers.
    fn probe(&self, engine: Engine) -> Option<bool> {
        let cell = match engine {
            Engine::Docker => &self.docker,
            Engine::Podman => &self.podman,
        };
        *cell.get_or_init(|| probe_engine(engine))
    }

    /// The executor for `recipe`, or an error saying what to install.
    pub fn resolve(&self, recipe: &Recipe) -> Result<Executor> {
        let Some(image) = recipe.build.image.clone() else {
            return Ok(Executor::Host);
        };
        if self.choice == ExecutorChoice::Host {
            return Ok(Executor::Host);
        }
        if !crate::recipe::image_is_pinned(&image) {
            return Err(Error::Recipe {
                file: recipe.file.clone(),
                msg: crate::recipe::unpinned_image_message(&image),
            });
        }
        let pick = |engine: Engine| -> Result<Executor> {
            match self.probe(engine) {
                Some(rootless) => Ok(Executor::Container {
                    engine,
                    image: image.clone(),
                    rootless,
                }),
                None => Err(Error::Executor(format!(
                    "{}: --executor {} was asked for, but `{} info` does not reach a running engine: start it (and make sure your user may use it), or pick another --executor",
                    recipe.name,
                    engine.program(),
                    engine.program()
                ))),
            }
        };
        match self.choice {
            ExecutorChoice::Host => Ok(Executor::Host),
            ExecutorChoice::Docker => pick(Engine::Docker),
            ExecutorChoice::Podman => pick(Engine::Podman),
            ExecutorChoice::Auto => {
                if self.probe(Engine::Docker).is_some() {
                    pick(Engine::Docker)
                } else if self.probe(Engine::Podman).is_some() {
                    pick(Engine::Podman)
                } else {
                    Err(Error::Executor(format!(
                        "{}: the recipe needs a container image ({image}), but neither docker nor podman is usable: install one (and make sure `docker info` works for your user), or build on the host with --executor host",
                        recipe.name
                    )))
                }
            }
        }
    }
}

/// `Some(rootless)` when `<engine> info` reaches a running engine, `None` otherwise.
fn probe_engine(engine: Engine) -> Option<bool> {
    let format = match engine {
        Engine::Docker => "{{json .SecurityOptions}}",
        Engine::Podman => "{{.Host.Security.Rootless}}",
    };
    let mut probe = Command::new(engine.program());
    probe
        .args(["info", "--format", format])
        .stdin(Stdio::null());
    let out = crate::forklock::output(&mut probe).ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(match engine {
        Engine::Docker => text.contains("rootless"),
        Engine::Podman => text.trim() == "true",
    })
}

/// Everything one script run needs.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub component: String,
    pub script: String,
    /// The prepared source tree (working directory).
    pub src: PathBuf,
    /// The empty output folder.
    pub out: PathBuf,
    /// A scratch folder used as `HOME` in containers.
    pub home: PathBuf,
    /// VERSION, JOBS, SOURCE_DATE_EPOCH, then the recipe's env.
    pub env: Vec<(String, String)>,
    /// Read-only mounts for containers: (host path, path inside).
    pub mounts: Vec<(PathBuf, String)>,
    pub offline: bool,
    /// Unique container name (so it can be stopped on Ctrl-C).
    pub container_name: String,
}

/// Paths inside the container.
pub const CONTAINER_SRC: &str = "/u7s/src";
pub const CONTAINER_OUT: &str = "/u7s/out";
pub const CONTAINER_HOME: &str = "/u7s/home";
/// The cache's GOMODCACHE inside the container (read-only).
pub const CONTAINER_GOMOD: &str = "/u7s/gomod";
/// Built dependencies inside the container (`$DEPS/<name>`, read-only).
pub const CONTAINER_DEPS: &str = "/u7s/deps";

/// Runs the script (`$1`) as `sh -eu`, then hands the mounted folders to `$U7S_OWNER` (when
/// set) and exits with the script's status.
pub const CONTAINER_WRAPPER: &str = r#"rc=0
/bin/sh -eu -c "$1" || rc=$?
if [ -n "${U7S_OWNER:-}" ]; then
  chown -R "$U7S_OWNER" /u7s/src /u7s/out /u7s/home || { [ "$rc" -ne 0 ] || rc=125; }
fi
exit "$rc""#;

/// Whom the outputs must be handed to inside the container: `uid:gid` with a rootful engine
/// and a non-root user, nobody otherwise.
pub fn owner(exec: &Executor, uid: u32, gid: u32) -> Option<String> {
    match exec {
        Executor::Container {
            rootless: false, ..
        } if uid != 0 => Some(format!("{uid}:{gid}")),
        _ => None,
    }
}

fn mounts(spec: &RunSpec) -> Vec<OsString> {
    [
        (&spec.src, CONTAINER_SRC),
        (&spec.out, CONTAINER_OUT),
        (&spec.home, CONTAINER_HOME),
    ]
    .into_iter()
    .map(|(host, inside)| {
        let mut v = OsString::from("--volume=");
        v.push(host.as_os_str());
        v.push(format!(":{inside}"));
        v
    })
    .chain(spec.mounts.iter().map(|(host, inside)| {
        let mut v = OsString::from("--volume=");
        v.push(host.as_os_str());
        v.push(format!(":{inside}:ro"));
        v
    }))
    .collect()
}

/// The command line for a run (pure). For the host, `env` is added to the inherited environment.
pub fn command_line(
    exec: &Executor,
    spec: &RunSpec,
    uid: u32,
    gid: u32,
) -> (String, Vec<OsString>) {
    match exec {
        Executor::Host => (
            "sh".into(),
            vec!["-eu".into(), "-c".into(), spec.script.clone().into()],
        ),
        Executor::Container { engine, image, .. } => {
            let mut a: Vec<OsString> = vec!["run".into(), "--rm".into()];
            a.push(format!("--name={}", spec.container_name).into());
            if spec.offline {
                a.push("--pull=never".into());
            }
            a.push("--user=0:0".into());
            a.extend(mounts(spec));
            a.push(format!("--workdir={CONTAINER_SRC}").into());
            let mut env = vec![
                ("SRC".to_string(), CONTAINER_SRC.to_string()),
                ("OUT".to_string(), CONTAINER_OUT.to_string()),
                ("HOME".to_string(), CONTAINER_HOME.to_string()),
            ];
            env.extend(spec.env.iter().cloned());
            if let Some(o) = owner(exec, uid, gid) {
                env.push(("U7S_OWNER".to_string(), o));
            }
            for (k, v) in env {
                a.push("--env".into());
                a.push(format!("{k}={v}").into());
            }
            a.push("--entrypoint=/bin/sh".into());
            a.push(image.into());
            a.push("-c".into());
            a.push(CONTAINER_WRAPPER.into());
            a.push("u7s-build".into());
            a.push(spec.script.clone().into());
            (engine.program().into(), a)
        }
    }
}

/// Runs the script, its stdout and stderr appended to `log`. Returns a description of a
/// failed exit (`exit status 2`, `killed by signal 9`) or `None` on success. On Ctrl-C the run
/// is stopped (process group / container) and `Error::Cancelled` returned.
pub fn run(exec: &Executor, spec: &RunSpec, log: &Path) -> Result<Option<String>> {
    use std::os::unix::process::CommandExt;
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let (program, args) = command_line(exec, spec, uid, gid);
    let log_file = File::options()
        .append(true)
        .create(true)
        .open(log)
        .at(log)?;
    let mut cmd = Command::new(&program);
    cmd.args(&args)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().at(log)?)
        .stderr(log_file)
        .process_group(0);
    if *exec == Executor::Host {
        cmd.current_dir(&spec.src)
            .env("SRC", &spec.src)
            .env("OUT", &spec.out)
            .envs(spec.env.iter().map(|(k, v)| (k, v)));
    }
    let mut child = crate::forklock::spawn(&mut cmd).map_err(|e| {
        Error::Executor(format!("{}: cannot start `{program}`: {e}", spec.component))
    })?;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| Error::io(log, e))? {
            if status.success() {
                return Ok(None);
            }
            use std::os::unix::process::ExitStatusExt;
            return Ok(Some(match (status.code(), status.signal()) {
                (Some(c), _) => format!("exit status {c}"),
                (None, Some(s)) => format!("killed by signal {s}"),
                _ => status.to_string(),
            }));
        }
        if crate::cancel::requested() {
            stop(exec, spec, &mut child, owner(exec, uid, gid));
            return Err(Error::Cancelled);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stop(exec: &Executor, spec: &RunSpec, child: &mut std::process::Child, owner: Option<String>) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    if let Executor::Container { engine, image, .. } = exec {
        let quiet = |c: &mut Command| {
            let _ = crate::forklock::status(
                c.stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null()),
            );
        };
        quiet(Command::new(engine.program()).args(["rm", "-f", &spec.container_name]));
        // Files the stopped script wrote as root must become the user's again, or the work
        // folders could not be removed.
        if let Some(o) = owner {
            quiet(
                Command::new(engine.program())
                    .args(["run", "--rm", "--pull=never", "--user=0:0"])
                    .args(mounts(spec))
                    .args(["--entrypoint=/bin/chown", image.as_str(), "-R", &o])
                    .args([CONTAINER_SRC, CONTAINER_OUT, CONTAINER_HOME]),
            );
        }
    }
    let pgid = Pid::from_raw(child.id() as i32);
    let _ = killpg(pgid, Signal::SIGTERM);
    for _ in 0..50 {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = killpg(pgid, Signal::SIGKILL);
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RunSpec {
        RunSpec {
            component: "c".into(),
            script: "make\n".into(),
            src: "/cache/tmp/src".into(),
            out: "/cache/tmp/out".into(),
            home: "/cache/tmp/home".into(),
            env: vec![
                ("VERSION".into(), "v1".into()),
                ("GOFLAGS".into(), "-trimpath".into()),
            ],
            mounts: vec![("/cache/gomod".into(), CONTAINER_GOMOD.into())],
            offline: true,
            container_name: "u7s-build-c-1".into(),
        }
    }

    fn strings(v: Vec<OsString>) -> Vec<String> {
        v.into_iter().map(|s| s.into_string().unwrap()).collect()
    }

    #[test]
    fn host_command() {
        let (p, a) = command_line(&Executor::Host, &spec(), 1000, 1000);
        assert_eq!(p, "sh");
        assert_eq!(strings(a), ["-eu", "-c", "make\n"]);
    }

    #[test]
    fn docker_command_maps_mounts_env_and_the_owner() {
        let exec = Executor::Container {
            engine: Engine::Docker,
            image: "golang:1.26".into(),
            rootless: false,
        };
        let (p, a) = command_line(&exec, &spec(), 1001, 1002);
        assert_eq!(p, "docker");
        let a = strings(a);
        for want in [
            "--rm",
            "--pull=never",
            "--user=0:0",
            "U7S_OWNER=1001:1002",
            "--volume=/cache/tmp/src:/u7s/src",
            "--volume=/cache/tmp/out:/u7s/out",
            "--volume=/cache/tmp/home:/u7s/home",
            "--volume=/cache/gomod:/u7s/gomod:ro",
            "--workdir=/u7s/src",
            "SRC=/u7s/src",
            "OUT=/u7s/out",
            "HOME=/u7s/home",
            "VERSION=v1",
            "GOFLAGS=-trimpath",
            "--entrypoint=/bin/sh",
        ] {
            assert!(a.contains(&want.to_string()), "{want} missing in {a:?}");
        }
        assert_eq!(
            &a[a.len() - 5..],
            [
                "golang:1.26",
                "-c",
                CONTAINER_WRAPPER,
                "u7s-build",
                "make\n"
            ]
        );
    }

    #[test]
    fn no_owner_change_when_container_root_is_the_user() {
        let rootless = Executor::Container {
            engine: Engine::Podman,
            image: "i".into(),
            rootless: true,
        };
        assert_eq!(owner(&rootless, 1001, 1001), None);
        let a = strings(command_line(&rootless, &spec(), 1001, 1001).1);
        assert!(!a.iter().any(|x| x.starts_with("U7S_OWNER")));
        let rootful = Executor::Container {
            engine: Engine::Docker,
            image: "i".into(),
            rootless: false,
        };
        assert_eq!(owner(&rootful, 0, 0), None, "root keeps its files");
        assert_eq!(owner(&rootful, 5, 6).as_deref(), Some("5:6"));
        assert_eq!(owner(&Executor::Host, 5, 6), None);
    }

    /// The wrapper keeps the script's status (run here with the host's sh).
    #[test]
    fn wrapper_keeps_the_status() {
        let run = |script: &str| {
            crate::forklock::status(
                Command::new("sh")
                    .args(["-c", CONTAINER_WRAPPER, "u7s-build", script])
                    .env_remove("U7S_OWNER")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null()),
            )
            .unwrap()
            .code()
        };
        assert_eq!(run("true"), Some(0));
        assert_eq!(run("exit 7"), Some(7));
        assert_eq!(run("false; echo not reached"), Some(1));
        assert_ne!(run("echo $UNSET_VARIABLE_X"), Some(0));
    }
}
