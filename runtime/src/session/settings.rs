//! What a user chose once and later starts keep (`$XDG_CONFIG_HOME/usernetes/settings.json`):
//! the apiserver's port, so that users sharing a host each keep their own. `u7s up
//! --apiserver-port N` records it when a session with it starts; `u7s up` without the flag,
//! `u7s certs bundle` and the kubeconfigs then use it. The resolution (flag, else remembered,
//! else the default) is pure; reading and writing the file are the effects.

use crate::error::{Error, Result};
use crate::session::config::DEFAULT_APISERVER_PORT;
use crate::session::paths::Paths;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The remembered settings; a missing field is "never chosen".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apiserver_port: Option<u16>,
}

impl Settings {
    /// The apiserver port a start uses: the flag's, else the remembered one, else 6443.
    pub fn apiserver_port(&self, flag: Option<u16>) -> u16 {
        flag.or(self.apiserver_port)
            .unwrap_or(DEFAULT_APISERVER_PORT)
    }

    /// The settings to record after a start with `port`; `None` when nothing changes (the
    /// default port is recorded only over another remembered one, so that a user who never
    /// chose a port gets no file).
    pub fn after_start(&self, port: u16) -> Option<Settings> {
        let keep = self.apiserver_port.unwrap_or(DEFAULT_APISERVER_PORT);
        (keep != port).then_some(Settings {
            apiserver_port: Some(port),
        })
    }
}

/// `settings.json` in the user's configuration folder.
pub fn file(paths: &Paths) -> PathBuf {
    paths.config.join("settings.json")
}

/// The remembered settings (none when the file does not exist); a damaged file is an error
/// naming it and the fix.
pub fn load(path: &Path) -> Result<Settings> {
    match crate::session::status::read_json(path) {
        Ok(s) => Ok(s.unwrap_or_default()),
        Err(Error::Json { path, source }) => Err(Error::Usage(format!(
            "{} is damaged ({source}): fix it or remove it (then give --apiserver-port again \
             if you chose one)",
            path.display()
        ))),
        Err(e) => Err(e),
    }
}

/// Records `port` when it differs from what is remembered.
pub fn remember_apiserver_port(path: &Path, port: u16) -> Result<()> {
    if let Some(new) = load(path)?.after_start(port) {
        if let Some(dir) = path.parent() {
            crate::host::fsutil::ensure_dir(dir, 0o700)?;
        }
        crate::session::status::write_json(path, &new)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_the_remembered_port_then_the_default() {
        let none = Settings::default();
        assert_eq!(none.apiserver_port(None), 6443);
        assert_eq!(none.apiserver_port(Some(16443)), 16443);
        let chosen = Settings {
            apiserver_port: Some(16443),
        };
        assert_eq!(chosen.apiserver_port(None), 16443);
        assert_eq!(chosen.apiserver_port(Some(7443)), 7443);
    }

    #[test]
    fn only_a_change_is_recorded() {
        let none = Settings::default();
        assert_eq!(none.after_start(6443), None);
        assert_eq!(
            none.after_start(16443),
            Some(Settings {
                apiserver_port: Some(16443)
            })
        );
        let chosen = Settings {
            apiserver_port: Some(16443),
        };
        assert_eq!(chosen.after_start(16443), None);
        assert_eq!(
            chosen.after_start(6443),
            Some(Settings {
                apiserver_port: Some(6443)
            })
        );
    }

    #[test]
    fn the_file_round_trips_and_a_damaged_one_is_named() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("usernetes/settings.json");
        assert_eq!(load(&p).unwrap(), Settings::default());
        remember_apiserver_port(&p, 6443).unwrap();
        assert!(
            !p.exists(),
            "the default is not written for a user who never chose"
        );
        remember_apiserver_port(&p, 16443).unwrap();
        assert_eq!(load(&p).unwrap().apiserver_port, Some(16443));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::write(&p, "{").unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("settings.json is damaged"), "{e}");
    }
}
