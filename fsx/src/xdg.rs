//! Where the usernetes tools keep their files: the XDG base folders and the `usernetes` folder
//! in each (design.md §7):
//!
//! ```text
//! $XDG_DATA_HOME/usernetes     (~/.local/share/usernetes)  installed releases, session data
//! $XDG_CONFIG_HOME/usernetes   (~/.config/usernetes)       user config, TLS material
//! $XDG_CACHE_HOME/usernetes    (~/.cache/usernetes)        the builder's cache
//! $XDG_RUNTIME_DIR/usernetes   (no default here)           session state, sockets
//! ```
//!
//! Values are read through a lookup function, so the rules are tested without touching the
//! process environment. As the XDG Base Directory spec says, an empty or relative value is
//! ignored (as if unset). What to do without HOME or XDG_RUNTIME_DIR is the caller's choice
//! (an error, the passwd entry, `/run/user/UID` when it is fine): the functions return `None`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The folder name of usernetes inside each XDG base folder.
pub const APP_DIR: &str = "usernetes";

/// An environment value as a path, when it is set, non-empty and absolute (the XDG rule; also
/// applied to HOME and ZDOTDIR).
pub fn absolute(value: Option<OsString>) -> Option<PathBuf> {
    value
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

/// The usual runtime folder of user `uid` (`/run/user/UID`, made by systemd-logind).
pub fn default_runtime_dir(uid: u32) -> PathBuf {
    PathBuf::from(format!("/run/user/{uid}"))
}

/// The values the XDG folders derive from, each already checked with [`absolute`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Xdg {
    pub home: Option<PathBuf>,
    pub xdg_data_home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub xdg_cache_home: Option<PathBuf>,
    pub xdg_runtime_dir: Option<PathBuf>,
}

impl Xdg {
    /// Reads HOME and the XDG variables through `get` (a variable name to its value).
    pub fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Xdg {
        Xdg {
            home: absolute(get("HOME")),
            xdg_data_home: absolute(get("XDG_DATA_HOME")),
            xdg_config_home: absolute(get("XDG_CONFIG_HOME")),
            xdg_cache_home: absolute(get("XDG_CACHE_HOME")),
            xdg_runtime_dir: absolute(get("XDG_RUNTIME_DIR")),
        }
    }

    /// Reads this process's environment.
    pub fn from_process() -> Xdg {
        Xdg::from_lookup(|k| std::env::var_os(k))
    }

    fn or_home(&self, set: &Option<PathBuf>, under_home: &str) -> Option<PathBuf> {
        set.clone()
            .or_else(|| self.home.as_deref().map(|h| h.join(under_home)))
    }

    /// `$XDG_DATA_HOME`, else `~/.local/share`.
    pub fn data_home(&self) -> Option<PathBuf> {
        self.or_home(&self.xdg_data_home, ".local/share")
    }

    /// `$XDG_CONFIG_HOME`, else `~/.config`.
    pub fn config_home(&self) -> Option<PathBuf> {
        self.or_home(&self.xdg_config_home, ".config")
    }

    /// `$XDG_CACHE_HOME`, else `~/.cache`.
    pub fn cache_home(&self) -> Option<PathBuf> {
        self.or_home(&self.xdg_cache_home, ".cache")
    }

    /// The data folder: `<data home>/usernetes`.
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.data_home().map(app)
    }

    /// The config folder: `<config home>/usernetes`.
    pub fn config_dir(&self) -> Option<PathBuf> {
        self.config_home().map(app)
    }

    /// The cache folder: `<cache home>/usernetes`.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        self.cache_home().map(app)
    }

    /// The session state folder `$XDG_RUNTIME_DIR/usernetes`, when XDG_RUNTIME_DIR is set.
    pub fn state_dir(&self) -> Option<PathBuf> {
        self.xdg_runtime_dir.as_deref().map(state_dir_in)
    }
}

/// `base/usernetes`.
fn app(base: PathBuf) -> PathBuf {
    base.join(APP_DIR)
}

/// The session state folder inside a runtime folder: `runtime_dir/usernetes`.
pub fn state_dir_in(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join(APP_DIR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn xdg(vars: &[(&str, &str)]) -> Xdg {
        let m: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Xdg::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_under_home() {
        let x = xdg(&[("HOME", "/home/a")]);
        assert_eq!(
            x.data_dir().unwrap(),
            Path::new("/home/a/.local/share/usernetes")
        );
        assert_eq!(
            x.config_dir().unwrap(),
            Path::new("/home/a/.config/usernetes")
        );
        assert_eq!(
            x.cache_dir().unwrap(),
            Path::new("/home/a/.cache/usernetes")
        );
        assert_eq!(x.state_dir(), None);
    }

    #[test]
    fn set_values_win() {
        let x = xdg(&[
            ("HOME", "/home/a"),
            ("XDG_DATA_HOME", "/data/"),
            ("XDG_CONFIG_HOME", "/cfg"),
            ("XDG_CACHE_HOME", "/cache"),
            ("XDG_RUNTIME_DIR", "/run/user/1000"),
        ]);
        assert_eq!(x.data_dir().unwrap(), Path::new("/data/usernetes"));
        assert_eq!(x.config_home().unwrap(), Path::new("/cfg"));
        assert_eq!(x.cache_dir().unwrap(), Path::new("/cache/usernetes"));
        assert_eq!(
            x.state_dir().unwrap(),
            Path::new("/run/user/1000/usernetes")
        );
    }

    #[test]
    fn empty_and_relative_values_are_ignored() {
        let x = xdg(&[
            ("HOME", "/home/a"),
            ("XDG_DATA_HOME", ""),
            ("XDG_CONFIG_HOME", "rel/cfg"),
            ("XDG_CACHE_HOME", "./c"),
            ("XDG_RUNTIME_DIR", "run"),
        ]);
        assert_eq!(
            x.data_dir().unwrap(),
            Path::new("/home/a/.local/share/usernetes")
        );
        assert_eq!(
            x.config_dir().unwrap(),
            Path::new("/home/a/.config/usernetes")
        );
        assert_eq!(
            x.cache_dir().unwrap(),
            Path::new("/home/a/.cache/usernetes")
        );
        assert_eq!(x.xdg_runtime_dir, None);
        let x = xdg(&[("HOME", "relative")]);
        assert_eq!(x, Xdg::default());
        assert_eq!(x.data_dir(), None);
    }

    #[test]
    fn runtime_dir_default() {
        assert_eq!(default_runtime_dir(1000), Path::new("/run/user/1000"));
        assert_eq!(
            state_dir_in(Path::new("/run/user/7")),
            Path::new("/run/user/7/usernetes")
        );
    }
}
