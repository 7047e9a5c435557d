//! `[build.needs]`: the host prerequisites a recipe declares (C libraries by their pkg-config
//! name, commands on PATH), each with the Debian package that provides it. Checked before a
//! host build, so a missing library is named with the package to install instead of
//! surfacing as a compiler error deep in the log.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::recipe::Recipe;

/// Whether `name` is an executable file in one of the folders of `path` (a PATH value).
pub fn on_path(name: &str, path: &std::ffi::OsStr) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path).any(|dir| {
        let p: &Path = &dir.join(name);
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Checks every need of the recipe on this host; the first missing one is the error.
pub fn check(recipe: &Recipe) -> Result<()> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let needs = &recipe.build.needs;
    if !needs.pkg_config.is_empty() && !on_path("pkg-config", &path) {
        return Err(Error::MissingNeed {
            component: recipe.name.clone(),
            what: "command",
            name: "pkg-config".into(),
            package: "pkg-config".into(),
        });
    }
    for (name, package) in &needs.commands {
        if !on_path(name, &path) {
            return Err(Error::MissingNeed {
                component: recipe.name.clone(),
                what: "command",
                name: name.clone(),
                package: package.clone(),
            });
        }
    }
    for (name, package) in &needs.pkg_config {
        let found = crate::forklock::status(
            Command::new("pkg-config")
                .args(["--exists", "--", name])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .is_ok_and(|s| s.success());
        if !found {
            return Err(Error::MissingNeed {
                component: recipe.name.clone(),
                what: "C library (pkg-config)",
                name: name.clone(),
                package: package.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_lookup() {
        let t = tempfile::tempdir().unwrap();
        let exe = t.path().join("tool");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        let plain = t.path().join("data");
        std::fs::write(&plain, "x").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths(["/nonexistent", t.path().to_str().unwrap()]).unwrap();
        assert!(on_path("tool", &path));
        assert!(!on_path("data", &path), "not executable");
        assert!(!on_path("missing", &path));
    }
}
