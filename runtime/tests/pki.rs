//! The PKI checked with real tools: openssl reads and verifies every certificate and key, etcd
//! runs with the etcd certificates and client-cert auth and etcdctl talks to it with the client
//! certificates (and is refused without one, or with one from another CA), kubectl reads every
//! kubeconfig and does a real TLS exchange with a small HTTPS server in the test that serves the
//! apiserver certificate and requires client certificates; a node bundle imported into a fresh
//! folder gives kubeconfigs that work the same way. The tools must be on PATH; a missing one
//! fails the test. The tests that need etcd or kubectl (rarely on a developer's machine) are
//! ignored by a plain `cargo test` and run with `--include-ignored` (scripts/test.sh, CI).

use runtime::pki::join_bundle::{NodeRequest, import_node_bundle, write_node_bundle};
use runtime::pki::{CaKind, Kubeconfig, Leaf, Pki, PkiSpec};
use runtime::session::config::{KubeSettings, SessionConfig};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn ok(cmd: &mut Command) -> String {
    let o = run(cmd);
    assert!(
        o.status.success(),
        "{cmd:?}: {}\n{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A master's spec: Kubernetes on, node `node-a`, host address 192.168.1.10.
fn master_spec() -> PkiSpec {
    let mut cfg: SessionConfig = serde_json::from_value(serde_json::json!({
        "cri": "containerd", "kube": true, "etcd": true, "publish": [],
        "cidr": "10.0.42.0/24", "rootlesskit_flags": [],
    }))
    .unwrap();
    cfg.k8s.node_name = "node-a".into();
    cfg.k8s.host_ip = Some("192.168.1.10".into());
    PkiSpec::from_session(&cfg).unwrap()
}

fn master(dir: &Path) -> Pki {
    let pki = Pki::new(dir.join("pki"));
    pki.ensure(&master_spec()).unwrap();
    pki
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().mode() & 0o777
}

/// What openssl must print per role (facts: Kubernetes' expected subjects; our SAN plan).
struct Want {
    leaf: Leaf,
    subject: &'static str,
    eku: &'static str,
    sans: &'static [&'static str],
}

const APISERVER_SANS: &[&str] = &[
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
    "DNS:localhost",
    "DNS:node-a",
    "IP Address:127.0.0.1",
    "IP Address:0:0:0:0:0:0:0:1",
    "IP Address:10.0.0.1",
    "IP Address:10.0.42.100",
    "IP Address:192.168.1.10",
];
const SERVER: &str = "TLS Web Server Authentication";
const CLIENT: &str = "TLS Web Client Authentication";
const BOTH: &str = "TLS Web Server Authentication, TLS Web Client Authentication";

fn wants() -> Vec<Want> {
    vec![
        Want {
            leaf: Leaf::EtcdServer,
            subject: "CN=etcd-server",
            eku: SERVER,
            sans: &[
                "DNS:localhost",
                "IP Address:127.0.0.1",
                "IP Address:0:0:0:0:0:0:0:1",
            ],
        },
        Want {
            leaf: Leaf::EtcdPeer,
            subject: "CN=etcd-peer",
            eku: BOTH,
            sans: &["DNS:localhost", "IP Address:127.0.0.1"],
        },
        Want {
            leaf: Leaf::EtcdClient,
            subject: "CN=u7s-etcd-client",
            eku: CLIENT,
            sans: &[],
        },
        Want {
            leaf: Leaf::ApiServer,
            subject: "CN=kube-apiserver",
            eku: SERVER,
            sans: APISERVER_SANS,
        },
        Want {
            leaf: Leaf::ApiServerEtcdClient,
            subject: "CN=kube-apiserver-etcd-client",
            eku: CLIENT,
            sans: &[],
        },
        Want {
            leaf: Leaf::ApiServerKubeletClient,
            subject: "CN=kube-apiserver-kubelet-client,O=system:masters",
            eku: CLIENT,
            sans: &[],
        },
        Want {
            leaf: Leaf::Admin,
            subject: "CN=kubernetes-admin,O=u7s:cluster-admins",
            eku: CLIENT,
            sans: &[],
        },
        Want {
            leaf: Leaf::SuperAdmin,
            subject: "CN=kubernetes-super-admin,O=system:masters",
            eku: CLIENT,
            sans: &[],
        },
        Want {
            leaf: Leaf::ControllerManager,
            subject: "CN=system:kube-controller-manager,O=system:kube-controller-manager",
            eku: CLIENT,
            sans: &[],
        },
        Want {
            leaf: Leaf::Scheduler,
            subject: "CN=system:kube-scheduler,O=system:kube-scheduler",
            eku: CLIENT,
            sans: &[],
        },
        Want {
            leaf: Leaf::KubeProxy,
            subject: "CN=system:kube-proxy,O=system:node-proxier",
            eku: CLIENT,
            sans: &[],
        },
        Want {
            leaf: Leaf::Node,
            subject: "CN=system:node:node-a,O=system:nodes",
            eku: CLIENT,
            sans: &[],
        },
        Want {
            leaf: Leaf::KubeletServing,
            subject: "CN=system:node:node-a,O=system:nodes",
            eku: SERVER,
            sans: &[
                "DNS:node-a",
                "DNS:localhost",
                "IP Address:127.0.0.1",
                "IP Address:10.0.42.100",
                "IP Address:192.168.1.10",
            ],
        },
    ]
}

/// The value of extension `name` in `openssl x509 -noout -ext name` output (one line).
fn ext(openssl: &Path, cert: &Path, name: &str) -> String {
    let out = ok(Command::new(openssl)
        .args(["x509", "-noout", "-ext", name, "-in"])
        .arg(cert));
    out.lines()
        .skip(1)
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn openssl_verifies_every_role() {
    let openssl = testkit::program("openssl");
    let d = tempfile::tempdir().unwrap();
    let pki = master(d.path());
    assert_eq!(mode(&pki.dir), 0o700);
    assert_eq!(mode(&pki.ca_cert()), 0o644);
    assert_eq!(mode(&pki.ca_key()), 0o600);
    // The CA: a CA with pathlen 0, signs certificates and CRLs, ten years.
    let ca = pki.ca_cert();
    assert_eq!(ext(&openssl, &ca, "basicConstraints"), "CA:TRUE, pathlen:0");
    let ku = ext(&openssl, &ca, "keyUsage");
    assert!(
        ku.contains("Certificate Sign") && ku.contains("CRL Sign"),
        "{ku}"
    );
    let days = |n: i64| (n * 86400).to_string();
    let ca_checkend = |n| {
        run(Command::new(&openssl)
            .args(["x509", "-noout", "-checkend", &days(n), "-in"])
            .arg(&ca))
        .status
        .success()
    };
    assert!(ca_checkend(3640) && !ca_checkend(3660));
    for w in wants() {
        let cert = pki.cert(w.leaf);
        let key = pki.key(w.leaf);
        let name = w.leaf.stem();
        assert_eq!(mode(&cert), 0o644, "{name}");
        assert_eq!(mode(&key), 0o600, "{name}");
        // Each leaf chains to its own CA only: etcd's leaves to etcd-ca.pem, the rest to ca.pem.
        let (own, foreign) = match w.leaf.ca() {
            CaKind::Etcd => (pki.etcd_ca_cert(), ca.clone()),
            CaKind::Cluster => (ca.clone(), pki.etcd_ca_cert()),
        };
        let v = ok(Command::new(&openssl)
            .args(["verify", "-CAfile"])
            .arg(&own)
            .arg(&cert));
        assert!(v.trim().ends_with(": OK"), "{name}: {v}");
        let bad = run(Command::new(&openssl)
            .args(["verify", "-CAfile"])
            .arg(&foreign)
            .arg(&cert));
        assert!(!bad.status.success(), "{name} chains to the other CA");
        let subject = ok(Command::new(&openssl)
            .args(["x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in"])
            .arg(&cert));
        assert_eq!(subject.trim(), format!("subject={}", w.subject), "{name}");
        assert_eq!(ext(&openssl, &cert, "extendedKeyUsage"), w.eku, "{name}");
        assert_eq!(
            ext(&openssl, &cert, "keyUsage"),
            "Digital Signature",
            "{name}"
        );
        let sans = ext(&openssl, &cert, "subjectAltName");
        let mut got: Vec<&str> = sans.split(", ").filter(|s| !s.is_empty()).collect();
        let mut want = w.sans.to_vec();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{name}");
        assert!(
            !ext(&openssl, &cert, "basicConstraints").contains("CA:TRUE"),
            "{name} is not a CA"
        );
        // Valid now, for about a year: not expiring within 360 days, expired within 370.
        let checkend = |n| {
            run(Command::new(&openssl)
                .args(["x509", "-noout", "-checkend", &days(n), "-in"])
                .arg(&cert))
            .status
            .success()
        };
        assert!(checkend(360) && !checkend(370), "{name}: one year");
        // The key reads, is P-256, and is the certificate's.
        let k = ok(Command::new(&openssl)
            .args(["pkey", "-noout", "-text", "-in"])
            .arg(&key));
        assert!(
            k.contains("prime256v1") || k.contains("P-256"),
            "{name}: {k}"
        );
        let pub_of_key = ok(Command::new(&openssl)
            .args(["pkey", "-pubout", "-in"])
            .arg(&key));
        let pub_of_cert = ok(Command::new(&openssl)
            .args(["x509", "-noout", "-pubkey", "-in"])
            .arg(&cert));
        assert_eq!(pub_of_key, pub_of_cert, "{name}");
    }
    // Service-account keys: a private key and its public half.
    assert_eq!(mode(&pki.sa_key()), 0o600);
    let sa_pub = ok(Command::new(&openssl)
        .args(["pkey", "-pubout", "-in"])
        .arg(pki.sa_key()));
    assert_eq!(sa_pub, std::fs::read_to_string(pki.sa_pub()).unwrap());
    // A certificate of another CA does not verify against ours.
    let o = tempfile::tempdir().unwrap();
    let other = master(o.path());
    let bad = run(Command::new(&openssl)
        .args(["verify", "-CAfile"])
        .arg(&ca)
        .arg(other.cert(Leaf::Admin)));
    assert!(!bad.status.success());
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn etcdctl(bin: &Path, endpoint: &str, ca: &Path, client: Option<(&Pki, Leaf)>) -> Command {
    let mut c = Command::new(bin);
    c.env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoint}"))
        .arg(format!("--cacert={}", ca.display()))
        .args(["--dial-timeout=1s", "--command-timeout=3s"]);
    if let Some((pki, leaf)) = client {
        c.arg(format!("--cert={}", pki.cert(leaf).display()))
            .arg(format!("--key={}", pki.key(leaf).display()));
    }
    c
}

#[test]
#[ignore = "needs etcd and etcdctl (Debian: etcd-server, etcd-client; scripts/ci-setup.sh)"]
fn etcd_serves_with_client_cert_auth() {
    let (etcd, ctl) = (testkit::program("etcd"), testkit::program("etcdctl"));
    let d = tempfile::tempdir().unwrap();
    let pki = master(d.path());
    let (cp, pp) = (free_port(), free_port());
    let client = format!("https://127.0.0.1:{cp}");
    let peer = format!("https://127.0.0.1:{pp}");
    let log = std::fs::File::create(d.path().join("etcd.log")).unwrap();
    let _etcd = Killed(
        Command::new(&etcd)
            .args([
                "--name=t".to_string(),
                format!("--data-dir={}", d.path().join("data").display()),
                format!("--listen-client-urls={client}"),
                format!("--advertise-client-urls={client}"),
                format!("--listen-peer-urls={peer}"),
                format!("--initial-advertise-peer-urls={peer}"),
                format!("--initial-cluster=t={peer}"),
            ])
            // The session's own TLS flags.
            .args(runtime::components::etcd::tls_args(&pki))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let ca = pki.etcd_ca_cert();
    // Wait until it answers (it has to elect itself first).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let o = run(etcdctl(&ctl, &client, &ca, Some((&pki, Leaf::EtcdClient)))
            .args(["endpoint", "health"]));
        if o.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "etcd never became healthy: {}\n{}",
            String::from_utf8_lossy(&o.stderr),
            std::fs::read_to_string(d.path().join("etcd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // u7s's own readiness probe (GET /health over TLS with the EtcdClient certificate).
    runtime::probe::etcd_health(
        cp,
        &ca,
        &pki.cert(Leaf::EtcdClient),
        &pki.key(Leaf::EtcdClient),
    )
    .unwrap();
    // ... and it is refused with another CA's client certificate.
    let od = tempfile::tempdir().unwrap();
    let other = master(od.path());
    assert!(
        runtime::probe::etcd_health(
            cp,
            &ca,
            &other.cert(Leaf::EtcdClient),
            &other.key(Leaf::EtcdClient)
        )
        .is_err()
    );
    for leaf in [Leaf::ApiServerEtcdClient, Leaf::EtcdClient] {
        let key = format!("/k/{}", leaf.stem());
        ok(etcdctl(&ctl, &client, &ca, Some((&pki, leaf))).args(["put", &key, "v"]));
        let got = ok(etcdctl(&ctl, &client, &ca, Some((&pki, leaf))).args([
            "get",
            &key,
            "--print-value-only",
        ]));
        assert_eq!(got.trim(), "v", "{leaf:?}");
    }
    // Certificates of the cluster CA (a node's, the admin's) are no etcd credential.
    for leaf in [Leaf::Node, Leaf::KubeProxy, Leaf::Admin, Leaf::SuperAdmin] {
        let o = run(etcdctl(&ctl, &client, &ca, Some((&pki, leaf))).args([
            "get",
            "/k/etcd-client",
            "--command-timeout=1s",
        ]));
        assert!(!o.status.success(), "etcd served {leaf:?}'s certificate");
    }
    // No client certificate: refused.
    let o =
        run(etcdctl(&ctl, &client, &ca, None).args(["get", "/k/flannel", "--command-timeout=1s"]));
    assert!(!o.status.success(), "served without a client certificate");
    // A client certificate from another CA: refused.
    let o = run(etcdctl(
        &ctl,
        &client,
        &ca,
        Some((&other, Leaf::ApiServerEtcdClient)),
    )
    .args(["get", "/k/flannel", "--command-timeout=1s"]));
    assert!(!o.status.success(), "served a certificate of another CA");
    // A client that trusts only another CA refuses our server.
    let o = run(etcdctl(
        &ctl,
        &client,
        &other.etcd_ca_cert(),
        Some((&pki, Leaf::EtcdClient)),
    )
    .args(["get", "/k/flannel", "--command-timeout=1s"]));
    assert!(!o.status.success(), "trusted a server of another CA");
}

/// A small HTTPS server with the apiserver certificate, requiring client certificates from the
/// CA; answers `/version` like Kubernetes and records the client subjects it saw.
struct Server {
    port: u16,
    subjects: Arc<Mutex<Vec<String>>>,
}

const VERSION_JSON: &str = r#"{"major":"1","minor":"37","gitVersion":"v1.37.1","gitCommit":"0000000000000000000000000000000000000000","gitTreeState":"clean","buildDate":"2026-01-01T00:00:00Z","goVersion":"go1.25.0","compiler":"gc","platform":"linux/amd64"}"#;

fn serve(pki: &Pki) -> Server {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(pki.ca_cert()).unwrap())
        .unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let cert = CertificateDer::from_pem_file(pki.cert(Leaf::ApiServer)).unwrap();
    let key = PrivateKeyDer::from_pem_file(pki.key(Leaf::ApiServer)).unwrap();
    let cfg = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![cert], key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let subjects = Arc::new(Mutex::new(vec![]));
    let seen = subjects.clone();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let cfg = cfg.clone();
            let seen = seen.clone();
            std::thread::spawn(move || handle(cfg, s, seen));
        }
    });
    Server { port, subjects }
}

fn handle(cfg: Arc<rustls::ServerConfig>, s: TcpStream, seen: Arc<Mutex<Vec<String>>>) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let conn = rustls::ServerConnection::new(cfg).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, s);
    let mut req = vec![];
    let mut buf = [0u8; 4096];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    if let Some(c) = tls.conn.peer_certificates().and_then(|c| c.first()) {
        use x509_parser::prelude::FromDer;
        let (_, x) = x509_parser::certificate::X509Certificate::from_der(c).unwrap();
        seen.lock().unwrap().push(x.subject().to_string());
    }
    let line = String::from_utf8_lossy(&req)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    let path = line.split(' ').nth(1).unwrap_or("");
    let (status, body) = if path.split('?').next() == Some("/version") {
        ("200 OK", VERSION_JSON)
    } else {
        (
            "404 Not Found",
            r#"{"kind":"Status","apiVersion":"v1","status":"Failure","code":404}"#,
        )
    };
    let _ = write!(
        tls,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

fn kubectl_version(kubectl: &Path, kubeconfig: &Path, port: u16, tls_name: Option<&str>) -> Output {
    let mut c = Command::new(kubectl);
    c.arg("--kubeconfig")
        .arg(kubeconfig)
        .arg(format!("--server=https://127.0.0.1:{port}"))
        .args(["--request-timeout=10s"]);
    if let Some(n) = tls_name {
        c.arg(format!("--tls-server-name={n}"));
    }
    c.args(["version", "-o", "json"])
        .env("HOME", kubeconfig.parent().unwrap());
    run(&mut c)
}

fn view(kubectl: &Path, kubeconfig: &Path, raw: bool) -> serde_json::Value {
    let mut c = Command::new(kubectl);
    c.arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["config", "view", "-o", "json"]);
    if raw {
        c.arg("--raw");
    }
    serde_json::from_str(&ok(&mut c)).unwrap()
}

fn b64(p: &Path) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(std::fs::read(p).unwrap())
}

/// kubectl reads `k` (context, user, cluster, embedded data) and completes `/version` through
/// the test server with it; returns the subject the server saw.
fn check_kubeconfig(
    kubectl: &Path,
    pki: &Pki,
    k: Kubeconfig,
    server: &Server,
    url: &str,
    user: &str,
) -> String {
    let path = pki.kubeconfig(k);
    assert_eq!(mode(&path), 0o600, "{path:?}");
    let v = view(kubectl, &path, false);
    assert_eq!(v["current-context"], "usernetes", "{v}");
    assert_eq!(v["contexts"][0]["name"], "usernetes");
    assert_eq!(v["contexts"][0]["context"]["user"], user);
    assert_eq!(v["users"][0]["name"], user);
    assert_eq!(v["clusters"][0]["cluster"]["server"], url);
    let raw = view(kubectl, &path, true);
    let c = &raw["clusters"][0]["cluster"];
    assert_eq!(c["certificate-authority-data"], b64(&pki.ca_cert()));
    let u = &raw["users"][0]["user"];
    assert_eq!(u["client-certificate-data"], b64(&pki.cert(k.leaf())));
    assert_eq!(u["client-key-data"], b64(&pki.key(k.leaf())));
    let before = server.subjects.lock().unwrap().len();
    for name in [
        None,
        Some("kubernetes.default.svc.cluster.local"),
        Some("kubernetes"),
    ] {
        let o = kubectl_version(kubectl, &path, server.port, name);
        assert!(
            o.status.success(),
            "{path:?} via {name:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["serverVersion"]["gitVersion"], "v1.37.1", "{j}");
    }
    let seen = server.subjects.lock().unwrap();
    assert!(seen.len() > before, "the server saw no client certificate");
    seen.last().unwrap().clone()
}

#[test]
#[ignore = "needs kubectl (scripts/ci-setup.sh)"]
fn kubectl_uses_every_kubeconfig_over_real_tls() {
    let kubectl = testkit::program("kubectl");
    let d = tempfile::tempdir().unwrap();
    let pki = master(d.path());
    let server = serve(&pki);
    let local = "https://127.0.0.1:6443";
    for (k, user, subject) in [
        (
            Kubeconfig::Admin,
            "kubernetes-admin",
            "O=u7s:cluster-admins, CN=kubernetes-admin",
        ),
        (
            Kubeconfig::SuperAdmin,
            "kubernetes-super-admin",
            "O=system:masters, CN=kubernetes-super-admin",
        ),
        (
            Kubeconfig::ControllerManager,
            "system:kube-controller-manager",
            "O=system:kube-controller-manager, CN=system:kube-controller-manager",
        ),
        (
            Kubeconfig::Scheduler,
            "system:kube-scheduler",
            "O=system:kube-scheduler, CN=system:kube-scheduler",
        ),
        (
            Kubeconfig::KubeProxy,
            "system:kube-proxy",
            "O=system:node-proxier, CN=system:kube-proxy",
        ),
        (
            Kubeconfig::Kubelet,
            "system:node:node-a",
            "O=system:nodes, CN=system:node:node-a",
        ),
    ] {
        let seen = check_kubeconfig(&kubectl, &pki, k, &server, local, user);
        assert_eq!(seen, subject, "{k:?}");
    }
    // A name the apiserver certificate does not carry is refused by kubectl.
    let o = kubectl_version(
        &kubectl,
        &pki.kubeconfig(Kubeconfig::Admin),
        server.port,
        Some("example.com"),
    );
    assert!(!o.status.success(), "kubectl accepted a wrong server name");
    // An admin of another CA is refused by the server.
    let od = tempfile::tempdir().unwrap();
    let other = master(od.path());
    let o = kubectl_version(
        &kubectl,
        &other.kubeconfig(Kubeconfig::Admin),
        server.port,
        None,
    );
    assert!(!o.status.success(), "a client of another CA got through");
}

#[test]
#[ignore = "needs kubectl and openssl (scripts/ci-setup.sh)"]
fn a_node_bundle_gives_working_kubeconfigs_and_no_ca_key() {
    let kubectl = testkit::program("kubectl");
    let openssl = testkit::program("openssl");
    let d = tempfile::tempdir().unwrap();
    let pki = master(d.path());
    let server = serve(&pki);
    let file = d.path().join("node-b.tar");
    let settings = KubeSettings {
        flannel: true,
        pod_cidr: runtime::session::config::DEFAULT_FLANNEL_CIDR.into(),
        ..Default::default()
    };
    let req = NodeRequest {
        name: "node-b".into(),
        ips: vec!["192.168.1.20".parse().unwrap()],
        server: "192.168.1.10".into(),
        cidr: "10.0.42.0/24".into(),
    };
    write_node_bundle(&pki, &req, &settings, &file, false).unwrap();
    assert_eq!(mode(&file), 0o600);
    let n = tempfile::tempdir().unwrap();
    let node = Pki::new(n.path().join("pki"));
    import_node_bundle(&file, &node, "10.0.42.0/24", false).unwrap();
    assert!(!node.ca_key().exists(), "the node got the CA key");
    assert_eq!(mode(&node.dir), 0o700);
    let url = "https://192.168.1.10:6443";
    let seen = check_kubeconfig(
        &kubectl,
        &node,
        Kubeconfig::Kubelet,
        &server,
        url,
        "system:node:node-b",
    );
    assert_eq!(seen, "O=system:nodes, CN=system:node:node-b");
    let seen = check_kubeconfig(
        &kubectl,
        &node,
        Kubeconfig::KubeProxy,
        &server,
        url,
        "system:kube-proxy",
    );
    assert_eq!(seen, "O=system:node-proxier, CN=system:kube-proxy");
    for name in std::fs::read_dir(&node.dir).unwrap().flatten() {
        let n = name.file_name().to_string_lossy().into_owned();
        assert!(!n.starts_with("ca-key"), "{n}");
    }
    for l in Leaf::NODE {
        let v = ok(Command::new(&openssl)
            .args(["verify", "-CAfile"])
            .arg(node.ca_cert())
            .arg(node.cert(l)));
        assert!(v.trim().ends_with(": OK"), "{v}");
    }
}

/// `u7s certs` as a user runs it: check passes on a fresh master, bundle writes a file that
/// imports, check flags a broken leaf with exit 1 and renew fixes it.
#[test]
fn the_certs_command() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("config");
    let pki_dir = cfg.join("usernetes/pki");
    let pki = Pki::new(&pki_dir);
    pki.ensure(&master_spec()).unwrap();
    let u7s = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_u7s"));
        c.args(args)
            .current_dir(d.path())
            .env("HOME", d.path())
            .env("XDG_CONFIG_HOME", &cfg)
            .env("XDG_DATA_HOME", d.path().join("data"))
            .env("XDG_RUNTIME_DIR", d.path().join("run"));
        run(&mut c)
    };
    std::fs::create_dir_all(d.path().join("run")).unwrap();
    let o = u7s(&["certs", "check"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("apiserver") && out.contains("kubernetes-admin"),
        "{out}"
    );
    let o = u7s(&["certs", "check", "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j.as_array().unwrap().len(), 16, "two CAs and 14 leaves");
    // The bundle, with the master's recorded host address as the default server.
    let o = u7s(&["certs", "bundle", "node-c", "--ip", "192.168.1.30"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = d.path().join("node-c.bundle.tar");
    let n = tempfile::tempdir().unwrap();
    let node_pki = Pki::new(n.path().join("cfg/usernetes/pki"));
    let join = import_node_bundle(&file, &node_pki, "10.0.42.0/24", false).unwrap();
    assert_eq!(join.server, "192.168.1.10");
    // A broken leaf: check says so (exit 1), renew re-issues it, check passes again.
    std::fs::write(pki.cert(Leaf::Scheduler), "garbage").unwrap();
    let o = u7s(&["certs", "check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("unreadable"));
    let o = u7s(&["certs", "renew"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("scheduler.pem"));
    assert!(u7s(&["certs", "check"]).status.success());
    // On the imported node: check passes, renew and bundle refuse and name the fix.
    let on_node = |args: &[&str]| {
        run(Command::new(env!("CARGO_BIN_EXE_u7s"))
            .args(args)
            .current_dir(n.path())
            .env("HOME", n.path())
            .env("XDG_CONFIG_HOME", n.path().join("cfg"))
            .env("XDG_DATA_HOME", n.path().join("data"))
            .env("XDG_RUNTIME_DIR", d.path().join("run")))
    };
    let o = on_node(&["certs", "check"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    for args in [
        &["certs", "renew"][..],
        &["certs", "bundle", "x", "--ip", "10.1.1.1"],
    ] {
        let o = on_node(args);
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && e.contains("ca-key.pem"),
            "{args:?}: {e}"
        );
    }
    assert!(!node_pki.ca_key().exists());
}

/// Newcomer review L23: `u7s certs check` before any PKI exists says so in one line (exit 1),
/// without a one-row table of a missing CA; `--json` still gives the inventory.
#[test]
fn certs_check_without_any_pki_is_one_line() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("run")).unwrap();
    let u7s = |args: &[&str]| {
        run(Command::new(env!("CARGO_BIN_EXE_u7s"))
            .args(args)
            .current_dir(d.path())
            .env("HOME", d.path())
            .env("XDG_CONFIG_HOME", d.path().join("config"))
            .env("XDG_DATA_HOME", d.path().join("data"))
            .env("XDG_RUNTIME_DIR", d.path().join("run")))
    };
    let o = u7s(&["certs", "check"]);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert_eq!(out, "", "no table when there is no TLS material");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("no TLS material") && err.contains("u7s up"),
        "{err}"
    );
    let o = u7s(&["certs", "check", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j.as_array().is_some(), "{j}");
}
