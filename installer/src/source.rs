//! Where the archive and its checksums come from: a local file or an https URL. Downloads go to
//! `PREFIX/.downloads/<name>.partial`, are hashed while streaming, resume with an HTTP `Range`
//! request (guarded by `If-Range`) after an interruption, and are renamed to `<name>` only once
//! complete (and, when a hash is expected, only when it matches). One HTTP attempt is the shared
//! one of [`fetch`] (also the builder's). Plain http is accepted for loopback hosts only.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::Url;
use reqwest::blocking::Client;
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::verify::{Expected, hex};

/// Where something is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Url(Url),
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    }
}

/// Refuses URLs that are not https (http only to loopback, for local mirrors and tests).
pub fn check_url(url: &Url) -> std::result::Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err("plain http is refused: use https".into()),
        s => Err(format!("unsupported URL scheme {s:?}")),
    }
}

impl Source {
    /// `https://…` (or `http://` to a loopback host) is a URL; anything else a path.
    pub fn parse(arg: &str) -> Result<Source> {
        if arg.contains("://") {
            let url = Url::parse(arg).map_err(|e| Error::BadUrl {
                url: arg.to_string(),
                reason: e.to_string(),
            })?;
            check_url(&url).map_err(|reason| Error::BadUrl {
                url: arg.to_string(),
                reason,
            })?;
            if url
                .path_segments()
                .and_then(|mut s| s.next_back())
                .is_none_or(str::is_empty)
            {
                return Err(Error::BadUrl {
                    url: arg.to_string(),
                    reason: "the URL must end with a file name".into(),
                });
            }
            Ok(Source::Url(url))
        } else {
            Ok(Source::File(PathBuf::from(arg)))
        }
    }

    /// The file name (last path segment).
    pub fn file_name(&self) -> String {
        match self {
            Source::File(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Source::Url(u) => u
                .path_segments()
                .and_then(|mut s| s.next_back())
                .unwrap_or_default()
                .to_string(),
        }
    }

    /// The `SHA256SUMS` that sits beside this source.
    pub fn sibling(&self, name: &str) -> Source {
        match self {
            Source::File(p) => Source::File(p.with_file_name(name)),
            Source::Url(u) => {
                let mut u = u.clone();
                u.set_query(None);
                u.set_fragment(None);
                Source::Url(u.join(name).expect("relative join of a plain name"))
            }
        }
    }

    /// For messages.
    pub fn display(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Url(u) => u.to_string(),
        }
    }
}

/// The HTTP client: rustls, redirects only to https (or loopback http), a user agent.
pub fn client() -> Result<Client> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= 10 {
            attempt.error("too many redirects")
        } else if let Err(reason) = check_url(attempt.url()) {
            let msg = format!("redirect to {}: {reason}", attempt.url());
            attempt.error(msg)
        } else {
            attempt.follow()
        }
    });
    // One TLS provider in the whole workspace (ring, as the builder and the runtime use).
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .user_agent(concat!("u7s-install/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .timeout(None)
        .redirect(policy)
        .build()
        .map_err(|e| Error::Download {
            url: String::new(),
            reason: e.to_string(),
        })
}

fn reqwest_reason(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// The HTTP client, built on first use (local installs never build one).
#[derive(Default)]
pub struct Net {
    client: Option<Client>,
}

impl Net {
    pub fn client(&mut self) -> Result<&Client> {
        if self.client.is_none() {
            self.client = Some(client()?);
        }
        Ok(self.client.as_ref().expect("just set"))
    }
}

/// Reads a small text file (a checksums file). `Ok(None)` when it does not exist (404 or no
/// such file); other failures are errors.
pub fn read_text(src: &Source, net: &mut Net) -> Result<Option<String>> {
    const LIMIT: u64 = 1 << 20;
    match src {
        Source::File(p) => match fs::read(p) {
            Ok(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", p, e)),
        },
        Source::Url(u) => {
            let fail = |e: reqwest::Error| Error::Download {
                url: u.to_string(),
                reason: reqwest_reason(&e),
            };
            let resp = net.client()?.get(u.clone()).send().map_err(fail)?;
            match resp.status() {
                StatusCode::NOT_FOUND | StatusCode::GONE => return Ok(None),
                s if !s.is_success() => {
                    return Err(Error::HttpStatus {
                        url: u.to_string(),
                        status: s.as_u16(),
                    });
                }
                _ => {}
            }
            let mut body = Vec::new();
            resp.take(LIMIT)
                .read_to_end(&mut body)
                .map_err(|e| Error::Download {
                    url: u.to_string(),
                    reason: e.to_string(),
                })?;
            Ok(Some(String::from_utf8_lossy(&body).into_owned()))
        }
    }
}

/// A finished download.
#[derive(Debug)]
pub struct Downloaded {
    pub path: PathBuf,
    pub sha256: String,
    /// Bytes that were already there from an interrupted run.
    pub resumed_from: u64,
}

fn hash_existing(path: &Path) -> Result<(Sha256, u64)> {
    let mut h = Sha256::new();
    let mut n = 0u64;
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((h, 0)),
        Err(e) => return Err(Error::io("open", path, e)),
    };
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let r = f.read(&mut buf).ctx("read", path)?;
        if r == 0 {
            return Ok((h, n));
        }
        h.update(&buf[..r]);
        n += r as u64;
    }
}

/// Downloads `url` into `dir`, resuming a `.partial` file, hashing as it goes, and checking the
/// hash against `expected` before renaming the file into place. `on_progress(done, total)`.
pub fn download(
    client: &Client,
    url: &Url,
    dir: &Path,
    expected: Option<&Expected>,
    on_progress: &dyn Fn(u64, Option<u64>),
) -> Result<Downloaded> {
    fs::create_dir_all(dir).ctx("create", dir)?;
    let name = Source::Url(url.clone()).file_name();
    let done_path = dir.join(&name);
    let partial = fetch::partial_of(&done_path);
    let us = url.to_string();

    // A complete copy from an earlier, interrupted install.
    if let Some(exp) = expected.filter(|_| done_path.is_file()) {
        let (h, _) = hash_existing(&done_path)?;
        if hex(&h.finalize()) == exp.sha256 {
            return Ok(Downloaded {
                path: done_path,
                sha256: exp.sha256.clone(),
                resumed_from: 0,
            });
        }
        fs::remove_file(&done_path).ctx("remove", &done_path)?;
    }

    for attempt in 0..2 {
        let mut watch = ProgressWatch {
            on_progress,
            have: 0,
            total: None,
        };
        let got = fetch::attempt(client, url.as_str(), &partial, &mut watch)
            .map_err(crate::fsutil::from_fsx)?;
        let (sha, resumed_from) = match got {
            fetch::Attempt::Done {
                sha256,
                resumed_from,
            } => (sha256, resumed_from),
            fetch::Attempt::Retry {
                status: Some(s), ..
            }
            | fetch::Attempt::NotFound(s)
            | fetch::Attempt::Refused(s) => {
                return Err(Error::HttpStatus {
                    url: us,
                    status: s.as_u16(),
                });
            }
            fetch::Attempt::Retry {
                connected: false,
                reason,
                ..
            } => {
                return Err(Error::Download { url: us, reason });
            }
            fetch::Attempt::Retry { reason, .. } => {
                // A resume the server got wrong removed the partial file: start over once.
                if attempt == 0 && !partial.exists() {
                    continue;
                }
                return Err(Error::Download {
                    url: us,
                    reason: format!("{reason} (run again to resume)"),
                });
            }
            fetch::Attempt::Cancelled => {
                return Err(Error::Download {
                    url: us,
                    reason: "cancelled".into(),
                });
            }
        };
        if let Some(exp) = expected.filter(|e| sha != e.sha256) {
            // A stale or damaged partial file: start over once, then report the mismatch.
            fs::remove_file(&partial).ctx("remove", &partial)?;
            if attempt == 0 && resumed_from > 0 {
                continue;
            }
            return Err(Error::ChecksumMismatch {
                file: us,
                expected: exp.sha256.clone(),
                actual: sha,
                sums: exp.from.clone(),
            });
        }
        fs::rename(&partial, &done_path).ctx("rename into place", &done_path)?;
        return Ok(Downloaded {
            path: done_path,
            sha256: sha,
            resumed_from,
        });
    }
    Err(Error::Download {
        url: us,
        reason: "the server sent the file wrong twice (run again)".into(),
    })
}

/// Reports the bytes done and the total to the installer's progress callback.
struct ProgressWatch<'a> {
    on_progress: &'a dyn Fn(u64, Option<u64>),
    have: u64,
    total: Option<u64>,
}

impl fetch::Watch for ProgressWatch<'_> {
    fn start(&mut self, total: Option<u64>, start: u64) {
        self.have = start;
        self.total = total;
    }
    fn advance(&mut self, n: u64) {
        self.have += n;
        (self.on_progress)(self.have, self.total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_siblings() {
        let s = Source::parse("dl/usernetes-x86_64.tbz").unwrap();
        assert_eq!(s.file_name(), "usernetes-x86_64.tbz");
        assert_eq!(
            s.sibling("SHA256SUMS"),
            Source::File("dl/SHA256SUMS".into())
        );
        let u = Source::parse("https://example.org/rel/v1/usernetes-x86_64.tbz?x=1").unwrap();
        assert_eq!(u.file_name(), "usernetes-x86_64.tbz");
        assert_eq!(
            u.sibling("SHA256SUMS").display(),
            "https://example.org/rel/v1/SHA256SUMS"
        );
        assert!(Source::parse("http://example.org/a.tbz").is_err());
        assert!(Source::parse("http://127.0.0.1:8080/a.tbz").is_ok());
        assert!(Source::parse("http://[::1]/a.tbz").is_ok());
        assert!(Source::parse("ftp://example.org/a.tbz").is_err());
        assert!(Source::parse("https://example.org/").is_err());
    }
}
