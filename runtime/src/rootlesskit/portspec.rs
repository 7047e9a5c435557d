//! Port specs as rootlessctl writes them: `[PARENTIP:]PARENTPORT:[CHILDIP:]CHILDPORT/PROTO`,
//! IPv6 addresses in brackets. Unlike rootlessctl, a spec without a parent address binds the
//! loopback address (127.0.0.1, or ::1 for `tcp6`/`udp6`): publishing to every interface must be
//! asked for. As with `docker run -p`, the protocol defaults to tcp and its case does not
//! matter. Also the JSON shapes of RootlessKit's REST API (`PortSpec`, `PortStatus`), and the
//! check that a host port is free before RootlessKit is asked to listen on it.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Protocols the session's port driver forwards (slirp4netns and the builtin driver: TCP and
/// UDP; `rootlessctl info` lists no SCTP, and RootlessKit refuses an SCTP spec).
pub const PROTOS: &[&str] = &["tcp", "tcp4", "tcp6", "udp", "udp4", "udp6"];

/// One forwarding: a parent (host) address and port to a child (namespace) port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSpec {
    pub proto: String,
    #[serde(rename = "parentIP", default, skip_serializing_if = "Option::is_none")]
    pub parent_ip: Option<IpAddr>,
    #[serde(rename = "parentPort", default)]
    pub parent_port: u16,
    #[serde(rename = "childIP", default, skip_serializing_if = "Option::is_none")]
    pub child_ip: Option<IpAddr>,
    #[serde(rename = "childPort", default)]
    pub child_port: u16,
}

/// A forwarding RootlessKit holds, with its id (ids start at 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortStatus {
    pub id: u64,
    pub spec: PortSpec,
}

fn bad(spec: &str, reason: impl Into<String>) -> Error {
    Error::PortSpec {
        spec: spec.to_string(),
        reason: reason.into(),
    }
}

/// Splits `a:[b:c]:d` at colons outside brackets, keeping the brackets.
fn split_fields(s: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '[' if depth == 0 => depth = 1,
            ']' if depth == 1 => depth = 0,
            '[' | ']' => return None,
            ':' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return None;
    }
    out.push(&s[start..]);
    Some(out)
}

fn parse_ip(spec: &str, field: &str) -> Result<IpAddr> {
    if let Some(inner) = field.strip_prefix('[').and_then(|f| f.strip_suffix(']')) {
        return inner
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| bad(spec, format!("{inner:?} is not an IPv6 address")));
    }
    field.parse::<Ipv4Addr>().map(IpAddr::V4).map_err(|_| {
        bad(
            spec,
            format!("{field:?} is not an IPv4 address (put IPv6 in brackets)"),
        )
    })
}

fn parse_port(spec: &str, field: &str) -> Result<u16> {
    match field.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        _ => Err(bad(spec, format!("{field:?} is not a port (1-65535)"))),
    }
}

impl PortSpec {
    /// Parses a spec; the parent address defaults to loopback.
    pub fn parse(spec: &str) -> Result<PortSpec> {
        let s = spec.trim();
        let (addr, proto) = s.rsplit_once('/').unwrap_or((s, "tcp"));
        let proto = proto.to_ascii_lowercase();
        let proto = proto.as_str();
        if !PROTOS.contains(&proto) {
            return Err(bad(
                spec,
                format!("unknown protocol {proto:?} (one of {})", PROTOS.join(", ")),
            ));
        }
        let f = split_fields(addr).ok_or_else(|| bad(spec, "unbalanced brackets"))?;
        let (pip, pport, cip, cport) = match f.as_slice() {
            [pp, cp] => (None, *pp, None, *cp),
            [ip, pp, cp] => (Some(*ip), *pp, None, *cp),
            [ip, pp, cip, cp] => (Some(*ip), *pp, Some(*cip), *cp),
            _ => return Err(bad(spec, "wrong number of fields")),
        };
        let parent_ip = match pip {
            Some(ip) => parse_ip(spec, ip)?,
            None if proto.ends_with('6') => IpAddr::V6(Ipv6Addr::LOCALHOST),
            None => IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        let child_ip = cip.map(|ip| parse_ip(spec, ip)).transpose()?;
        let is_v6 = |ip: &IpAddr| ip.is_ipv6();
        if proto.ends_with('4') && is_v6(&parent_ip) || proto.ends_with('6') && !is_v6(&parent_ip) {
            return Err(bad(
                spec,
                format!("address {parent_ip} does not fit protocol {proto}"),
            ));
        }
        Ok(PortSpec {
            proto: proto.to_string(),
            parent_ip: Some(parent_ip),
            parent_port: parse_port(spec, pport)?,
            child_ip,
            child_port: parse_port(spec, cport)?,
        })
    }

    /// Fails when the host address and port cannot be listened on because something already
    /// does (RootlessKit would fail the same way, less clearly, and a session started with this
    /// port would not come up), naming who holds it and `fix`. Other bind errors are left to
    /// RootlessKit.
    pub fn check_host_port_free(&self, fix: &str) -> Result<()> {
        let ip = self.parent_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let addr = std::net::SocketAddr::new(ip, self.parent_port);
        let r = if self.proto.starts_with("udp") {
            std::net::UdpSocket::bind(addr).map(drop)
        } else {
            std::net::TcpListener::bind(addr).map(drop)
        };
        match r {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                let by = crate::host::sockets::owner(&self.proto, ip, self.parent_port)
                    .map(|o| format!(" by {o}"))
                    .unwrap_or_default();
                Err(Error::Usage(format!(
                    "host port {}:{}/{} is already in use{by}: {fix}",
                    fmt_ip(&ip),
                    self.parent_port,
                    self.proto
                )))
            }
            _ => Ok(()),
        }
    }

    /// Whether two specs conflict the way RootlessKit decides it (proto, parent IP, parent port).
    pub fn same_parent(&self, other: &PortSpec) -> bool {
        let unspec = |ip: &Option<IpAddr>| ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        self.proto == other.proto
            && unspec(&self.parent_ip) == unspec(&other.parent_ip)
            && self.parent_port == other.parent_port
    }
}

/// What to do about a busy host port the user chose.
pub const FIX: &str = "choose another host port (or stop what listens there)";

fn fmt_ip(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ip) = &self.parent_ip {
            write!(f, "{}:", fmt_ip(ip))?;
        }
        write!(f, "{}:", self.parent_port)?;
        if let Some(ip) = &self.child_ip {
            write!(f, "{}:", fmt_ip(ip))?;
        }
        write!(f, "{}/{}", self.child_port, self.proto)
    }
}

/// What `u7s ports rm` was given: an id, or a spec to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRef {
    Id(u64),
    Spec(PortSpec),
}

impl PortRef {
    /// A number is an id; anything else must be a spec.
    pub fn parse(s: &str) -> Result<PortRef> {
        match s.trim().parse::<u64>() {
            Ok(id) => Ok(PortRef::Id(id)),
            Err(_) => PortSpec::parse(s).map(PortRef::Spec),
        }
    }

    /// The id of the listed forwarding this names.
    pub fn resolve(&self, list: &[PortStatus], original: &str) -> Result<u64> {
        let found = match self {
            PortRef::Id(id) => list.iter().find(|p| p.id == *id),
            PortRef::Spec(s) => list
                .iter()
                .find(|p| p.spec.same_parent(s) && p.spec.child_port == s.child_port),
        };
        found
            .map(|p| p.id)
            .ok_or_else(|| Error::NoSuchPort(original.to_string()))
    }
}

/// The table `u7s ports ls` prints (rootlessctl's columns).
pub fn render_table(list: &[PortStatus]) -> String {
    let mut rows = vec![[
        "ID".to_string(),
        "PROTO".into(),
        "PARENTIP".into(),
        "PARENTPORT".into(),
        "CHILDIP".into(),
        "CHILDPORT".into(),
    ]];
    let mut sorted: Vec<&PortStatus> = list.iter().collect();
    sorted.sort_by_key(|p| p.id);
    for p in sorted {
        let s = &p.spec;
        rows.push([
            p.id.to_string(),
            s.proto.clone(),
            s.parent_ip.map(|i| i.to_string()).unwrap_or_default(),
            s.parent_port.to_string(),
            s.child_ip.map(|i| i.to_string()).unwrap_or_default(),
            s.child_port.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PortSpec {
        PortSpec::parse(s).unwrap()
    }

    #[test]
    fn loopback_unless_an_address_is_given() {
        let s = p("8080:80/tcp");
        assert_eq!(s.parent_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!((s.parent_port, s.child_port), (8080, 80));
        assert_eq!(s.child_ip, None);
        assert_eq!(s.to_string(), "127.0.0.1:8080:80/tcp");
        assert_eq!(
            p("8080:80/tcp6").parent_ip,
            Some("::1".parse().unwrap()),
            "v6-only protocols default to ::1"
        );
        assert_eq!(
            p("0.0.0.0:6443:6443/tcp").parent_ip,
            Some("0.0.0.0".parse().unwrap())
        );
    }

    #[test]
    fn docker_style_specs_default_to_tcp_in_any_case() {
        assert_eq!(p("8080:80"), p("8080:80/tcp"));
        assert_eq!(p("0.0.0.0:8080:80"), p("0.0.0.0:8080:80/tcp"));
        assert_eq!(p("9500:80/TCP"), p("9500:80/tcp"));
        assert_eq!(p("53:53/Udp").proto, "udp");
    }

    #[test]
    fn a_busy_host_port_is_named() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let e = p(&format!("{port}:80"))
            .check_host_port_free(FIX)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("host port 127.0.0.1:{port}/tcp is already in use")),
            "{e}"
        );
        drop(taken);
        p(&format!("{port}:80")).check_host_port_free(FIX).unwrap();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        assert!(
            p(&format!("{port}:53/udp"))
                .check_host_port_free(FIX)
                .is_err()
        );
    }

    #[test]
    fn all_field_forms_and_ipv6_brackets() {
        let s = p("[::1]:8080:[fd00::2]:80/tcp");
        assert_eq!(s.parent_ip, Some("::1".parse().unwrap()));
        assert_eq!(s.child_ip, Some("fd00::2".parse().unwrap()));
        assert_eq!(s.to_string(), "[::1]:8080:[fd00::2]:80/tcp");
        let s = p("10.0.0.1:53:10.0.42.100:53/udp");
        assert_eq!(s.child_ip, Some("10.0.42.100".parse().unwrap()));
        assert_eq!(PortSpec::parse(&s.to_string()).unwrap(), s, "round trip");
    }

    #[test]
    fn rejects_bad_specs_with_reasons() {
        for (spec, why) in [
            ("8080:80/icmp", "unknown protocol"),
            ("8080:80/sctp", "unknown protocol"),
            ("::1:8080:80/tcp", "wrong number of fields"),
            ("[::1:8080:80/tcp", "unbalanced"),
            ("0:80/tcp", "not a port"),
            ("8080:70000/tcp", "not a port"),
            ("localhost:8080:80/tcp", "not an IPv4"),
            ("[1.2.3.4]:8080:80/tcp", "not an IPv6"),
            ("[::1]:8080:80/tcp4", "does not fit"),
            ("1.2.3.4:8080:80/udp6", "does not fit"),
            ("1:2:3:4:5/tcp", "wrong number"),
        ] {
            let e = PortSpec::parse(spec).unwrap_err().to_string();
            assert!(e.contains(why), "{spec}: {e}");
            assert!(e.contains(spec), "error names the spec: {e}");
        }
    }

    #[test]
    fn api_json_shape() {
        let s = p("8080:80/tcp");
        let j = serde_json::to_string(&s).unwrap();
        assert_eq!(
            j,
            r#"{"proto":"tcp","parentIP":"127.0.0.1","parentPort":8080,"childPort":80}"#
        );
        let st: PortStatus = serde_json::from_str(
            r#"{"id":1,"spec":{"proto":"tcp","parentIP":"0.0.0.0","parentPort":8080,"childIP":"127.0.0.1","childPort":80}}"#,
        )
        .unwrap();
        assert_eq!(st.id, 1);
        assert_eq!(st.spec.child_ip, Some("127.0.0.1".parse().unwrap()));
        // RootlessKit omits empty fields.
        let st: PortStatus = serde_json::from_str(
            r#"{"id":2,"spec":{"proto":"udp","parentPort":53,"childPort":53}}"#,
        )
        .unwrap();
        assert_eq!(st.spec.parent_ip, None);
    }

    #[test]
    fn rm_by_id_or_spec() {
        let list = vec![
            PortStatus {
                id: 1,
                spec: p("8080:80/tcp"),
            },
            PortStatus {
                id: 2,
                spec: p("0.0.0.0:53:53/udp"),
            },
        ];
        assert_eq!(PortRef::parse("2").unwrap().resolve(&list, "2").unwrap(), 2);
        assert_eq!(
            PortRef::parse("127.0.0.1:8080:80/tcp")
                .unwrap()
                .resolve(&list, "x")
                .unwrap(),
            1
        );
        assert_eq!(
            PortRef::parse("8080:80/tcp")
                .unwrap()
                .resolve(&list, "x")
                .unwrap(),
            1
        );
        let e = PortRef::parse("9090:80/tcp")
            .unwrap()
            .resolve(&list, "9090:80/tcp")
            .unwrap_err();
        assert!(e.to_string().contains("9090:80/tcp"));
        assert!(PortRef::parse("3").unwrap().resolve(&list, "3").is_err());
        // A missing parent IP in RootlessKit's answer means 0.0.0.0.
        let any = PortSpec {
            parent_ip: None,
            ..p("0.0.0.0:53:53/udp")
        };
        assert!(any.same_parent(&list[1].spec));
    }

    #[test]
    fn table_sorted_by_id() {
        let list = vec![
            PortStatus {
                id: 10,
                spec: p("8080:80/tcp"),
            },
            PortStatus {
                id: 2,
                spec: p("[::]:53:53/udp6"),
            },
        ];
        let t = render_table(&list);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("ID  PROTO"));
        assert!(lines[1].starts_with("2 "), "{t}");
        assert!(lines[2].starts_with("10"), "{t}");
        assert!(lines[1].contains("::"));
    }
}
