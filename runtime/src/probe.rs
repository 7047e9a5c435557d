//! Readiness probes, each a real question to the component and bounded by a short timeout:
//! dockerd's `GET /_ping`, an HTTP/2 handshake on a gRPC socket (containerd, CRI-O, the
//! fuse-overlayfs plugin: the server sends its SETTINGS frame only once it serves), etcd's
//! `GET /health` over TLS with our client certificate, RootlessKit's `GET /v1/info`.

use crate::components::Probe;
use crate::error::{Error, Result};
use crate::http::{roundtrip, unix_request};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The timeout of one probe attempt.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

/// Runs `probe` once: `Ok(())` when ready, an error saying what did not answer otherwise.
pub fn check(probe: &Probe) -> Result<()> {
    match probe {
        Probe::DockerPing { socket } => docker_ping(socket),
        Probe::Grpc { socket } => grpc_handshake(socket),
        Probe::EtcdHealth {
            port,
            ca,
            cert,
            key,
        } => etcd_health(*port, ca, cert, key),
    }
}

/// dockerd answers `GET /_ping` with 200 `OK`.
pub fn docker_ping(socket: &Path) -> Result<()> {
    let r = unix_request(socket, "GET", "/_ping", None, PROBE_TIMEOUT)?;
    if r.status == 200 && r.body.trim_ascii() == b"OK" {
        Ok(())
    } else {
        Err(Error::Component {
            component: "dockerd".into(),
            message: format!("/_ping answered {} {:?}", r.status, r.text()),
        })
    }
}

/// The client connection preface and an empty SETTINGS frame (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Whether `frame_header` (9 bytes) is a SETTINGS frame on stream 0.
pub fn is_settings_frame(h: &[u8]) -> bool {
    h.len() >= 9 && h[3] == 0x4 && h[5..9] == [0, 0, 0, 0]
}

/// The socket speaks HTTP/2: after our preface the server's first frame is SETTINGS.
pub fn grpc_handshake(socket: &Path) -> Result<()> {
    let ctx = || format!("unix://{}", socket.display());
    let mut s = UnixStream::connect(socket)
        .map_err(|e| Error::os(format!("connecting to {}", ctx()), e))?;
    s.set_read_timeout(Some(PROBE_TIMEOUT))
        .and_then(|_| s.set_write_timeout(Some(PROBE_TIMEOUT)))
        .and_then(|_| s.write_all(H2_PREFACE))
        .map_err(|e| Error::os(format!("HTTP/2 preface to {}", ctx()), e))?;
    let mut h = [0u8; 9];
    s.read_exact(&mut h)
        .map_err(|e| Error::os(format!("waiting for SETTINGS from {}", ctx()), e))?;
    if is_settings_frame(&h) {
        Ok(())
    } else {
        Err(Error::Http {
            endpoint: ctx(),
            reason: format!("not an HTTP/2 server (first bytes {h:02x?})"),
        })
    }
}

/// A TLS client config trusting `ca` and presenting `cert`/`key`.
pub fn tls_client(ca: &Path, cert: &Path, key: &Path) -> Result<Arc<rustls::ClientConfig>> {
    let pem_err = |p: &Path, e: &dyn std::fmt::Display| Error::Pki {
        path: p.to_path_buf(),
        message: e.to_string(),
    };
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).map_err(|e| pem_err(ca, &e))? {
        roots
            .add(c.map_err(|e| pem_err(ca, &e))?)
            .map_err(|e| pem_err(ca, &e))?;
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem_err(cert, &e))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| pem_err(cert, &e))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_err(key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| pem_err(ca, &e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key_der)
        .map_err(|e| pem_err(cert, &e))?;
    Ok(Arc::new(cfg))
}

/// `GET path` over TLS to 127.0.0.1:`port`.
pub fn https_get(
    cfg: Arc<rustls::ClientConfig>,
    port: u16,
    path: &str,
) -> Result<crate::http::Response> {
    let endpoint = format!("https://127.0.0.1:{port}");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let tcp = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)
        .map_err(|e| Error::os(format!("connecting to {endpoint}"), e))?;
    tcp.set_read_timeout(Some(PROBE_TIMEOUT))
        .and_then(|_| tcp.set_write_timeout(Some(PROBE_TIMEOUT)))
        .map_err(|e| Error::os(format!("{endpoint}: timeouts"), e))?;
    let name = ServerName::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]).into());
    let conn = rustls::ClientConnection::new(cfg, name)
        .map_err(|e| Error::os(format!("{endpoint}: TLS"), std::io::Error::other(e)))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    roundtrip(&mut tls, &endpoint, "GET", path, None)
}

/// etcd's `/health` says healthy.
pub fn etcd_health(port: u16, ca: &Path, cert: &Path, key: &Path) -> Result<()> {
    let r = https_get(tls_client(ca, cert, key)?, port, "/health")?;
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    if r.status == 200 && v["health"] == "true" {
        Ok(())
    } else {
        Err(Error::Component {
            component: "etcd".into(),
            message: format!("/health answered {} {}", r.status, r.text().trim()),
        })
    }
}

/// RootlessKit's API answers `GET /v1/info`.
pub fn rootlesskit_api(socket: &Path) -> Result<crate::rkapi::Info> {
    crate::rkapi::Client::new(socket)
        .with_timeout(PROBE_TIMEOUT)
        .info()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_frame_recognised() {
        assert!(is_settings_frame(&[0, 0, 6, 4, 0, 0, 0, 0, 0]));
        assert!(!is_settings_frame(&[0, 0, 6, 1, 0, 0, 0, 0, 1]), "HEADERS");
        assert!(!is_settings_frame(b"HTTP/1.1 "), "an HTTP/1 server");
        assert_eq!(&H2_PREFACE[..24], b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    }

    #[test]
    fn absent_sockets_are_not_ready() {
        let d = tempfile::tempdir().unwrap();
        let s = d.path().join("none.sock");
        assert!(
            docker_ping(&s)
                .unwrap_err()
                .to_string()
                .contains("none.sock")
        );
        assert!(grpc_handshake(&s).is_err());
        assert!(rootlesskit_api(&s).is_err());
    }

    #[test]
    fn tls_client_from_our_pki() {
        let d = tempfile::tempdir().unwrap();
        let pki = crate::pki::Pki::new(d.path());
        pki.ensure(&crate::pki::PkiSpec::etcd_only()).unwrap();
        use crate::pki::Leaf::EtcdClient;
        tls_client(&pki.ca_cert(), &pki.cert(EtcdClient), &pki.key(EtcdClient)).unwrap();
        let e = tls_client(
            &pki.ca_cert(),
            &pki.cert(EtcdClient),
            &d.path().join("nokey"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("nokey"), "{e}");
    }
}
