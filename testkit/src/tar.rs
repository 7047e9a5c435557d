//! Hand-made tar archives for the hostile-archive tests of the bundle and the installer: entries
//! with any name, type, mode and link name, written verbatim into GNU headers, which the tar
//! crate's safe setters refuse (absolute names, `..`, devices, setuid, sparse entries).

use tar::{EntryType, Header};

/// One raw tar entry. Names and link names are written as they are (at most 100 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Raw {
    pub name: Vec<u8>,
    pub kind: EntryType,
    pub mode: u32,
    pub data: Vec<u8>,
    pub link: Vec<u8>,
    pub mtime: u64,
}

impl Raw {
    /// An entry of any kind, without data or link name, mtime 0.
    pub fn new(name: &str, kind: EntryType, mode: u32) -> Raw {
        Raw {
            name: name.as_bytes().to_vec(),
            kind,
            mode,
            data: Vec::new(),
            link: Vec::new(),
            mtime: 0,
        }
    }
    /// A regular file.
    pub fn file(name: &str, mode: u32, data: &[u8]) -> Raw {
        Raw::new(name, EntryType::Regular, mode).data(data)
    }
    /// A folder, mode 0755.
    pub fn dir(name: &str) -> Raw {
        Raw::new(name, EntryType::Directory, 0o755)
    }
    /// A symlink to `target`, mode 0777.
    pub fn symlink(name: &str, target: &str) -> Raw {
        Raw::new(name, EntryType::Symlink, 0o777).link(target)
    }
    /// Any kind with a link name (hard links, devices, unknown types).
    pub fn other(name: &str, kind: EntryType, mode: u32, link: &str) -> Raw {
        Raw::new(name, kind, mode).link(link)
    }
    /// With this content.
    pub fn data(mut self, d: &[u8]) -> Raw {
        self.data = d.to_vec();
        self
    }
    /// With this link name.
    pub fn link(mut self, l: &str) -> Raw {
        self.link = l.as_bytes().to_vec();
        self
    }
    /// With this mtime.
    pub fn mtime(mut self, t: u64) -> Raw {
        self.mtime = t;
        self
    }
}

/// The GNU header of `r`: uid/gid 0, devices 1:3 (`/dev/null`'s) for char and block entries,
/// the real size of a sparse entry set to its data length.
pub fn header(r: &Raw) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(r.kind);
    h.set_mode(r.mode);
    h.set_size(r.data.len() as u64);
    h.set_mtime(r.mtime);
    h.set_uid(0);
    h.set_gid(0);
    if matches!(r.kind, EntryType::Char | EntryType::Block) {
        h.set_device_major(1).unwrap();
        h.set_device_minor(3).unwrap();
    }
    let gnu = h.as_gnu_mut().unwrap();
    assert!(
        r.name.len() <= 100 && r.link.len() <= 100,
        "raw names fit the plain header"
    );
    gnu.name = [0; 100];
    gnu.name[..r.name.len()].copy_from_slice(&r.name);
    gnu.linkname = [0; 100];
    gnu.linkname[..r.link.len()].copy_from_slice(&r.link);
    if r.kind == EntryType::GNUSparse {
        let real = format!("{:011o}\0", r.data.len());
        gnu.realsize.copy_from_slice(real.as_bytes());
    }
    h.set_cksum();
    h
}

/// A tar stream of `entries` (with the end-of-archive blocks).
pub fn raw_tar(entries: &[Raw]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for r in entries {
        b.append(&header(r), r.data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_safe_setters_refuse() {
        let t = raw_tar(&[
            Raw::file("../x", 0o4755, b"hi").mtime(7),
            Raw::symlink("/abs", "../../etc"),
            Raw::new("null", EntryType::Char, 0o644),
        ]);
        let mut a = tar::Archive::new(t.as_slice());
        let e: Vec<_> = a
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    h.path_bytes().into_owned(),
                    h.mode().unwrap(),
                    h.mtime().unwrap(),
                    h.link_name_bytes().map(|l| l.into_owned()),
                    h.device_major().ok().flatten(),
                )
            })
            .collect();
        assert_eq!(e[0].0, b"../x");
        assert_eq!((e[0].1, e[0].2, e[0].3.clone()), (0o4755, 7, None));
        assert_eq!(e[1].0, b"/abs");
        assert_eq!(e[1].3.as_deref(), Some(&b"../../etc"[..]));
        assert_eq!(e[2].4, Some(1));
    }
}
