//! The one resumable download of the usernetes tools (the builder's file sources, the
//! installer's release archives): one HTTP attempt at a time into `<dest>.partial`, hashed
//! (sha256) while streaming. An interrupted transfer is resumed with `Range: bytes=N-`, guarded
//! by `If-Range` with the server's strong ETag or else its Last-Modified (kept beside the
//! partial file in `<dest>.partial.validator`), so a file that changed on the server is sent
//! whole instead of being spliced onto the old bytes. A `416` whose `Content-Range` says the
//! partial file already holds the whole body finishes it.
//!
//! What owns the rest stays with the callers: retries and backoff, whether the digest matches a
//! pin, the rename into place, and their error messages. The HTTP client is theirs too (user
//! agent, TLS roots, timeouts). Errors of the local files are [`fsx::Error`].

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use reqwest::blocking::Client;
use reqwest::header::{CONTENT_RANGE, ETAG, IF_RANGE, LAST_MODIFIED, RANGE};
use sha2::{Digest, Sha256};

pub use fsx::{Error, Result};

/// `<dest>.partial`: where the download of `dest` is written until it is complete.
pub fn partial_of(dest: &Path) -> PathBuf {
    dest.with_file_name(format!(
        "{}.partial",
        dest.file_name().unwrap_or_default().to_string_lossy()
    ))
}

/// `<partial>.validator`: the ETag or Last-Modified the partial file's bytes came with.
pub fn validator_of(partial: &Path) -> PathBuf {
    partial.with_file_name(format!(
        "{}.validator",
        partial.file_name().unwrap_or_default().to_string_lossy()
    ))
}

/// What a caller sees of a transfer; every method has a do-nothing default.
pub trait Watch {
    /// The body starts: its total size when known, and the bytes already there (resumed).
    fn start(&mut self, _total: Option<u64>, _start: u64) {}
    /// `n` more bytes were written.
    fn advance(&mut self, _n: u64) {}
    /// Polled between chunks: true stops the transfer ([`Attempt::Cancelled`]), keeping the
    /// partial file for a later resume.
    fn cancelled(&self) -> bool {
        false
    }
}

/// A [`Watch`] that sees nothing.
pub struct Quiet;
impl Watch for Quiet {}

/// How one attempt ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The partial file holds the whole body, with this sha256 (lowercase hex); `resumed_from`
    /// bytes were there before. The validator file is removed.
    Done { sha256: String, resumed_from: u64 },
    /// Worth another try: a network error, a cut transfer, a 5xx, 408 or 429 (`status`), a
    /// resume the server got wrong (the partial file is then removed). `connected` is false
    /// when no response came at all.
    Retry {
        reason: String,
        connected: bool,
        status: Option<StatusCode>,
    },
    /// 404 or 410.
    NotFound(StatusCode),
    /// Another status that no retry will change.
    Refused(StatusCode),
    /// [`Watch::cancelled`] said stop.
    Cancelled,
}

fn retry(reason: impl Into<String>) -> Attempt {
    Attempt::Retry {
        reason: reason.into(),
        connected: true,
        status: None,
    }
}

/// The whole text of an error and its causes, each said once (reqwest's Display hides them).
pub fn error_chain(e: &dyn std::error::Error) -> String {
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

/// `bytes 100-199/200` -> 100.
pub fn content_range_start(v: &str) -> Option<u64> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, _) = rest.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    start.trim().parse().ok()
}

/// `bytes */200` (or `bytes 0-1/200`) -> 200.
pub fn content_range_total(v: &str) -> Option<u64> {
    let (_, total) = v.trim().strip_prefix("bytes")?.split_once('/')?;
    total.trim().parse().ok()
}

/// The sha256 of the first `len` bytes of `f`.
fn hash_prefix(f: &mut File, len: u64, path: &Path) -> Result<Sha256> {
    let mut h = Sha256::new();
    f.seek(SeekFrom::Start(0))
        .and_then(|_| std::io::copy(&mut (&mut *f).take(len), &mut h))
        .map_err(|e| Error::new("read", path, e))?;
    Ok(h)
}

fn done(partial: &Path, h: Sha256, resumed_from: u64) -> Attempt {
    let _ = fs::remove_file(validator_of(partial));
    Attempt::Done {
        sha256: hex::encode(h.finalize()),
        resumed_from,
    }
}

/// One attempt to bring `url` into `partial` (whose folder must exist), resuming what is there.
pub fn attempt(
    client: &Client,
    url: &str,
    partial: &Path,
    watch: &mut dyn Watch,
) -> Result<Attempt> {
    let have = fs::metadata(partial).map(|m| m.len()).unwrap_or(0);
    let validator_path = validator_of(partial);
    let validator = fs::read_to_string(&validator_path).ok();
    let mut req = client.get(url);
    if have > 0 {
        req = req.header(RANGE, format!("bytes={have}-"));
        if let Some(v) = validator
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            req = req.header(IF_RANGE, v);
        }
    }
    let mut resp = match req.send() {
        Ok(r) => r,
        Err(e) => {
            return Ok(Attempt::Retry {
                reason: error_chain(&e),
                connected: false,
                status: None,
            });
        }
    };
    let status = resp.status();
    let content_range = resp
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
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
            fs::write(&validator_path, v).map_err(|e| Error::new("write", &validator_path, e))?;
            let f = File::create(partial).map_err(|e| Error::new("create", partial, e))?;
            (f, Sha256::new(), 0)
        }
        StatusCode::PARTIAL_CONTENT if have > 0 => {
            if content_range.as_deref().and_then(content_range_start) != Some(have) {
                let _ = fs::remove_file(partial);
                return Ok(retry(
                    "the server resumed at an unexpected offset; restarting",
                ));
            }
            // Hash what is already there, then append.
            let mut f = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(partial)
                .map_err(|e| Error::new("open", partial, e))?;
            let h = hash_prefix(&mut f, have, partial)?;
            f.seek(SeekFrom::Start(have))
                .map_err(|e| Error::new("seek", partial, e))?;
            (f, h, have)
        }
        StatusCode::RANGE_NOT_SATISFIABLE if have > 0 => {
            // Nothing left to send: complete when the server's size is what we have.
            if content_range.as_deref().and_then(content_range_total) == Some(have) {
                let mut f = File::open(partial).map_err(|e| Error::new("open", partial, e))?;
                let h = hash_prefix(&mut f, have, partial)?;
                return Ok(done(partial, h, have));
            }
            let _ = fs::remove_file(partial);
            return Ok(retry("the partial download is invalid; restarting"));
        }
        StatusCode::NOT_FOUND | StatusCode::GONE => return Ok(Attempt::NotFound(status)),
        s if s.is_server_error()
            || s == StatusCode::REQUEST_TIMEOUT
            || s == StatusCode::TOO_MANY_REQUESTS =>
        {
            return Ok(Attempt::Retry {
                reason: format!("HTTP {s}"),
                connected: true,
                status: Some(s),
            });
        }
        s => return Ok(Attempt::Refused(s)),
    };
    let total = resp.content_length().map(|n| n + start);
    watch.start(total, start);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        if watch.cancelled() {
            let _ = file.sync_all();
            return Ok(Attempt::Cancelled);
        }
        let n = match resp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                file.sync_all()
                    .map_err(|e| Error::new("sync", partial, e))?;
                return Ok(retry(format!("transfer cut: {}", error_chain(&e))));
            }
        };
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(|e| Error::new("write", partial, e))?;
        watch.advance(n as u64);
    }
    file.sync_all()
        .map_err(|e| Error::new("sync", partial, e))?;
    if let Some(t) = total {
        let len = file
            .metadata()
            .map_err(|e| Error::new("stat", partial, e))?
            .len();
        if len < t {
            return Ok(retry(format!("transfer cut at {len} of {t} bytes")));
        }
    }
    Ok(done(partial, hasher, start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    /// Serves `body` with ETag `etag` to `n` requests: 206 for a `Range` whose `If-Range` is
    /// that ETag, 416 for a range at the end, else 200. Returns the URL and the request heads.
    fn serve(
        body: &'static [u8],
        etag: &'static str,
        n: usize,
    ) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/f", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let mut heads = Vec::new();
            for _ in 0..n {
                let (mut c, _) = l.accept().unwrap();
                let mut r = BufReader::new(c.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    r.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    head.push_str(&line.to_ascii_lowercase());
                }
                let range = head
                    .lines()
                    .find_map(|l| l.strip_prefix("range: bytes="))
                    .and_then(|v| v.trim().trim_end_matches('-').parse::<usize>().ok());
                let if_range_ok = head.contains(&format!("if-range: {etag}"));
                let (status, extra, part) = match range {
                    Some(s) if if_range_ok && s >= body.len() => (
                        "416 Range Not Satisfiable",
                        format!("content-range: bytes */{}\r\n", body.len()),
                        &body[..0],
                    ),
                    Some(s) if if_range_ok => (
                        "206 Partial Content",
                        format!(
                            "content-range: bytes {s}-{}/{}\r\n",
                            body.len() - 1,
                            body.len()
                        ),
                        &body[s..],
                    ),
                    _ => ("200 OK", String::new(), body),
                };
                write!(
                    c,
                    "HTTP/1.1 {status}\r\netag: {etag}\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n",
                    part.len()
                )
                .unwrap();
                c.write_all(part).unwrap();
                heads.push(head);
            }
            heads
        });
        (url, h)
    }

    fn sha(b: &[u8]) -> String {
        hex::encode(Sha256::digest(b))
    }

    #[test]
    fn resumes_only_the_same_file() {
        let d = std::env::temp_dir().join(format!("u7s-fetch-test-{}", std::process::id()));
        fs::create_dir_all(&d).unwrap();
        let partial = partial_of(&d.join("f"));
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::new();
        const NEW: &[u8] = b"the new file, longer than the old one";
        // One attempt from a partial file with these bytes and validator, against a server
        // that has NEW with ETag "new": what it gave, and the request's head.
        let run = |have: &[u8], validator: &str| {
            fs::write(&partial, have).unwrap();
            fs::write(validator_of(&partial), validator).unwrap();
            let (url, h) = serve(NEW, "\"new\"", 1);
            let got = attempt(&client, &url, &partial, &mut Quiet).unwrap();
            assert!(
                !validator_of(&partial).exists(),
                "validator removed when done"
            );
            assert_eq!(fs::read(&partial).unwrap(), NEW);
            (got, h.join().unwrap().remove(0))
        };
        let done = |resumed_from| Attempt::Done {
            sha256: sha(NEW),
            resumed_from,
        };

        // A partial of an older version (another ETag): the server sends the new file whole.
        let (got, head) = run(b"the old f", "\"old\"");
        assert_eq!(got, done(0));
        assert!(head.contains("if-range: \"old\""), "{head}");
        // Cut after 10 bytes of the new one: resumed from there.
        let (got, head) = run(&NEW[..10], "\"new\"");
        assert_eq!(got, done(10));
        assert!(head.contains("range: bytes=10-"), "{head}");
        // Everything there already: the 416 finishes it.
        let (got, _) = run(NEW, "\"new\"");
        assert_eq!(got, done(NEW.len() as u64));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn content_range() {
        assert_eq!(content_range_start("bytes 100-199/200"), Some(100));
        assert_eq!(content_range_start("bytes 0-0/*"), Some(0));
        assert_eq!(content_range_start("items 1-2/3"), None);
        assert_eq!(content_range_total("bytes */200"), Some(200));
        assert_eq!(content_range_total("bytes 0-1/200"), Some(200));
        assert_eq!(content_range_total("bytes 0-1/*"), None);
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
