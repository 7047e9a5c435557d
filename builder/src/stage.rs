//! Staging: assembles the release tree `usernetes/` (design.md §4) from the `release/`
//! payload (copied as it is), every shipped component's build output (`$OUT` lands at the top)
//! and every component's licence files (`share/licenses/<component>/`: a dependency that is
//! not shipped, e.g. a static library, still has its licence in the release), then writes `manifest.json` from
//! `bundle::scan_tree`. Two sources of the same path are an error naming both.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use walkdir::WalkDir;

use crate::build::Built;
use crate::error::{Error, IoContext, Result};
use crate::recipe::Recipe;

/// Assembles the tree (without manifest) under `root`, which must exist and be empty.
pub fn assemble(
    root: &Path,
    payload: Option<&Path>,
    components: &[(&Recipe, &Built, bool)],
) -> Result<()> {
    let mut origins: HashMap<String, String> = HashMap::new();
    if let Some(p) = payload {
        merge(p, root, "", "the payload", &mut origins)?;
    }
    for (recipe, built, shipped) in components {
        crate::cancel::check()?;
        if *shipped {
            merge(&built.out(), root, "", &recipe.name, &mut origins)?;
        }
        let lic = built.licenses();
        if lic.is_dir() && fs::read_dir(&lic).at(&lic)?.next().is_some() {
            let prefix = format!("share/licenses/{}", recipe.name);
            merge(
                &lic,
                root,
                &prefix,
                &format!("{} (licences)", recipe.name),
                &mut origins,
            )?;
        }
    }
    if origins.contains_key(bundle::manifest::MANIFEST_NAME) {
        return Err(Error::Stage(format!(
            "{} comes from {}, but the builder writes it",
            bundle::manifest::MANIFEST_NAME,
            origins[bundle::manifest::MANIFEST_NAME]
        )));
    }
    Ok(())
}

/// Copies the tree `src` into `root/prefix`, recording where every path came from.
fn merge(
    src: &Path,
    root: &Path,
    prefix: &str,
    origin: &str,
    origins: &mut HashMap<String, String>,
) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if !prefix.is_empty() {
        let d = root.join(prefix);
        fs::create_dir_all(&d).at(&d)?;
    }
    for entry in WalkDir::new(src).follow_links(false).sort_by_file_name() {
        let entry = entry.map_err(|e| Error::io(src, e.into()))?;
        let rel = entry.path().strip_prefix(src).expect("under src");
        if rel.as_os_str().is_empty() {
            continue;
        }
        let rel_s = rel.to_str().ok_or_else(|| {
            Error::Stage(format!(
                "{}: file name is not UTF-8",
                entry.path().display()
            ))
        })?;
        let key = if prefix.is_empty() {
            rel_s.to_string()
        } else {
            format!("{prefix}/{rel_s}")
        };
        let target = root.join(&key);
        let ft = entry.file_type();
        if ft.is_dir() {
            match fs::symlink_metadata(&target) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(conflict(&key, origins, origin)),
                Err(_) => {
                    fs::create_dir(&target).at(&target)?;
                    fs::set_permissions(&target, fs::Permissions::from_mode(0o755)).at(&target)?;
                    origins.insert(key, origin.to_string());
                }
            }
            continue;
        }
        if fs::symlink_metadata(&target).is_ok() {
            return Err(conflict(&key, origins, origin));
        }
        if ft.is_symlink() {
            let link = fs::read_link(entry.path()).at(entry.path())?;
            std::os::unix::fs::symlink(&link, &target).at(&target)?;
        } else if ft.is_file() {
            fs::copy(entry.path(), &target).at(&target)?;
            let mode = fs::metadata(&target).at(&target)?.permissions().mode();
            let clean = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
            fs::set_permissions(&target, fs::Permissions::from_mode(clean)).at(&target)?;
        } else {
            return Err(Error::Stage(format!(
                "{}: {origin} produced something that is not a file, folder or symlink",
                key
            )));
        }
        origins.insert(key, origin.to_string());
    }
    Ok(())
}

fn conflict(key: &str, origins: &HashMap<String, String>, origin: &str) -> Error {
    let first = origins
        .get(key)
        .cloned()
        .unwrap_or_else(|| "an earlier entry".into());
    Error::Stage(format!("{key} comes from both {first} and {origin}"))
}

/// Scans the assembled tree and writes `manifest.json` into it; returns the manifest.
pub fn write_manifest(
    root: &Path,
    version: &str,
    source_date_epoch: u64,
    mut components: Vec<bundle::manifest::Component>,
) -> Result<bundle::manifest::Manifest> {
    components.sort_by(|a, b| a.name.cmp(&b.name));
    let files = bundle::stage_scan::scan_tree(root)?;
    let manifest = bundle::manifest::Manifest {
        format: bundle::manifest::FORMAT,
        version: version.to_string(),
        source_date_epoch,
        components,
        files,
    };
    let path = root.join(bundle::manifest::MANIFEST_NAME);
    crate::fsutil::write_atomic(&path, manifest.to_json().as_bytes(), 0o644)?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipe(name: &str) -> Recipe {
        let text = format!(
            "name = \"{name}\"\nversion = \"1\"\nlicense = \"MIT\"\n[source]\npath = \".\"\n[build]\nscript = \"true\"\n"
        );
        crate::recipe::parse_recipe(Path::new(&format!("r/{name}.toml")), &text).unwrap()
    }

    fn built(dir: &Path, files: &[&str]) -> Built {
        for f in files {
            let p = dir.join("out").join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, f).unwrap();
        }
        fs::create_dir_all(dir.join("licenses")).unwrap();
        fs::write(dir.join("licenses/LICENSE"), "text").unwrap();
        Built {
            dir: dir.to_path_buf(),
        }
    }

    #[test]
    fn merges_payload_outputs_and_licences() {
        let t = tempfile::tempdir().unwrap();
        let payload = t.path().join("payload");
        fs::create_dir_all(payload.join("config")).unwrap();
        fs::write(payload.join("run.sh"), "#!/bin/sh\n").unwrap();
        let a = built(&t.path().join("a"), &["bin/a", "bin/cni/bridge"]);
        let b = built(&t.path().join("b"), &["bin/b"]);
        let (ra, rb) = (recipe("a"), recipe("b"));
        let root = t.path().join("usernetes");
        fs::create_dir(&root).unwrap();
        assemble(&root, Some(&payload), &[(&ra, &a, true), (&rb, &b, true)]).unwrap();
        for p in [
            "run.sh",
            "config",
            "bin/a",
            "bin/b",
            "bin/cni/bridge",
            "share/licenses/a/LICENSE",
            "share/licenses/b/LICENSE",
        ] {
            assert!(root.join(p).exists(), "{p}");
        }
    }

    #[test]
    fn the_same_path_from_two_components_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        let a = built(&t.path().join("a"), &["bin/x"]);
        let b = built(&t.path().join("b"), &["bin/x"]);
        let (ra, rb) = (recipe("a"), recipe("b"));
        let root = t.path().join("usernetes");
        fs::create_dir(&root).unwrap();
        let e = assemble(&root, None, &[(&ra, &a, true), (&rb, &b, true)])
            .unwrap_err()
            .to_string();
        assert_eq!(e, "stage: bin/x comes from both a and b");
    }
}
