//! File sources (`url` + `sha256`): downloaded into the content-addressed cache
//! (`dist/sha256/<hex>`).
//!
//! A download is written to `<hex>.partial`, hashed while streaming, and renamed into place only
//! when its sha256 matches the pin (otherwise it is deleted and the error names the URL and both
//! digests). An interrupted transfer is resumed with `Range` (guarded by `If-Range` with the
//! server's strong ETag or Last-Modified, kept in `<hex>.partial.validator`); failed attempts are
//! retried with exponential backoff. One HTTP attempt is the shared one of [`fetch`] (also the
//! installer's). HTTP(S) proxies come from the usual environment variables (`HTTPS_PROXY`,
//! `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`). TLS is rustls with the ring provider and the
//! platform's certificate store.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use fetch::{partial_of, validator_of};
use sha2::{Digest, Sha256};

use crate::cache::Cache;
use crate::error::{Error, IoContext, Result};
use crate::mirror::{Location, NetPolicy};
use crate::progress::Progress;

/// Attempts per location before giving up.
const ATTEMPTS: u32 = 5;
/// Attempts when no connection could be made at all.
const UNREACHABLE_ATTEMPTS: u32 = 3;
/// First backoff; doubled after every failed attempt.
const BACKOFF: Duration = Duration::from_millis(500);

/// A file pin of one recipe.
#[derive(Debug, Clone, Copy)]
pub struct FilePin<'a> {
    pub component: &'a str,
    pub url: &'a str,
    pub sha256: &'a str,
    pub file_name: &'a str,
}

/// Whether the file is in the cache. Never touches the network.
pub fn is_cached(cache: &Cache, pin: &FilePin) -> bool {
    cache.dist_file(pin.sha256).is_file()
}

/// Makes the file present in the cache; returns its path and whether anything was transferred.
pub fn ensure(
    cache: &Cache,
    pin: &FilePin,
    policy: &NetPolicy,
    progress: &Progress,
) -> Result<(PathBuf, bool)> {
    let dest = cache.dist_file(pin.sha256);
    let lock = cache.entry_lock(&dest);
    let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
    if dest.is_file() {
        return Ok((dest, false));
    }
    crate::cancel::check()?;
    let locations = match &policy.mirror {
        Some(m) => m.file_locations(pin.sha256, pin.file_name),
        None => vec![Location::Url(pin.url.to_string())],
    };
    let network = locations.iter().any(|l| matches!(l, Location::Url(_)));
    if policy.offline && network {
        return Err(Error::NotCached {
            component: pin.component.to_string(),
            what: pin.url.to_string(),
        });
    }
    let mut tried = Vec::new();
    for loc in &locations {
        let got = match loc {
            Location::File(p) => copy_local(p, &dest, pin)?,
            Location::Url(u) => download(u, &dest, pin, progress, policy.mirror.is_some())?,
        };
        if got {
            return Ok((dest, true));
        }
        tried.push(match loc {
            Location::File(p) => p.display().to_string(),
            Location::Url(u) => u.clone(),
        });
    }
    Err(Error::Download {
        url: pin.url.to_string(),
        msg: format!(
            "not found in the mirror (looked for {})",
            tried.join(" and ")
        ),
    })
}

/// Checks the digest of a finished `.partial` and renames it to `dest`, or deletes it.
fn finish(
    partial: &Path,
    dest: &Path,
    actual: String,
    pin: &FilePin,
    shown_url: &str,
) -> Result<()> {
    let _ = fs::remove_file(validator_of(partial));
    if actual != pin.sha256 {
        let _ = fs::remove_file(partial);
        return Err(Error::Sha256Mismatch {
            url: shown_url.to_string(),
            expected: pin.sha256.to_string(),
            actual,
        });
    }
    fs::rename(partial, dest).at(dest)?;
    Ok(())
}

/// Copies a file from a folder mirror, hashing it. `Ok(false)` when it is not there.
fn copy_local(src: &Path, dest: &Path, pin: &FilePin) -> Result<bool> {
    let mut input = match fs::File::open(src) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(src, e)),
    };
    let partial = partial_of(dest);
    let mut out = fs::File::create(&partial).at(&partial)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        crate::cancel::check().inspect_err(|_| {
            let _ = fs::remove_file(&partial);
        })?;
        let n = input.read(&mut buf).at(src)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        out.write_all(&buf[..n]).at(&partial)?;
    }
    out.sync_all().at(&partial)?;
    finish(
        &partial,
        dest,
        hex::encode(h.finalize()),
        pin,
        &src.display().to_string(),
    )?;
    Ok(true)
}

fn client() -> std::result::Result<&'static reqwest::blocking::Client, String> {
    static CLIENT: OnceLock<std::result::Result<reqwest::blocking::Client, String>> =
        OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::blocking::Client::builder()
                .user_agent(concat!("u7s-build/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(30))
                .timeout(Duration::from_secs(60))
                .build()
                .map_err(|e| format!("cannot set up the HTTP client: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// How one attempt ended.
enum Attempt {
    Done(String),
    /// Worth another try (network hiccup, 5xx, cut body); the message says why.
    Retry(String, bool),
    NotFound,
}

/// Downloads `url` into `dest` (via `.partial`). `Ok(false)` on 404 from a mirror.
fn download(
    url: &str,
    dest: &Path,
    pin: &FilePin,
    progress: &Progress,
    mirror: bool,
) -> Result<bool> {
    let client = client().map_err(|m| Error::Download {
        url: url.to_string(),
        msg: m,
    })?;
    let partial = partial_of(dest);
    let mut last = String::new();
    let mut ever_connected = false;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            let wait = BACKOFF * 2u32.pow(attempt - 1);
            progress.log(
                pin.component,
                &format!(
                    "download {url}: {last}; retrying in {:.1}s",
                    wait.as_secs_f32()
                ),
            );
            sleep_cancellable(wait)?;
        }
        match attempt_once(client, url, &partial, pin, progress)? {
            Attempt::Done(actual) => {
                finish(&partial, dest, actual, pin, url)?;
                return Ok(true);
            }
            Attempt::NotFound if mirror => return Ok(false),
            Attempt::NotFound => {
                return Err(Error::Download {
                    url: url.to_string(),
                    msg: "404 Not Found (check url in the recipe)".to_string(),
                });
            }
            Attempt::Retry(msg, connected) => {
                ever_connected |= connected;
                last = msg;
                // A server that cannot be reached at all gets fewer tries than a flaky one.
                if !ever_connected && attempt + 1 >= UNREACHABLE_ATTEMPTS {
                    break;
                }
            }
        }
    }
    if ever_connected {
        Err(Error::Download {
            url: url.to_string(),
            msg: format!(
                "gave up after {ATTEMPTS} attempts: {last} (the partial download is kept and resumed next time)"
            ),
        })
    } else {
        Err(Error::Network {
            url: url.to_string(),
            msg: last,
        })
    }
}

fn sleep_cancellable(d: Duration) -> Result<()> {
    let step = Duration::from_millis(50);
    let mut left = d;
    while !left.is_zero() {
        crate::cancel::check()?;
        let s = left.min(step);
        std::thread::sleep(s);
        left -= s;
    }
    Ok(())
}

/// The builder's view of a transfer: a progress bar, and the process-wide cancellation.
struct BarWatch<'a> {
    progress: &'a Progress,
    component: &'a str,
    url: &'a str,
    bar: Option<crate::progress::Bytes>,
}

impl fetch::Watch for BarWatch<'_> {
    fn start(&mut self, total: Option<u64>, start: u64) {
        self.bar = Some(self.progress.bytes(self.component, self.url, total, start));
    }
    fn advance(&mut self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }
    fn cancelled(&self) -> bool {
        crate::cancel::requested()
    }
}

/// One attempt through the shared resumable download ([`fetch::attempt`]).
fn attempt_once(
    client: &reqwest::blocking::Client,
    url: &str,
    partial: &Path,
    pin: &FilePin,
    progress: &Progress,
) -> Result<Attempt> {
    let mut watch = BarWatch {
        progress,
        component: pin.component,
        url,
        bar: None,
    };
    let io = |e: fetch::Error| Error::io(e.path, e.source);
    Ok(
        match fetch::attempt(client, url, partial, &mut watch).map_err(io)? {
            fetch::Attempt::Done { sha256, .. } => Attempt::Done(sha256),
            fetch::Attempt::Retry {
                reason, connected, ..
            } => Attempt::Retry(reason, connected),
            fetch::Attempt::NotFound(_) => Attempt::NotFound,
            fetch::Attempt::Refused(s) => {
                return Err(Error::Download {
                    url: url.to_string(),
                    msg: format!("HTTP {s}"),
                });
            }
            fetch::Attempt::Cancelled => return Err(Error::Cancelled),
        },
    )
}
