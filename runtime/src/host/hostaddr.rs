//! The host's own IPv4 address as other machines see it: what flannel announces as its public
//! IP (`--public-ip`) and what a multi-node cluster's certificates and node addresses carry.
//!
//! The address is the source address the kernel picks for a route to a public destination (a
//! UDP socket `connect()`ed to TEST-NET-1, nothing is sent). Without such a route (an isolated
//! network), the first usable address of an interface that is up: not loopback, not link-local,
//! preferring real interfaces over container bridges. `--host-ip` overrides both. The choice is
//! pure ([`choose`]) and tested on fixtures; [`detect`] adds the two look-ups.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

/// The destination whose route decides the address (TEST-NET-1, RFC 5737; never sent to).
pub const PROBE_DESTINATION: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// Port of the probe's `connect()` (discard; no datagram leaves the host).
const PROBE_PORT: u16 = 9;

/// Name prefixes of interfaces made by container runtimes and overlays: their addresses are
/// not reachable from other machines, so they come last in the fallback.
const VIRTUAL_PREFIXES: &[&str] = &[
    "docker", "br-", "cni", "flannel", "veth", "virbr", "podman", "lxcbr", "tap", "tun",
];

/// What went wrong finding the host address.
#[derive(Debug, thiserror::Error)]
pub enum HostAddrError {
    #[error(
        "--host-ip {given:?}: {reason} (expected this host's IPv4 address as other machines reach it, e.g. --host-ip 192.168.1.10)"
    )]
    BadOverride { given: String, reason: &'static str },

    #[error(
        "cannot find this host's address: no route to {PROBE_DESTINATION} and no interface that is up has a usable IPv4 address (interfaces seen: {seen}); give it with --host-ip ADDR"
    )]
    NotFound { seen: String },

    #[error("{context}: {source}; give the host address with --host-ip ADDR")]
    Os {
        context: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl From<HostAddrError> for crate::Error {
    fn from(e: HostAddrError) -> crate::Error {
        crate::Error::Usage(e.to_string())
    }
}

/// One IPv4 address of an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    pub interface: String,
    pub addr: Ipv4Addr,
    /// `IFF_UP`.
    pub up: bool,
    /// `IFF_LOOPBACK`.
    pub loopback: bool,
}

/// How the address was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `--host-ip`.
    Override,
    /// The source address of the route to [`PROBE_DESTINATION`].
    Route,
    /// No such route: the first usable address of this interface.
    Interface(String),
}

/// The host address and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAddr {
    pub addr: Ipv4Addr,
    pub source: Source,
}

impl std::fmt::Display for HostAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Source::Override => write!(f, "{} (--host-ip)", self.addr),
            Source::Route => write!(f, "{} (route to {PROBE_DESTINATION})", self.addr),
            Source::Interface(i) => write!(f, "{} (interface {i}, no default route)", self.addr),
        }
    }
}

/// Whether other machines could reach us at `a`: not loopback, link-local, unspecified,
/// broadcast, multicast or documentation space.
pub fn usable(a: Ipv4Addr) -> bool {
    !(a.is_loopback()
        || a.is_link_local()
        || a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || a.is_documentation())
}

/// Checks a `--host-ip` value.
pub fn parse_override(given: &str) -> Result<Ipv4Addr, HostAddrError> {
    let bad = |reason| HostAddrError::BadOverride {
        given: given.to_string(),
        reason,
    };
    let a: Ipv4Addr = given
        .trim()
        .parse()
        .map_err(|_| bad("not an IPv4 address"))?;
    if usable(a) {
        Ok(a)
    } else {
        Err(bad(
            "not reachable from other machines (loopback, link-local, unspecified, broadcast, multicast or documentation address)",
        ))
    }
}

fn is_virtual(interface: &str) -> bool {
    VIRTUAL_PREFIXES.iter().any(|p| interface.starts_with(p))
}

/// The pure choice: the route's source address when there is a usable one, else the first
/// usable address of an interface that is up (real interfaces before container bridges), in
/// the order the kernel lists them.
pub fn choose(
    route_source: Option<Ipv4Addr>,
    interfaces: &[IfAddr],
) -> Result<HostAddr, HostAddrError> {
    if let Some(a) = route_source.filter(|a| usable(*a)) {
        return Ok(HostAddr {
            addr: a,
            source: Source::Route,
        });
    }
    let candidates = || {
        interfaces
            .iter()
            .filter(|i| i.up && !i.loopback && usable(i.addr))
    };
    let pick = candidates()
        .find(|i| !is_virtual(&i.interface))
        .or_else(|| candidates().next());
    match pick {
        Some(i) => Ok(HostAddr {
            addr: i.addr,
            source: Source::Interface(i.interface.clone()),
        }),
        None => {
            let seen: Vec<String> = interfaces
                .iter()
                .map(|i| {
                    format!(
                        "{} {}{}",
                        i.interface,
                        i.addr,
                        if i.up { "" } else { " down" }
                    )
                })
                .collect();
            Err(HostAddrError::NotFound {
                seen: if seen.is_empty() {
                    "none".into()
                } else {
                    seen.join(", ")
                },
            })
        }
    }
}

/// The source address the kernel picks for `dest` (a UDP `connect()`, nothing sent); `None`
/// when there is no route (`ENETUNREACH`, `EHOSTUNREACH`).
pub fn route_source(dest: Ipv4Addr) -> Result<Option<Ipv4Addr>, HostAddrError> {
    let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(|source| HostAddrError::Os {
        context: "creating a UDP socket to look up the route",
        source,
    })?;
    if let Err(e) = sock.connect((dest, PROBE_PORT)) {
        return match e.raw_os_error() {
            Some(libc::ENETUNREACH) | Some(libc::EHOSTUNREACH) => Ok(None),
            _ => Err(HostAddrError::Os {
                context: "looking up the route to 192.0.2.1",
                source: e,
            }),
        };
    }
    match sock.local_addr() {
        Ok(SocketAddr::V4(a)) if !a.ip().is_unspecified() => Ok(Some(*a.ip())),
        Ok(_) => Ok(None),
        Err(source) => Err(HostAddrError::Os {
            context: "reading the route's source address",
            source,
        }),
    }
}

/// The IPv4 addresses of this network namespace's interfaces, in the kernel's order.
pub fn interfaces() -> Result<Vec<IfAddr>, HostAddrError> {
    use nix::net::if_::InterfaceFlags;
    let all = nix::ifaddrs::getifaddrs().map_err(|e| HostAddrError::Os {
        context: "listing the interfaces' addresses (getifaddrs)",
        source: e.into(),
    })?;
    Ok(all
        .filter_map(|i| {
            let a = i.address.as_ref()?.as_sockaddr_in()?.ip();
            Some(IfAddr {
                interface: i.interface_name.clone(),
                addr: a,
                up: i.flags.contains(InterfaceFlags::IFF_UP),
                loopback: i.flags.contains(InterfaceFlags::IFF_LOOPBACK),
            })
        })
        .collect())
}

/// This host's address as other machines see it (see the module documentation).
pub fn detect() -> Result<HostAddr, HostAddrError> {
    let route = route_source(PROBE_DESTINATION)?;
    if route.is_some_and(usable) {
        return choose(route, &[]);
    }
    choose(route, &interfaces()?)
}

/// `--host-ip` when given (checked), else [`detect`].
pub fn resolve(host_ip: Option<&str>) -> Result<HostAddr, HostAddrError> {
    match host_ip {
        Some(s) => Ok(HostAddr {
            addr: parse_override(s)?,
            source: Source::Override,
        }),
        None => detect(),
    }
}

/// `addr` as an `IpAddr` (for certificate SANs and flags).
pub fn ip(h: &HostAddr) -> IpAddr {
    IpAddr::V4(h.addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ifa(name: &str, addr: &str, up: bool) -> IfAddr {
        IfAddr {
            interface: name.into(),
            addr: addr.parse().unwrap(),
            up,
            loopback: name == "lo",
        }
    }

    /// A laptop on Wi-Fi with Docker and libvirt bridges, the order getifaddrs gives.
    fn laptop() -> Vec<IfAddr> {
        vec![
            ifa("lo", "127.0.0.1", true),
            ifa("enp0s31f6", "169.254.10.3", true),
            ifa("docker0", "172.17.0.1", true),
            ifa("virbr0", "192.168.122.1", true),
            ifa("wlp2s0", "192.168.1.23", true),
        ]
    }

    #[test]
    fn the_route_source_wins() {
        let h = choose(Some("10.1.2.3".parse().unwrap()), &laptop()).unwrap();
        assert_eq!(h.addr, Ipv4Addr::new(10, 1, 2, 3));
        assert_eq!(h.source, Source::Route);
        assert!(h.to_string().contains("route to 192.0.2.1"), "{h}");
    }

    #[test]
    fn without_a_route_a_real_interface_beats_bridges_and_link_local() {
        let h = choose(None, &laptop()).unwrap();
        assert_eq!(h.addr, Ipv4Addr::new(192, 168, 1, 23));
        assert_eq!(h.source, Source::Interface("wlp2s0".into()));
    }

    #[test]
    fn an_unusable_route_source_falls_back_to_the_interfaces() {
        let h = choose(Some(Ipv4Addr::LOCALHOST), &laptop()).unwrap();
        assert_eq!(h.addr, Ipv4Addr::new(192, 168, 1, 23));
    }

    #[test]
    fn a_bridge_is_taken_when_nothing_else_is_there() {
        let ifs = vec![
            ifa("lo", "127.0.0.1", true),
            ifa("docker0", "172.17.0.1", true),
        ];
        let h = choose(None, &ifs).unwrap();
        assert_eq!(h.addr, Ipv4Addr::new(172, 17, 0, 1));
    }

    #[test]
    fn down_interfaces_are_skipped_in_kernel_order() {
        let ifs = vec![
            ifa("lo", "127.0.0.1", true),
            ifa("eth0", "10.0.100.5", false),
            ifa("eth1", "10.0.101.5", true),
            ifa("eth2", "10.0.102.5", true),
        ];
        let h = choose(None, &ifs).unwrap();
        assert_eq!(h.source, Source::Interface("eth1".into()));
    }

    #[test]
    fn nothing_usable_names_host_ip_and_what_was_seen() {
        let ifs = vec![
            ifa("lo", "127.0.0.1", true),
            ifa("eth0", "169.254.1.1", true),
            ifa("eth1", "10.0.0.2", false),
        ];
        let e = choose(None, &ifs).unwrap_err().to_string();
        assert!(e.contains("--host-ip"), "{e}");
        assert!(e.contains("eth1 10.0.0.2 down"), "{e}");
        let e = choose(None, &[]).unwrap_err().to_string();
        assert!(e.contains("interfaces seen: none"), "{e}");
    }

    #[test]
    fn overrides_are_checked() {
        assert_eq!(
            parse_override(" 192.168.77.1 ").unwrap(),
            Ipv4Addr::new(192, 168, 77, 1)
        );
        for bad in [
            "127.0.0.1",
            "0.0.0.0",
            "169.254.0.9",
            "224.0.0.1",
            "fe80::1",
            "host",
        ] {
            let e = parse_override(bad).unwrap_err().to_string();
            assert!(e.contains("--host-ip") && e.contains(bad), "{e}");
        }
        let h = resolve(Some("10.0.100.2")).unwrap();
        assert_eq!(h.source, Source::Override);
        assert_eq!(ip(&h).to_string(), "10.0.100.2");
    }

    /// Parity with iproute2 on this machine: `ip -4 route get 192.0.2.1` prints `src ADDR`
    /// exactly when there is a route; then `detect` must give that address.
    #[test]
    fn live_detection_agrees_with_ip_route_get() {
        let h = detect();
        let interfaces = interfaces().expect("getifaddrs works");
        assert!(
            interfaces.iter().any(|i| i.loopback),
            "lo is listed: {interfaces:?}"
        );
        let Ok(out) = std::process::Command::new("ip")
            .args(["-4", "route", "get", &PROBE_DESTINATION.to_string()])
            .output()
        else {
            eprintln!("ip (iproute2) not installed: only checked that detection answers: {h:?}");
            return;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let src: Option<Ipv4Addr> = text
            .split_whitespace()
            .skip_while(|w| *w != "src")
            .nth(1)
            .and_then(|a| a.parse().ok());
        match src.filter(|a| usable(*a)) {
            Some(src) => {
                let h = h.expect("a route exists, so detection succeeds");
                assert_eq!(h.addr, src, "{h} vs ip route get: {text}");
                assert_eq!(h.source, Source::Route);
            }
            None => match h {
                Ok(h) => assert!(matches!(h.source, Source::Interface(_)) && usable(h.addr)),
                Err(e) => assert!(e.to_string().contains("--host-ip"), "{e}"),
            },
        }
    }
}
