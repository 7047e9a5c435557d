//! Client of RootlessKit's REST API on `STATE/rootlesskit/api.sock` (`/v1/info`, `/v1/ports`),
//! built for its quirks: an empty port list comes as `null`, errors come with no content type
//! (judge by status code, read `{"message":…}` when it parses), ids start at 1, and adding
//! answers 201.

use crate::error::{Error, Result};
use crate::probe::http::{Response, unix_request};
use crate::rootlesskit::portspec::{PortSpec, PortStatus};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `GET /v1/info` (fields present since RootlessKit v0.14).
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
pub struct Info {
    #[serde(rename = "apiVersion", default)]
    pub api_version: String,
    #[serde(default)]
    pub version: String,
    #[serde(rename = "stateDir", default)]
    pub state_dir: String,
    #[serde(rename = "childPID", default)]
    pub child_pid: i64,
    #[serde(rename = "networkDriver", default)]
    pub network_driver: Option<serde_json::Value>,
    #[serde(rename = "portDriver", default)]
    pub port_driver: Option<serde_json::Value>,
}

/// The API on one socket.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
    timeout: Duration,
}

/// The message of an error answer: `{"message":…}` when it parses, else the raw text.
pub fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct E {
        message: String,
    }
    match serde_json::from_slice::<E>(body) {
        Ok(e) => e.message,
        Err(_) => {
            let t = String::from_utf8_lossy(body).trim().to_string();
            if t.is_empty() {
                "(no message)".into()
            } else {
                t
            }
        }
    }
}

fn check(what: &str, r: Response, ok: &[u16]) -> Result<Response> {
    if ok.contains(&r.status) {
        Ok(r)
    } else {
        Err(Error::Api {
            what: what.to_string(),
            status: r.status,
            message: error_message(&r.body),
        })
    }
}

fn json<T: serde::de::DeserializeOwned>(what: &str, r: &Response) -> Result<T> {
    serde_json::from_slice(&r.body).map_err(|e| Error::Api {
        what: what.to_string(),
        status: r.status,
        message: format!("unreadable answer ({e}): {}", r.text()),
    })
}

/// Parses a `GET /v1/ports` answer: `null` is the empty list.
pub fn parse_list(r: &Response) -> Result<Vec<PortStatus>> {
    let v: Option<Vec<PortStatus>> = json("list ports", r)?;
    Ok(v.unwrap_or_default())
}

impl Client {
    /// A client of the API socket `socket`.
    pub fn new(socket: impl AsRef<Path>) -> Client {
        Client {
            socket: socket.as_ref().to_path_buf(),
            timeout: Duration::from_secs(10),
        }
    }

    /// Shorter waits (readiness probes).
    pub fn with_timeout(mut self, t: Duration) -> Client {
        self.timeout = t;
        self
    }

    fn call(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Response> {
        unix_request(&self.socket, method, path, body, self.timeout)
    }

    /// RootlessKit's version, drivers and child pid.
    pub fn info(&self) -> Result<Info> {
        let r = check("info", self.call("GET", "/v1/info", None)?, &[200])?;
        json("info", &r)
    }

    /// Every forwarding, in no particular order.
    pub fn list(&self) -> Result<Vec<PortStatus>> {
        let r = check("list ports", self.call("GET", "/v1/ports", None)?, &[200])?;
        parse_list(&r)
    }

    /// Adds a forwarding; RootlessKit binds the parent port now (a busy port fails here).
    pub fn add(&self, spec: &PortSpec) -> Result<PortStatus> {
        let what = format!("add {spec}");
        let body = serde_json::to_vec(spec).expect("PortSpec serialises");
        let r = check(
            &what,
            self.call("POST", "/v1/ports", Some(&body))?,
            &[200, 201],
        )?;
        json(&what, &r)
    }

    /// Removes forwarding `id`.
    pub fn remove(&self, id: u64) -> Result<()> {
        check(
            &format!("remove port {id}"),
            self.call("DELETE", &format!("/v1/ports/{id}"), None)?,
            &[200, 204],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::http::parse_response;

    #[test]
    fn null_is_the_empty_list() {
        let r = parse_response("t", b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnull").unwrap();
        assert_eq!(parse_list(&r).unwrap(), vec![]);
        let r = parse_response(
            "t",
            b"HTTP/1.1 200 OK\r\n\r\n[{\"id\":1,\"spec\":{\"proto\":\"tcp\",\"parentIP\":\"127.0.0.1\",\"parentPort\":8080,\"childPort\":80}}]",
        )
        .unwrap();
        let l = parse_list(&r).unwrap();
        assert_eq!(l[0].id, 1);
        assert_eq!(l[0].spec.parent_port, 8080);
    }

    #[test]
    fn errors_by_status_code() {
        let r = parse_response(
            "t",
            b"HTTP/1.1 400 Bad Request\r\n\r\n{\"message\":\"conflict with ID 1\"}",
        )
        .unwrap();
        let e = check("add 127.0.0.1:8080:80/tcp", r, &[201]).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("HTTP 400") && s.contains("conflict with ID 1") && s.contains("8080"),
            "{s}"
        );
        assert_eq!(error_message(b"plain text\n"), "plain text");
        assert_eq!(error_message(b""), "(no message)");
    }

    #[test]
    fn info_shape() {
        let body = br#"{"apiVersion":"1.1.1","version":"1.1.0","stateDir":"/s","childPID":4242,"networkDriver":{"driver":"slirp4netns"},"portDriver":{"driver":"builtin"}}"#;
        let mut raw =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        raw.extend_from_slice(body);
        let r = parse_response("t", &raw).unwrap();
        let i: Info = json("info", &r).unwrap();
        assert_eq!(i.child_pid, 4242);
        assert_eq!(i.api_version, "1.1.1");
    }
}
