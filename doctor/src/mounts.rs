//! Mount table (`/proc/self/mountinfo`, else `/proc/mounts`): which mount holds a path, its
//! filesystem type, options and propagation.

/// One mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub mount_point: String,
    pub fs_type: String,
    pub source: String,
    /// Per-mount options (`rw`, `noexec`, `nosuid`, ...).
    pub options: Vec<String>,
    /// Propagation tags from mountinfo's optional fields (`shared:1`, `master:2`).
    pub propagation: Vec<String>,
}

impl Mount {
    pub fn has_option(&self, o: &str) -> bool {
        self.options.iter().any(|x| x == o)
    }
    /// Whether the mount is a shared (peer group) mount.
    pub fn is_shared(&self) -> bool {
        self.propagation.iter().any(|p| p.starts_with("shared:"))
    }
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let digits = std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("x");
            if let Ok(v) = u8::from_str_radix(digits, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `/proc/self/mountinfo`.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let lf: Vec<&str> = left.split(' ').collect();
            let rf: Vec<&str> = right.split(' ').collect();
            if lf.len() < 6 || rf.len() < 2 {
                return None;
            }
            Some(Mount {
                mount_point: unescape(lf[4]),
                fs_type: rf[0].to_string(),
                source: unescape(rf[1]),
                options: lf[5].split(',').map(str::to_string).collect(),
                propagation: lf[6..].iter().map(|s| s.to_string()).collect(),
            })
        })
        .collect()
}

/// Parses `/proc/mounts` (no propagation information).
pub fn parse_proc_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            if f.len() < 4 {
                return None;
            }
            Some(Mount {
                mount_point: unescape(f[1]),
                fs_type: f[2].to_string(),
                source: unescape(f[0]),
                options: f[3].split(',').map(str::to_string).collect(),
                propagation: Vec::new(),
            })
        })
        .collect()
}

/// The mount holding `path` (longest mount-point prefix by path components; the last one
/// mounted wins on ties).
pub fn mount_of<'a>(mounts: &'a [Mount], path: &str) -> Option<&'a Mount> {
    let mut best: Option<&Mount> = None;
    for m in mounts {
        let mp = m.mount_point.trim_end_matches('/');
        let under = mp.is_empty()
            || path == mp
            || (path.starts_with(mp) && path.as_bytes().get(mp.len()) == Some(&b'/'));
        if under && best.is_none_or(|b| b.mount_point.trim_end_matches('/').len() <= mp.len()) {
            best = Some(m);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const MI: &str = "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
40 27 0:50 / /home rw,nosuid,noexec master:3 - nfs4 srv:/home rw,vers=4.2\n\
41 40 0:51 / /home/a\\040b rw - tmpfs tmpfs rw\n";

    #[test]
    fn lookup() {
        let m = parse_mountinfo(MI);
        assert_eq!(m.len(), 3);
        assert!(m[0].is_shared());
        assert_eq!(mount_of(&m, "/home/alice/.local").unwrap().fs_type, "nfs4");
        assert!(mount_of(&m, "/home/alice").unwrap().has_option("noexec"));
        assert_eq!(mount_of(&m, "/homework").unwrap().fs_type, "ext4");
        assert_eq!(mount_of(&m, "/home/a b/x").unwrap().fs_type, "tmpfs");
        let pm = parse_proc_mounts("/dev/vda / ext4 rw,relatime 0 0\n");
        assert_eq!(mount_of(&pm, "/x").unwrap().source, "/dev/vda");
    }
}
