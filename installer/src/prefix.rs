//! Where things live: the install prefix and its fixed layout (`versions/`, `current`, staging
//! and trash folders, the lock, the download cache, the env file, the install record), and the
//! user's XDG folders (config, data, runtime) derived from the environment by the rules of
//! [`fsx::xdg`] (fallbacks under HOME, empty and relative values ignored).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use fsx::xdg::Xdg;

use crate::error::{Error, Result};

/// Name of the folder that holds one sub-folder per installed release.
pub const VERSIONS: &str = "versions";
/// Name of the symlink to the active release.
pub const CURRENT: &str = "current";
/// Prefix of the per-run staging folders (`PREFIX/.staging-XXXXXX`).
pub const STAGING_PREFIX: &str = ".staging-";
/// Prefix of folders being deleted (`PREFIX/.trash-XXXXXX`).
pub const TRASH_PREFIX: &str = ".trash-";
/// Prefix of the temporary symlink renamed over `current`.
pub const CURRENT_TMP_PREFIX: &str = "current.tmp-";
/// Prefix of temporary files written then renamed into place (those of [`fsx::AtomicFile`]).
pub const TMP_FILE_PREFIX: &str = fsx::atomic::TEMP_PREFIX;

/// The environment values the installer derives its paths from (injectable for tests).
#[derive(Clone, Debug, Default)]
pub struct Env {
    pub home: Option<PathBuf>,
    pub xdg_data_home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub xdg_runtime_dir: Option<PathBuf>,
    pub zdotdir: Option<PathBuf>,
    pub shell: Option<OsString>,
}

impl Env {
    /// Reads HOME, XDG_DATA_HOME, XDG_CONFIG_HOME, XDG_RUNTIME_DIR, ZDOTDIR and SHELL.
    pub fn from_process() -> Env {
        let x = Xdg::from_process();
        Env {
            home: x.home,
            xdg_data_home: x.xdg_data_home,
            xdg_config_home: x.xdg_config_home,
            xdg_runtime_dir: x.xdg_runtime_dir,
            zdotdir: fsx::xdg::absolute(std::env::var_os("ZDOTDIR")),
            shell: std::env::var_os("SHELL"),
        }
    }

    /// The XDG values as [`fsx::xdg::Xdg`], which derives the folders.
    fn xdg(&self) -> Xdg {
        Xdg {
            home: self.home.clone(),
            xdg_data_home: self.xdg_data_home.clone(),
            xdg_config_home: self.xdg_config_home.clone(),
            xdg_cache_home: None,
            xdg_runtime_dir: self.xdg_runtime_dir.clone(),
        }
    }

    /// `$HOME`, required for every default path.
    pub fn home(&self) -> Result<&Path> {
        self.home.as_deref().ok_or(Error::NoHome)
    }

    /// `$XDG_DATA_HOME`, else `~/.local/share`.
    pub fn data_home(&self) -> Result<PathBuf> {
        self.xdg().data_home().ok_or(Error::NoHome)
    }

    /// `$XDG_CONFIG_HOME`, else `~/.config`.
    pub fn config_home(&self) -> Result<PathBuf> {
        self.xdg().config_home().ok_or(Error::NoHome)
    }

    /// The default install prefix: `$XDG_DATA_HOME/usernetes`.
    pub fn default_prefix(&self) -> Result<PathBuf> {
        self.xdg().data_dir().ok_or(Error::NoHome)
    }

    /// The data folder of the runtime (`$XDG_DATA_HOME/usernetes`), which `--purge` removes.
    pub fn data_dir(&self) -> Result<PathBuf> {
        self.default_prefix()
    }

    /// User configuration: `$XDG_CONFIG_HOME/usernetes`.
    pub fn config_dir(&self) -> Result<PathBuf> {
        self.xdg().config_dir().ok_or(Error::NoHome)
    }

    /// The runtime's session state folder `$XDG_RUNTIME_DIR/usernetes`, when XDG_RUNTIME_DIR is set.
    pub fn session_dir(&self) -> Option<PathBuf> {
        self.xdg().state_dir()
    }

    /// Where systemd looks for the user's own units: `$XDG_CONFIG_HOME/systemd/user`.
    pub fn systemd_user_dir(&self) -> Result<PathBuf> {
        Ok(self.config_home()?.join("systemd/user"))
    }
}

/// The install prefix and the paths inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prefix {
    root: PathBuf,
}

impl Prefix {
    /// Resolves `--prefix` (made absolute against the working directory) or the default one,
    /// refusing `/` and the home folder itself.
    pub fn resolve(given: Option<&Path>, env: &Env) -> Result<Prefix> {
        let root = match given {
            Some(p) if p.is_absolute() => p.to_path_buf(),
            Some(p) => std::env::current_dir()
                .map_err(|e| Error::io("read the working directory for", p, e))?
                .join(p),
            None => env.default_prefix()?,
        };
        let root = normalize(&root);
        let forbidden =
            root.parent().is_none() || env.home.as_deref().map(normalize) == Some(root.clone());
        if forbidden {
            return Err(Error::BadPrefix(root));
        }
        Ok(Prefix { root })
    }

    /// A prefix at exactly `root` (already absolute).
    pub fn at(root: impl Into<PathBuf>) -> Prefix {
        Prefix { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn versions(&self) -> PathBuf {
        self.root.join(VERSIONS)
    }
    pub fn version(&self, version: &str) -> PathBuf {
        self.versions().join(version)
    }
    pub fn current(&self) -> PathBuf {
        self.root.join(CURRENT)
    }
    /// `PREFIX/current/bin`, the folder put on PATH.
    pub fn current_bin(&self) -> PathBuf {
        self.current().join("bin")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.root.join(".lock")
    }
    pub fn downloads(&self) -> PathBuf {
        self.root.join(".downloads")
    }
    /// The POSIX shell file that puts `current/bin` on PATH.
    pub fn env_file(&self) -> PathBuf {
        self.root.join("env")
    }
    /// The JSON record of what the installer did (history, rc lines, units, completions).
    pub fn record_file(&self) -> PathBuf {
        self.root.join("install-record.json")
    }
    /// The symlink target of `current` for `version`: relative, so the prefix can move.
    pub fn current_target(version: &str) -> PathBuf {
        Path::new(VERSIONS).join(version)
    }
}

/// Removes `.` components and folds `..` lexically (no symlink resolution).
pub fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Checks that a release version is one plain, printable folder name.
pub fn check_version_name(v: &str) -> Result<()> {
    let ok = !v.is_empty()
        && v.len() <= 128
        && v != "."
        && v != ".."
        && !v.starts_with('.')
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '~'));
    if ok {
        Ok(())
    } else {
        Err(Error::BadVersion(v.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(home: &str) -> Env {
        Env {
            home: Some(home.into()),
            ..Env::default()
        }
    }

    #[test]
    fn default_prefix_follows_xdg() {
        let e = env("/home/a");
        assert_eq!(
            Prefix::resolve(None, &e).unwrap().root(),
            Path::new("/home/a/.local/share/usernetes")
        );
        let e = Env {
            xdg_data_home: Some("/data".into()),
            xdg_config_home: Some("/cfg".into()),
            ..env("/home/a")
        };
        assert_eq!(
            Prefix::resolve(None, &e).unwrap().root(),
            Path::new("/data/usernetes")
        );
        assert_eq!(e.config_dir().unwrap(), Path::new("/cfg/usernetes"));
        assert_eq!(
            e.systemd_user_dir().unwrap(),
            Path::new("/cfg/systemd/user")
        );
    }

    #[test]
    fn refuses_root_and_home() {
        let e = env("/home/a");
        assert!(Prefix::resolve(Some(Path::new("/")), &e).is_err());
        assert!(Prefix::resolve(Some(Path::new("/home/a/")), &e).is_err());
        assert!(Prefix::resolve(Some(Path::new("/home/a/x/..")), &e).is_err());
        assert!(Prefix::resolve(Some(Path::new("/home/a/u7s")), &e).is_ok());
        assert!(Prefix::resolve(None, &Env::default()).is_err());
    }

    #[test]
    fn layout() {
        let p = Prefix::at("/p");
        assert_eq!(p.version("1.0"), Path::new("/p/versions/1.0"));
        assert_eq!(p.current_bin(), Path::new("/p/current/bin"));
        assert_eq!(Prefix::current_target("1.0"), Path::new("versions/1.0"));
    }

    #[test]
    fn version_names() {
        for ok in ["0.1.0", "20261129.0", "v1.2.3-rc.1+g123", "1_2"] {
            check_version_name(ok).unwrap();
        }
        for bad in ["", ".", "..", "../x", "a/b", ".hidden", "a b", "x\n", "ü"] {
            assert!(check_version_name(bad).is_err(), "{bad:?}");
        }
    }
}
