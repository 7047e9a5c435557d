//! Planning, pure: which recipes a run works on (`--only`), the build cache key of each
//! component, the `SOURCE_DATE_EPOCH` rule, and the scheduler that runs independent
//! components in parallel.
//!
//! `SOURCE_DATE_EPOCH`: when the variable is set in the environment, it is used for every
//! component and for the archive. Otherwise each component gets the newest of its pinned
//! commit's committer time and its patches' author dates (git sources), the version's time
//! the module proxy records (Go-module sources), or
//! [`DEFAULT_EPOCH`] (file and path sources, which carry no date); the archive's mtime is
//! the newest of the selected components' values. All of these come from the pinned inputs,
//! so they are the same on every machine.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::recipe::Recipe;

/// 1980-01-01T00:00:00Z: the date used when no input carries one.
pub const DEFAULT_EPOCH: i64 = 315_532_800;

/// Version of the cache key scheme; bump when the meaning of a cached build changes.
const KEY_SCHEME: &str = "u7s-build key 1";

/// Keeps the recipes named by `--only` (all when empty) and the recipes they build on
/// (`[build] deps`, transitively), in name order. Unknown names are an error listing the known
/// ones.
pub fn select(recipes: Vec<Recipe>, only: &[String]) -> Result<Vec<Recipe>> {
    if only.is_empty() {
        return Ok(recipes);
    }
    let unknown: Vec<&String> = only
        .iter()
        .filter(|n| !recipes.iter().any(|r| &r.name == *n))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = recipes.iter().map(|r| r.name.as_str()).collect();
        return Err(Error::Selection(format!(
            "--only: no recipe named {} (known: {})",
            unknown
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", "),
            known.join(", ")
        )));
    }
    let mut wanted: Vec<String> = only.to_vec();
    let mut i = 0;
    while i < wanted.len() {
        if let Some(r) = recipes.iter().find(|r| r.name == wanted[i]) {
            for d in &r.build.deps {
                if !wanted.contains(d) {
                    wanted.push(d.clone());
                }
            }
        }
        i += 1;
    }
    Ok(recipes
        .into_iter()
        .filter(|r| wanted.contains(&r.name))
        .collect())
}

/// Groups items into waves that can run in parallel: every item comes after the items it
/// depends on (`deps[i]` are indexes). Dependencies outside the list are ignored; the recipe
/// loader has already refused cycles (a cycle here ends in one last wave).
pub fn waves(deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = deps.len();
    let mut done = vec![false; n];
    let mut out = Vec::new();
    let mut left = n;
    while left > 0 {
        let wave: Vec<usize> = (0..n)
            .filter(|&i| !done[i] && deps[i].iter().all(|&d| d >= n || done[d] || d == i))
            .collect();
        let wave = if wave.is_empty() {
            (0..n).filter(|&i| !done[i]).collect()
        } else {
            wave
        };
        for &i in &wave {
            done[i] = true;
        }
        left -= wave.len();
        out.push(wave);
    }
    out
}

/// Whether a recipe's outputs enter the release: its `ship` when given, else unless another
/// of the recipes builds on it.
pub fn ships(recipe: &Recipe, all: &[&Recipe]) -> bool {
    recipe
        .ship
        .unwrap_or_else(|| !all.iter().any(|r| r.build.deps.contains(&recipe.name)))
}

/// Everything that changes a component's build result.
#[derive(Debug, Clone)]
pub struct KeyInputs<'a> {
    pub name: &'a str,
    /// sha256 of the recipe file.
    pub recipe_sha256: &'a str,
    /// The source pin: `git <url> <rev> <tag>`, `url <file name> <sha256>` or `path <tree hash>`.
    pub pin: String,
    /// (file name, sha256) of each patch, in order.
    pub patches: Vec<(&'a str, &'a str)>,
    /// `host`, `docker` or `podman`.
    pub executor: &'a str,
    pub image: Option<&'a str>,
    pub source_date_epoch: i64,
}

/// The build cache key: 32 hex digits of a sha256 over [`KeyInputs`].
pub fn cache_key(k: &KeyInputs) -> String {
    let mut text = format!(
        "{KEY_SCHEME}\nname {}\nrecipe {}\npin {}\nexecutor {}\nimage {}\nsource_date_epoch {}\n",
        k.name,
        k.recipe_sha256,
        k.pin,
        k.executor,
        k.image.unwrap_or("-"),
        k.source_date_epoch
    );
    for (name, sha) in &k.patches {
        text.push_str(&format!("patch {name} {sha}\n"));
    }
    hex::encode(Sha256::digest(text.as_bytes()))[..32].to_string()
}

/// The archive's mtime: the override, else the newest component value, else [`DEFAULT_EPOCH`].
pub fn release_epoch(override_epoch: Option<i64>, components: &[i64]) -> i64 {
    override_epoch
        .or_else(|| components.iter().copied().max())
        .unwrap_or(DEFAULT_EPOCH)
}

/// A component's value: the override, else the newest of the given dates, else [`DEFAULT_EPOCH`].
pub fn component_epoch(override_epoch: Option<i64>, dates: &[i64]) -> i64 {
    override_epoch
        .or_else(|| dates.iter().copied().max())
        .unwrap_or(DEFAULT_EPOCH)
}

/// Parses `SOURCE_DATE_EPOCH` (decimal seconds).
pub fn parse_epoch(v: &str) -> Result<i64> {
    v.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            Error::Selection(format!(
                "SOURCE_DATE_EPOCH='{v}' is not a number of seconds since 1970"
            ))
        })
}

/// Runs `work` on every item with at most `jobs` at once. After the first failure no new
/// item starts (the ones running finish, so their results are cached); items never started
/// report `Error::Cancelled`. Results are in item order.
pub fn run_parallel<T, R, F>(items: &[T], jobs: usize, work: F) -> Vec<Result<R>>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> Result<R> + Sync,
{
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<R>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    let workers = jobs.clamp(1, items.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= items.len() {
                        break;
                    }
                    let r = if failed.load(Ordering::SeqCst) || crate::cancel::requested() {
                        Err(Error::Cancelled)
                    } else {
                        work(&items[i])
                    };
                    if r.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or(Err(Error::Cancelled)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn recipe(name: &str) -> Recipe {
        let text = format!(
            "name = \"{name}\"\nversion = \"1\"\nlicense = \"MIT\"\n[source]\npath = \".\"\n[build]\nscript = \"true\"\n"
        );
        crate::recipe::parse_recipe(Path::new(&format!("r/{name}.toml")), &text).unwrap()
    }

    #[test]
    fn selection() {
        let all = vec![recipe("a"), recipe("b"), recipe("c")];
        assert_eq!(select(all.clone(), &[]).unwrap().len(), 3);
        let some = select(all.clone(), &["c".into(), "a".into()]).unwrap();
        assert_eq!(
            some.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["a", "c"]
        );
        let e = select(all, &["x".into()]).unwrap_err().to_string();
        assert_eq!(e, "--only: no recipe named 'x' (known: a, b, c)");
    }

    #[test]
    fn waves_respect_dependencies() {
        // 0 <- 1 <- 2, 3 alone
        let w = waves(&[vec![], vec![0], vec![1], vec![]]);
        assert_eq!(w, vec![vec![0, 3], vec![1], vec![2]]);
        assert_eq!(waves(&[]), Vec::<Vec<usize>>::new());
    }

    #[test]
    fn selection_pulls_in_dependencies() {
        let mut a = recipe("a");
        a.build.deps = vec!["b".into()];
        let mut b = recipe("b");
        b.build.deps = vec!["c".into()];
        let all = vec![a, b, recipe("c"), recipe("d")];
        let some = select(all.clone(), &["a".into()]).unwrap();
        assert_eq!(
            some.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        let refs: Vec<&Recipe> = all.iter().collect();
        assert!(ships(&all[0], &refs));
        assert!(!ships(&all[1], &refs), "b is a dependency of a");
        let mut c = all[2].clone();
        c.ship = Some(true);
        assert!(ships(&c, &refs), "asked for");
    }

    #[test]
    fn keys_change_with_every_input() {
        let base = KeyInputs {
            name: "c",
            recipe_sha256: "r",
            pin: "git u 0123 v1".into(),
            patches: vec![("0001-a.patch", "aa")],
            executor: "docker",
            image: Some("golang:1.26"),
            source_date_epoch: 1,
        };
        let k = cache_key(&base);
        assert_eq!(k.len(), 32);
        assert_eq!(k, cache_key(&base.clone()), "stable");
        let variants = [
            KeyInputs {
                recipe_sha256: "r2",
                ..base.clone()
            },
            KeyInputs {
                pin: "git u 0124 v1".into(),
                ..base.clone()
            },
            KeyInputs {
                patches: vec![("0001-a.patch", "ab")],
                ..base.clone()
            },
            KeyInputs {
                patches: vec![],
                ..base.clone()
            },
            KeyInputs {
                executor: "podman",
                ..base.clone()
            },
            KeyInputs {
                image: Some("golang:1.25"),
                ..base.clone()
            },
            KeyInputs {
                source_date_epoch: 2,
                ..base.clone()
            },
        ];
        for v in variants {
            assert_ne!(cache_key(&v), k, "{v:?}");
        }
    }

    #[test]
    fn epochs() {
        assert_eq!(component_epoch(None, &[5, 9, 7]), 9);
        assert_eq!(component_epoch(Some(3), &[5, 9]), 3);
        assert_eq!(component_epoch(None, &[]), DEFAULT_EPOCH);
        assert_eq!(release_epoch(None, &[4, 8]), 8);
        assert_eq!(release_epoch(None, &[]), DEFAULT_EPOCH);
        assert_eq!(parse_epoch(" 1700000000 ").unwrap(), 1_700_000_000);
        assert!(parse_epoch("yesterday").is_err());
    }

    #[test]
    fn scheduler_runs_everything_in_parallel_and_stops_after_a_failure() {
        let items: Vec<u32> = (0..20).collect();
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let r = run_parallel(&items, 4, |&i| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(20));
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(i * 2)
        });
        assert_eq!(
            r.iter().map(|x| *x.as_ref().unwrap()).collect::<Vec<_>>(),
            (0..20).map(|i| i * 2).collect::<Vec<_>>()
        );
        assert!(peak.load(Ordering::SeqCst) <= 4);
        assert!(peak.load(Ordering::SeqCst) >= 2, "ran in parallel");

        let r = run_parallel(&items, 1, |&i| {
            if i == 3 {
                Err(Error::Stage("boom".into()))
            } else {
                Ok(i)
            }
        });
        assert!(r[2].is_ok());
        assert!(matches!(r[3], Err(Error::Stage(_))));
        assert!(r[4..].iter().all(|x| matches!(x, Err(Error::Cancelled))));
    }
}
