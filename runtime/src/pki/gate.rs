//! What `u7s up` checks of the TLS material before it starts anything: a certificate that has
//! expired or is not signed by the CA beside it (a CA renewed, files copied from another
//! cluster) would only make the components fail one after the other, so the start is refused,
//! naming each file, its problem and the one command that fixes it: `u7s certs renew` on a
//! master (re-issues the leaves from the existing CA; the CA key and the data stay), `u7s certs
//! renew --ca` when a CA itself expired, a new bundle from the master on a joined node. Nothing
//! is removed or rewritten here. Problems a start repairs by itself on a master (a leaf missing,
//! names that no longer fit, close to expiry) do not block it.
//!
//! [`blocking`] and [`fix`] are pure; [`check`] reads the folder.

use crate::error::{Error, Result};
use crate::pki::inventory::{CertInfo, inventory_at};
use crate::pki::{CaKind, Pki, PkiSpec};
use serde::Serialize;
use std::path::PathBuf;
use time::OffsetDateTime;

/// The problems of [`CertInfo::issues`] that no start can work with.
const FATAL: &[&str] = &["expired", "not signed by the current CA"];

/// A certificate that blocks the start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadCert {
    /// `ca`, `etcd-ca` or the leaf's file stem.
    pub role: String,
    pub path: PathBuf,
    /// The fatal problems (`expired`, `not signed by the current CA`).
    pub problems: Vec<String>,
}

impl BadCert {
    fn is_ca(&self) -> bool {
        CaKind::ALL.iter().any(|k| k.stem() == self.role)
    }
}

/// The certificates of `list` that block a start (pure). A PKI without its CA (nothing issued
/// yet) blocks nothing: the start creates it.
pub fn blocking(list: &[CertInfo]) -> Vec<BadCert> {
    if list.first().is_some_and(|ca| ca.issues == ["missing"]) {
        return vec![];
    }
    list.iter()
        .filter_map(|c| {
            let problems: Vec<String> = c
                .issues
                .iter()
                .filter(|i| FATAL.contains(&i.as_str()))
                .cloned()
                .collect();
            (!problems.is_empty()).then(|| BadCert {
                role: c.role.clone(),
                path: c.path.clone(),
                problems,
            })
        })
        .collect()
}

/// The command that fixes `bad` (pure): on a joined node a new bundle from the master, on a
/// master `u7s certs renew`, with `--ca` when a CA itself is bad.
pub fn fix(bad: &[BadCert], master: bool, node_name: &str) -> String {
    if !master {
        return format!(
            "a joined node cannot issue certificates: on the master run `u7s certs bundle \
             {node_name} --ip ADDR -o FILE`, copy FILE here and start with `u7s up --join FILE` \
             (this node's data stays)"
        );
    }
    if bad.iter().any(BadCert::is_ca) {
        "`u7s certs renew --ca` (new CAs and every certificate issued from them; joined nodes \
         then need new bundles: `u7s certs bundle NODE --ip ADDR -o FILE` here, `u7s up --join \
         FILE` there), then `u7s up` again"
            .into()
    } else {
        "`u7s certs renew` (re-issues these certificates from the existing CA; the CA key and \
         all data stay), then `u7s up` again"
            .into()
    }
}

/// Refuses a start with `spec` when a certificate in `pki` has expired or is not signed by its
/// CA at `now`: [`Error::UnusableCertificates`], naming each file and the fix.
pub fn check_at(pki: &Pki, spec: &PkiSpec, now: OffsetDateTime) -> Result<()> {
    if !pki.ca_cert().exists() {
        return Ok(());
    }
    let bad = blocking(&inventory_at(pki, Some(spec), now));
    if bad.is_empty() {
        return Ok(());
    }
    Err(Error::UnusableCertificates {
        fix: fix(&bad, spec.master, &spec.node_name),
        certs: bad,
    })
}

/// [`check_at`] now.
pub fn check(pki: &Pki, spec: &PkiSpec) -> Result<()> {
    check_at(pki, spec, OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::Leaf;
    use crate::pki::tests::kube_spec;

    fn info(role: &str, issues: &[&str]) -> CertInfo {
        CertInfo {
            role: role.into(),
            path: format!("/pki/{role}.pem").into(),
            subject: String::new(),
            sans: vec![],
            not_after: String::new(),
            days_left: 0,
            issues: issues.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn only_expired_and_foreign_certificates_block_a_start() {
        let list = [
            info("ca", &[]),
            info("apiserver", &["expired", "SANs differ from the spec (…)"]),
            info("kubelet", &["not signed by the current CA"]),
            info("scheduler", &["expires in 3 days"]),
            info("etcd-server", &["missing"]),
            info("node", &["SANs differ from the spec (…)"]),
        ];
        let bad = blocking(&list);
        assert_eq!(
            bad,
            [
                BadCert {
                    role: "apiserver".into(),
                    path: "/pki/apiserver.pem".into(),
                    problems: vec!["expired".into()],
                },
                BadCert {
                    role: "kubelet".into(),
                    path: "/pki/kubelet.pem".into(),
                    problems: vec!["not signed by the current CA".into()],
                },
            ]
        );
        assert!(blocking(&[info("ca", &["missing"]), info("apiserver", &["missing"])]).is_empty());
    }

    #[test]
    fn the_fix_depends_on_the_role_and_what_is_bad() {
        let leaf = [BadCert {
            role: "apiserver".into(),
            path: "/p".into(),
            problems: vec!["expired".into()],
        }];
        let f = fix(&leaf, true, "n1");
        assert!(f.starts_with("`u7s certs renew` (re-issues"), "{f}");
        assert!(f.contains("the CA key and all data stay"), "{f}");
        let ca = [BadCert {
            role: "ca".into(),
            ..leaf[0].clone()
        }];
        assert!(fix(&ca, true, "n1").starts_with("`u7s certs renew --ca`"));
        let f = fix(&leaf, false, "n1");
        assert!(
            f.contains("`u7s certs bundle n1 --ip ADDR -o FILE`")
                && f.contains("`u7s up --join FILE`"),
            "{f}"
        );
    }

    #[test]
    fn a_master_with_an_expired_leaf_is_refused_and_nothing_changes() {
        let d = tempfile::tempdir().unwrap();
        let pki = Pki::new(d.path());
        let spec = kube_spec();
        let now = OffsetDateTime::now_utc();
        check_at(&pki, &spec, now).expect("no PKI yet: the start creates it");
        pki.ensure(&spec).unwrap();
        check_at(&pki, &spec, now).unwrap();
        let before = std::fs::read(pki.cert(Leaf::ApiServer)).unwrap();
        // Two years on, every leaf has expired (the CAs have not).
        let later = now + time::Duration::days(730);
        let e = check_at(&pki, &spec, later).unwrap_err();
        let Error::UnusableCertificates { certs, fix } = &e else {
            panic!("{e}")
        };
        assert!(
            certs
                .iter()
                .all(|c| !c.is_ca() && c.problems == ["expired"])
        );
        assert!(certs.iter().any(|c| c.path == pki.cert(Leaf::ApiServer)));
        assert!(fix.starts_with("`u7s certs renew`"));
        let text = e.to_string();
        assert!(
            text.contains(&format!("{}: expired", pki.cert(Leaf::ApiServer).display())),
            "{text}"
        );
        assert_eq!(std::fs::read(pki.cert(Leaf::ApiServer)).unwrap(), before);
    }
}
