//! The cache folder (`--cache`, default `$XDG_CACHE_HOME/usernetes`) and its layout:
//!
//! ```text
//! git/<sha256(url)[..32]>.git   bare repository per git URL (pins under refs/u7s/pins/<rev>,
//!                               verified tags under refs/u7s/tags/<tag>)
//! dist/sha256/<hex>             downloaded files, content-addressed; <hex>.partial while downloading
//! build/<key>/                  a finished build: out/ (the script's $OUT), licenses/, build.log, done
//! gomod/                        GOMODCACHE of Go-module sources and their dependencies
//!                               (gomod/cache/download/ is a GOPROXY-layout folder)
//! src/<component>/              prepared (fetched + patched) trees left by `u7s-build patch`
//! tmp/                          work folders of the running build, removed when it ends
//! .lock                         held (flock) by the u7s-build using the cache
//! ```
//! Everything is written under a temporary name and renamed into place, so an interrupted run
//! never leaves a half entry under its final name.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fsx::xdg::Xdg;
use sha2::{Digest, Sha256};

use crate::error::{IoContext, Result};

/// An opened cache folder.
pub struct Cache {
    root: PathBuf,
    locks: Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>,
    _lock: Option<nix::fcntl::Flock<fs::File>>,
}

impl Cache {
    /// The default location: `$XDG_CACHE_HOME/usernetes`, else `~/.cache/usernetes`
    /// ([`fsx::xdg`]; an empty or relative XDG_CACHE_HOME is ignored, as the XDG spec says).
    pub fn default_root() -> PathBuf {
        Cache::default_root_in(&Xdg::from_process())
    }

    /// [`Cache::default_root`] for these values; without HOME, `./.cache/usernetes`.
    pub fn default_root_in(xdg: &Xdg) -> PathBuf {
        xdg.cache_dir()
            .unwrap_or_else(|| Path::new(".").join(".cache").join(fsx::xdg::APP_DIR))
    }

    /// Opens (creating) the cache for a run that writes to it, holding its lock; waits, saying
    /// so through `waiting`, while another u7s-build holds it.
    pub fn open(root: &Path, waiting: impl Fn(&Path)) -> Result<Cache> {
        for sub in ["git", "dist/sha256", "build", "src", "tmp"] {
            let d = root.join(sub);
            fs::create_dir_all(&d).at(&d)?;
        }
        let root = fs::canonicalize(root).at(root)?;
        let lock_path = root.join(".lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .at(&lock_path)?;
        use nix::fcntl::{Flock, FlockArg};
        let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((file, _)) => {
                waiting(&root);
                Flock::lock(file, FlockArg::LockExclusive)
                    .map_err(|(_, e)| crate::Error::io(&lock_path, e.into()))?
            }
        };
        // Work folders of a run that was killed hard are stale now that we hold the lock.
        let tmp = root.join("tmp");
        if let Ok(entries) = fs::read_dir(&tmp) {
            for e in entries.flatten() {
                let _ = crate::fsutil::remove_tree(&e.path());
            }
        }
        Ok(Cache {
            root,
            locks: Mutex::new(HashMap::new()),
            _lock: Some(lock),
        })
    }

    /// Opens the cache for reading only (`u7s-build list`): no lock, nothing created.
    pub fn open_read_only(root: &Path) -> Cache {
        Cache {
            root: root.to_path_buf(),
            locks: Mutex::new(HashMap::new()),
            _lock: None,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Bare repository for a git URL.
    pub fn git_dir(&self, url: &str) -> PathBuf {
        let h = hex::encode(Sha256::digest(url.as_bytes()));
        self.root.join("git").join(format!("{}.git", &h[..32]))
    }

    /// Content-addressed file for a sha256.
    pub fn dist_file(&self, sha256: &str) -> PathBuf {
        self.root.join("dist").join("sha256").join(sha256)
    }

    /// Finished-build folder for a cache key.
    pub fn build_dir(&self, key: &str) -> PathBuf {
        self.root.join("build").join(key)
    }

    /// The GOMODCACHE of Go-module sources.
    pub fn gomod_dir(&self) -> PathBuf {
        self.root.join("gomod")
    }

    /// Where `u7s-build patch` leaves a component's prepared tree.
    pub fn src_dir(&self, component: &str) -> PathBuf {
        self.root.join("src").join(component)
    }

    /// A fresh work folder under `tmp/`, removed when dropped.
    pub fn temp_dir(&self, prefix: &str) -> Result<tempfile::TempDir> {
        let tmp = self.root.join("tmp");
        fs::create_dir_all(&tmp).at(&tmp)?;
        tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&tmp)
            .at(&tmp)
    }

    /// An in-process lock for one cache entry (a git URL, a sha256), so parallel fetches of the
    /// same source do not race.
    pub fn entry_lock(&self, entry: &Path) -> Arc<Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(entry.to_path_buf()).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_lock() {
        let t = tempfile::tempdir().unwrap();
        let c = Cache::open(t.path(), |_| panic!("nobody holds it")).unwrap();
        let g = c.git_dir("https://github.com/containerd/containerd.git");
        assert!(g.starts_with(c.root().join("git")));
        assert!(g.to_str().unwrap().ends_with(".git"));
        assert_ne!(g, c.git_dir("https://github.com/opencontainers/runc.git"));
        assert_eq!(c.dist_file("ab"), c.root().join("dist/sha256/ab"));
        assert!(c.root().join("tmp").is_dir());
        let td = c.temp_dir("x-").unwrap();
        assert!(td.path().starts_with(c.root().join("tmp")));
    }

    #[test]
    fn default_root_follows_xdg() {
        let x = |home: Option<&str>, cache: Option<&str>| Xdg {
            home: home.map(PathBuf::from),
            xdg_cache_home: cache.map(PathBuf::from),
            ..Xdg::default()
        };
        assert_eq!(
            Cache::default_root_in(&x(Some("/home/a"), None)),
            Path::new("/home/a/.cache/usernetes")
        );
        assert_eq!(
            Cache::default_root_in(&x(Some("/home/a"), Some("/c"))),
            Path::new("/c/usernetes")
        );
        assert_eq!(
            Cache::default_root_in(&x(None, None)),
            Path::new("./.cache/usernetes")
        );
    }
}
