//! Kernel modules: loaded (`/proc/modules`), built in (`modules.builtin`, kernel config `=y`,
//! `/sys/module`, `/proc/filesystems`), or only available to load (`modules.dep`, config `=m`).
//! Built-in modules count as present.

use std::collections::{HashMap, HashSet};

/// What is known about the kernel's modules.
#[derive(Debug, Clone, Default)]
pub struct ModuleSets {
    /// `/proc/modules` names; `None` when the file is absent (kernel without module support or
    /// unreadable).
    pub loaded: Option<HashSet<String>>,
    /// `modules.builtin` names.
    pub builtin: Option<HashSet<String>>,
    /// `modules.dep` names (loadable).
    pub available: Option<HashSet<String>>,
    /// Kernel config (`CONFIG_X` -> `y`/`m`; absent symbols are not set).
    pub kconfig: Option<HashMap<String, String>>,
    /// Where the kernel config came from.
    pub kconfig_source: Option<String>,
    /// `/proc/filesystems` names.
    pub filesystems: HashSet<String>,
    /// Directories in `/sys/module` among the modules asked about.
    pub sysmodule: HashSet<String>,
}

/// The state of one module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModState {
    Loaded,
    /// Built in; the evidence (e.g. `modules.builtin`, `CONFIG_VXLAN=y`).
    Builtin(String),
    /// Not loaded but loadable with modprobe.
    Available,
    /// Neither loaded, built in nor loadable; the evidence.
    Missing(String),
    /// Cannot tell (no source of information).
    Unknown,
}

impl ModState {
    /// Loaded or built in.
    pub fn present(&self) -> bool {
        matches!(self, ModState::Loaded | ModState::Builtin(_))
    }
}

/// Normalises a module name (`-` and `_` are the same to the kernel).
pub fn norm(name: &str) -> String {
    name.replace('-', "_")
}

/// The kernel config symbol of a module we care about.
pub fn config_symbol(module: &str) -> Option<&'static str> {
    Some(match module {
        "ip_tables" => "CONFIG_IP_NF_IPTABLES",
        "iptable_nat" => "CONFIG_IP_NF_NAT",
        "iptable_filter" => "CONFIG_IP_NF_FILTER",
        "iptable_mangle" => "CONFIG_IP_NF_MANGLE",
        "nf_tables" => "CONFIG_NF_TABLES",
        "nft_chain_nat" => "CONFIG_NFT_NAT",
        "nft_compat" => "CONFIG_NFT_COMPAT",
        "nf_nat" => "CONFIG_NF_NAT",
        "br_netfilter" => "CONFIG_BRIDGE_NETFILTER",
        "bridge" => "CONFIG_BRIDGE",
        "veth" => "CONFIG_VETH",
        "vxlan" => "CONFIG_VXLAN",
        "tun" => "CONFIG_TUN",
        "overlay" => "CONFIG_OVERLAY_FS",
        "fuse" => "CONFIG_FUSE_FS",
        "xt_MASQUERADE" => "CONFIG_NETFILTER_XT_TARGET_MASQUERADE",
        _ => return None,
    })
}

/// Filesystem name a module registers in `/proc/filesystems`.
fn filesystem_of(module: &str) -> Option<&'static str> {
    match module {
        "overlay" => Some("overlay"),
        "fuse" => Some("fuse"),
        _ => None,
    }
}

/// Parses `/proc/modules` (first field of each line).
pub fn parse_proc_modules(text: &str) -> HashSet<String> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(norm)
        .collect()
}

/// Parses `modules.builtin` or `modules.dep` (module file basenames without `.ko*`).
pub fn parse_module_list(text: &str) -> HashSet<String> {
    text.lines()
        .filter_map(|l| {
            let path = l.split(':').next()?.trim();
            let base = path.rsplit('/').next()?;
            let name = base.split(".ko").next()?;
            (!name.is_empty()).then(|| norm(name))
        })
        .collect()
}

/// Parses a kernel `.config`.
pub fn parse_kconfig(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| l.starts_with("CONFIG_"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

/// Parses `/proc/filesystems` (last field).
pub fn parse_filesystems(text: &str) -> HashSet<String> {
    text.lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(str::to_string)
        .collect()
}

/// The state of `module` from what is known.
pub fn state(sets: &ModuleSets, module: &str) -> ModState {
    let name = norm(module);
    if sets.loaded.as_ref().is_some_and(|s| s.contains(&name)) {
        return ModState::Loaded;
    }
    if sets.builtin.as_ref().is_some_and(|s| s.contains(&name)) {
        return ModState::Builtin("modules.builtin".into());
    }
    if let Some(fs) = filesystem_of(module)
        && sets.filesystems.contains(fs)
    {
        return ModState::Builtin(format!("{fs} in /proc/filesystems"));
    }
    if sets.sysmodule.contains(&name) {
        return ModState::Builtin(format!("/sys/module/{name}"));
    }
    let kval = match (&sets.kconfig, config_symbol(module)) {
        (Some(k), Some(sym)) => Some((sym, k.get(sym).map(String::as_str))),
        _ => None,
    };
    if let Some((sym, Some("y"))) = kval {
        return ModState::Builtin(format!("{sym}=y"));
    }
    if sets.available.as_ref().is_some_and(|s| s.contains(&name)) {
        return ModState::Available;
    }
    match kval {
        Some((_, Some("m"))) if sets.available.is_none() && sets.loaded.is_some() => {
            ModState::Available
        }
        Some((sym, _)) => ModState::Missing(format!(
            "{sym} is not set in the kernel config ({})",
            sets.kconfig_source.as_deref().unwrap_or("kernel config")
        )),
        None if sets.builtin.is_some() && sets.available.is_some() => ModState::Missing(
            "neither loaded, built in (modules.builtin) nor in modules.dep".into(),
        ),
        None => ModState::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        let mut s = ModuleSets {
            loaded: Some(parse_proc_modules(
                "tun 61440 0 - Live 0x0\nip_tables 32768 0 - Live 0x0\n",
            )),
            builtin: Some(parse_module_list("kernel/fs/overlayfs/overlay.ko\n")),
            available: Some(parse_module_list(
                "kernel/net/bridge/br_netfilter.ko.zst: kernel/net/bridge/bridge.ko.zst\n",
            )),
            ..Default::default()
        };
        assert_eq!(state(&s, "tun"), ModState::Loaded);
        assert!(matches!(state(&s, "overlay"), ModState::Builtin(_)));
        assert_eq!(state(&s, "br_netfilter"), ModState::Available);
        assert!(matches!(state(&s, "vxlan"), ModState::Missing(_)));
        s.kconfig = Some(parse_kconfig(
            "CONFIG_VXLAN=y\n# CONFIG_FUSE_FS is not set\n",
        ));
        assert_eq!(
            state(&s, "vxlan"),
            ModState::Builtin("CONFIG_VXLAN=y".into())
        );
        assert!(matches!(state(&s, "fuse"), ModState::Missing(_)));
        assert_eq!(state(&ModuleSets::default(), "tun"), ModState::Unknown);
    }
}
