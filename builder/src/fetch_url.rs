//! File sources (`url` + `sha256`): downloaded into the content-addressed cache
//! (`dist/sha256/<hex>`).
//!
//! A download is written to `<hex>.partial`, hashed while streaming, and renamed into place only
//! when its sha256 matches the pin (otherwise it is deleted and the error names the URL and both
//! digests). An interrupted transfer is resumed with `Range` (guarded by `If-Range` with the
//! server's strong ETag or Last-Modified, kept in `<hex>.partial.validator`); failed attempts are
//! retried with exponential backoff. HTTP(S) proxies come from the usual environment variables
//! (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`). TLS is rustls with the ring provider
//! and the platform's certificate store.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, ETAG, IF_RANGE, LAST_MODIFIED, RANGE};
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

fn partial_of(dest: &Path) -> PathBuf {
    dest.with_file_name(format!(
        "{}.partial",
        dest.file_name().unwrap_or_default().to_string_lossy()
    ))
}

fn validator_of(partial: &Path) -> PathBuf {
    partial.with_file_name(format!(
        "{}.validator",
        partial.file_name().unwrap_or_default().to_string_lossy()
    ))
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

/// The innermost error text of a reqwest error (its Display hides the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}

fn attempt_once(
    client: &reqwest::blocking::Client,
    url: &str,
    partial: &Path,
    pin: &FilePin,
    progress: &Progress,
) -> Result<Attempt> {
    let have = fs::metadata(partial).map(|m| m.len()).unwrap_or(0);
    let validator_path = validator_of(partial);
    let validator = fs::read_to_string(&validator_path).ok();
    let mut req = client.get(url);
    if have > 0 {
        req = req.header(RANGE, format!("bytes={have}-"));
        if let Some(v) = validator.as_deref().filter(|v| !v.is_empty()) {
            req = req.header(IF_RANGE, v.trim());
        }
    }
    let mut resp = match req.send() {
        Ok(r) => r,
        Err(e) => return Ok(Attempt::Retry(error_chain(&e), false)),
    };
    let status = resp.status();
    let (mut file, mut hasher, start) = match status {
        StatusCode::OK => {
            let strong_etag = resp
                .headers()
                .get(ETAG)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.starts_with("W/"));
            let v = strong_etag
                .or_else(|| {
                    resp.headers()
                        .get(LAST_MODIFIED)
                        .and_then(|v| v.to_str().ok())
                })
                .unwrap_or("")
                .to_string();
            fs::write(&validator_path, v).at(&validator_path)?;
            let f = fs::File::create(partial).at(partial)?;
            (f, Sha256::new(), 0)
        }
        StatusCode::PARTIAL_CONTENT if have > 0 => {
            let start = resp
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_content_range_start);
            if start != Some(have) {
                let _ = fs::remove_file(partial);
                return Ok(Attempt::Retry(
                    "the server resumed at an unexpected offset; restarting".into(),
                    true,
                ));
            }
            // Hash what is already there, then append.
            let mut f = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(partial)
                .at(partial)?;
            let mut h = Sha256::new();
            std::io::copy(&mut (&mut f).take(have), &mut h).at(partial)?;
            f.seek(SeekFrom::Start(have)).at(partial)?;
            (f, h, have)
        }
        StatusCode::RANGE_NOT_SATISFIABLE => {
            let _ = fs::remove_file(partial);
            return Ok(Attempt::Retry(
                "the partial download is invalid; restarting".into(),
                true,
            ));
        }
        StatusCode::NOT_FOUND | StatusCode::GONE => return Ok(Attempt::NotFound),
        s if s.is_server_error()
            || s == StatusCode::REQUEST_TIMEOUT
            || s == StatusCode::TOO_MANY_REQUESTS =>
        {
            return Ok(Attempt::Retry(format!("HTTP {s}"), true));
        }
        s => {
            return Err(Error::Download {
                url: url.to_string(),
                msg: format!("HTTP {s}"),
            });
        }
    };
    let total = resp.content_length().map(|n| n + start);
    let bar = progress.bytes(pin.component, url, total, start);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        crate::cancel::check()?;
        let n = match resp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                file.sync_all().at(partial)?;
                return Ok(Attempt::Retry(
                    format!("transfer cut: {}", error_chain(&e)),
                    true,
                ));
            }
        };
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).at(partial)?;
        bar.inc(n as u64);
    }
    file.sync_all().at(partial)?;
    if let Some(t) = total {
        let len = file.metadata().at(partial)?.len();
        if len < t {
            return Ok(Attempt::Retry(
                format!("transfer cut at {len} of {t} bytes"),
                true,
            ));
        }
    }
    Ok(Attempt::Done(hex::encode(hasher.finalize())))
}

/// `bytes 100-199/200` -> 100.
fn parse_content_range_start(v: &str) -> Option<u64> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, _) = rest.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    start.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range() {
        assert_eq!(parse_content_range_start("bytes 100-199/200"), Some(100));
        assert_eq!(parse_content_range_start("bytes 0-0/*"), Some(0));
        assert_eq!(parse_content_range_start("items 1-2/3"), None);
    }

    #[test]
    fn partial_names() {
        let p = partial_of(Path::new("/c/dist/sha256/ab"));
        assert_eq!(p, Path::new("/c/dist/sha256/ab.partial"));
        assert_eq!(
            validator_of(&p),
            Path::new("/c/dist/sha256/ab.partial.validator")
        );
    }
}
