//! Network policy (`--offline`, `--mirror`) and the mirror layout.
//!
//! A mirror is a local folder (`--mirror DIR`) or a base URL (`--mirror https://host/base`)
//! that replaces the upstream locations of every source; pins are still checked (a git mirror
//! must hold the pinned commit and tag, a file must have the pinned sha256). Layout:
//!
//! ```text
//! <mirror>/git/<host>/<path>.git   a bare repository per upstream git URL, e.g.
//!                                  https://github.com/containerd/containerd(.git) ->
//!                                  <mirror>/git/github.com/containerd/containerd.git
//! <mirror>/sha256/<hex>            a source file by its sha256 (tried first), or
//! <mirror>/dist/<file name>        a source file by the last segment of its upstream URL
//! <mirror>/go/                     Go modules in GOPROXY layout (GOPROXY=file://<mirror>/go or
//!                                  <URL>/go; see crate::gomod), e.g. a copy of a warm cache's
//!                                  gomod/cache/download/
//! ```
//! A folder mirror can be filled with `git clone --mirror URL DIR/git/<host>/<path>.git` and by
//! copying files (e.g. from a warm cache's `dist/sha256/`). `--offline` never opens a network
//! connection: it allows a folder mirror, not a URL one.

use std::path::PathBuf;

/// Where sources come from in this run.
#[derive(Debug, Clone, Default)]
pub struct NetPolicy {
    /// Never touch the network.
    pub offline: bool,
    /// Serve every source from here instead of upstream.
    pub mirror: Option<Mirror>,
}

/// A `--mirror` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mirror {
    Dir(PathBuf),
    Url(String),
}

/// One place a mirrored file may be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    Url(String),
}

impl Mirror {
    /// `http://`, `https://` (any `scheme://`) is a URL mirror; anything else a folder.
    pub fn parse(s: &str) -> Mirror {
        if s.contains("://") {
            Mirror::Url(s.trim_end_matches('/').to_string())
        } else {
            Mirror::Dir(PathBuf::from(s))
        }
    }

    /// The mirror location of an upstream git URL, as a string libgit2 can fetch from.
    pub fn git_location(&self, upstream: &str) -> Option<String> {
        let rel = git_mirror_path(upstream)?;
        Some(match self {
            Mirror::Dir(d) => d.join("git").join(&rel).to_string_lossy().into_owned(),
            Mirror::Url(u) => format!("{u}/git/{rel}"),
        })
    }

    /// Where to look for a file, in order: by sha256, then by file name.
    pub fn file_locations(&self, sha256: &str, file_name: &str) -> Vec<Location> {
        match self {
            Mirror::Dir(d) => vec![
                Location::File(d.join("sha256").join(sha256)),
                Location::File(d.join("dist").join(file_name)),
            ],
            Mirror::Url(u) => vec![
                Location::Url(format!("{u}/sha256/{sha256}")),
                Location::Url(format!("{u}/dist/{file_name}")),
            ],
        }
    }

    /// A folder mirror needs no network.
    pub fn is_local(&self) -> bool {
        matches!(self, Mirror::Dir(_))
    }
}

impl std::fmt::Display for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mirror::Dir(d) => write!(f, "{}", d.display()),
            Mirror::Url(u) => f.write_str(u),
        }
    }
}

/// `<host>/<path>.git` for an upstream git URL: `scheme://[user@]host[:port]/path[.git]` or
/// scp-like `user@host:path`. The port and user are dropped.
pub fn git_mirror_path(url: &str) -> Option<String> {
    let (host, path) = if let Some((_, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.rsplit('@').next().unwrap_or(authority);
        let host = host.split(':').next().unwrap_or(host);
        (if host.is_empty() { "localhost" } else { host }, path)
    } else if let Some((authority, path)) = url.split_once(':') {
        if authority.contains('/') {
            return None;
        }
        (authority.rsplit('@').next().unwrap_or(authority), path)
    } else {
        return None;
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    if path.is_empty()
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return None;
    }
    Some(format!("{host}/{path}.git"))
}

/// Whether a git URL is served over the network (as opposed to a local path or `file://`).
pub fn is_network_url(url: &str) -> bool {
    if let Some((scheme, _)) = url.split_once("://") {
        scheme != "file"
    } else {
        // scp-like `user@host:path`; a plain path has no ':' before its first '/'.
        url.split_once(':').is_some_and(|(a, _)| !a.contains('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_paths() {
        for (u, want) in [
            (
                "https://github.com/containerd/containerd.git",
                "github.com/containerd/containerd.git",
            ),
            (
                "https://github.com/containerd/containerd",
                "github.com/containerd/containerd.git",
            ),
            ("https://user@example.org:8443/a/b/", "example.org/a/b.git"),
            ("git://repo.or.cz/socat.git", "repo.or.cz/socat.git"),
            ("git@github.com:moby/moby.git", "github.com/moby/moby.git"),
            ("file:///srv/repos/x", "localhost/srv/repos/x.git"),
        ] {
            assert_eq!(git_mirror_path(u).as_deref(), Some(want), "{u}");
        }
        assert_eq!(git_mirror_path("/plain/path"), None);
        assert_eq!(git_mirror_path("https://h/../x"), None);
    }

    #[test]
    fn locations() {
        let d = Mirror::parse("/m");
        assert_eq!(
            d.git_location("https://github.com/opencontainers/runc")
                .unwrap(),
            "/m/git/github.com/opencontainers/runc.git"
        );
        assert_eq!(
            d.file_locations("ab", "x.tgz"),
            vec![
                Location::File("/m/sha256/ab".into()),
                Location::File("/m/dist/x.tgz".into())
            ]
        );
        let u = Mirror::parse("https://mirror.example/base/");
        assert_eq!(
            u.git_location("https://github.com/opencontainers/runc.git")
                .unwrap(),
            "https://mirror.example/base/git/github.com/opencontainers/runc.git"
        );
        assert_eq!(
            u.file_locations("ab", "x.tgz")[1],
            Location::Url("https://mirror.example/base/dist/x.tgz".into())
        );
        assert!(d.is_local() && !u.is_local());
    }

    #[test]
    fn network_urls() {
        assert!(is_network_url("https://github.com/x/y"));
        assert!(is_network_url("git@github.com:x/y"));
        assert!(!is_network_url("file:///tmp/x"));
        assert!(!is_network_url("/tmp/x"));
        assert!(!is_network_url("./rel/x"));
    }
}
