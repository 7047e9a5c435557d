//! Readiness probes, each a real question to the component and bounded by a short timeout:
//! dockerd's `GET /_ping`, an HTTP/2 handshake on a gRPC socket (containerd, CRI-O, the
//! fuse-overlayfs plugin: the server sends its SETTINGS frame only once it serves), etcd's
//! `GET /health` over TLS with our client certificate, RootlessKit's `GET /v1/info`; for
//! Kubernetes the apiserver's `/readyz` (TLS verified against our CA, admin certificate), the
//! controller-manager's and scheduler's loopback `/healthz` (self-signed, not verified), the
//! kubelet's and kube-proxy's plain-HTTP healthz, and a file that appears (flannel).
//!
//! [`http`] is the small HTTP/1.1 client the probes and RootlessKit's API client speak.

pub mod http;

use crate::components::Probe;
use crate::error::{Error, Result};
use crate::probe::http::{roundtrip, unix_request};
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
        Probe::HttpsOk {
            port,
            path,
            ca,
            cert,
            key,
        } => want_ok(
            https_get(tls_client(ca, cert, key)?, *port, path)?,
            *port,
            path,
            true,
        ),
        Probe::HttpsLoopbackOk { port, path } => want_ok(
            https_get(unverified_tls()?, *port, path)?,
            *port,
            path,
            true,
        ),
        Probe::HttpOk {
            port,
            path,
            want_ok: body,
        } => want_ok(http_get(*port, path)?, *port, path, *body),
        Probe::FileExists { path } => {
            if path.exists() {
                Ok(())
            } else {
                Err(Error::Component {
                    component: path.display().to_string(),
                    message: "not there yet".into(),
                })
            }
        }
    }
}

/// A 200 answer (whose body is `ok` when `body_ok`).
fn want_ok(r: crate::probe::http::Response, port: u16, path: &str, body_ok: bool) -> Result<()> {
    if r.status == 200 && (!body_ok || r.body.trim_ascii() == b"ok") {
        Ok(())
    } else {
        Err(Error::Component {
            component: format!("127.0.0.1:{port}"),
            message: format!(
                "{path} answered {} {}",
                r.status,
                r.text().trim().chars().take(200).collect::<String>()
            ),
        })
    }
}

/// `GET path` over plain HTTP to 127.0.0.1:`port`.
pub fn http_get(port: u16, path: &str) -> Result<crate::probe::http::Response> {
    let endpoint = format!("http://127.0.0.1:{port}");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut tcp = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)
        .map_err(|e| Error::os(format!("connecting to {endpoint}"), e))?;
    tcp.set_read_timeout(Some(PROBE_TIMEOUT))
        .and_then(|_| tcp.set_write_timeout(Some(PROBE_TIMEOUT)))
        .map_err(|e| Error::os(format!("{endpoint}: timeouts"), e))?;
    roundtrip(&mut tcp, &endpoint, "GET", path, None)
}

/// Accepts any server certificate (the handshake signature is still checked): only for the
/// loopback health endpoints of components serving a self-signed certificate.
#[derive(Debug)]
struct AnyServerCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS client config that does not verify the server's certificate and presents none.
pub fn unverified_tls() -> Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::os("TLS setup", std::io::Error::other(e)))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)))
        .with_no_client_auth();
    Ok(Arc::new(cfg))
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
) -> Result<crate::probe::http::Response> {
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
pub fn rootlesskit_api(socket: &Path) -> Result<crate::rootlesskit::api::Info> {
    crate::rootlesskit::api::Client::new(socket)
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

    /// Serves `answer` (status line and body) to every connection, over TLS when `tls` is set.
    fn serve(tls: Option<Arc<rustls::ServerConfig>>, answer: &'static str) -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { continue };
                let tls = tls.clone();
                std::thread::spawn(move || {
                    let reply = |io: &mut dyn ReadWrite| {
                        let mut buf = Vec::new();
                        let mut b = [0u8; 512];
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match io.read(&mut b) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&b[..n]),
                            }
                        }
                        let (status, body) = answer.split_once('|').unwrap();
                        let _ = write!(
                            io,
                            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = io.flush();
                    };
                    match tls {
                        Some(cfg) => {
                            let conn = rustls::ServerConnection::new(cfg).unwrap();
                            let mut t = rustls::StreamOwned::new(conn, s);
                            reply(&mut t);
                            t.conn.send_close_notify();
                            let _ = t.flush();
                        }
                        None => {
                            let mut s = s;
                            reply(&mut s);
                        }
                    }
                });
            }
        });
        port
    }

    trait ReadWrite: Read + Write {}
    impl<T: Read + Write> ReadWrite for T {}

    fn server_tls(cert_pem: &str, key_pem: &str) -> Arc<rustls::ServerConfig> {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .collect::<std::result::Result<_, _>>()
                .unwrap();
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .unwrap(),
        )
    }

    #[test]
    fn http_probes_want_200_and_ok() {
        let ok = serve(None, "200 OK|ok");
        let busy = serve(None, "503 Service Unavailable|not yet");
        let other = serve(None, "200 OK|[+]ping ok");
        let probe = |port, want_ok| Probe::HttpOk {
            port,
            path: "/healthz".into(),
            want_ok,
        };
        check(&probe(ok, true)).unwrap();
        let e = check(&probe(busy, false)).unwrap_err().to_string();
        assert!(e.contains("503") && e.contains("/healthz"), "{e}");
        assert!(check(&probe(other, true)).is_err());
        check(&probe(other, false)).unwrap();
    }

    #[test]
    fn https_probes_verify_our_ca_or_accept_loopback_self_signed() {
        let d = tempfile::tempdir().unwrap();
        let pki = crate::pki::Pki::new(d.path());
        pki.ensure(&crate::pki::PkiSpec::etcd_only()).unwrap();
        use crate::pki::Leaf::{EtcdClient, EtcdServer};
        let read = |p: std::path::PathBuf| std::fs::read_to_string(p).unwrap();
        let ours = serve(
            Some(server_tls(
                &read(pki.cert(EtcdServer)),
                &read(pki.key(EtcdServer)),
            )),
            "200 OK|ok",
        );
        let self_signed = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let theirs = serve(
            Some(server_tls(
                &self_signed.cert.pem(),
                &self_signed.signing_key.serialize_pem(),
            )),
            "200 OK|ok",
        );
        let verified = |port| Probe::HttpsOk {
            port,
            path: "/readyz".into(),
            ca: pki.etcd_ca_cert(),
            cert: pki.cert(EtcdClient),
            key: pki.key(EtcdClient),
        };
        let loopback = |port| Probe::HttpsLoopbackOk {
            port,
            path: "/healthz".into(),
        };
        check(&verified(ours)).unwrap();
        assert!(
            check(&verified(theirs)).is_err(),
            "a certificate not from our CA is refused"
        );
        check(&loopback(theirs)).unwrap();
        check(&loopback(ours)).unwrap();
    }

    #[test]
    fn file_probe() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("subnet.env");
        let p = Probe::FileExists { path: f.clone() };
        assert!(check(&p).is_err());
        std::fs::write(&f, "FLANNEL_SUBNET=10.5.1.1/24\n").unwrap();
        check(&p).unwrap();
    }
}
