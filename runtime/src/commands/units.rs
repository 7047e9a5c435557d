//! `u7s units install|remove`: writes (or stops, disables and deletes) the systemd user units
//! whose `ExecStart` runs the installed `u7s up` with the same choices. Without a systemd user
//! manager, `install` refuses (`--write-only` writes the files) and `remove` only deletes files.

use super::ExitStatus;
use crate::cli::UnitsCmd;
use crate::session::paths::Paths;
use anyhow::Result;

pub fn run(cmd: &UnitsCmd) -> Result<ExitStatus> {
    let paths = Paths::from_process()?;
    let config_home = paths
        .config
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| paths.home.join(".config"));
    let dir = crate::host::units::unit_dir(&config_home);
    let manager = doctor::user_manager::UserManager::detect(&paths.runtime_dir);
    let (files, warnings) = match cmd {
        UnitsCmd::Install {
            up,
            now,
            write_only,
        } => {
            let plan = crate::host::units::install_plan(manager, *write_only)?;
            if up.join.is_some() {
                anyhow::bail!(
                    "join first (`u7s up --join BUNDLE`), then install the units: a joined host \
                     remembers its cluster"
                );
            }
            let mut cfg = up.session_config()?;
            // The host address is found at every start (it may change), not written into the unit.
            super::up::cluster_settings(up, &mut cfg, false)?;
            let u7s = paths.data.join("current/bin/u7s");
            crate::host::units::install(&dir, &u7s, &cfg, *now, plan)?
        }
        UnitsCmd::Remove => crate::host::units::remove(&dir, manager)?,
    };
    for f in files {
        println!("{}", f.display());
    }
    for w in warnings {
        eprintln!("u7s: warning: {w}");
    }
    Ok(ExitStatus::Success)
}
