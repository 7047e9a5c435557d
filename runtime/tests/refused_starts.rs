//! `u7s up` refusing a start that could only fail or damage data, as a user meets it: the real
//! binary on a data folder made here. Certificates expired or signed by another CA (on a master
//! and on a joined node) and an etcd data folder recorded as written by a newer etcd: each is
//! refused before anything starts, with its own exit code, naming the files and the fix, and
//! not one file of the config or data folders changes. On the master, the fix named
//! (`u7s certs renew`) then makes the certificates good again without touching the CA key.
//! `u7s status` (no session) names the same faults, text and `--json`.

use runtime::pki::join_bundle::{NodeRequest, import_node_bundle, write_node_bundle};
use runtime::pki::{Leaf, Pki, PkiSpec};
use runtime::session::config::{KubeSettings, SessionConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A user's folders under one temporary directory.
struct Home {
    dir: tempfile::TempDir,
    /// Put first on PATH (a fake etcd).
    bin: PathBuf,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        for d in ["run", "bin", "config/usernetes", "data/usernetes"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        Home { dir, bin }
    }

    fn pki(&self) -> Pki {
        Pki::new(self.dir.path().join("config/usernetes/pki"))
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data/usernetes")
    }

    fn u7s(&self, args: &[&str]) -> Output {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = Command::new(env!("CARGO_BIN_EXE_u7s"));
        c.args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env("PATH", path)
            .stdin(Stdio::null());
        for v in [
            "U7S_CRI",
            "U7S_NO_KUBE",
            "U7S_NODE_NAME",
            "U7S_HOST_IP",
            "U7S_APISERVER_PORT",
            "U7S_ROOTLESSKIT_FLAGS",
            "U7S_ROOTLESSKIT_PORTS",
        ] {
            c.env_remove(v);
        }
        c.output().unwrap()
    }

    /// Every file of the config and data folders with its content.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        for top in ["config", "data"] {
            walk(&self.dir.path().join(top), &mut out);
        }
        out
    }

    /// Nothing of a session was started or recorded.
    fn assert_no_session(&self) {
        let state = self.dir.path().join("run/usernetes");
        for f in ["session.json", "status.json"] {
            assert!(!state.join(f).exists(), "{f} written");
        }
    }
}

fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.insert(p.clone(), std::fs::read(&p).unwrap());
        }
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `u7s status` without a session names what `u7s up` would refuse, containing `want`; so does
/// `--json`'s `start_blockers`.
fn assert_status_names(h: &Home, want: &str) {
    let o = h.u7s(&["status"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(out.contains("`u7s up` would refuse to start: "), "{out}");
    assert!(out.contains(want), "{want}\n---\n{out}");
    let o = h.u7s(&["status", "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let b = j["start_blockers"].as_array().expect("start_blockers");
    assert!(
        b.iter().any(|l| l.as_str().unwrap().contains(want)),
        "{want}\n---\n{j}"
    );
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

/// Puts `from`'s certificate and key of `leaf` into `to`.
fn copy_leaf(from: &Pki, to: &Pki, leaf: Leaf) {
    std::fs::copy(from.cert(leaf), to.cert(leaf)).unwrap();
    std::fs::copy(from.key(leaf), to.key(leaf)).unwrap();
}

/// Some data a lost folder would lose.
fn put_etcd_data(h: &Home) -> PathBuf {
    let db = h.data().join("etcd/member/snap/db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    std::fs::write(&db, "the cluster's state").unwrap();
    db
}

#[test]
fn a_master_with_an_expired_certificate_and_one_of_another_ca_is_refused_untouched() {
    let h = Home::new();
    let pki = h.pki();
    let spec = master_spec();
    pki.ensure(&spec).unwrap();
    // The apiserver's certificate issued 400 days ago by our CA (valid a year): expired.
    let past = time::OffsetDateTime::now_utc() - time::Duration::days(400);
    let old = pki
        .load_ca()
        .unwrap()
        .issue(Leaf::ApiServer, &spec, past)
        .unwrap();
    std::fs::write(pki.cert(Leaf::ApiServer), &old.cert_pem).unwrap();
    std::fs::write(pki.key(Leaf::ApiServer), &old.key_pem).unwrap();
    // The scheduler's from another cluster's CA.
    let other = tempfile::tempdir().unwrap();
    let other = Pki::new(other.path().join("pki"));
    other.ensure(&spec).unwrap();
    copy_leaf(&other, &pki, Leaf::Scheduler);
    let db = put_etcd_data(&h);
    let before = h.snapshot();

    let o = h.u7s(&[
        "up",
        "--cri",
        "containerd",
        "--node-name",
        "node-a",
        "--host-ip",
        "192.168.1.10",
    ]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(5), "{e}");
    for want in [
        "cannot start with these certificates (nothing was started, nothing removed)".to_string(),
        format!("{}: expired", pki.cert(Leaf::ApiServer).display()),
        format!(
            "{}: not signed by the current CA",
            pki.cert(Leaf::Scheduler).display()
        ),
        "fix: `u7s certs renew` (re-issues these certificates from the existing CA".into(),
    ] {
        assert!(e.contains(&want), "{want}\n---\n{e}");
    }
    // Only the two bad ones are named.
    assert_eq!(e.matches(".pem: ").count(), 2, "{e}");
    assert_eq!(h.snapshot(), before, "a file changed");
    h.assert_no_session();
    assert_status_names(
        &h,
        &format!("{}: expired", pki.cert(Leaf::ApiServer).display()),
    );
    assert_eq!(h.snapshot(), before, "u7s status changed a file");

    // The fix named works, and keeps the CA key and the data.
    let ca_key = std::fs::read(pki.ca_key()).unwrap();
    let o = h.u7s(&["certs", "renew"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = h.u7s(&["certs", "check"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(std::fs::read(pki.ca_key()).unwrap(), ca_key);
    assert_eq!(std::fs::read(&db).unwrap(), b"the cluster's state");
}

#[test]
fn a_joined_node_with_a_certificate_of_another_ca_is_told_to_get_a_new_bundle() {
    let master = Home::new();
    let mpki = master.pki();
    mpki.ensure(&master_spec()).unwrap();
    let bundle = master.dir.path().join("node-c.tar");
    let settings = KubeSettings {
        flannel: true,
        pod_cidr: runtime::session::config::DEFAULT_FLANNEL_CIDR.into(),
        ..Default::default()
    };
    let req = NodeRequest {
        name: "node-c".into(),
        ips: vec!["192.168.1.30".parse().unwrap()],
        server: "192.168.1.10".into(),
        cidr: runtime::rootlesskit::flags::DEFAULT_CIDR.into(),
    };
    write_node_bundle(&mpki, &req, &settings, &bundle, false).unwrap();
    let node = Home::new();
    let npki = node.pki();
    import_node_bundle(
        &bundle,
        &npki,
        runtime::rootlesskit::flags::DEFAULT_CIDR,
        false,
    )
    .unwrap();
    // The kubelet's client certificate from another cluster.
    let other = tempfile::tempdir().unwrap();
    let other = Pki::new(other.path().join("pki"));
    other.ensure(&master_spec()).unwrap();
    copy_leaf(&other, &npki, Leaf::Node);
    let before = node.snapshot();

    let o = node.u7s(&["up", "--cri", "containerd"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(5), "{e}");
    for want in [
        format!(
            "{}: not signed by the current CA",
            npki.cert(Leaf::Node).display()
        ),
        "a joined node cannot issue certificates: on the master run `u7s certs bundle node-c \
         --ip ADDR -o FILE`"
            .to_string(),
        "`u7s up --join FILE`".into(),
    ] {
        assert!(e.contains(&want), "{want}\n---\n{e}");
    }
    assert_eq!(node.snapshot(), before, "a file changed");
    node.assert_no_session();
}

#[test]
fn an_etcd_folder_written_by_a_newer_etcd_is_refused_and_left_alone() {
    let h = Home::new();
    // The release's etcd (a stand-in that only knows its version).
    let etcd = h.bin.join("etcd");
    std::fs::write(
        &etcd,
        "#!/bin/sh\necho 'etcd Version: 3.5.16'\necho 'Git SHA: f20bbad'\n",
    )
    .unwrap();
    std::fs::set_permissions(&etcd, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    put_etcd_data(&h);
    let marker = h.data().join("etcd.version");
    std::fs::write(&marker, "3.6.2\n").unwrap();
    let before = h.snapshot();

    let o = h.u7s(&["up", "--cri", "containerd", "--no-kube", "--etcd"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(6), "{e}");
    for want in [
        format!(
            "{} was written by etcd 3.6.2 (recorded in {}), newer than this release's etcd 3.5.16",
            h.data().join("etcd").display(),
            marker.display()
        ),
        "nothing was started and the folder was not touched".into(),
        "install the release with etcd 3.6.2 or newer again".into(),
        "`u7s reset`".into(),
    ] {
        assert!(e.contains(&want), "{want}\n---\n{e}");
    }
    assert_eq!(h.snapshot(), before, "a file changed");
    h.assert_no_session();
    assert_status_names(&h, "was written by etcd 3.6.2");
    assert_eq!(h.snapshot(), before, "u7s status changed a file");
}
