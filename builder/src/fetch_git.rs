//! Git sources: one bare repository per URL in the cache (`git/<hash>.git`).
//!
//! [`ensure`] makes the pinned commit (and, when the recipe names one, its tag) present: it
//! fetches `+<rev>:refs/u7s/pins/<rev>` (fetch by object id, shallow over the network) together
//! with `+refs/tags/<tag>:refs/u7s/tags/<tag>`; when the server refuses to serve a commit by id
//! it falls back to fetching the tag (or, without a tag, every head and tag). The tag must peel
//! (annotated tags included) to `rev`, checked on every run, cached or not, else the build stops
//! naming the recipe, the tag and both ids.
//!
//! [`export`] writes a self-contained work tree: a fresh repository holding just the pinned
//! commit and its tree (one pack, marked shallow), HEAD detached at `rev`, the tag recreated
//! as upstream has it (the annotated tag object is copied; a lightweight tag stays
//! lightweight) so upstream version stamps work, including Makefiles that run plain
//! `git describe`, which sees annotated tags only; and a clean checkout.

use std::fs;
use std::path::Path;

use git2::{AutotagOption, FetchOptions, Oid, ProxyOptions, RemoteCallbacks, Repository};

use crate::cache::Cache;
use crate::error::{Error, IoContext, Result};
use crate::mirror::{NetPolicy, is_network_url};
use crate::progress::Progress;

/// A git pin of one recipe.
#[derive(Debug, Clone, Copy)]
pub struct GitPin<'a> {
    pub component: &'a str,
    pub file: &'a Path,
    pub url: &'a str,
    pub rev: &'a str,
    pub tag: Option<&'a str>,
}

impl GitPin<'_> {
    fn git_err(&self, e: impl std::fmt::Display) -> Error {
        Error::Git {
            component: self.component.to_string(),
            url: self.url.to_string(),
            msg: e.to_string(),
        }
    }

    fn oid(&self) -> Result<Oid> {
        Oid::from_str(self.rev).map_err(|e| self.git_err(e))
    }
}

fn pin_ref(rev: &str) -> String {
    format!("refs/u7s/pins/{rev}")
}

fn tag_ref(tag: &str) -> String {
    format!("refs/u7s/tags/{tag}")
}

/// Whether the pin is complete in the cache (commit, and tag when named). Never touches the network.
pub fn is_cached(cache: &Cache, pin: &GitPin) -> bool {
    let Ok(repo) = Repository::open_bare(cache.git_dir(pin.url)) else {
        return false;
    };
    let Ok(oid) = pin.oid() else { return false };
    repo.find_commit(oid).is_ok()
        && pin
            .tag
            .is_none_or(|t| repo.find_reference(&tag_ref(t)).is_ok())
}

/// Makes the pin present in the cache, fetching when needed (see the module doc). Returns
/// whether anything was fetched.
pub fn ensure(
    cache: &Cache,
    pin: &GitPin,
    policy: &NetPolicy,
    progress: &Progress,
) -> Result<bool> {
    let dir = cache.git_dir(pin.url);
    let lock = cache.entry_lock(&dir);
    let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
    let repo = open_or_init(&dir, pin)?;
    let oid = pin.oid()?;

    if is_cached(cache, pin) {
        check_tag(&repo, pin)?;
        return Ok(false);
    }
    crate::cancel::check()?;

    let location = match &policy.mirror {
        Some(m) => m.git_location(pin.url).ok_or_else(|| {
            pin.git_err(format!(
                "cannot map this URL into the mirror layout (<mirror>/git/<host>/<path>.git) of {m}"
            ))
        })?,
        None => pin.url.to_string(),
    };
    let network = match &policy.mirror {
        Some(m) => !m.is_local(),
        None => is_network_url(pin.url),
    };
    if policy.offline && network {
        return Err(Error::NotCached {
            component: pin.component.to_string(),
            what: format!("git {} @ {}", pin.url, pin.rev),
        });
    }
    let depth = if network { 1 } else { 0 };

    let mut specs = vec![format!("+{}:{}", pin.rev, pin_ref(pin.rev))];
    if let Some(tag) = pin.tag {
        specs.push(format!("+refs/tags/{tag}:{}", tag_ref(tag)));
    }
    let first = fetch(&repo, &location, &specs, depth, pin, progress);
    if let Err(e) = first {
        if looks_unreachable(&e) {
            return Err(Error::Network {
                url: location,
                msg: e.message().to_string(),
            });
        }
        if crate::cancel::requested() {
            return Err(Error::Cancelled);
        }
        // The server would not serve a commit by id: fetch by name instead.
        let (specs, depth) = match pin.tag {
            Some(tag) => (vec![format!("+refs/tags/{tag}:{}", tag_ref(tag))], depth),
            None => (
                vec![
                    "+refs/heads/*:refs/u7s/heads/*".to_string(),
                    "+refs/tags/*:refs/u7s/alltags/*".to_string(),
                ],
                0,
            ),
        };
        progress.log(
            pin.component,
            &format!(
                "fetch by commit id refused ({}); fetching by name",
                e.message()
            ),
        );
        fetch(&repo, &location, &specs, depth, pin, progress).map_err(|e2| {
            pin.git_err(format!(
                "fetch from {location} failed: {} (then, by name: {})",
                e.message(),
                e2.message()
            ))
        })?;
    }

    if let Some(tag) = pin.tag
        && repo.find_reference(&tag_ref(tag)).is_err()
    {
        return Err(Error::Recipe {
            file: pin.file.to_path_buf(),
            msg: format!("[source]: tag '{tag}' does not exist at {location}"),
        });
    }
    check_tag(&repo, pin)?;
    if repo.find_commit(oid).is_err() {
        return Err(Error::Recipe {
            file: pin.file.to_path_buf(),
            msg: format!("[source]: rev {} does not exist at {location}", pin.rev),
        });
    }
    repo.reference(&pin_ref(pin.rev), oid, true, "u7s-build pin")
        .map_err(|e| pin.git_err(e))?;
    Ok(true)
}

fn open_or_init(dir: &Path, pin: &GitPin) -> Result<Repository> {
    if let Ok(r) = Repository::open_bare(dir) {
        return Ok(r);
    }
    if dir.exists() {
        crate::fsutil::remove_tree(dir)?;
    }
    Repository::init_bare(dir).map_err(|e| pin.git_err(e))
}

fn looks_unreachable(e: &git2::Error) -> bool {
    let m = e.message().to_ascii_lowercase();
    [
        "failed to resolve",
        "could not resolve",
        "failed to connect",
        "connection refused",
        "timed out",
        "unreachable",
    ]
    .iter()
    .any(|p| m.contains(p))
}

fn fetch(
    repo: &Repository,
    location: &str,
    specs: &[String],
    depth: i32,
    pin: &GitPin,
    progress: &Progress,
) -> std::result::Result<(), git2::Error> {
    let bar = progress.bytes(pin.component, location, None, 0);
    let mut remote = repo.remote_anonymous(location)?;
    let mut cb = RemoteCallbacks::new();
    cb.transfer_progress(|p| {
        bar.set(p.received_bytes() as u64);
        !crate::cancel::requested()
    });
    let mut proxy = ProxyOptions::new();
    proxy.auto();
    let mut fo = FetchOptions::new();
    fo.remote_callbacks(cb)
        .download_tags(AutotagOption::None)
        .proxy_options(proxy)
        .depth(depth);
    let specs: Vec<&str> = specs.iter().map(String::as_str).collect();
    remote.fetch(&specs, Some(&mut fo), None)
}

fn check_tag(repo: &Repository, pin: &GitPin) -> Result<()> {
    let Some(tag) = pin.tag else { return Ok(()) };
    let Ok(r) = repo.find_reference(&tag_ref(tag)) else {
        return Ok(());
    };
    let actual = r
        .peel_to_commit()
        .map_err(|e| pin.git_err(e))?
        .id()
        .to_string();
    if actual != pin.rev {
        return Err(Error::TagMismatch {
            file: pin.file.to_path_buf(),
            tag: tag.to_string(),
            expected: pin.rev.to_string(),
            actual,
        });
    }
    Ok(())
}

/// The bytes of the file `path` in the pinned commit's tree, `None` when it has none. Reads
/// the cache only.
pub fn read_file(cache: &Cache, pin: &GitPin, path: &str) -> Result<Option<Vec<u8>>> {
    let repo = Repository::open_bare(cache.git_dir(pin.url)).map_err(|e| pin.git_err(e))?;
    let commit = repo.find_commit(pin.oid()?).map_err(|e| pin.git_err(e))?;
    let tree = commit.tree().map_err(|e| pin.git_err(e))?;
    let Ok(entry) = tree.get_path(Path::new(path)) else {
        return Ok(None);
    };
    let object = entry.to_object(&repo).map_err(|e| pin.git_err(e))?;
    Ok(object.as_blob().map(|b| b.content().to_vec()))
}

/// Committer time (seconds since the epoch) of the pinned commit, from the cache.
pub fn commit_time(cache: &Cache, pin: &GitPin) -> Result<i64> {
    let repo = Repository::open_bare(cache.git_dir(pin.url)).map_err(|e| pin.git_err(e))?;
    let commit = repo.find_commit(pin.oid()?).map_err(|e| pin.git_err(e))?;
    Ok(commit.time().seconds())
}

/// Writes the work tree of the pin into `dest` (an empty or absent folder); see the module doc.
pub fn export(cache: &Cache, pin: &GitPin, dest: &Path) -> Result<Repository> {
    let oid = pin.oid()?;
    let src = Repository::open_bare(cache.git_dir(pin.url)).map_err(|e| pin.git_err(e))?;
    fs::create_dir_all(dest).at(dest)?;
    let repo = Repository::init(dest).map_err(|e| pin.git_err(e))?;
    let pack_dir = repo.path().join("objects").join("pack");
    fs::create_dir_all(&pack_dir).at(&pack_dir)?;
    // The tag as upstream has it: the outermost object (an annotated tag, or the commit).
    let tag_target = match pin.tag {
        Some(tag) => Some(
            src.find_reference(&tag_ref(tag))
                .and_then(|r| {
                    r.target()
                        .ok_or_else(|| git2::Error::from_str("symbolic tag"))
                })
                .map_err(|e| pin.git_err(format!("tag {tag} is not in the cache: {e}")))?,
        ),
        None => None,
    };
    {
        let mut pb = src.packbuilder().map_err(|e| pin.git_err(e))?;
        pb.set_threads(0);
        pb.insert_commit(oid).map_err(|e| pin.git_err(e))?;
        let mut next = tag_target;
        while let Some(id) = next {
            match src.find_tag(id) {
                Ok(t) => {
                    pb.insert_object(id, None).map_err(|e| pin.git_err(e))?;
                    next = Some(t.target_id());
                }
                Err(_) => next = None,
            }
        }
        pb.write(&pack_dir, 0o644).map_err(|e| pin.git_err(e))?;
    }
    let commit = repo.find_commit(oid).map_err(|e| pin.git_err(e))?;
    if commit.parent_count() > 0 {
        let shallow = repo.path().join("shallow");
        fs::write(&shallow, format!("{}\n", pin.rev)).at(&shallow)?;
    }
    drop(commit);
    repo.set_head_detached(oid).map_err(|e| pin.git_err(e))?;
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .map_err(|e| pin.git_err(e))?;
    if let (Some(tag), Some(target)) = (pin.tag, tag_target) {
        repo.reference(
            &format!("refs/tags/{tag}"),
            target,
            true,
            "u7s-build: pinned tag",
        )
        .map_err(|e| pin.git_err(e))?;
    }
    Ok(repo)
}
