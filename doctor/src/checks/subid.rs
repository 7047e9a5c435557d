//! Sub-ID checks: newuidmap/newgidmap present and privileged, and for /etc/subuid and
//! /etc/subgid: file sanity, ranges (by name or uid, total >= 65536), a range containing the
//! user's own id, duplicates, overlaps with other users, systemd-homed ranges.

use super::{bad, pass, sed_escape, shq, skip, user_name};
use crate::facts::{Facts, Helper, SubIdFact};
use crate::host::Kind;
use crate::subid::{self, Range};
use crate::{CheckResult, Family, Status, fixes};

const G: &str = "subid";
/// Sub-IDs needed for a full container image (ids 0..65535).
pub const NEEDED: u64 = 65536;

pub fn checks(f: &Facts) -> Vec<CheckResult> {
    let mut v = vec![
        helper(f, "newuidmap", f.newuidmap.as_ref(), true),
        helper(f, "newgidmap", f.newgidmap.as_ref(), false),
    ];
    for (kind, file) in [("subuid", &f.subuid), ("subgid", &f.subgid)] {
        v.push(file_sanity(f, kind, file));
        v.push(range(f, kind, file));
        v.push(own_id(f, kind, file));
        v.push(duplicates(f, kind, file));
        v.push(overlap(f, kind, file));
    }
    v.push(homed(f));
    v
}

fn helper(f: &Facts, name: &str, h: Option<&Helper>, uid: bool) -> CheckResult {
    let id = format!("subid.{name}");
    let Some(h) = h else {
        return bad(
            &id,
            G,
            Status::Fail,
            format!("{name} not found (PATH, /usr/bin, /usr/sbin, /bin, /sbin)"),
            Some(fixes::install_uidmap(f.distro.family)),
            true,
        );
    };
    let setuid_root = h.meta.uid == 0 && h.meta.mode & 0o4000 != 0;
    let cap = h
        .meta
        .caps
        .is_some_and(|c| c.effective && if uid { c.setuid } else { c.setgid });
    let capname = if uid { "cap_setuid" } else { "cap_setgid" };
    if !setuid_root && !cap {
        let fix = match f.distro.family {
            Family::Fedora | Family::Rhel => "dnf reinstall -y shadow-utils".to_string(),
            _ => format!("chown root:root {p}\nchmod u+s {p}", p = h.path),
        };
        return bad(
            &id,
            G,
            Status::Fail,
            format!(
                "{} is neither setuid root nor has {capname}=ep (mode {:04o}, owner {}): it fails with \"Could not set caps\"",
                h.path, h.meta.mode, h.meta.uid
            ),
            Some(fix),
            true,
        );
    }
    if h.nosuid {
        return bad(
            &id,
            G,
            Status::Fail,
            format!("{} is on a nosuid mount: its privilege is ignored", h.path),
            None,
            false,
        );
    }
    let how = if setuid_root {
        "setuid root".to_string()
    } else {
        format!("{capname}=ep")
    };
    pass(&id, G, format!("{} ({how})", h.path))
}

fn ids(f: &Facts, kind: &str) -> Option<(String, u32)> {
    let u = f.user.as_ref().ok()?;
    Some((u.name.clone(), if kind == "subuid" { u.uid } else { u.gid }))
}

/// `echo 'alice:165536:65536' >> /etc/subuid` with a free range.
fn append_fix(file: &SubIdFact, name: &str, own: u32) -> String {
    let parsed = file.parsed.clone().unwrap_or_default();
    let start = parsed.free_start(NEEDED, &[own as u64]);
    format!("echo '{name}:{start}:{NEEDED}' >> {}", file.path)
}

fn delete_line_fix(file: &SubIdFact, r: &Range) -> String {
    format!("sed -i '/^{}$/d' {}", sed_escape(&r.text()), file.path)
}

fn file_sanity(f: &Facts, kind: &str, file: &SubIdFact) -> CheckResult {
    let id = format!("{kind}.file");
    let (name, own) = ids(f, kind).unwrap_or(("<user>".into(), 0));
    match (&file.meta, &file.parsed) {
        (Err(e), _) | (_, Err(e)) => bad(
            &id,
            G,
            Status::Fail,
            format!("{}: {e}", file.path),
            Some(append_fix(file, &name, own)),
            true,
        ),
        (Ok(m), _) if m.kind != Kind::File => bad(
            &id,
            G,
            Status::Fail,
            format!("{} is not a regular file", file.path),
            None,
            false,
        ),
        (Ok(_), Ok(p)) if !p.bad_lines.is_empty() => {
            let lines: Vec<String> = p
                .bad_lines
                .iter()
                .map(|(n, t)| format!("{n}: {t:?}"))
                .collect();
            let fix = p
                .bad_lines
                .iter()
                .map(|(_, t)| format!("sed -i '/^{}$/d' {}", sed_escape(t), file.path))
                .collect::<Vec<_>>()
                .join("\n");
            bad(
                &id,
                G,
                Status::Warn,
                format!(
                    "{} has lines that are not name:start:count (RootlessKit's parser rejects the file): line {}",
                    file.path,
                    lines.join(", line ")
                ),
                Some(fix),
                true,
            )
        }
        (Ok(_), Ok(_)) if file.is_symlink => bad(
            &id,
            G,
            Status::Warn,
            format!(
                "{} is a symlink: newuidmap may refuse it (rootlesskit#259)",
                file.path
            ),
            None,
            false,
        ),
        (Ok(_), Ok(p)) => pass(
            &id,
            G,
            format!("{}: {} ranges, well formed", file.path, p.ranges.len()),
        ),
    }
}

fn range(f: &Facts, kind: &str, file: &SubIdFact) -> CheckResult {
    let id = format!("{kind}.range");
    let Some((name, own)) = ids(f, kind) else {
        return skip(&id, G, "unknown user");
    };
    let uid = f.user.as_ref().map(|u| u.uid).unwrap_or(0);
    let Ok(parsed) = &file.parsed else {
        return bad(
            &id,
            G,
            Status::Fail,
            format!("no {kind} range for {name}: {} is unreadable", file.path),
            Some(append_fix(file, &name, own)),
            true,
        );
    };
    let mine = parsed.of_user(&name, uid);
    if mine.is_empty() {
        if let Some(src) = &f.nss_subid {
            return bad(
                &id,
                G,
                Status::Warn,
                format!(
                    "no {kind} range for {name} in {}; nsswitch.conf takes sub-IDs from `{src}`: check with `getsubids{} {name}`",
                    file.path,
                    if kind == "subgid" { " -g" } else { "" }
                ),
                None,
                false,
            );
        }
        return bad(
            &id,
            G,
            Status::Fail,
            format!(
                "no {kind} range for {name} (or {uid}) in {}: RootlessKit fails with \"No {kind} ranges found\"",
                file.path
            ),
            Some(append_fix(file, &name, own)),
            true,
        );
    }
    let total = subid::total(&mine);
    let list: Vec<String> = mine
        .iter()
        .map(|r| format!("{}-{}", r.start, r.end().saturating_sub(1)))
        .collect();
    if total < NEEDED {
        return bad(
            &id,
            G,
            Status::Fail,
            format!(
                "{name} has {total} {kind} IDs ({}); {NEEDED} are needed (images fail with \"lchown: invalid argument\")",
                list.join(", ")
            ),
            Some(append_fix(file, &name, own)),
            true,
        );
    }
    pass(&id, G, format!("{name}: {total} IDs ({})", list.join(", ")))
}

fn own_id(f: &Facts, kind: &str, file: &SubIdFact) -> CheckResult {
    let id = format!("{kind}.own_id");
    let (Some((name, own)), Ok(parsed)) = (ids(f, kind), &file.parsed) else {
        return skip(&id, G, "no ranges to check");
    };
    let uid = f.user.as_ref().map(|u| u.uid).unwrap_or(0);
    let mine = parsed.of_user(&name, uid);
    let bad_ranges: Vec<&&Range> = mine.iter().filter(|r| r.contains(own as u64)).collect();
    if bad_ranges.is_empty() {
        return pass(&id, G, format!("no range contains {name}'s own id {own}"));
    }
    let mut fix: Vec<String> = bad_ranges
        .iter()
        .map(|r| delete_line_fix(file, r))
        .collect();
    let left: u64 = mine
        .iter()
        .filter(|r| !r.contains(own as u64))
        .map(|r| r.count)
        .sum();
    if left < NEEDED {
        fix.push(append_fix(file, &name, own));
    }
    bad(
        &id,
        G,
        Status::Fail,
        format!(
            "{} (line {}) contains {name}'s own id {own}: newuidmap fails with \"write to {} failed: Invalid argument\"",
            bad_ranges[0].text(),
            bad_ranges[0].line,
            if kind == "subuid" {
                "uid_map"
            } else {
                "gid_map"
            }
        ),
        Some(fix.join("\n")),
        true,
    )
}

fn duplicates(f: &Facts, kind: &str, file: &SubIdFact) -> CheckResult {
    let id = format!("{kind}.duplicates");
    let (Some((name, _)), Ok(parsed)) = (ids(f, kind), &file.parsed) else {
        return skip(&id, G, "no ranges to check");
    };
    let uid = f.user.as_ref().map(|u| u.uid).unwrap_or(0);
    let mine = parsed.of_user(&name, uid);
    let pairs = subid::self_overlaps(&mine);
    let Some((a, b)) = pairs.first() else {
        return pass(&id, G, format!("{name}'s ranges do not overlap each other"));
    };
    let mut fix = Vec::new();
    for (a, b) in &pairs {
        let line = if a.text() == b.text() {
            format!(
                "awk '!seen[$0]++' {p} > {p}.u7s && cat {p}.u7s > {p} && rm {p}.u7s",
                p = file.path
            )
        } else {
            delete_line_fix(file, b)
        };
        if !fix.contains(&line) {
            fix.push(line);
        }
    }
    bad(
        &id,
        G,
        Status::Fail,
        format!(
            "lines {} and {} ({} and {}) overlap: newuidmap rejects the map with \"Invalid argument\"",
            a.line,
            b.line,
            a.text(),
            b.text()
        ),
        Some(fix.join("\n")),
        true,
    )
}

fn overlap(f: &Facts, kind: &str, file: &SubIdFact) -> CheckResult {
    let id = format!("{kind}.overlap");
    let (Some((name, own)), Ok(parsed)) = (ids(f, kind), &file.parsed) else {
        return skip(&id, G, "no ranges to check");
    };
    let uid = f.user.as_ref().map(|u| u.uid).unwrap_or(0);
    let x = parsed.cross_overlaps(&name, uid);
    let Some((mine, theirs)) = x.first() else {
        return pass(&id, G, format!("{name}'s ranges overlap no other user's"));
    };
    let free = parsed.free_start(NEEDED, &[own as u64]);
    bad(
        &id,
        G,
        Status::Warn,
        format!(
            "{}'s range {} overlaps {} (line {}): the two users share container IDs; a free range is {name}:{free}:{NEEDED}",
            name,
            mine.text(),
            theirs.text(),
            theirs.line
        ),
        None,
        false,
    )
}

fn homed(f: &Facts) -> CheckResult {
    const ID: &str = "subid.homed";
    if !f.homed {
        return skip(ID, G, "not a systemd-homed user");
    }
    let name = user_name(f);
    let uid = f.user.as_ref().map(|u| u.uid).unwrap_or(0);
    let (lo, hi) = (524_288u64, 1_878_982_656u64);
    let outside: Vec<String> = [&f.subuid, &f.subgid]
        .iter()
        .filter_map(|s| s.parsed.as_ref().ok())
        .flat_map(|p| {
            p.of_user(&name, uid)
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
        })
        .filter(|r| r.start < lo || r.end() > hi)
        .map(|r| r.text())
        .collect();
    if outside.is_empty() {
        pass(
            ID,
            G,
            "ranges lie in systemd-homed's container range 524288-1878982655",
        )
    } else {
        bad(
            ID,
            G,
            Status::Warn,
            format!(
                "{} lies outside systemd-homed's container range 524288-1878982655 (e.g. use {}:524288:65536)",
                outside.join(", "),
                shq(&name)
            ),
            None,
            false,
        )
    }
}
