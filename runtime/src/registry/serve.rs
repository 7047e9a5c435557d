//! The read side of the OCI distribution API over plain HTTP on the session's loopback, for
//! CRI-O (containers/image) to pull the store's images: `GET /v2/`, `GET|HEAD
//! /v2/<name>/manifests/<tag or digest>` and `GET|HEAD /v2/<name>/blobs/<digest>`. One request
//! per connection (`Connection: close`), a thread per connection; nothing is ever written.
//! [`route`] and [`answer`] decide (pure, unit-tested); [`serve`] does the socket work.

use super::store::{Store, blob_path, find_manifest};
use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`: the API version check.
    Base,
    Manifest {
        repo: String,
        reference: String,
    },
    Blob {
        repo: String,
        digest: String,
    },
    NotFound,
}

/// The route of a request path (query string ignored).
pub fn route(path: &str) -> Route {
    let path = path.split('?').next().unwrap_or("");
    if path == "/v2/" || path == "/v2" {
        return Route::Base;
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return Route::NotFound;
    };
    for (kind, word) in [(0, "/manifests/"), (1, "/blobs/")] {
        if let Some(i) = rest.rfind(word) {
            let repo = &rest[..i];
            let tail = &rest[i + word.len()..];
            if repo.is_empty() || tail.is_empty() || tail.contains('/') {
                return Route::NotFound;
            }
            return if kind == 0 {
                Route::Manifest {
                    repo: repo.into(),
                    reference: tail.into(),
                }
            } else {
                Route::Blob {
                    repo: repo.into(),
                    digest: tail.into(),
                }
            };
        }
    }
    Route::NotFound
}

/// What to send back.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// 200 with a small body.
    Body {
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// 200 with the file's bytes.
    File {
        content_type: String,
        digest: String,
        path: PathBuf,
    },
    /// 404 with the registry error code.
    Missing(&'static str),
}

/// The answer to `route` from the store's `index` (blobs looked up under `store_dir`).
pub fn answer(route: &Route, index: &serde_json::Value, store_dir: &std::path::Path) -> Answer {
    match route {
        Route::Base => Answer::Body {
            content_type: "application/json",
            body: b"{}".to_vec(),
        },
        Route::Manifest { repo, reference } => match find_manifest(index, repo, reference) {
            Some((media, digest)) => match blob_path(store_dir, &digest) {
                Some(path) if path.is_file() => Answer::File {
                    content_type: media,
                    digest,
                    path,
                },
                _ => Answer::Missing("MANIFEST_UNKNOWN"),
            },
            None => Answer::Missing("MANIFEST_UNKNOWN"),
        },
        Route::Blob { digest, .. } => match blob_path(store_dir, digest) {
            Some(path) if path.is_file() => Answer::File {
                content_type: "application/octet-stream".into(),
                digest: digest.clone(),
                path,
            },
            _ => Answer::Missing("BLOB_UNKNOWN"),
        },
        Route::NotFound => Answer::Missing("NAME_UNKNOWN"),
    }
}

/// Serves `store` on `listen` (`127.0.0.1:PORT`) until the process ends.
pub fn serve(store: Store, listen: &str) -> Result<()> {
    let listener =
        TcpListener::bind(listen).map_err(|e| Error::os(format!("listening on {listen}"), e))?;
    println!(
        "serving the images of {} on http://{listen}",
        store.dir.display()
    );
    let store = std::sync::Arc::new(store);
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let store = store.clone();
        std::thread::spawn(move || {
            if let Err(e) = one_request(conn, &store) {
                eprintln!("registry: {e}");
            }
        });
    }
    Ok(())
}

fn one_request(mut conn: TcpStream, store: &Store) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let (method, path) = loop {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => {
                break (
                    req.method.unwrap_or("").to_string(),
                    req.path.unwrap_or("").to_string(),
                );
            }
            // Not HTTP (a TLS handshake: containers/image tries https first): hang up.
            Err(_) => return Ok(()),
            Ok(httparse::Status::Partial) if buf.len() > 16 * 1024 => return Ok(()),
            Ok(httparse::Status::Partial) => {}
        }
    };
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return write_head(&mut conn, "405 Method Not Allowed", "text/plain", 0, None);
    }
    let index = store
        .index()
        .unwrap_or_else(|_| serde_json::json!({"manifests": []}));
    match answer(&route(&path), &index, &store.dir) {
        Answer::Body { content_type, body } => {
            write_head(&mut conn, "200 OK", content_type, body.len() as u64, None)?;
            if !head_only {
                conn.write_all(&body)?;
            }
        }
        Answer::File {
            content_type,
            digest,
            path,
        } => {
            let mut f = std::fs::File::open(&path)?;
            let len = f.metadata()?.len();
            write_head(&mut conn, "200 OK", &content_type, len, Some(&digest))?;
            if !head_only {
                std::io::copy(&mut f, &mut conn)?;
            }
        }
        Answer::Missing(code) => {
            let body = format!(
                r#"{{"errors":[{{"code":"{code}","message":"not in the session's image store (u7s images load)"}}]}}"#
            );
            write_head(
                &mut conn,
                "404 Not Found",
                "application/json",
                body.len() as u64,
                None,
            )?;
            if !head_only {
                conn.write_all(body.as_bytes())?;
            }
        }
    }
    conn.flush()
}

fn write_head(
    conn: &mut TcpStream,
    status: &str,
    content_type: &str,
    len: u64,
    digest: Option<&str>,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n\
         Docker-Distribution-API-Version: registry/2.0\r\nConnection: close\r\n"
    );
    if let Some(d) = digest {
        head.push_str(&format!("Docker-Content-Digest: {d}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("/v2/"), Route::Base);
        assert_eq!(
            route("/v2/registry.k8s.io/pause/manifests/3.10.2"),
            Route::Manifest {
                repo: "registry.k8s.io/pause".into(),
                reference: "3.10.2".into()
            }
        );
        assert_eq!(
            route("/v2/docker.io/u/app/blobs/sha256:ab?x=1"),
            Route::Blob {
                repo: "docker.io/u/app".into(),
                digest: "sha256:ab".into()
            }
        );
        for p in [
            "/",
            "/v2/x/manifests/",
            "/v2//manifests/1",
            "/v1/x",
            "/v2/x/tags/list",
        ] {
            assert_eq!(route(p), Route::NotFound, "{p}");
        }
    }

    #[test]
    fn answers_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let layer = bundle::oci_image::layer(&[]).unwrap();
        let files = bundle::oci_image::archive_files(&bundle::oci_image::Image {
            names: &["registry.k8s.io/pause:3.10.2"],
            layer: &layer,
            run: Default::default(),
            architecture: "amd64",
        });
        store.add_files(&files).unwrap();
        let index = store.index().unwrap();
        let Answer::File {
            content_type,
            digest,
            ..
        } = answer(
            &route("/v2/registry.k8s.io/pause/manifests/3.10.2"),
            &index,
            dir.path(),
        )
        else {
            panic!()
        };
        assert_eq!(content_type, "application/vnd.oci.image.manifest.v1+json");
        let blob = format!("/v2/registry.k8s.io/pause/blobs/{digest}");
        assert!(matches!(
            answer(&route(&blob), &index, dir.path()),
            Answer::File { .. }
        ));
        assert_eq!(
            answer(
                &route("/v2/registry.k8s.io/pause/manifests/3.9"),
                &index,
                dir.path()
            ),
            Answer::Missing("MANIFEST_UNKNOWN")
        );
        assert_eq!(
            answer(
                &route("/v2/x/blobs/sha256:..%2f..%2fetc"),
                &index,
                dir.path()
            ),
            Answer::Missing("BLOB_UNKNOWN")
        );
    }
}
