//! The `Host`: every file the doctor reads, read under a root directory (`/` = the live host).
//!
//! Under a fake root, absolute symlinks are resolved inside the root (like a chroot), and an
//! optional sidecar file `<root>/.doctor-attrs` overrides what cannot be faked without
//! privileges: owner, group, mode, file type and file capabilities. One line per path:
//!
//! ```text
//! # path              uid  gid  mode   caps
//! /usr/bin/newuidmap  0    0    4755   -
//! /usr/bin/newgidmap  0    0    0755   cap_setgid=ep
//! /dev/net/tun        0    0    c0666  -
//! ```
//!
//! `mode` is octal, optionally prefixed with a type (`c` char device, `d` directory, `s` socket,
//! `-` regular file); `caps` is `-` or a comma list of `cap_setuid`/`cap_setgid` followed by
//! `=ep`/`+ep` (with `e` the capability is effective). Without a sidecar line the real `stat`
//! and the real `security.capability` extended attribute are used.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

/// Name of the sidecar file inside a fake root.
pub const ATTRS_FILE: &str = ".doctor-attrs";

/// Kind of a file system object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    CharDev,
    BlockDev,
    Socket,
    Fifo,
}

/// File capabilities relevant to the sub-ID helpers (from `security.capability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Caps {
    pub setuid: bool,
    pub setgid: bool,
    /// The effective bit: the capabilities are raised on exec.
    pub effective: bool,
}

/// What `stat` (plus the capability xattr) says about a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    /// Permission bits including setuid/setgid/sticky (`0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Device number for device nodes (major, minor).
    pub rdev: (u32, u32),
    pub caps: Option<Caps>,
}

/// Access wanted from a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Exec,
}

impl Meta {
    /// Whether `uid` (member of `gids`) gets `want` by the permission bits (root passes R/W).
    pub fn allows(&self, uid: u32, gids: &[u32], want: Access) -> bool {
        let bit = match want {
            Access::Read => 4,
            Access::Write => 2,
            Access::Exec => 1,
        };
        if uid == 0 {
            return want != Access::Exec || self.mode & 0o111 != 0 || self.kind == Kind::Dir;
        }
        let shift = if self.uid == uid {
            6
        } else if gids.contains(&self.gid) {
            3
        } else {
            0
        };
        (self.mode >> shift) & bit != 0
    }
}

#[derive(Debug, Clone)]
struct AttrOverride {
    kind: Option<Kind>,
    mode: u32,
    uid: u32,
    gid: u32,
    caps: Option<Caps>,
}

/// Reads files under a root.
#[derive(Debug, Clone)]
pub struct Host {
    root: PathBuf,
    live: bool,
    attrs: HashMap<PathBuf, AttrOverride>,
}

impl Host {
    /// A host rooted at `root` (`/` = live).
    pub fn new(root: &Path) -> Host {
        let live = is_live_root(root);
        let mut attrs = HashMap::new();
        if !live && let Ok(text) = std::fs::read_to_string(root.join(ATTRS_FILE)) {
            attrs = parse_attrs(&text);
        }
        Host {
            root: root.to_path_buf(),
            live,
            attrs,
        }
    }

    /// Whether this is the live host (`/`).
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The real path of host path `p` (absolute, as seen on the host) with symlinks resolved
    /// inside the root. On the live host the path itself.
    pub fn real(&self, p: &Path) -> PathBuf {
        if self.live {
            return p.to_path_buf();
        }
        self.resolve(p, true).unwrap_or_else(|| self.join(p))
    }

    fn join(&self, p: &Path) -> PathBuf {
        let rel: PathBuf = p
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        self.root.join(rel)
    }

    /// Resolves `p` component by component inside the root; `follow_last` follows a final
    /// symlink. Returns the real path (under the root).
    fn resolve(&self, p: &Path, follow_last: bool) -> Option<PathBuf> {
        let mut done = PathBuf::from("/");
        let mut todo: Vec<std::ffi::OsString> = components_rev(p);
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            if c == ".." {
                done.pop();
                continue;
            }
            let next = done.join(&c);
            let real = self.join(&next);
            let last = todo.is_empty();
            match std::fs::symlink_metadata(&real) {
                Ok(m) if m.file_type().is_symlink() && (!last || follow_last) => {
                    hops += 1;
                    if hops > 40 {
                        return None;
                    }
                    let target = std::fs::read_link(&real).ok()?;
                    if target.is_absolute() {
                        done = PathBuf::from("/");
                    }
                    todo.extend(components_rev(&target));
                }
                _ => done = next,
            }
        }
        Some(self.join(&done))
    }

    /// Reads a text file (lossy UTF-8).
    pub fn read(&self, p: &Path) -> io::Result<String> {
        let bytes = std::fs::read(self.real(p))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Reads raw bytes.
    pub fn read_bytes(&self, p: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(self.real(p))
    }

    /// Whether the path exists (following symlinks).
    pub fn exists(&self, p: &Path) -> bool {
        self.attrs.contains_key(p) || std::fs::metadata(self.real(p)).is_ok()
    }

    /// The entries of a directory (names).
    pub fn list_dir(&self, p: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for e in std::fs::read_dir(self.real(p))? {
            names.push(e?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    /// `stat` (following symlinks) plus file capabilities, with sidecar overrides.
    pub fn stat(&self, p: &Path) -> io::Result<Meta> {
        if let Some(o) = self.attrs.get(p) {
            let kind = match o.kind {
                Some(k) => k,
                None => std::fs::metadata(self.real(p))
                    .map(|m| kind_of(&m.file_type()))
                    .unwrap_or(Kind::File),
            };
            return Ok(Meta {
                kind,
                mode: o.mode,
                uid: o.uid,
                gid: o.gid,
                rdev: (0, 0),
                caps: o.caps,
            });
        }
        let real = self.real(p);
        let m = std::fs::metadata(&real)?;
        let rdev = m.rdev();
        let caps = if m.is_file() { read_caps(&real) } else { None };
        Ok(Meta {
            kind: kind_of(&m.file_type()),
            mode: m.mode() & 0o7777,
            uid: m.uid(),
            gid: m.gid(),
            rdev: (dev_major(rdev), dev_minor(rdev)),
            caps,
        })
    }

    /// Follows a chain of symlinks, returning each hop's target as written (for showing and
    /// for telling `iptables-legacy` from `iptables-nft`).
    pub fn link_chain(&self, p: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut cur = p.to_path_buf();
        for _ in 0..16 {
            let real = if self.live {
                cur.clone()
            } else {
                match self.resolve(&cur, false) {
                    Some(r) => r,
                    None => break,
                }
            };
            match std::fs::read_link(&real) {
                Ok(t) => {
                    let next = if t.is_absolute() {
                        t
                    } else {
                        cur.parent().unwrap_or(Path::new("/")).join(t)
                    };
                    out.push(next.clone());
                    cur = next;
                }
                Err(_) => break,
            }
        }
        out
    }
}

fn components_rev(p: &Path) -> Vec<std::ffi::OsString> {
    let mut v: Vec<std::ffi::OsString> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    v.reverse();
    v
}

/// Whether `root` is the live root `/`.
pub fn is_live_root(root: &Path) -> bool {
    root == Path::new("/")
        || std::fs::canonicalize(root)
            .map(|r| r == Path::new("/"))
            .unwrap_or(false)
}

fn kind_of(t: &std::fs::FileType) -> Kind {
    if t.is_dir() {
        Kind::Dir
    } else if t.is_symlink() {
        Kind::Symlink
    } else if t.is_char_device() {
        Kind::CharDev
    } else if t.is_block_device() {
        Kind::BlockDev
    } else if t.is_socket() {
        Kind::Socket
    } else if t.is_fifo() {
        Kind::Fifo
    } else {
        Kind::File
    }
}

fn dev_major(d: u64) -> u32 {
    (((d >> 32) & 0xffff_f000) | ((d >> 8) & 0x0000_0fff)) as u32
}

fn dev_minor(d: u64) -> u32 {
    (((d >> 12) & 0xffff_ff00) | (d & 0x0000_00ff)) as u32
}

fn read_caps(path: &Path) -> Option<Caps> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let name = c"security.capability";
    let mut buf = [0u8; 64];
    // SAFETY: valid NUL-terminated strings and a buffer of the given length.
    let n = unsafe {
        nix::libc::getxattr(
            c.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n <= 0 {
        return None;
    }
    parse_vfs_caps(&buf[..n as usize])
}

/// Parses a `security.capability` value (`struct vfs_cap_data`, v1/v2/v3).
pub fn parse_vfs_caps(b: &[u8]) -> Option<Caps> {
    const CAP_SETGID: u32 = 6;
    const CAP_SETUID: u32 = 7;
    if b.len() < 8 {
        return None;
    }
    let magic = u32::from_le_bytes(b[0..4].try_into().ok()?);
    let version = magic & 0xff00_0000;
    if !matches!(version, 0x0100_0000 | 0x0200_0000 | 0x0300_0000) {
        return None;
    }
    let permitted = u32::from_le_bytes(b[4..8].try_into().ok()?);
    Some(Caps {
        setuid: permitted & (1 << CAP_SETUID) != 0,
        setgid: permitted & (1 << CAP_SETGID) != 0,
        effective: magic & 1 != 0,
    })
}

/// Parses the sidecar attribute file.
fn parse_attrs(text: &str) -> HashMap<PathBuf, AttrOverride> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        let (Ok(uid), Ok(gid)) = (f[1].parse::<u32>(), f[2].parse::<u32>()) else {
            continue;
        };
        let (kind, digits) = match f[3].chars().next() {
            Some('c') => (Some(Kind::CharDev), &f[3][1..]),
            Some('d') => (Some(Kind::Dir), &f[3][1..]),
            Some('s') => (Some(Kind::Socket), &f[3][1..]),
            Some('-') => (Some(Kind::File), &f[3][1..]),
            _ => (None, f[3]),
        };
        let Ok(mode) = u32::from_str_radix(digits, 8) else {
            continue;
        };
        let caps = f.get(4).and_then(|c| parse_cap_text(c));
        out.insert(
            PathBuf::from(OsStr::new(f[0])),
            AttrOverride {
                kind,
                mode,
                uid,
                gid,
                caps,
            },
        );
    }
    out
}

/// Parses `cap_setuid,cap_setgid=ep` style text; `-` is none.
fn parse_cap_text(s: &str) -> Option<Caps> {
    if s == "-" {
        return None;
    }
    let (names, flags) = s.split_once(['=', '+']).unwrap_or((s, ""));
    let mut caps = Caps {
        effective: flags.contains('e'),
        ..Caps::default()
    };
    for n in names.split(',') {
        match n {
            "cap_setuid" => caps.setuid = true,
            "cap_setgid" => caps.setgid = true,
            _ => {}
        }
    }
    Some(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vfs_caps_v2_setuid_effective() {
        // magic v2 | effective, permitted = 1<<7
        let mut b = vec![];
        b.extend_from_slice(&(0x0200_0000u32 | 1).to_le_bytes());
        b.extend_from_slice(&(1u32 << 7).to_le_bytes());
        b.extend_from_slice(&[0; 12]);
        let c = parse_vfs_caps(&b).unwrap();
        assert!(c.setuid && !c.setgid && c.effective);
        assert_eq!(parse_vfs_caps(&[1, 2, 3]), None);
    }

    #[test]
    fn mode_bits() {
        let m = Meta {
            kind: Kind::CharDev,
            mode: 0o660,
            uid: 0,
            gid: 5,
            rdev: (10, 200),
            caps: None,
        };
        assert!(!m.allows(1000, &[1000], Access::Write));
        assert!(m.allows(1000, &[1000, 5], Access::Write));
        assert!(m.allows(0, &[0], Access::Write));
    }

    #[test]
    fn sidecar_and_chroot_links() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("etc/alternatives")).unwrap();
        std::fs::create_dir_all(r.join("usr/sbin")).unwrap();
        std::fs::write(r.join("usr/sbin/iptables-nft"), "").unwrap();
        std::os::unix::fs::symlink(
            "/usr/sbin/iptables-nft",
            r.join("etc/alternatives/iptables"),
        )
        .unwrap();
        std::os::unix::fs::symlink("/etc/alternatives/iptables", r.join("usr/sbin/iptables"))
            .unwrap();
        std::fs::write(
            r.join(ATTRS_FILE),
            "# comment\n/usr/sbin/iptables-nft 0 0 4755 cap_setuid=ep\n",
        )
        .unwrap();
        let h = Host::new(r);
        assert!(!h.is_live());
        assert_eq!(
            h.real(Path::new("/usr/sbin/iptables")),
            r.join("usr/sbin/iptables-nft")
        );
        let chain = h.link_chain(Path::new("/usr/sbin/iptables"));
        assert_eq!(chain.last().unwrap(), Path::new("/usr/sbin/iptables-nft"));
        let m = h.stat(Path::new("/usr/sbin/iptables-nft")).unwrap();
        assert_eq!((m.uid, m.mode), (0, 0o4755));
        assert!(m.caps.unwrap().setuid);
    }
}
