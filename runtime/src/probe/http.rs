//! A small HTTP/1.1 client over any byte stream (a unix socket, a TLS session): one request per
//! connection (`Connection: close`), the response read to the end and parsed with `httparse`,
//! with `Content-Length`, chunked and read-to-close bodies. Enough for RootlessKit's REST API,
//! dockerd's `/_ping` and etcd's `/health`; nothing here trusts a `Content-Type`.

use crate::error::{Error, Result};
use std::io::{Read, Write};

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Writes the request bytes for `method path` with an optional JSON body.
pub fn encode_request(method: &str, host: &str, path: &str, json: Option<&[u8]>) -> Vec<u8> {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: u7s\r\nAccept: application/json\r\nConnection: close\r\n"
    );
    match json {
        Some(b) => {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                b.len()
            ));
            let mut v = req.into_bytes();
            v.extend_from_slice(b);
            v
        }
        None => {
            req.push_str("\r\n");
            req.into_bytes()
        }
    }
}

fn malformed(endpoint: &str, reason: impl Into<String>) -> Error {
    Error::Http {
        endpoint: endpoint.to_string(),
        reason: reason.into(),
    }
}

/// Decodes a chunked body.
fn dechunk(endpoint: &str, mut b: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| malformed(endpoint, "truncated chunk size"))?;
        let size_txt = std::str::from_utf8(&b[..line_end])
            .map_err(|_| malformed(endpoint, "chunk size is not text"))?;
        let size_txt = size_txt.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_txt, 16)
            .map_err(|_| malformed(endpoint, format!("bad chunk size {size_txt:?}")))?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            return Err(malformed(endpoint, "truncated chunk"));
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// Parses a complete response (everything up to connection close).
pub fn parse_response(endpoint: &str, raw: &[u8]) -> Result<Response> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return Err(malformed(
                endpoint,
                format!("incomplete response head ({} bytes)", raw.len()),
            ));
        }
        Err(e) => return Err(malformed(endpoint, e.to_string())),
    };
    let status = resp.code.unwrap_or(0);
    let headers: Vec<(String, String)> = resp
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect();
    let rest = &raw[head_len..];
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let body = if get("Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(endpoint, rest)?
    } else if let Some(len) = get("Content-Length") {
        let len: usize = len
            .parse()
            .map_err(|_| malformed(endpoint, format!("bad Content-Length {len:?}")))?;
        if rest.len() < len {
            return Err(malformed(endpoint, "truncated body"));
        }
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Sends one request on `stream` and reads the whole response.
pub fn roundtrip<S: Read + Write>(
    stream: &mut S,
    endpoint: &str,
    method: &str,
    path: &str,
    json: Option<&[u8]>,
) -> Result<Response> {
    let req = encode_request(method, "localhost", path, json);
    stream
        .write_all(&req)
        .and_then(|_| stream.flush())
        .map_err(|e| Error::os(format!("{endpoint}: sending {method} {path}"), e))?;
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw) {
        Ok(_) => {}
        // A TLS peer that closes without close_notify: keep what arrived.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => {
            return Err(Error::os(
                format!("{endpoint}: reading the answer to {method} {path}"),
                e,
            ));
        }
    }
    parse_response(endpoint, &raw)
}

/// One request over a unix socket, with a timeout for connect-less waits.
pub fn unix_request(
    socket: &std::path::Path,
    method: &str,
    path: &str,
    json: Option<&[u8]>,
    timeout: std::time::Duration,
) -> Result<Response> {
    let endpoint = format!("unix://{}", socket.display());
    let mut s = std::os::unix::net::UnixStream::connect(socket)
        .map_err(|e| Error::os(format!("connecting to {endpoint}"), e))?;
    s.set_read_timeout(Some(timeout))
        .and_then(|_| s.set_write_timeout(Some(timeout)))
        .map_err(|e| Error::os(format!("{endpoint}: setting timeouts"), e))?;
    roundtrip(&mut s, &endpoint, method, path, json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_body() {
        let r = parse_response(
            "t",
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOKtrailing",
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"OK");
        assert_eq!(r.header("content-type"), Some("text/plain"));
    }

    #[test]
    fn chunked_body() {
        let r = parse_response(
            "t",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nnull\r\n3;x=y\r\n ab\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.body, b"null ab");
        assert!(
            parse_response(
                "t",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc"
            )
            .is_err()
        );
    }

    #[test]
    fn error_without_content_type_and_body_to_close() {
        // RootlessKit writes the status before its Content-Type, so the header is lost.
        let r = parse_response(
            "t",
            b"HTTP/1.1 400 Bad Request\r\nDate: x\r\n\r\n{\"message\":\"conflict with ID 1\"}",
        )
        .unwrap();
        assert_eq!(r.status, 400);
        assert_eq!(r.header("Content-Type"), None);
        assert_eq!(r.text(), "{\"message\":\"conflict with ID 1\"}");
    }

    #[test]
    fn malformed_and_truncated() {
        assert!(parse_response("t", b"HTTP/1.1 200 OK\r\nContent-Le").is_err());
        assert!(parse_response("t", b"garbage\r\n\r\n").is_err());
        let e = parse_response("sock", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
            .unwrap_err();
        assert!(e.to_string().contains("sock"));
    }

    #[test]
    fn request_bytes() {
        let r = encode_request("POST", "h", "/v1/ports", Some(b"{}"));
        let t = String::from_utf8(r).unwrap();
        assert!(t.starts_with("POST /v1/ports HTTP/1.1\r\n"));
        assert!(t.contains("Content-Length: 2\r\n"));
        assert!(t.ends_with("\r\n\r\n{}"));
    }
}
