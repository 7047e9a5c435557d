//! Parsers for `/proc` files: process status, environment, limits, routes, cgroup membership and
//! the user-namespace map.

use std::collections::HashMap;
use std::net::Ipv4Addr;

/// Effective uid and gid from `/proc/self/status`.
pub fn parse_status_ids(text: &str) -> Option<(u32, u32)> {
    let field = |k: &str| -> Option<u32> {
        let l = text.lines().find(|l| l.starts_with(k))?;
        // Real, effective, saved, filesystem: take the effective one.
        l[k.len()..].split_whitespace().nth(1)?.parse().ok()
    };
    Some((field("Uid:")?, field("Gid:")?))
}

/// Parses a NUL-separated environment block (`/proc/self/environ`).
pub fn parse_environ(bytes: &[u8]) -> HashMap<String, String> {
    bytes
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let s = String::from_utf8_lossy(kv);
            let (k, v) = s.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

/// A soft/hard limit (`None` = unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

/// "Max open files" from `/proc/self/limits`.
pub fn parse_nofile(text: &str) -> Option<Limit> {
    let l = text.lines().find(|l| l.starts_with("Max open files"))?;
    let rest = l.trim_start_matches("Max open files");
    let mut f = rest.split_whitespace();
    let v = |s: Option<&str>| -> Option<Option<u64>> {
        match s? {
            "unlimited" => Some(None),
            n => n.parse().ok().map(Some),
        }
    };
    Some(Limit {
        soft: v(f.next())?,
        hard: v(f.next())?,
    })
}

/// An IPv4 route from `/proc/net/route`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub iface: String,
    pub dest: Ipv4Addr,
    pub prefix: u8,
}

/// Parses `/proc/net/route` (hex, little-endian addresses).
pub fn parse_routes(text: &str) -> Vec<Route> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let dest = u32::from_str_radix(f[1], 16).ok()?;
            let mask = u32::from_str_radix(f[7], 16).ok()?;
            Some(Route {
                iface: f[0].to_string(),
                // The kernel prints the network-order address as a native u32.
                dest: Ipv4Addr::from(dest.to_ne_bytes()),
                prefix: mask.count_ones() as u8,
            })
        })
        .collect()
}

/// The cgroup v2 path (`0::/path`) from `/proc/self/cgroup`.
pub fn parse_cgroup_v2_path(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

/// Whether `/proc/self/uid_map` is the initial namespace's identity map.
pub fn is_initial_userns(uid_map: &str) -> bool {
    let f: Vec<&str> = uid_map.split_whitespace().collect();
    f == ["0", "0", "4294967295"]
}

/// A CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = s.split_once('/')?;
        let prefix: u8 = p.parse().ok()?;
        (prefix <= 32).then_some(())?;
        Some(Cidr {
            addr: a.parse().ok()?,
            prefix,
        })
    }
    fn range(&self) -> (u64, u64) {
        let mask: u64 = if self.prefix == 0 {
            0
        } else {
            (u32::MAX << (32 - self.prefix as u32)) as u64
        };
        let start = u32::from(self.addr) as u64 & mask;
        (start, start + (1u64 << (32 - self.prefix as u32)))
    }
    /// Whether the two blocks share an address.
    pub fn overlaps(&self, o: &Cidr) -> bool {
        let (a0, a1) = self.range();
        let (b0, b1) = o.range();
        a0 < b1 && b0 < a1
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers() {
        assert_eq!(
            parse_status_ids("Name:\tx\nUid:\t1000\t1001\t1000\t1000\nGid:\t100\t100\t100\t100\n"),
            Some((1001, 100))
        );
        let e = parse_environ(b"HOME=/home/a\0XDG_RUNTIME_DIR=/run/user/1000\0\0");
        assert_eq!(e["HOME"], "/home/a");
        let l = parse_nofile("Limit Soft Limit Hard Limit Units\nMax open files            1024                 524288               files\n").unwrap();
        assert_eq!((l.soft, l.hard), (Some(1024), Some(524288)));
        let r = parse_routes(
            "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\neth0\t00000000\t0102000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n",
        );
        assert_eq!(r[1].dest, Ipv4Addr::new(10, 88, 0, 0));
        assert_eq!(r[1].prefix, 16);
        assert_eq!(r[0].prefix, 0);
        assert_eq!(
            parse_cgroup_v2_path("1:cpu:/\n0::/user.slice\n").as_deref(),
            Some("/user.slice")
        );
        assert!(is_initial_userns("         0          0 4294967295\n"));
        assert!(!is_initial_userns("0 1000 1\n"));
        let a = Cidr::parse("10.88.0.0/16").unwrap();
        assert!(a.overlaps(&Cidr::parse("10.88.3.0/24").unwrap()));
        assert!(!a.overlaps(&Cidr::parse("10.89.0.0/16").unwrap()));
        assert!(a.overlaps(&Cidr::parse("0.0.0.0/0").unwrap()));
    }
}
