//! End-to-end, multi-node (issue 6, item 4): two "hosts" made here as network namespaces joined
//! by a veth pair (192.168.77.1/24 and 192.168.77.2/24), each running a rootless session of the
//! unprivileged test user with `--publish 0.0.0.0:8472:8472/udp`. Checks the host-address
//! detection inside each host, then builds by hand, inside each session, the VXLAN data path
//! flannel's vxlan backend programs (device flannel.1, overlay /32, onlink route, permanent
//! neighbour and fdb entry whose destination is the OTHER HOST's address, flannel's
//! `--public-ip`) and pings across: the encapsulated UDP crosses slirp4netns, the veth network
//! and RootlessKit's published 8472/udp. Without the published port, or with the namespace's
//! own address as public IP, the ping fails.
//!
//! Runs as root (it makes namespaces); the sessions run as `U7S_TEST_USER`.

use e2e::kube::ip;
use e2e::*;
use runtime::host::hostaddr::{self, HostAddr, Source};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

const HOST_A: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 1);
const HOST_B: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 2);
/// The address RootlessKit gives the namespace (tap0) with the default --cidr.
const NAMESPACE_ADDR: &str = "10.0.42.100";
const PUBLISH_VXLAN: &str = "0.0.0.0:8472:8472/udp";

/// Two network namespaces ("hosts") joined by a veth pair; removed when dropped (also on panic).
/// Host A also has a default route via B and, listed before the veth, another interface with
/// another address, so only a route-based detection answers 192.168.77.1 there (the fallback
/// would take 10.99.0.1); host B has no default route, so its detection falls back to the
/// veth's address.
struct Hosts {
    a: String,
    b: String,
}

impl Hosts {
    fn create() -> Hosts {
        let tag = std::process::id();
        let h = Hosts {
            a: format!("u7s-mn{tag}-a"),
            b: format!("u7s-mn{tag}-b"),
        };
        let (a, b) = (&h.a, &h.b);
        let (va, vb) = (format!("u7smn{tag}a"), format!("u7smn{tag}b"));
        for ns in [a, b] {
            ip(&format!("netns add {ns}"));
            ip(&format!("-n {ns} link set lo up"));
        }
        // A veth pair of its own inside A (no `dummy` driver in every kernel), up, another address.
        ip(&format!(
            "-n {a} link add u7s-other0 type veth peer name u7s-other1"
        ));
        ip(&format!("-n {a} addr add 10.99.0.1/24 dev u7s-other0"));
        ip(&format!("-n {a} link set u7s-other0 up"));
        ip(&format!(
            "link add {va} netns {a} type veth peer name {vb} netns {b}"
        ));
        ip(&format!("-n {a} addr add {HOST_A}/24 dev {va}"));
        ip(&format!("-n {b} addr add {HOST_B}/24 dev {vb}"));
        ip(&format!("-n {a} link set {va} up"));
        ip(&format!("-n {b} link set {vb} up"));
        ip(&format!("-n {a} route add default via {HOST_B}"));
        h
    }

    fn path(ns: &str) -> PathBuf {
        Path::new("/run/netns").join(ns)
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// `runtime::host::hostaddr::detect()` run on a thread that entered the network namespace `ns`
/// (a network namespace is per thread; the detection's sockets are made in it).
fn detect_in(ns: &Path) -> Result<HostAddr, String> {
    let f = std::fs::File::open(ns).expect("open netns");
    std::thread::spawn(move || {
        // SAFETY: setns on this thread only, with an fd we own.
        if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            panic!("setns: {}", std::io::Error::last_os_error());
        }
        hostaddr::detect().map_err(|e| e.to_string())
    })
    .join()
    .expect("detection thread")
}

/// `u7s nsenter CMD...` in `sb`'s session; the run (not checked).
fn inside(sb: &Sandbox, cmd: &[&str]) -> Run {
    let mut args = vec!["nsenter"];
    args.extend_from_slice(cmd);
    sb.u7s(&args)
}

fn inside_ok(sb: &Sandbox, cmd: &[&str]) -> String {
    let r = inside(sb, cmd);
    assert!(r.success(), "u7s nsenter {cmd:?}: {r:?}");
    r.stdout
}

/// flannel.1 as flannel's vxlan backend makes it (VNI 1, port 8472, local = the namespace's
/// address, on tap0, no learning) with the overlay address `10.5.<n>.0/32`; its MAC.
fn vxlan_device(sb: &Sandbox, n: u8) -> String {
    inside_ok(
        sb,
        &[
            "ip",
            "link",
            "add",
            "flannel.1",
            "type",
            "vxlan",
            "id",
            "1",
            "dstport",
            "8472",
            "local",
            NAMESPACE_ADDR,
            "dev",
            "tap0",
            "nolearning",
        ],
    );
    inside_ok(
        sb,
        &[
            "ip",
            "addr",
            "add",
            &format!("10.5.{n}.0/32"),
            "dev",
            "flannel.1",
        ],
    );
    inside_ok(sb, &["ip", "link", "set", "flannel.1", "up"]);
    inside_ok(sb, &["cat", "/sys/class/net/flannel.1/address"])
        .trim()
        .to_string()
}

/// What flannel programs for a peer subnet `10.5.<n>.0/24`: the route via the peer's overlay
/// address (onlink), the permanent neighbour entry (overlay address -> peer's flannel.1 MAC)
/// and the fdb entry (MAC -> the peer's public IP).
fn peer(sb: &Sandbox, n: u8, mac: &str, public_ip: &str) {
    let gw = format!("10.5.{n}.0");
    inside_ok(
        sb,
        &[
            "ip",
            "route",
            "replace",
            &format!("10.5.{n}.0/24"),
            "via",
            &gw,
            "dev",
            "flannel.1",
            "onlink",
        ],
    );
    inside_ok(
        sb,
        &[
            "ip",
            "neigh",
            "replace",
            &gw,
            "lladdr",
            mac,
            "dev",
            "flannel.1",
            "nud",
            "permanent",
        ],
    );
    fdb(sb, mac, public_ip);
}

fn fdb(sb: &Sandbox, mac: &str, dst: &str) {
    inside_ok(
        sb,
        &[
            "bridge",
            "fdb",
            "replace",
            mac,
            "dev",
            "flannel.1",
            "dst",
            dst,
            "self",
            "permanent",
        ],
    );
}

/// `ping -c 3` from inside `sb`'s session (success when a reply comes back).
fn ping(sb: &Sandbox, to: &str) -> Run {
    inside(sb, &["ping", "-n", "-c", "3", "-W", "2", to])
}

fn assert_pings(sb: &Sandbox, to: &str, what: &str) {
    let r = ping(sb, to);
    assert!(
        r.success() && r.stdout.contains(&format!("from {to}")),
        "{what}: ping {to} failed:\n{}{}\nsession log:\n{}",
        r.stdout,
        r.stderr,
        std::fs::read_to_string(sb.data().join("logs/session.log")).unwrap_or_default()
    );
}

fn assert_no_reply(sb: &Sandbox, to: &str, what: &str) {
    let r = ping(sb, to);
    assert!(
        !r.success() && !r.stdout.contains(&format!("from {to}:")),
        "{what}: ping {to} should fail but got:\n{}",
        r.stdout
    );
}

/// The session in `sb` lists 8472/udp published on every address of its host.
fn assert_vxlan_published(sb: &Sandbox) {
    let ls: serde_json::Value =
        serde_json::from_str(&sb.u7s_ok(&["ports", "ls", "--json"])).unwrap();
    assert!(
        ls.as_array().unwrap().iter().any(|p| {
            p["spec"]["proto"] == "udp"
                && p["spec"]["parentPort"] == 8472
                && p["spec"]["childPort"] == 8472
                && p["spec"]["parentIP"] == "0.0.0.0"
        }),
        "8472/udp not published: {ls}"
    );
}

#[test]
#[ignore = "end-to-end: needs root, U7S_TEST_USER and the host packages of scripts/ci-setup.sh"]
fn vxlan_between_two_hosts_over_published_8472_udp() {
    let user = test_user();
    testkit::require_root("the multi-node test makes network namespaces");
    for tool in ["ip", "bridge", "ping"] {
        testkit::require(
            host_binary(tool),
            &format!("{tool} (iproute2, iputils-ping)"),
        );
    }
    let release = release();

    // Declared first, dropped last: the sessions stop before the namespaces go.
    let hosts = Hosts::create();
    let (ns_a, ns_b) = (Hosts::path(&hosts.a), Hosts::path(&hosts.b));

    // Addressing: A answers from its default route (not the interface listed first), B (no default
    // route) from its one usable interface.
    let a_addr = detect_in(&ns_a).expect("host A's address");
    assert_eq!(
        a_addr,
        HostAddr {
            addr: HOST_A,
            source: Source::Route
        }
    );
    let b_addr = detect_in(&ns_b).expect("host B's address");
    assert_eq!(b_addr.addr, HOST_B, "{b_addr}");
    assert!(matches!(b_addr.source, Source::Interface(_)), "{b_addr}");

    let mut a = Sandbox::new(user.clone());
    a.install(release);
    a.enter_netns(&ns_a);
    let mut b = Sandbox::new(user);
    b.install(release);
    b.enter_netns(&ns_b);
    let up = [
        "up",
        "--cri",
        "containerd",
        "--no-kube",
        "--publish",
        PUBLISH_VXLAN,
        "--detach",
    ];
    let out = a.u7s_ok(&up);
    assert!(out.contains("ready"), "{out}");
    let out = b.u7s_ok(&up);
    assert!(out.contains("ready"), "{out}");
    assert_vxlan_published(&a);
    assert_vxlan_published(&b);

    // The data path flannel builds with --public-ip = the detected host address.
    let (public_a, public_b) = (a_addr.addr.to_string(), b_addr.addr.to_string());
    let mac_a = vxlan_device(&a, 1);
    let mac_b = vxlan_device(&b, 2);
    assert_ne!(mac_a, mac_b);
    peer(&a, 2, &mac_b, &public_b);
    peer(&b, 1, &mac_a, &public_a);
    assert_pings(&a, "10.5.2.0", "A to B over VXLAN");
    assert_pings(&b, "10.5.1.0", "B to A over VXLAN");

    // Without B's published 8472/udp nothing reaches B's VXLAN device ...
    b.u7s_ok(&["ports", "rm", PUBLISH_VXLAN]);
    assert_no_reply(&a, "10.5.2.0", "B's 8472/udp unpublished");
    // ... and with it back, the same path works again.
    b.u7s_ok(&["ports", "add", PUBLISH_VXLAN]);
    assert_vxlan_published(&b);
    assert_pings(&a, "10.5.2.0", "B's 8472/udp published again");

    // The namespace's own address as public IP (flannel without --public-ip) does not work.
    fdb(&a, &mac_b, NAMESPACE_ADDR);
    assert_no_reply(&a, "10.5.2.0", "fdb destination = the namespace address");
    fdb(&a, &mac_b, &public_b);
    assert_pings(&a, "10.5.2.0", "fdb destination = B's host address again");

    for sb in [&a, &b] {
        sb.u7s_ok(&["down"]);
    }
    for (name, sb) in [("A", &a), ("B", &b)] {
        let left = wait_for_none(sb);
        assert!(
            left.is_empty(),
            "processes of host {name}'s session left after down: {left:?}"
        );
    }
}

/// The sandbox's own processes after `down` (it returns once none is left, so this is a
/// check, given a short grace for the reaping of exited processes).
fn wait_for_none(sb: &Sandbox) -> Vec<(i32, String)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let left = sb.own_processes();
        if left.is_empty() || std::time::Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
