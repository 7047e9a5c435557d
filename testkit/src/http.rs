//! A tiny HTTP/1.1 file server on 127.0.0.1 for the download tests of the builder and the
//! installer: serves a map of paths to bytes, or a folder read at each request (the builder's
//! Go module proxy), with a strong ETag, honours `Range: bytes=N-` (guarded by `If-Range`: a
//! different validator gets the whole file), answers 416 for a range at or past the end, 500
//! for paths under `/fail/`, 404 for the rest, and can cut transfers in half (the network
//! failing mid-download). Every request and every cut is recorded.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The ETag of every file served.
pub const ETAG: &str = "\"u7s-fixture-1\"";

/// One request the server saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub path: String,
    pub range: Option<String>,
    pub if_range: Option<String>,
}

/// A running file server (its thread lives as long as the test process).
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    cut: Arc<Mutex<Vec<String>>>,
}

/// Where the bytes served come from.
enum Source {
    Map(HashMap<String, Vec<u8>>),
    /// A folder, read at each request (files may appear after the server started).
    Dir(PathBuf),
}

impl Source {
    fn get(&self, path: &str) -> Option<Vec<u8>> {
        match self {
            Source::Map(files) => files.get(path).cloned(),
            Source::Dir(dir) => {
                let file = dir.join(path.trim_start_matches('/'));
                file.is_file().then(|| std::fs::read(&file).ok()).flatten()
            }
        }
    }
}

/// Which transfers are cut: the response announces the full Content-Length, sends half the
/// body and closes.
#[derive(Clone, Copy)]
enum Cut {
    Never,
    /// The first GET of each path.
    FirstOfEach,
    /// The first GET of a path ending with this, once per server.
    FirstEndingWith(&'static str),
}

impl Cut {
    fn applies(self, path: &str, done: &[String]) -> bool {
        match self {
            Cut::Never => false,
            Cut::FirstOfEach => !done.iter().any(|d| d == path),
            Cut::FirstEndingWith(suffix) => path.ends_with(suffix) && done.is_empty(),
        }
    }
}

impl Server {
    /// Serves `files` (path -> bytes). With `cut_first`, the first GET of each file is cut.
    pub fn start(files: HashMap<String, Vec<u8>>, cut_first: bool) -> Server {
        let cut = if cut_first {
            Cut::FirstOfEach
        } else {
            Cut::Never
        };
        Server::spawn(Source::Map(files), cut)
    }

    /// Serves the files under `dir` (URL path = path under `dir`), read at each request. With
    /// `cut_first_ending`, the first GET of a path ending with it is cut (once per server).
    pub fn serve_dir(dir: &Path, cut_first_ending: Option<&'static str>) -> Server {
        let cut = cut_first_ending.map_or(Cut::Never, Cut::FirstEndingWith);
        Server::spawn(Source::Dir(dir.to_path_buf()), cut)
    }

    fn spawn(source: Source, cut: Cut) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let cut_done = Arc::new(Mutex::new(Vec::new()));
        let (seen2, cut_done2) = (seen.clone(), cut_done.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                serve(stream, &source, &seen2, cut, &cut_done2);
            }
        });
        Server {
            base,
            seen,
            cut: cut_done,
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The requests so far, in order.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The paths whose transfer was cut so far.
    pub fn cuts(&self) -> Vec<String> {
        self.cut.lock().unwrap().clone()
    }
}

fn respond(stream: &mut TcpStream, status: &str, extra: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

fn serve(
    mut stream: TcpStream,
    source: &Source,
    seen: &Mutex<Vec<Seen>>,
    cut: Cut,
    cut_done: &Mutex<Vec<String>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let mut range = None;
    let mut if_range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "range" => range = Some(v.trim().to_string()),
                "if-range" => if_range = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    seen.lock().unwrap().push(Seen {
        path: path.clone(),
        range: range.clone(),
        if_range: if_range.clone(),
    });
    if path.starts_with("/fail/") {
        return respond(&mut stream, "500 Internal Server Error", "", b"oops");
    }
    let Some(body) = source.get(&path) else {
        return respond(&mut stream, "404 Not Found", "", b"<html>404</html>");
    };
    let start = range
        .as_deref()
        .filter(|_| if_range.as_deref().is_none_or(|v| v == ETAG))
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    let etag = format!("ETag: {ETAG}\r\nAccept-Ranges: bytes\r\n");
    let (status, part, extra) = match start {
        Some(s) if s >= body.len() => {
            let extra = format!("{etag}Content-Range: bytes */{}\r\n", body.len());
            return respond(&mut stream, "416 Range Not Satisfiable", &extra, b"");
        }
        Some(s) => (
            "206 Partial Content",
            &body[s..],
            format!(
                "{etag}Content-Range: bytes {s}-{}/{}\r\n",
                body.len() - 1,
                body.len()
            ),
        ),
        None => ("200 OK", &body[..], etag),
    };
    let cut_now = {
        let mut done = cut_done.lock().unwrap();
        let now = cut.applies(&path, &done);
        if now {
            done.push(path.clone());
        }
        now
    };
    if cut_now {
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
            part.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&part[..part.len() / 2]);
        let _ = stream.flush();
        let _ = stream.shutdown(std::net::Shutdown::Both);
        return;
    }
    respond(&mut stream, status, &extra, part);
    let _ = stream.flush();
    // Drain so the client sees a clean close.
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut sink = [0u8; 64];
    let _ = stream.read(&mut sink);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(base: &str, path: &str, headers: &str) -> String {
        let mut s = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn ranges_guarded_by_the_etag() {
        let files = HashMap::from([("/f".to_string(), b"0123456789".to_vec())]);
        let srv = Server::start(files, false);
        assert!(get(&srv.base, "/f", "").ends_with("\r\n\r\n0123456789"));
        let r = get(&srv.base, "/f", "Range: bytes=4-\r\n");
        assert!(
            r.starts_with("HTTP/1.1 206") && r.ends_with("456789"),
            "{r}"
        );
        let r = get(
            &srv.base,
            "/f",
            "Range: bytes=4-\r\nIf-Range: \"other\"\r\n",
        );
        assert!(
            r.starts_with("HTTP/1.1 200") && r.ends_with("0123456789"),
            "{r}"
        );
        let r = get(&srv.base, "/f", "Range: bytes=10-\r\n");
        assert!(r.contains("416") && r.contains("bytes */10"), "{r}");
        assert!(get(&srv.base, "/nope", "").starts_with("HTTP/1.1 404"));
        assert!(get(&srv.base, "/fail/f", "").starts_with("HTTP/1.1 500"));
        let seen = srv.requests();
        assert_eq!(seen.len(), 6);
        assert_eq!(seen[2].if_range.as_deref(), Some("\"other\""));
    }

    #[test]
    fn a_folder_read_at_each_request_and_one_cut() {
        let dir = tempfile::tempdir().unwrap();
        let srv = Server::serve_dir(dir.path(), Some(".zip"));
        assert!(get(&srv.base, "/m/a.zip", "").starts_with("HTTP/1.1 404"));
        std::fs::create_dir(dir.path().join("m")).unwrap();
        std::fs::write(dir.path().join("m/a.zip"), b"0123456789").unwrap();
        std::fs::write(dir.path().join("m/a.mod"), b"module a").unwrap();
        assert!(get(&srv.base, "/m/a.mod", "").ends_with("\r\n\r\nmodule a"));
        let cut = get(&srv.base, "/m/a.zip", "");
        assert!(
            cut.contains("Content-Length: 10") && cut.ends_with("\r\n\r\n01234"),
            "{cut}"
        );
        assert!(get(&srv.base, "/m/a.zip", "").ends_with("0123456789"));
        assert!(
            get(&srv.base, "/m", "").starts_with("HTTP/1.1 404"),
            "a folder is not served"
        );
        assert_eq!(srv.cuts(), vec!["/m/a.zip".to_string()]);
        assert_eq!(srv.requests().len(), 5);
    }
}
