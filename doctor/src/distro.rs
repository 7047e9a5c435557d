//! Distro detection from os-release (`ID`, then `ID_LIKE`; `/etc/os-release`, else
//! `/usr/lib/os-release`) and the family that selects fix commands.

use serde::{Deserialize, Serialize};

/// The family of distros that share fix commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Debian,
    Ubuntu,
    Arch,
    Suse,
    /// RHEL / CentOS 7 (yum, max_user_namespaces, user_namespace.enable=1).
    Rhel7,
    /// RHEL 8, 9 and clones (Rocky, Alma, CentOS Stream).
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
    /// `PRETTY_NAME`.
    pub pretty_name: String,
    /// The family that selects fix commands.
    pub family: Family,
}
