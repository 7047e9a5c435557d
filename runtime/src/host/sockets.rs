//! Who holds a host port: the listening (TCP) or bound (UDP) sockets of this network namespace
//! from `/proc/net/{tcp,tcp6,udp,udp6}` — their owner's uid, which the kernel shows for every
//! user's sockets — and, when the socket belongs to a process this user may inspect, its pid
//! and command (`/proc/PID/fd`). Parsing is pure; reading `/proc` is the effect.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One socket line of `/proc/net/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    pub addr: IpAddr,
    pub port: u16,
    /// The kernel's state code (`0A` LISTEN for TCP, `07` for an unconnected UDP socket).
    pub state: u8,
    pub uid: u32,
    pub inode: u64,
}

/// Who holds a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub user: Option<String>,
    /// The process, when this user may see its descriptors.
    pub process: Option<(i32, String)>,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.user {
            Some(u) => write!(f, "user {u} (uid {})", self.uid)?,
            None => write!(f, "uid {}", self.uid)?,
        }
        if let Some((pid, comm)) = &self.process {
            write!(f, ", pid {pid} ({comm})")?;
        }
        Ok(())
    }
}

const TCP_LISTEN: u8 = 0x0a;
const UDP_UNCONNECTED: u8 = 0x07;

/// The kernel's hex address: IPv4 as one 32-bit word, IPv6 as four, each in host byte order.
fn parse_addr(hex: &str) -> Option<IpAddr> {
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(hex, 16).ok()?.to_le_bytes(),
        ))),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                let w = u32::from_str_radix(&hex[i * 8..i * 8 + 8], 16).ok()?;
                b[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
            }
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

/// The socket lines of one `/proc/net/{tcp,tcp6,udp,udp6}` text (the header skipped, lines
/// that do not parse ignored).
pub fn parse(text: &str) -> Vec<Socket> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (addr, port) = f.get(1)?.split_once(':')?;
            Some(Socket {
                addr: parse_addr(addr)?,
                port: u16::from_str_radix(port, 16).ok()?,
                state: u8::from_str_radix(f.get(3)?, 16).ok()?,
                uid: f.get(7)?.parse().ok()?,
                inode: f.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

/// Whether a socket bound to `held` stops a bind to `wanted` on the same port (either side
/// unspecified, or the same address; IPv4-mapped addresses count as IPv4).
fn clashes(held: IpAddr, wanted: IpAddr) -> bool {
    let canon = |a: IpAddr| match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        a => a,
    };
    let (h, w) = (canon(held), canon(wanted));
    h.is_unspecified() || w.is_unspecified() || h == w
}

/// The socket that holds `proto` (`tcp` or `udp`) `port` on `ip` among `sockets`.
pub fn holder(sockets: &[Socket], proto: &str, ip: IpAddr, port: u16) -> Option<Socket> {
    let state = if proto.starts_with("udp") {
        UDP_UNCONNECTED
    } else {
        TCP_LISTEN
    };
    sockets
        .iter()
        .find(|s| s.port == port && s.state == state && clashes(s.addr, ip))
        .cloned()
}

/// Who holds `proto` `port` on `ip` in this network namespace; `None` when no socket shows it.
pub fn owner(proto: &str, ip: IpAddr, port: u16) -> Option<Owner> {
    let base = if proto.starts_with("udp") {
        "udp"
    } else {
        "tcp"
    };
    let mut sockets = vec![];
    for f in [base.to_string(), format!("{base}6")] {
        if let Ok(t) = std::fs::read_to_string(format!("/proc/net/{f}")) {
            sockets.extend(parse(&t));
        }
    }
    let s = holder(&sockets, proto, ip, port)?;
    Some(Owner {
        uid: s.uid,
        user: nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(s.uid))
            .ok()
            .flatten()
            .map(|u| u.name),
        process: process_of(s.inode),
    })
}

/// The first process (lowest pid) with a descriptor on socket `inode` that this user may read.
fn process_of(inode: u64) -> Option<(i32, String)> {
    let want = format!("socket:[{inode}]");
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids.into_iter().find_map(|pid| {
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
        fds.flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == want.as_str()))
            .then(|| {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                (pid, comm.trim().to_string())
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:192B 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:192B 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000  1001        0 4243 1 0000000000000000 20 4 30 10 -1
   2: 0A01A8C0:2118 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1002        0 4244 1 0000000000000000 100 0 0 10 0
garbage
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 778 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn proc_net_lines_parse_in_host_byte_order() {
        let s = parse(TCP);
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!(s[0].addr, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(
            (s[0].port, s[0].state, s[0].uid, s[0].inode),
            (6443, 0x0a, 1001, 4242)
        );
        assert_eq!(s[2].addr, "192.168.1.10".parse::<IpAddr>().unwrap());
        assert_eq!(s[2].port, 8472);
        let s6 = parse(TCP6);
        assert_eq!(s6[0].addr, "::".parse::<IpAddr>().unwrap());
        assert_eq!(s6[0].port, 8080);
        assert_eq!(s6[1].addr, "::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_holder_is_a_listener_on_a_clashing_address() {
        let mut all = parse(TCP);
        all.extend(parse(TCP6));
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Loopback 6443: held by uid 1001's listener (the established line is not a holder).
        let h = holder(&all, "tcp", ip("127.0.0.1"), 6443).unwrap();
        assert_eq!((h.uid, h.inode), (1001, 4242));
        // Every interface clashes with a loopback listener, another address does not.
        assert!(holder(&all, "tcp", ip("0.0.0.0"), 6443).is_some());
        assert!(holder(&all, "tcp", ip("192.168.1.10"), 6443).is_none());
        // A dual-stack [::]:8080 listener holds 8080 on every IPv4 address too.
        assert_eq!(
            holder(&all, "tcp", ip("10.0.0.1"), 8080).unwrap().inode,
            777
        );
        // UDP looks for bound UDP sockets only.
        assert!(holder(&all, "udp", ip("192.168.1.10"), 8472).is_none());
    }

    #[test]
    fn a_live_listener_of_this_process_is_named_with_its_pid() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let o = owner("tcp", "127.0.0.1".parse().unwrap(), port).expect("our listener");
        assert_eq!(o.uid, nix::unistd::getuid().as_raw());
        assert_eq!(
            o.process.as_ref().map(|p| p.0),
            Some(std::process::id() as i32)
        );
        let text = o.to_string();
        assert!(
            text.contains(&format!("uid {}", o.uid)) && text.contains("pid"),
            "{text}"
        );
    }
}
