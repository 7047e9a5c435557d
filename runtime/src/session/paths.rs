//! Where a session keeps its files: the contract of design.md §7 (state under
//! `$XDG_RUNTIME_DIR/usernetes`, data under `$XDG_DATA_HOME/usernetes`, config and TLS material
//! under `$XDG_CONFIG_HOME/usernetes`, the Docker socket at `$XDG_RUNTIME_DIR/docker.sock`),
//! derived purely from the environment values so tests can inject them. The XDG rules
//! (fallbacks, empty and relative values ignored) are [`fsx::xdg`]'s.

use crate::error::{Error, Result};
use fsx::xdg::{self, Xdg};
use std::path::{Path, PathBuf};

/// Entries of the data folder that the runtime creates and `u7s reset` removes. Everything else
/// there (the installer's `versions/`, `current`, its lock and record) is left alone.
pub const DATA_ENTRIES: &[&str] = &[
    "docker",
    "containerd",
    "etcd",
    "containers",
    "crio",
    "logs",
    "kubelet",
    "kubelet-plugins-exec",
    "cri-dockerd",
    "jobs",
    "_var_lib_kubelet",
    "_var_lib_cni",
    "_var_log",
    "_var_lib_containers",
    "_var_cache",
    "tmp",
    // The data folder's lock (doctor::session_lock), taken by `u7s up`.
    "session.lock",
];

/// Host paths bind-mounted inside the namespace from `DATA/<path with / replaced by _>`
/// (research §2.5, §5.7): writable places the components expect at fixed locations.
pub const BIND_DIRS: &[&str] = &[
    "/var/lib/kubelet",
    "/var/lib/cni",
    "/var/log",
    "/var/lib/containers",
    "/var/cache",
];

/// The environment values paths derive from.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub home: Option<PathBuf>,
    pub xdg_runtime_dir: Option<PathBuf>,
    pub xdg_data_home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    /// The real user id (for the `/run/user/UID` fallback).
    pub uid: u32,
}

impl Env {
    /// Reads HOME and the XDG variables of this process.
    pub fn from_process() -> Env {
        let x = Xdg::from_process();
        Env {
            home: x.home,
            xdg_runtime_dir: x.xdg_runtime_dir,
            xdg_data_home: x.xdg_data_home,
            xdg_config_home: x.xdg_config_home,
            uid: nix::unistd::getuid().as_raw(),
        }
    }

    /// The values as [`fsx::xdg::Xdg`], which derives the folders.
    pub fn xdg(&self) -> Xdg {
        Xdg {
            home: self.home.clone(),
            xdg_data_home: self.xdg_data_home.clone(),
            xdg_config_home: self.xdg_config_home.clone(),
            xdg_cache_home: None,
            xdg_runtime_dir: self.xdg_runtime_dir.clone(),
        }
    }
}

/// Every path a session uses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Paths {
    pub home: PathBuf,
    /// `$XDG_RUNTIME_DIR`.
    pub runtime_dir: PathBuf,
    /// `$XDG_RUNTIME_DIR/usernetes`: sockets, pids, status, generated configs.
    pub state: PathBuf,
    /// `$XDG_DATA_HOME/usernetes`: images, containers, etcd data, logs.
    pub data: PathBuf,
    /// `$XDG_CONFIG_HOME/usernetes`: user config and TLS material.
    pub config: PathBuf,
}

/// Why a runtime dir with this owner and mode is not the user's own (pure; None = fine):
/// another owner, or writable by others (`/tmp`, a shared folder), where another user could
/// plant or replace the session's sockets. (The XDG spec wants 0700; a readable 0755 one is
/// tolerated, the session's own folders inside it are 0700.)
pub fn runtime_dir_problem(uid: u32, owner: u32, mode: u32) -> Option<String> {
    if owner != uid {
        Some(format!("is owned by uid {owner}, not {uid}"))
    } else if mode & 0o022 != 0 {
        Some(format!(
            "has mode {:04o}: others can write to it (it should be 0700)",
            mode & 0o7777
        ))
    } else {
        None
    }
}

impl Paths {
    /// Derives the paths; `runtime_dir_exists` decides the `/run/user/UID` fallback.
    pub fn resolve(env: &Env, runtime_dir_ok: impl Fn(&Path) -> bool) -> Result<Paths> {
        let x = env.xdg();
        let no_home = || Error::Env {
            var: "HOME",
            hint: "set it to your home folder",
        };
        let home = x.home.clone().ok_or_else(no_home)?;
        let runtime_dir = match &x.xdg_runtime_dir {
            Some(d) => d.clone(),
            None => {
                let fallback = xdg::default_runtime_dir(env.uid);
                if runtime_dir_ok(&fallback) {
                    fallback
                } else {
                    return Err(Error::Env {
                        var: "XDG_RUNTIME_DIR",
                        hint: "log in through a session manager (systemd-logind), or `export XDG_RUNTIME_DIR=/run/user/$(id -u)` after root ran `loginctl enable-linger $USER`",
                    });
                }
            }
        };
        // With HOME set, both always resolve.
        let data = x.data_dir().ok_or_else(no_home)?;
        let config = x.config_dir().ok_or_else(no_home)?;
        Ok(Paths {
            state: xdg::state_dir_in(&runtime_dir),
            runtime_dir,
            data,
            config,
            home,
        })
    }

    /// Resolves from this process's environment. The runtime dir (sockets, the session's
    /// state) must be the user's own and private, as the XDG spec wants: a shared one (e.g.
    /// `XDG_RUNTIME_DIR=/tmp`) would expose docker.sock, which is the user's account.
    pub fn from_process() -> Result<Paths> {
        use std::os::unix::fs::MetadataExt;
        let env = Env::from_process();
        let uid = env.uid;
        let paths = Paths::resolve(&env, |p| {
            std::fs::metadata(p)
                .map(|m| m.is_dir() && runtime_dir_problem(uid, m.uid(), m.mode()).is_none())
                .unwrap_or(false)
        })?;
        if let Ok(m) = std::fs::metadata(&paths.runtime_dir)
            && let Some(p) = runtime_dir_problem(uid, m.uid(), m.mode())
        {
            return Err(Error::Usage(format!(
                "XDG_RUNTIME_DIR={} {p}; it holds the session's sockets: use your own private \
                 folder (/run/user/{uid} from a login session, or `mkdir -m 700` one)",
                paths.runtime_dir.display()
            )));
        }
        Ok(paths)
    }

    /// RootlessKit's state dir (`child_pid`, `api.sock`, `lock`).
    pub fn rootlesskit(&self) -> PathBuf {
        self.state.join("rootlesskit")
    }
    /// RootlessKit's REST API socket.
    pub fn api_sock(&self) -> PathBuf {
        self.rootlesskit().join("api.sock")
    }
    /// The host pid of RootlessKit's child (pid 1 of the session's pid namespace).
    pub fn child_pid_file(&self) -> PathBuf {
        self.rootlesskit().join("child_pid")
    }
    /// Held (flock) by the session's top process for its whole life.
    pub fn lock_file(&self) -> PathBuf {
        self.state.join("session.lock")
    }
    /// Written by the top process: pids and the session id.
    pub fn session_file(&self) -> PathBuf {
        self.state.join("session.json")
    }
    /// Written by the supervisor inside the namespaces: components and readiness.
    pub fn status_file(&self) -> PathBuf {
        self.state.join("status.json")
    }
    /// The Docker socket, where users of the original expect it.
    pub fn docker_sock(&self) -> PathBuf {
        self.runtime_dir.join("docker.sock")
    }
    /// `DOCKER_HOST` for the Docker socket.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.docker_sock().display())
    }
    /// dockerd's exec root (its own containerd lives below).
    pub fn docker_exec_root(&self) -> PathBuf {
        self.state.join("docker")
    }
    /// dockerd's pid file.
    pub fn docker_pid_file(&self) -> PathBuf {
        self.state.join("docker.pid")
    }
    /// containerd's state folder.
    pub fn containerd_state(&self) -> PathBuf {
        self.state.join("containerd")
    }
    /// containerd's socket (design.md §7).
    pub fn containerd_sock(&self) -> PathBuf {
        self.containerd_state().join("containerd.sock")
    }
    /// The generated containerd config.
    pub fn containerd_config(&self) -> PathBuf {
        self.state.join("containerd.toml")
    }
    /// CRI-O's runtime folder.
    pub fn crio_state(&self) -> PathBuf {
        self.state.join("crio")
    }
    /// CRI-O's socket (design.md §7).
    pub fn crio_sock(&self) -> PathBuf {
        self.crio_state().join("crio.sock")
    }
    /// Component logs.
    pub fn logs(&self) -> PathBuf {
        self.data.join("logs")
    }
    /// The log file of `component` (`session` is the top process, RootlessKit and supervisor).
    pub fn log(&self, component: &str) -> PathBuf {
        self.logs().join(format!("{component}.log"))
    }
    /// TLS material.
    pub fn pki(&self) -> PathBuf {
        self.config.join("pki")
    }
    /// A data sub-folder.
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.data.join(name)
    }
    /// The data folder bind-mounted over `target` inside the namespace (`/var/log` → `_var_log`).
    pub fn bind_source(&self, target: &str) -> PathBuf {
        self.data.join(target.replace('/', "_"))
    }
    /// Paths `u7s reset` removes (runtime state and data; config only when asked).
    pub fn reset_targets(&self, with_config: bool) -> Vec<PathBuf> {
        let mut v = vec![self.state.clone(), self.docker_sock()];
        v.extend(DATA_ENTRIES.iter().map(|e| self.data.join(e)));
        if with_config {
            v.push(self.config.clone());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env {
            home: Some("/home/a".into()),
            xdg_runtime_dir: Some("/run/user/1000".into()),
            xdg_data_home: None,
            xdg_config_home: Some("/cfg".into()),
            uid: 1000,
        }
    }

    #[test]
    fn contract_paths() {
        let p = Paths::resolve(&env(), |_| false).unwrap();
        assert_eq!(p.state, Path::new("/run/user/1000/usernetes"));
        assert_eq!(
            p.rootlesskit(),
            Path::new("/run/user/1000/usernetes/rootlesskit")
        );
        assert_eq!(p.docker_sock(), Path::new("/run/user/1000/docker.sock"));
        assert_eq!(p.docker_host(), "unix:///run/user/1000/docker.sock");
        assert_eq!(
            p.containerd_sock(),
            Path::new("/run/user/1000/usernetes/containerd/containerd.sock")
        );
        assert_eq!(
            p.crio_sock(),
            Path::new("/run/user/1000/usernetes/crio/crio.sock")
        );
        assert_eq!(p.data, Path::new("/home/a/.local/share/usernetes"));
        assert_eq!(p.config, Path::new("/cfg/usernetes"));
        assert_eq!(
            p.bind_source("/var/lib/cni"),
            Path::new("/home/a/.local/share/usernetes/_var_lib_cni")
        );
    }

    #[test]
    fn runtime_dir_fallback_and_errors() {
        let mut e = env();
        e.xdg_runtime_dir = None;
        let p = Paths::resolve(&e, |d| d == Path::new("/run/user/1000")).unwrap();
        assert_eq!(p.runtime_dir, Path::new("/run/user/1000"));
        let err = Paths::resolve(&e, |_| false).unwrap_err();
        assert!(err.to_string().contains("XDG_RUNTIME_DIR"), "{err}");
        e.home = None;
        assert!(
            Paths::resolve(&e, |_| true)
                .unwrap_err()
                .to_string()
                .contains("HOME")
        );
    }

    #[test]
    fn runtime_dir_must_be_private() {
        assert_eq!(runtime_dir_problem(1000, 1000, 0o40700), None);
        assert!(
            runtime_dir_problem(1000, 0, 0o40700)
                .unwrap()
                .contains("uid 0")
        );
        assert!(
            runtime_dir_problem(1000, 1000, 0o41777)
                .unwrap()
                .contains("1777")
        );
        assert!(runtime_dir_problem(1000, 1000, 0o40770).is_some());
        assert_eq!(runtime_dir_problem(1000, 1000, 0o40755), None);
    }

    #[test]
    fn reset_keeps_installed_versions_and_config() {
        let p = Paths::resolve(&env(), |_| false).unwrap();
        let t = p.reset_targets(false);
        assert!(t.contains(&p.state));
        assert!(t.contains(&p.data.join("docker")));
        assert!(
            !t.iter()
                .any(|x| x.ends_with("versions") || x.ends_with("current"))
        );
        assert!(!t.contains(&p.config));
        assert!(p.reset_targets(true).contains(&p.config));
        for b in BIND_DIRS {
            let name = b.replace('/', "_");
            assert!(DATA_ENTRIES.contains(&name.as_str()), "{name} not reset");
        }
    }
}
