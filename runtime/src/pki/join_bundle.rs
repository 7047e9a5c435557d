//! The node bootstrap bundle: what a master hands a joining node (a tar of plain files): the
//! CA certificate, the node's own leaves (kubelet client and serving, kube-proxy) with their
//! keys, its kubeconfigs and `join.json`. Never a CA key, never an etcd credential (flanneld
//! uses the Kubernetes API with the kubelet's credential): a joined node cannot issue.
//! Import checks every entry (plain files with known names only), that the certificates chain to
//! the bundled CA and belong to the named node, and writes them atomically. Export refuses a name
//! that is no DNS subdomain and the master's own node name, and records every bundle it writes in
//! `issued.json` (name, addresses, expiry) beside the CA: a second bundle for the same name (two
//! valid identities for one node) needs `--reissue`.

use crate::error::{Error, Result};
use crate::host::fsutil::{ensure_dir, write_atomic};
use crate::pki::kubeconfig;
use crate::pki::{
    Kubeconfig, Leaf, Pki, PkiSpec, first_address, leaf_problems, parse_cert, profile,
};
use crate::session::config::KubeSettings;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use time::OffsetDateTime;

/// The bundle's description of the cluster for the joining node.
pub const JOIN_FILE: &str = "join.json";
/// The master's record of the bundles it issued (in its PKI folder).
pub const ISSUED_FILE: &str = "issued.json";

/// One issued bundle, as recorded in [`ISSUED_FILE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedBundle {
    pub node_name: String,
    pub node_ips: Vec<IpAddr>,
    /// RFC 3339.
    pub issued_at: String,
    /// The node certificate's expiry, RFC 3339.
    pub not_after: String,
}
/// Largest bundle accepted, and largest entry.
const MAX_BUNDLE: u64 = 4 << 20;
const MAX_ENTRY: u64 = 256 << 10;

/// What the joining node needs to know about the cluster (`join.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinInfo {
    /// The control plane's address as this node reaches it.
    pub server: String,
    pub node_name: String,
    /// The node's host addresses its certificates were issued for.
    #[serde(default)]
    pub node_ips: Vec<IpAddr>,
    pub service_cidr: String,
    pub cluster_dns: String,
    pub cluster_domain: String,
    pub pod_cidr: String,
    pub flannel: bool,
    /// The master's apiserver port (bundles made before it was recorded: 6443).
    #[serde(default = "crate::session::config::default_apiserver_port")]
    pub apiserver_port: u16,
}

/// Who the bundle is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRequest {
    pub name: String,
    /// The node's host address(es).
    pub ips: Vec<IpAddr>,
    /// The master's address as the node reaches it.
    pub server: String,
    /// The node's namespace network (its `<cidr>.100` goes in the kubelet's serving SANs).
    pub cidr: String,
}

/// Every file name a bundle may hold.
pub fn entry_names() -> Vec<String> {
    let mut v = vec!["ca.pem".to_string(), JOIN_FILE.into()];
    for l in Leaf::NODE {
        v.push(format!("{}.pem", l.stem()));
        v.push(format!("{}-key.pem", l.stem()));
    }
    for k in Kubeconfig::NODE {
        v.push(k.file_name().into());
    }
    v
}

fn is_secret(name: &str) -> bool {
    name.ends_with("-key.pem") || name.ends_with(".kubeconfig")
}

/// The node's spec as the master issues it and the node checks it.
pub fn node_spec(join: &JoinInfo, cidr: &str) -> PkiSpec {
    PkiSpec {
        node_name: join.node_name.clone(),
        host_ips: join.node_ips.clone(),
        namespace_ip: crate::rootlesskit::flags::child_ip(cidr).map(IpAddr::V4),
        service_ip: first_address(&join.service_cidr),
        cluster_domain: join.cluster_domain.clone(),
        extra_sans: vec![],
        kube: true,
        master: false,
        server: join.server.clone(),
        apiserver_port: join.apiserver_port,
    }
}

fn bundle_err(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Pki {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Issues the node's material from the master's CA and returns the bundle (tar bytes).
pub fn export_node_bundle(
    master: &Pki,
    node: &NodeRequest,
    settings: &KubeSettings,
) -> Result<Vec<u8>> {
    if !KubeSettings::valid_node_name(&node.name) {
        return Err(Error::Usage(format!(
            "node name {:?} is not a DNS subdomain (lowercase letters, digits, '-' and '.'): give \
             the node's name as its kubelet registers (e.g. node-1)",
            node.name
        )));
    }
    if let Some(spec) = master.load_spec()?
        && spec.node_name == node.name
    {
        return Err(Error::Usage(format!(
            "{:?} is the master's own node name: a bundle for it would let its holder act as the \
             master's kubelet; give the joining node another name",
            node.name
        )));
    }
    let ca = master.load_ca()?;
    let join = JoinInfo {
        server: node.server.clone(),
        node_name: node.name.clone(),
        node_ips: node.ips.clone(),
        service_cidr: settings.service_cidr.clone(),
        cluster_dns: settings.cluster_dns.clone(),
        cluster_domain: settings.cluster_domain.clone(),
        pod_cidr: settings.pod_cidr.clone(),
        flannel: true,
        apiserver_port: settings.apiserver_port,
    };
    let spec = node_spec(&join, &node.cidr);
    let now = OffsetDateTime::now_utc();
    let mut files: Vec<(String, Vec<u8>)> = vec![("ca.pem".into(), ca.cert_pem.clone().into())];
    let mut issued = BTreeMap::new();
    for l in Leaf::NODE {
        let i = ca.issue(l, &spec, now)?;
        files.push((format!("{}.pem", l.stem()), i.cert_pem.clone().into()));
        files.push((format!("{}-key.pem", l.stem()), i.key_pem.clone().into()));
        issued.insert(l.stem(), i);
    }
    let url = kubeconfig::server_url(&node.server, join.apiserver_port);
    for k in Kubeconfig::NODE {
        let i = &issued[k.leaf().stem()];
        let user = profile(k.leaf(), &spec).cn;
        let text = kubeconfig::render(&url, &ca.cert_pem, &user, &i.cert_pem, &i.key_pem);
        files.push((k.file_name().into(), text.into()));
    }
    let j = serde_json::to_string_pretty(&join).expect("JoinInfo serialises");
    files.push((JOIN_FILE.into(), j.into()));
    let mut b = tar::Builder::new(Vec::new());
    let mtime = now.unix_timestamp().max(0) as u64;
    for (name, data) in &files {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).map_err(|e| Error::io(name, e))?;
        h.set_size(data.len() as u64);
        h.set_mode(if is_secret(name) { 0o600 } else { 0o644 });
        h.set_mtime(mtime);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, data.as_slice())
            .map_err(|e| Error::io(name, e))?;
    }
    b.into_inner().map_err(|e| Error::io("bundle", e))
}

impl Pki {
    /// The record of the issued bundles.
    pub fn issued_file(&self) -> PathBuf {
        self.dir.join(ISSUED_FILE)
    }

    /// The bundles issued so far (none when there is no record).
    pub fn issued(&self) -> Result<Vec<IssuedBundle>> {
        match std::fs::read(self.issued_file()) {
            Ok(b) => serde_json::from_slice(&b).map_err(|source| Error::Json {
                path: self.issued_file(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
            Err(e) => Err(Error::io(self.issued_file(), e)),
        }
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Exports the bundle into `out` (0600, written atomically) and records it. A name issued before
/// is refused unless `reissue` (the earlier bundle stays valid until it expires or the CA is
/// renewed: revoke it with `u7s certs renew --ca`).
pub fn write_node_bundle(
    master: &Pki,
    node: &NodeRequest,
    settings: &KubeSettings,
    out: &Path,
    reissue: bool,
) -> Result<()> {
    let mut issued = master.issued()?;
    if let Some(prev) = issued.iter().find(|b| b.node_name == node.name)
        && !reissue
    {
        return Err(Error::Usage(format!(
            "a bundle for node {:?} was issued at {} (valid until {}, recorded in {}): pass \
             --reissue to issue another one (both stay valid), or pick another name",
            node.name,
            prev.issued_at,
            prev.not_after,
            master.issued_file().display()
        )));
    }
    let bytes = export_node_bundle(master, node, settings)?;
    let files = read_entries(out, &bytes)?;
    let cert = parse_cert(&files["node.pem"]).map_err(|e| bundle_err(out, e))?;
    issued.retain(|b| b.node_name != node.name);
    issued.push(IssuedBundle {
        node_name: node.name.clone(),
        node_ips: node.ips.clone(),
        issued_at: rfc3339(OffsetDateTime::now_utc()),
        not_after: rfc3339(cert.not_after),
    });
    write_atomic(out, &bytes, 0o600)?;
    let text = serde_json::to_string_pretty(&issued).expect("IssuedBundle serialises");
    write_atomic(&master.issued_file(), text.as_bytes(), 0o600)
}

/// Reads and checks a bundle's entries: plain files with known names, each once, small.
pub fn read_entries(path: &Path, bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>> {
    let known = entry_names();
    let mut out = BTreeMap::new();
    let mut ar = tar::Archive::new(bytes);
    let entries = ar
        .entries()
        .map_err(|e| bundle_err(path, format!("not a tar archive: {e}")))?;
    for e in entries {
        let mut e = e.map_err(|e| bundle_err(path, format!("corrupt archive: {e}")))?;
        let raw = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let comps: Vec<Component> = Path::new(&raw).components().collect();
        let name = match comps.as_slice() {
            [Component::Normal(n)] => n.to_string_lossy().into_owned(),
            _ => {
                return Err(bundle_err(
                    path,
                    format!("entry {raw:?} is not a plain file name; refusing the bundle"),
                ));
            }
        };
        if !e.header().entry_type().is_file() {
            return Err(bundle_err(
                path,
                format!(
                    "entry {raw:?} is a {:?}, not a plain file; refusing the bundle",
                    e.header().entry_type()
                ),
            ));
        }
        if name == "ca-key.pem" {
            return Err(bundle_err(
                path,
                "holds ca-key.pem: the CA key never leaves the master; refusing the bundle \
                 (export a new one with `u7s certs bundle`)",
            ));
        }
        if !known.contains(&name) {
            return Err(bundle_err(
                path,
                format!(
                    "unknown entry {raw:?}; a node bundle holds only {}",
                    known.join(", ")
                ),
            ));
        }
        if e.size() > MAX_ENTRY {
            return Err(bundle_err(path, format!("entry {raw:?} is too large")));
        }
        let mut data = vec![];
        (&mut e)
            .take(MAX_ENTRY + 1)
            .read_to_end(&mut data)
            .map_err(|err| bundle_err(path, format!("entry {raw:?}: {err}")))?;
        if out.insert(name, data).is_some() {
            return Err(bundle_err(path, format!("entry {raw:?} appears twice")));
        }
    }
    for n in &known {
        if !out.contains_key(n) {
            return Err(bundle_err(
                path,
                format!("entry {n} is missing; export the bundle again on the master"),
            ));
        }
    }
    Ok(out)
}

/// Checks a bundle against itself: join.json, the chain to the bundled CA, the node's name and
/// addresses in its certificates.
pub fn check_entries(
    path: &Path,
    files: &BTreeMap<String, Vec<u8>>,
    cidr: &str,
) -> Result<JoinInfo> {
    let join: JoinInfo =
        serde_json::from_slice(&files[JOIN_FILE]).map_err(|source| Error::Json {
            path: path.join(JOIN_FILE),
            source,
        })?;
    if join.node_name.is_empty() || join.server.is_empty() {
        return Err(bundle_err(path, "join.json names no node or no server"));
    }
    let ca = parse_cert(&files["ca.pem"]).map_err(|e| bundle_err(&path.join("ca.pem"), e))?;
    let spec = node_spec(&join, cidr);
    let now = OffsetDateTime::now_utc();
    for l in Leaf::NODE {
        let cert = &files[&format!("{}.pem", l.stem())];
        let key = String::from_utf8_lossy(&files[&format!("{}-key.pem", l.stem())]).into_owned();
        let want = profile(l, &spec);
        let p = leaf_problems(Some(cert), Some(&key), Some(&ca.der), Some(&want), now);
        if !p.is_empty() {
            return Err(bundle_err(
                &path.join(format!("{}.pem", l.stem())),
                format!(
                    "{} (bundle for node {:?}, checked for this node's network {cidr}); export a \
                     new bundle on the master (`u7s certs bundle NODE --ip ADDR --node-cidr {cidr}`)",
                    p.join(", "),
                    join.node_name
                ),
            ));
        }
    }
    Ok(join)
}

/// Imports a bundle into a node's PKI folder. Refuses a master's folder, and a folder holding a
/// different CA unless `force`. `cidr` is the node's namespace network.
pub fn import_node_bundle(bundle: &Path, pki: &Pki, cidr: &str, force: bool) -> Result<JoinInfo> {
    let meta = std::fs::metadata(bundle).map_err(|e| Error::io(bundle, e))?;
    if !meta.is_file() || meta.len() > MAX_BUNDLE {
        return Err(bundle_err(
            bundle,
            "not a node bundle (a plain file of at most 4 MiB)",
        ));
    }
    let bytes = std::fs::read(bundle).map_err(|e| Error::io(bundle, e))?;
    let files = read_entries(bundle, &bytes)?;
    let join = check_entries(bundle, &files, cidr)?;
    if pki.is_master() {
        return Err(bundle_err(
            &pki.ca_key(),
            "this folder is a master's PKI (it holds the CA key); import the bundle on the node",
        ));
    }
    if let Ok(existing) = std::fs::read(pki.ca_cert())
        && existing != files["ca.pem"]
        && !force
    {
        return Err(bundle_err(
            &pki.ca_cert(),
            "holds a different CA than the bundle (another cluster?); pass --force to replace it",
        ));
    }
    ensure_dir(&pki.dir, 0o700)?;
    for (name, data) in &files {
        let mode = if is_secret(name) { 0o600 } else { 0o644 };
        write_atomic(&pki.dir.join(name), data, mode)?;
    }
    let spec = node_spec(&join, cidr);
    let text = serde_json::to_string_pretty(&spec).expect("PkiSpec serialises");
    write_atomic(&pki.spec_file(), text.as_bytes(), 0o644)?;
    Ok(join)
}

/// The paths an import writes (for messages).
pub fn imported_paths(pki: &Pki) -> Vec<PathBuf> {
    entry_names().iter().map(|n| pki.dir.join(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::tests::kube_spec;

    fn master() -> (tempfile::TempDir, Pki) {
        let d = tempfile::tempdir().unwrap();
        let pki = Pki::new(d.path());
        pki.ensure(&kube_spec()).unwrap();
        (d, pki)
    }

    fn request() -> NodeRequest {
        NodeRequest {
            name: "node-b".into(),
            ips: vec!["192.168.1.20".parse().unwrap()],
            server: "192.168.1.10".into(),
            cidr: crate::rootlesskit::flags::DEFAULT_CIDR.into(),
        }
    }

    fn settings() -> KubeSettings {
        KubeSettings {
            flannel: true,
            pod_cidr: crate::session::config::DEFAULT_FLANNEL_CIDR.into(),
            ..Default::default()
        }
    }

    fn tar_with(entries: &[(&[u8], tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(*kind);
            if *kind == tar::EntryType::Symlink {
                h.set_link_name("/etc/passwd").unwrap();
            }
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn bundle_holds_the_node_material_and_never_the_ca_key() {
        let (_d, m) = master();
        let bytes = export_node_bundle(&m, &request(), &settings()).unwrap();
        let ca_key = std::fs::read(m.ca_key()).unwrap();
        assert!(
            !bytes.windows(ca_key.len()).any(|w| w == ca_key.as_slice()),
            "the CA key is in the bundle"
        );
        let files = read_entries(Path::new("b.tar"), &bytes).unwrap();
        let mut names: Vec<&String> = files.keys().collect();
        names.sort();
        let mut want = entry_names();
        want.sort();
        assert_eq!(names, want.iter().collect::<Vec<_>>());
        assert!(!files.contains_key("ca-key.pem"));
        let join = check_entries(
            Path::new("b.tar"),
            &files,
            crate::rootlesskit::flags::DEFAULT_CIDR,
        )
        .unwrap();
        // No etcd credential: nothing in the bundle chains to etcd's CA.
        let etcd_ca = m.ca_der_of(crate::pki::CaKind::Etcd).unwrap();
        for (name, data) in &files {
            if let Ok(c) = parse_cert(data) {
                assert!(!crate::pki::signed_by(&c.der, &etcd_ca), "{name}");
            }
        }
        assert!(!String::from_utf8_lossy(&files[JOIN_FILE]).contains("2379"));
        assert_eq!(join.node_name, "node-b");
        assert!(join.flannel);
        assert_eq!(join.pod_cidr, "10.5.0.0/16");
        let node = parse_cert(&files["node.pem"]).unwrap();
        assert_eq!(node.subject, "O=system:nodes, CN=system:node:node-b");
        let serving = parse_cert(&files["kubelet-serving.pem"]).unwrap();
        assert!(serving.sans.contains(&"IP:192.168.1.20".to_string()));
        let kc = String::from_utf8(files["kubelet.kubeconfig"].clone()).unwrap();
        assert!(kc.contains("\"https://192.168.1.10:6443\""), "{kc}");
    }

    #[test]
    fn import_writes_a_node_pki_that_only_checks() {
        let (_d, m) = master();
        let out = tempfile::tempdir().unwrap();
        let file = out.path().join("node-b.tar");
        write_node_bundle(&m, &request(), &settings(), &file, false).unwrap();
        let n = tempfile::tempdir().unwrap();
        let node = Pki::new(n.path().join("pki"));
        let join = import_node_bundle(&file, &node, crate::rootlesskit::flags::DEFAULT_CIDR, false)
            .unwrap();
        assert_eq!(join.server, "192.168.1.10");
        assert!(!node.ca_key().exists());
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(node.key(Leaf::Node)).unwrap().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(node.kubeconfig(Kubeconfig::Kubelet))
                .unwrap()
                .mode()
                & 0o777,
            0o600
        );
        // The node's own check passes and writes nothing.
        let spec = node.load_spec().unwrap().unwrap();
        assert!(!spec.master);
        assert!(node.ensure(&spec).unwrap().is_empty());
        assert!(
            crate::pki::inventory::inventory(&node)
                .unwrap()
                .iter()
                .all(|c| c.issues.is_empty())
        );
        // Importing again is fine; a bundle from another cluster needs --force.
        import_node_bundle(&file, &node, crate::rootlesskit::flags::DEFAULT_CIDR, false).unwrap();
        let other = tempfile::tempdir().unwrap();
        let o = Pki::new(other.path());
        o.ensure(&kube_spec()).unwrap();
        let file2 = out.path().join("other.tar");
        write_node_bundle(&o, &request(), &settings(), &file2, false).unwrap();
        let e = import_node_bundle(
            &file2,
            &node,
            crate::rootlesskit::flags::DEFAULT_CIDR,
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("different CA") && e.contains("--force"), "{e}");
        import_node_bundle(&file2, &node, crate::rootlesskit::flags::DEFAULT_CIDR, true).unwrap();
        // Never into a master's folder.
        let e = import_node_bundle(&file, &m, crate::rootlesskit::flags::DEFAULT_CIDR, true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("master"), "{e}");
    }

    #[test]
    fn names_are_checked_and_bundles_recorded_once() {
        let (_d, m) = master();
        let out = tempfile::tempdir().unwrap();
        let file = out.path().join("b.tar");
        for bad in ["Bad:Name", "UPPER", "-x", "a..b", ""] {
            let mut r = request();
            r.name = bad.into();
            let e = write_node_bundle(&m, &r, &settings(), &file, false)
                .unwrap_err()
                .to_string();
            assert!(e.contains("DNS subdomain"), "{bad}: {e}");
        }
        let mut r = request();
        r.name = "node-a".into();
        let e = write_node_bundle(&m, &r, &settings(), &file, true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("master's own node name"), "{e}");
        assert!(!file.exists(), "nothing written");
        assert!(m.issued().unwrap().is_empty());
        write_node_bundle(&m, &request(), &settings(), &file, false).unwrap();
        let rec = m.issued().unwrap();
        assert_eq!(rec.len(), 1);
        assert_eq!(rec[0].node_name, "node-b");
        assert_eq!(rec[0].node_ips, request().ips);
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            std::fs::metadata(m.issued_file()).unwrap().mode() & 0o777,
            0o600
        );
        let first = std::fs::read(&file).unwrap();
        let e = write_node_bundle(&m, &request(), &settings(), &file, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--reissue") && e.contains("issued.json"), "{e}");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            first,
            "the first bundle stays"
        );
        write_node_bundle(&m, &request(), &settings(), &file, true).unwrap();
        assert_eq!(m.issued().unwrap().len(), 1, "one record per name");
        let mut c = request();
        c.name = "node-c.example".into();
        write_node_bundle(&m, &c, &settings(), &out.path().join("c.tar"), false).unwrap();
        assert_eq!(m.issued().unwrap().len(), 2);
    }

    #[test]
    fn hostile_entries_are_refused() {
        use tar::EntryType::{Directory, Regular, Symlink};
        let p = Path::new("evil.tar");
        for (entries, why) in [
            (
                vec![(&b"../ca.pem"[..], Regular, &b"x"[..])],
                "plain file name",
            ),
            (
                vec![(&b"/etc/ca.pem"[..], Regular, &b"x"[..])],
                "plain file name",
            ),
            (
                vec![(&b"sub/ca.pem"[..], Regular, &b"x"[..])],
                "plain file name",
            ),
            (
                vec![(&b"ca.pem"[..], Symlink, &b""[..])],
                "not a plain file",
            ),
            (
                vec![(&b"ca.pem"[..], Directory, &b""[..])],
                "not a plain file",
            ),
            (
                vec![(&b"ca-key.pem"[..], Regular, &b"k"[..])],
                "never leaves",
            ),
            (vec![(&b"evil.sh"[..], Regular, &b"x"[..])], "unknown entry"),
            (
                vec![
                    (&b"ca.pem"[..], Regular, &b"a"[..]),
                    (&b"ca.pem"[..], Regular, &b"b"[..]),
                ],
                "twice",
            ),
            (vec![(&b"ca.pem"[..], Regular, &b"a"[..])], "missing"),
        ] {
            let e = read_entries(p, &tar_with(&entries))
                .unwrap_err()
                .to_string();
            assert!(e.contains(why) && e.contains("evil.tar"), "{why}: {e}");
        }
        let big = vec![b'a'; (MAX_ENTRY + 1) as usize];
        let e = read_entries(p, &tar_with(&[(b"ca.pem", Regular, &big)]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("too large"), "{e}");
        assert!(read_entries(p, b"garbage that is not tar").is_err());
        // Well-formed entries, but a certificate for another node: refused.
        let (_d, m) = master();
        let bytes = export_node_bundle(&m, &request(), &settings()).unwrap();
        let mut files = read_entries(p, &bytes).unwrap();
        let mut j: JoinInfo = serde_json::from_slice(&files[JOIN_FILE]).unwrap();
        j.node_name = "node-c".into();
        files.insert(JOIN_FILE.into(), serde_json::to_vec(&j).unwrap());
        let e = check_entries(p, &files, crate::rootlesskit::flags::DEFAULT_CIDR)
            .unwrap_err()
            .to_string();
        assert!(e.contains("subject") && e.contains("node-c"), "{e}");
        // A leaf from another CA: refused.
        let mut files = read_entries(p, &bytes).unwrap();
        let o = tempfile::tempdir().unwrap();
        let other = Pki::new(o.path());
        other.ensure(&kube_spec()).unwrap();
        files.insert("ca.pem".into(), std::fs::read(other.ca_cert()).unwrap());
        let e = check_entries(p, &files, crate::rootlesskit::flags::DEFAULT_CIDR)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not signed by the current CA"), "{e}");
    }
}
