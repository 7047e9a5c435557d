//! `u7s up --join` through the real binary: a bundle made by `u7s certs bundle` on a master is
//! imported on a node, which then remembers it is a node of that cluster (its sessions plan the
//! node components, not a control plane), keeps its name, and never holds the CA key; a damaged
//! bundle changes nothing. The sessions themselves stop at the missing Kubernetes binaries
//! (none on this host), which is also what proves which role was planned.

use runtime::pki::{Leaf, Pki, PkiSpec};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new() -> Host {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        // The programs `up` looks for before the Kubernetes binaries (RootlessKit, slirp4netns,
        // the pause sandbox image): present, so that the plan goes on to name those. None runs:
        // the session stops at the first missing Kubernetes binary.
        std::fs::create_dir_all(dir.path().join("fakebin")).unwrap();
        for stand_in in ["pause", "rootlesskit", "slirp4netns"] {
            testkit::write_executable(
                &dir.path().join("fakebin").join(stand_in),
                b"#!/bin/sh\nexit 0\n",
            );
        }
        Host { dir }
    }
    fn pki(&self) -> Pki {
        Pki::new(self.dir.path().join("config/usernetes/pki"))
    }
    fn u7s(&self, args: &[&str]) -> Output {
        let d = self.dir.path();
        Command::new(env!("CARGO_BIN_EXE_u7s"))
            .args(args)
            .current_dir(d)
            .env("HOME", d)
            .env("XDG_CONFIG_HOME", d.join("config"))
            .env("XDG_DATA_HOME", d.join("data"))
            .env("XDG_RUNTIME_DIR", d.join("run"))
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    d.join("fakebin").display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env_remove("U7S_CRI")
            .env_remove("U7S_NO_KUBE")
            .env_remove("U7S_NODE_NAME")
            .env_remove("U7S_HOST_IP")
            .output()
            .unwrap()
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn master() -> Host {
    let h = Host::new();
    let spec = PkiSpec {
        host_ips: vec!["192.168.77.1".parse::<IpAddr>().unwrap()],
        kube: true,
        master: true,
        service_ip: Some("10.0.0.1".parse().unwrap()),
        ..PkiSpec::etcd_only()
    };
    h.pki().ensure(&spec).unwrap();
    h
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_joined_host_is_a_node_of_that_cluster_from_then_on() {
    let m = master();
    let bundle = m.path("node-a.tar");
    let o = m.u7s(&[
        "certs",
        "bundle",
        "node-a",
        "--ip",
        "192.168.77.2",
        "-o",
        bundle.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    let n = Host::new();
    // A damaged bundle is refused and writes nothing.
    let mut bytes = std::fs::read(&bundle).unwrap();
    let mid = bytes.len() / 3;
    bytes[mid] ^= 0x55;
    let bad = n.path("damaged.tar");
    std::fs::write(&bad, &bytes).unwrap();
    let o = n.u7s(&[
        "up",
        "--cri",
        "containerd",
        "--join",
        bad.to_str().unwrap(),
        "--no-doctor",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("cannot join the cluster"),
        "{}",
        stderr(&o)
    );
    assert!(!n.pki().dir.join("join.json").exists());

    // The real bundle: imported, then the session plans the node's components (flannel, the
    // kubelet), which this host lacks: the error names one of them, not the control plane.
    let o = n.u7s(&[
        "up",
        "--cri",
        "containerd",
        "--join",
        bundle.to_str().unwrap(),
        "--no-doctor",
    ]);
    let e = stderr(&o);
    assert!(!o.status.success(), "{e}");
    assert!(
        e.contains("joined the cluster at https://192.168.77.1:6443 as node node-a"),
        "{e}"
    );
    assert!(e.contains("flanneld") || e.contains("kubelet"), "{e}");
    assert!(!e.contains("kube-apiserver"), "{e}");
    let pki = n.pki();
    assert!(!pki.ca_key().exists(), "the CA key never leaves the master");
    assert!(
        !pki.dir.join("etcd-ca.pem").exists(),
        "no etcd CA on a node"
    );
    for leaf in Leaf::NODE {
        assert!(
            pki.cert(leaf).exists() && pki.key(leaf).exists(),
            "{leaf:?}"
        );
    }
    let imported = files(&pki.dir);

    // Later starts remember the cluster without --join.
    let o = n.u7s(&["up", "--cri", "containerd", "--no-doctor"]);
    let e = stderr(&o);
    assert!(!o.status.success(), "{e}");
    assert!(e.contains("flanneld") || e.contains("kubelet"), "{e}");
    assert!(!e.contains("kube-apiserver"), "{e}");
    // ... under the name the master issued.
    let o = n.u7s(&["up", "--node-name", "other", "--no-doctor"]);
    assert!(
        stderr(&o).contains("joined the cluster as node \"node-a\""),
        "{}",
        stderr(&o)
    );
    // A master without --join plans the control plane first.
    let o = m.u7s(&["up", "--cri", "containerd", "--no-doctor"]);
    assert!(stderr(&o).contains("kube-apiserver"), "{}", stderr(&o));

    // Units of a joined host start it as that node: no --join (already imported), its name
    // and the address its certificates were issued for.
    // (No systemd user manager on the test machines: the files only.)
    let o = n.u7s(&["units", "install", "--cri", "containerd", "--write-only"]);
    let unit = std::fs::read_to_string(n.path("config/systemd/user/u7s.service"))
        .unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    assert!(
        unit.contains("\"--node-name=node-a\" \"--host-ip=192.168.77.2\""),
        "{unit}"
    );
    assert!(!unit.contains("--join"), "{unit}");
    assert_eq!(
        files(&pki.dir),
        imported,
        "nothing rewritten by later starts"
    );
}

#[test]
fn a_node_with_its_own_session_network_needs_a_bundle_made_for_it() {
    let m = master();
    let make = |cidr: Option<&str>, out: &str| {
        let out = m.path(out);
        // The second bundle for node-b replaces the first (issued.json refuses it otherwise).
        let mut args = vec![
            "certs",
            "bundle",
            "node-b",
            "--reissue",
            "--ip",
            "192.168.77.3",
            "-o",
        ];
        args.push(out.to_str().unwrap());
        if let Some(c) = cidr {
            args.extend(["--node-cidr", c]);
        }
        let o = m.u7s(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        out
    };
    let default = make(None, "default.tar");
    let own = make(Some("10.0.101.0/24"), "own.tar");
    let n = Host::new();
    let join = |bundle: &Path| {
        n.u7s(&[
            "up",
            "--cri",
            "containerd",
            "--cidr",
            "10.0.101.0/24",
            "--join",
            bundle.to_str().unwrap(),
            "--no-doctor",
        ])
    };
    let o = join(&default);
    let e = stderr(&o);
    assert!(
        !o.status.success() && e.contains("--node-cidr 10.0.101.0/24"),
        "{e}"
    );
    assert!(!n.pki().dir.join("join.json").exists(), "nothing imported");
    let e = stderr(&join(&own));
    assert!(e.contains("joined the cluster"), "{e}");
    assert!(n.pki().dir.join("join.json").exists());
}
