//! `u7s certs`: the inventory of the TLS material (subject, SANs, expiry, problems: chain to
//! the CA, expiry, SANs and subject against the recorded spec), renewal of leaves (and of the
//! CA on request), and the earliest expiry that `u7s status` shows.

use crate::error::{Error, Result};
use crate::pki::{CaKind, Leaf, Pki, PkiSpec, RENEW_DAYS, parse_cert};
use serde::Serialize;
use std::path::PathBuf;
use time::OffsetDateTime;

/// One certificate of the inventory.
#[derive(Debug, Clone, Serialize)]
pub struct CertInfo {
    /// `ca`, `etcd-ca` or the leaf's file stem (`apiserver`, `node`, ...).
    pub role: String,
    pub path: PathBuf,
    pub subject: String,
    pub sans: Vec<String>,
    /// RFC 3339, empty when unreadable.
    pub not_after: String,
    pub days_left: i64,
    /// Empty = good.
    pub issues: Vec<String>,
}

/// The leaves to list: the recorded spec's, else every leaf whose certificate is present.
fn leaves(pki: &Pki, spec: Option<&PkiSpec>) -> Vec<Leaf> {
    match spec {
        Some(s) => s.leaves(),
        None => Leaf::ALL
            .into_iter()
            .filter(|l| pki.cert(*l).exists())
            .collect(),
    }
}

fn ca_info(pki: &Pki, kind: CaKind, now: OffsetDateTime) -> CertInfo {
    let path = pki.ca_cert_of(kind);
    let mut info = CertInfo {
        role: kind.stem().into(),
        path: path.clone(),
        subject: String::new(),
        sans: vec![],
        not_after: String::new(),
        days_left: 0,
        issues: vec![],
    };
    let pem = match std::fs::read(&path) {
        Ok(p) => p,
        Err(_) => {
            info.issues.push("missing".into());
            return info;
        }
    };
    match parse_cert(&pem) {
        Ok(c) => {
            info.subject = c.subject;
            info.days_left = (c.not_after - now).whole_days();
            info.not_after = rfc3339(c.not_after);
            if c.not_after <= now {
                info.issues.push("expired".into());
            } else if info.days_left < RENEW_DAYS {
                info.issues.push(format!(
                    "expires in {} days (u7s certs renew --ca)",
                    info.days_left
                ));
            }
            if pki.is_master() {
                let key = std::fs::read_to_string(pki.ca_key_of(kind)).unwrap_or_default();
                let parsed = parse_cert(&pem).expect("parsed above");
                if !crate::pki::key_matches(&key, &parsed) {
                    info.issues.push(format!(
                        "{0}-key.pem does not belong to {0}.pem",
                        kind.stem()
                    ));
                }
            }
        }
        Err(e) => info.issues.push(format!("unreadable: {e}")),
    }
    info
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Every certificate with its problems, the CAs first, at `now`. A joined node holds the
/// cluster CA only (etcd's never leaves the master).
pub fn inventory_at(pki: &Pki, spec: Option<&PkiSpec>, now: OffsetDateTime) -> Vec<CertInfo> {
    let mut out = vec![ca_info(pki, CaKind::Cluster, now)];
    if pki.is_master() {
        out.push(ca_info(pki, CaKind::Etcd, now));
    }
    for leaf in leaves(pki, spec) {
        let path = pki.cert(leaf);
        let issues = pki.problems(leaf, spec, now);
        let parsed = std::fs::read(&path).ok().and_then(|p| parse_cert(&p).ok());
        out.push(match parsed {
            Some(c) => CertInfo {
                role: leaf.stem().into(),
                path,
                subject: c.subject,
                sans: c.sans,
                not_after: rfc3339(c.not_after),
                days_left: (c.not_after - now).whole_days(),
                issues,
            },
            None => CertInfo {
                role: leaf.stem().into(),
                path,
                subject: String::new(),
                sans: vec![],
                not_after: String::new(),
                days_left: 0,
                issues,
            },
        });
    }
    out
}

/// Every certificate with its problems, checked against the recorded spec (when one exists).
pub fn inventory(pki: &Pki) -> Result<Vec<CertInfo>> {
    let spec = pki.load_spec()?;
    Ok(inventory_at(pki, spec.as_ref(), OffsetDateTime::now_utc()))
}

/// Every certificate with its problems now, checked against the recorded spec when it can be
/// read: what `u7s status` summarises ([`earliest_expiry`], [`problem_lines`]).
pub fn current(pki: &Pki) -> Vec<CertInfo> {
    let spec = pki.load_spec().ok().flatten();
    inventory_at(pki, spec.as_ref(), OffsetDateTime::now_utc())
}

/// The certificate of `list` closest to expiry: (role, days left). None when there is no
/// material.
pub fn earliest_expiry(list: &[CertInfo]) -> Option<(String, i64)> {
    list.iter()
        .filter(|c| !c.not_after.is_empty())
        .min_by_key(|c| c.days_left)
        .map(|c| (c.role.clone(), c.days_left))
}

/// Each certificate of `list` with problems as `role: problem; problem`, for `u7s status`;
/// nothing when there is no material (the CA itself is missing).
pub fn problem_lines(list: &[CertInfo]) -> Vec<String> {
    if list.first().is_some_and(|ca| ca.issues == ["missing"]) {
        return vec![];
    }
    list.iter()
        .filter(|c| !c.issues.is_empty())
        .map(|c| format!("{}: {}", c.role, c.issues.join("; ")))
        .collect()
}

/// The table of `u7s certs check`.
pub fn render_table(list: &[CertInfo]) -> String {
    let mut rows = vec![[
        "ROLE".to_string(),
        "SUBJECT".into(),
        "EXPIRES".into(),
        "DAYS".into(),
        "PROBLEMS".into(),
    ]];
    for c in list {
        rows.push([
            c.role.clone(),
            c.subject.clone(),
            c.not_after.get(..10).unwrap_or("-").to_string(),
            if c.not_after.is_empty() {
                "-".into()
            } else {
                c.days_left.to_string()
            },
            if c.issues.is_empty() {
                "ok".into()
            } else {
                c.issues.join("; ")
            },
        ]);
    }
    let mut w = [0usize; 4];
    for r in &rows {
        for (i, c) in r.iter().take(4).enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        out.push_str(&format!(
            "{:w0$}  {:w1$}  {:w2$}  {:>w3$}  {}\n",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        ));
    }
    out
}

/// What to renew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Renew {
    /// Every leaf, not only the flagged ones.
    pub all: bool,
    /// A new CA too (then every leaf; joined nodes need new bundles).
    pub ca: bool,
}

/// Re-issues leaves on a master: the flagged ones, every one with `all`, and with `ca` a new CA
/// and everything under it. Returns the files written.
pub fn renew(pki: &Pki, spec: &PkiSpec, what: Renew) -> Result<Vec<PathBuf>> {
    if !spec.master || !pki.is_master() {
        return Err(Error::Pki {
            path: pki.ca_key(),
            message: format!(
                "missing: a joined node cannot renew its certificates; on the master run `u7s \
                 certs bundle {} --ip ADDR -o FILE` and import it here with `u7s up --join FILE`",
                spec.node_name
            ),
        });
    }
    let now = OffsetDateTime::now_utc();
    let mut written = vec![];
    if what.ca {
        written.extend(pki.create_ca(now)?);
    }
    if what.all || what.ca {
        for leaf in spec.leaves() {
            let ca = pki.load_ca_of(leaf.ca())?;
            written.extend(pki.write_leaf(&ca, leaf, spec, now)?);
        }
    }
    // Whatever is still flagged, the service-account keys and the kubeconfigs.
    for p in pki.ensure(spec)? {
        if !written.contains(&p) {
            written.push(p);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::tests::kube_spec;

    #[test]
    fn inventory_flags_problems_and_renew_fixes_them() {
        let d = tempfile::tempdir().unwrap();
        let pki = Pki::new(d.path());
        let spec = kube_spec();
        pki.ensure(&spec).unwrap();
        let inv = inventory(&pki).unwrap();
        assert_eq!(inv.len(), 16);
        assert!(inv.iter().all(|c| c.issues.is_empty()), "{inv:?}");
        assert_eq!(inv[0].role, "ca");
        assert_eq!(inv[1].role, "etcd-ca");
        assert!(inv[0].days_left >= 3649);
        let (role, days) = earliest_expiry(&current(&pki)).unwrap();
        assert!((363..=365).contains(&days), "{role} {days}");
        // The session's host address changed: the recorded spec says so.
        let mut moved = spec.clone();
        moved.host_ips = vec!["192.168.7.7".parse().unwrap()];
        let inv = inventory_at(&pki, Some(&moved), OffsetDateTime::now_utc());
        let flagged: Vec<&str> = inv
            .iter()
            .filter(|c| !c.issues.is_empty())
            .map(|c| c.role.as_str())
            .collect();
        assert_eq!(flagged, ["apiserver", "kubelet-serving"]);
        let lines = problem_lines(&inv);
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("apiserver: ") && lines[0].contains("SANs differ"),
            "{lines:?}"
        );
        assert!(
            problem_lines(&current(&pki)).is_empty(),
            "the recorded spec has no problem"
        );
        assert!(problem_lines(&current(&Pki::new(d.path().join("none")))).is_empty());
        let table = render_table(&inv);
        assert!(
            table.contains("SANs differ") && table.contains("ROLE"),
            "{table}"
        );
        // Renew the flagged ones only.
        let admin = std::fs::read(pki.cert(Leaf::Admin)).unwrap();
        let w = renew(&pki, &moved, Renew::default()).unwrap();
        assert!(w.contains(&pki.cert(Leaf::ApiServer)), "{w:?}");
        assert_eq!(std::fs::read(pki.cert(Leaf::Admin)).unwrap(), admin);
        assert!(inventory(&pki).unwrap().iter().all(|c| c.issues.is_empty()));
        // --all: every leaf, same CA.
        let ca = std::fs::read(pki.ca_cert()).unwrap();
        let w = renew(
            &pki,
            &moved,
            Renew {
                all: true,
                ca: false,
            },
        )
        .unwrap();
        assert!(w.contains(&pki.cert(Leaf::Admin)));
        assert_ne!(std::fs::read(pki.cert(Leaf::Admin)).unwrap(), admin);
        assert_eq!(std::fs::read(pki.ca_cert()).unwrap(), ca);
        // --ca: a new CA, every leaf chains to it.
        renew(
            &pki,
            &moved,
            Renew {
                all: false,
                ca: true,
            },
        )
        .unwrap();
        assert_ne!(std::fs::read(pki.ca_cert()).unwrap(), ca);
        assert!(inventory(&pki).unwrap().iter().all(|c| c.issues.is_empty()));
    }

    #[test]
    fn missing_material_is_reported_not_panicked() {
        let d = tempfile::tempdir().unwrap();
        let pki = Pki::new(d.path());
        let inv = inventory(&pki).unwrap();
        assert_eq!(inv.len(), 1);
        assert_eq!(inv[0].issues, ["missing"]);
        assert_eq!(earliest_expiry(&current(&pki)), None);
        let mut spec = kube_spec();
        spec.master = false;
        let e = renew(&pki, &spec, Renew::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ca-key.pem") && e.contains("certs bundle"),
            "{e}"
        );
    }
}
