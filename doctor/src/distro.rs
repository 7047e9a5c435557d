//! Distro detection from os-release (`ID`, then each word of `ID_LIKE`; `/etc/os-release`, else
//! `/usr/lib/os-release`, never mixed) and the family that selects fix commands.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The family of distros that share fix commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Debian,
    Ubuntu,
    Arch,
    /// openSUSE Leap/Tumbleweed, SLES.
    Suse,
    /// RHEL / CentOS 7 (yum, max_user_namespaces, user_namespace.enable=1).
    Rhel7,
    /// RHEL 8, 9, 10 and clones (Rocky, Alma, CentOS Stream, Oracle).
    Rhel,
    Fedora,
    Alpine,
    #[default]
    Unknown,
}

/// The detected distro.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Distro {
    /// `ID` of os-release (empty when unknown).
    pub id: String,
    /// `ID_LIKE` words.
    pub id_like: Vec<String>,
    /// `VERSION_ID`.
    pub version_id: String,
    /// `PRETTY_NAME` (or `NAME`).
    pub pretty_name: String,
    /// The family that selects fix commands.
    pub family: Family,
}

impl Distro {
    /// Detects the distro from the text of an os-release file.
    pub fn from_os_release(text: &str) -> Distro {
        let kv = parse_os_release(text);
        let get = |k: &str| kv.get(k).cloned().unwrap_or_default();
        let id = get("ID").to_ascii_lowercase();
        let id_like: Vec<String> = get("ID_LIKE")
            .split_whitespace()
            .map(|s| s.to_ascii_lowercase())
            .collect();
        let version_id = get("VERSION_ID");
        let pretty = kv
            .get("PRETTY_NAME")
            .or_else(|| kv.get("NAME"))
            .cloned()
            .unwrap_or_default();
        let major = major_version(&version_id);
        let family = std::iter::once(id.as_str())
            .chain(id_like.iter().map(String::as_str))
            .find_map(|w| family_of(w, major))
            .unwrap_or(Family::Unknown);
        Distro {
            id,
            id_like,
            version_id,
            pretty_name: pretty,
            family,
        }
    }

    /// `VERSION_ID` as (major, minor), e.g. Ubuntu "23.10" = (23, 10).
    pub fn version(&self) -> Option<(u32, u32)> {
        let mut it = self.version_id.split('.');
        let major = it.next()?.parse().ok()?;
        let minor = it.next().and_then(|m| m.parse().ok()).unwrap_or(0);
        Some((major, minor))
    }

    /// A name for messages, e.g. "Debian GNU/Linux 12 (bookworm)".
    pub fn display(&self) -> String {
        if !self.pretty_name.is_empty() {
            self.pretty_name.clone()
        } else if !self.id.is_empty() {
            format!("{} {}", self.id, self.version_id)
                .trim()
                .to_string()
        } else {
            "unknown distro".into()
        }
    }
}

fn major_version(v: &str) -> Option<u32> {
    v.split('.').next()?.parse().ok()
}

fn family_of(word: &str, major: Option<u32>) -> Option<Family> {
    Some(match word {
        "ubuntu" => Family::Ubuntu,
        "debian" => Family::Debian,
        "arch" | "archarm" => Family::Arch,
        "suse" | "opensuse" | "sles" | "sled" | "sle-micro" => Family::Suse,
        w if w.starts_with("opensuse") => Family::Suse,
        "rhel" | "centos" | "rocky" | "almalinux" | "ol" | "scientific" => {
            if major == Some(7) {
                Family::Rhel7
            } else {
                Family::Rhel
            }
        }
        "fedora" => Family::Fedora,
        "alpine" => Family::Alpine,
        _ => return None,
    })
}

/// Parses os-release: `KEY=value` lines, values optionally single or double quoted with
/// backslash escapes in double quotes; `#` comments.
pub fn parse_os_release(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = if let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            let mut s = String::new();
            let mut esc = false;
            for c in inner.chars() {
                if esc {
                    s.push(c);
                    esc = false;
                } else if c == '\\' {
                    esc = true;
                } else {
                    s.push(c);
                }
            }
            s
        } else if let Some(inner) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            inner.to_string()
        } else {
            v.to_string()
        };
        out.insert(k.trim().to_string(), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fam(s: &str) -> Family {
        Distro::from_os_release(s).family
    }

    #[test]
    fn families() {
        assert_eq!(fam("ID=debian\nVERSION_ID=\"12\""), Family::Debian);
        assert_eq!(
            fam("ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\""),
            Family::Ubuntu
        );
        assert_eq!(fam("ID=linuxmint\nID_LIKE=ubuntu"), Family::Ubuntu);
        assert_eq!(fam("ID=pop\nID_LIKE=\"ubuntu debian\""), Family::Ubuntu);
        assert_eq!(fam("ID=manjaro\nID_LIKE=arch"), Family::Arch);
        assert_eq!(
            fam("ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\""),
            Family::Suse
        );
        assert_eq!(fam("ID=\"sles\"\nVERSION_ID=\"15.5\""), Family::Suse);
        assert_eq!(
            fam("ID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\""),
            Family::Rhel7
        );
        assert_eq!(
            fam("ID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.4\""),
            Family::Rhel
        );
        assert_eq!(
            fam("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"8.9\""),
            Family::Rhel
        );
        assert_eq!(fam("ID=fedora\nVERSION_ID=40"), Family::Fedora);
        assert_eq!(fam("ID=alpine\nVERSION_ID=3.20.1"), Family::Alpine);
        assert_eq!(fam("ID=gentoo"), Family::Unknown);
        assert_eq!(fam(""), Family::Unknown);
    }

    #[test]
    fn quoting_and_version() {
        let d = Distro::from_os_release(
            "# c\nPRETTY_NAME=\"Ubuntu 23.10 \\\"x\\\"\"\nID='ubuntu'\nVERSION_ID=\"23.10\"\n",
        );
        assert_eq!(d.pretty_name, "Ubuntu 23.10 \"x\"");
        assert_eq!(d.version(), Some((23, 10)));
    }
}
