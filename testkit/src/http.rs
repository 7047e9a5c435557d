//! A tiny HTTP/1.1 file server on 127.0.0.1 for the download tests of the builder and the
//! installer: serves a map of paths to bytes with a strong ETag, honours `Range: bytes=N-`
//! (guarded by `If-Range`: a different validator gets the whole file), answers 416 for a range
//! at or past the end, 500 for paths under `/fail/`, 404 for the rest, and can cut the first
//! transfer of each file in half. Every request is recorded.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
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
}

impl Server {
    /// Serves `files` (path -> bytes). With `cut_first`, the first GET of each file sends the
    /// full Content-Length but only half the body, then closes.
    pub fn start(files: HashMap<String, Vec<u8>>, cut_first: bool) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        std::thread::spawn(move || {
            let mut cut_done: Vec<String> = Vec::new();
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                serve(stream, &files, &seen2, cut_first, &mut cut_done);
            }
        });
        Server { base, seen }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The requests so far, in order.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
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
    files: &HashMap<String, Vec<u8>>,
    seen: &Mutex<Vec<Seen>>,
    cut_first: bool,
    cut_done: &mut Vec<String>,
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
    let Some(body) = files.get(&path) else {
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
    if cut_first && !cut_done.contains(&path) {
        cut_done.push(path);
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
}
