//! Session checks: not root, the user exists, HOME, XDG_RUNTIME_DIR, systemd user manager,
//! D-Bus user session, lingering, a rootful Docker in the way, concurrent or stale sessions.

use super::{bad, mode_text, pass, shq, skip, user_name};
use crate::facts::Facts;
use crate::fixes;
use crate::host::{Access, Kind};
use crate::{CheckResult, Status};

const G: &str = "session";

pub fn checks(f: &Facts) -> Vec<CheckResult> {
    vec![
        not_root(f),
        user(f),
        home(f),
        runtime_dir(f),
        systemd(f),
        dbus(f),
        linger(f),
        rootful_docker(f),
        conflict(f),
    ]
}

fn not_root(f: &Facts) -> CheckResult {
    const ID: &str = "session.not_root";
    match f.process_ids {
        None => skip(ID, G, "cannot read /proc/self/status"),
        // Admin mode (`sudo u7s-doctor --user NAME`): root checks another user's set-up.
        Some((0, _)) if !f.is_self && f.user.as_ref().is_ok_and(|u| u.uid != 0) => pass(
            ID,
            G,
            format!(
                "checking {} as root (admin mode: the probes run as that user)",
                user_name(f)
            ),
        ),
        Some((0, _)) => bad(
            ID,
            G,
            Status::Fail,
            "running as root: usernetes runs as an unprivileged user; check that user's set-up \
             with `u7s-doctor --user NAME`, or run the doctor as that user",
            Some(
                "sudo u7s-doctor --user NAME   # or as NAME: ssh NAME@localhost u7s-doctor".into(),
            ),
            false,
        ),
        Some((uid, _)) => pass(ID, G, format!("running as {} (uid {uid})", user_name(f))),
    }
}

fn user(f: &Facts) -> CheckResult {
    const ID: &str = "session.user";
    match &f.user {
        Ok(u) => pass(ID, G, format!("{} uid {} gid {}", u.name, u.uid, u.gid)),
        Err(e) => bad(ID, G, Status::Fail, e.clone(), None, false),
    }
}

fn home(f: &Facts) -> CheckResult {
    const ID: &str = "session.home";
    let Ok(u) = &f.user else {
        return skip(ID, G, "unknown user");
    };
    let Some(h) = &f.home else {
        return bad(
            ID,
            G,
            Status::Fail,
            "HOME is not set and /etc/passwd names no home directory",
            None,
            false,
        );
    };
    let src = if f.home_from_env {
        "HOME"
    } else {
        "home directory"
    };
    let create = format!(
        "install -d -o {} -g {} -m 0750 {}",
        u.uid,
        u.gid,
        shq(&h.path)
    );
    match &h.meta {
        Err(e) => bad(
            ID,
            G,
            Status::Fail,
            format!("{src} {}: {e}", h.path),
            Some(create),
            true,
        ),
        Ok(m) if m.kind != Kind::Dir => bad(
            ID,
            G,
            Status::Fail,
            format!("{src} {} is not a directory", h.path),
            None,
            false,
        ),
        Ok(m) if !m.allows(u.uid, &f.user_gids, Access::Write) => bad(
            ID,
            G,
            Status::Fail,
            format!(
                "{src} {} is not writable by {} ({})",
                h.path,
                u.name,
                mode_text(m)
            ),
            Some(format!("chown {}:{} {}", u.uid, u.gid, shq(&h.path))),
            true,
        ),
        Ok(_) if read_only(f, &h.path) => bad(
            ID,
            G,
            Status::Fail,
            format!("{src} {} is on a read-only mount", h.path),
            None,
            false,
        ),
        Ok(_) => pass(ID, G, format!("{src} {} is writable", h.path)),
    }
}

fn read_only(f: &Facts, path: &str) -> bool {
    crate::mounts::mount_of(&f.mounts, path).is_some_and(|m| m.has_option("ro"))
}

fn runtime_dir(f: &Facts) -> CheckResult {
    const ID: &str = "session.runtime_dir";
    let Ok(u) = &f.user else {
        return skip(ID, G, "unknown user");
    };
    let Some(rd) = &f.runtime_dir else {
        return skip(ID, G, "unknown user");
    };
    let own = format!("/run/user/{}", u.uid);
    let create = if f.systemd_booted {
        format!("loginctl enable-linger {}", shq(&u.name))
    } else {
        format!("install -d -o {} -g {} -m 0700 {own}", u.uid, u.gid)
    };
    let problem = match &rd.meta {
        Err(e) => Some(e.clone()),
        Ok(m) if m.kind != Kind::Dir => Some("not a directory".into()),
        Ok(m) if m.uid != u.uid => Some(format!(
            "owned by uid {}, not {} ({})",
            m.uid,
            u.name,
            mode_text(m)
        )),
        Ok(m) if !m.allows(u.uid, &f.user_gids, Access::Write) => {
            Some(format!("not writable ({})", mode_text(m)))
        }
        Ok(_) => None,
    };
    match (f.runtime_dir_from_env, problem) {
        (true, None) => pass(
            ID,
            G,
            format!(
                "XDG_RUNTIME_DIR={} is owned by {} and writable",
                rd.path, u.name
            ),
        ),
        (true, Some(p)) => {
            let fix = if rd.path != own {
                // Typically /run/user/0 after `su`: point it at the user's own directory.
                format!(
                    "export XDG_RUNTIME_DIR={own}   # as {}; or log in with ssh {}@localhost",
                    u.name, u.name
                )
            } else {
                create
            };
            let root = rd.path == own;
            bad(
                ID,
                G,
                Status::Fail,
                format!("XDG_RUNTIME_DIR={}: {p}", rd.path),
                Some(fix),
                root,
            )
        }
        (false, None) if f.is_self => bad(
            ID,
            G,
            Status::Warn,
            format!("XDG_RUNTIME_DIR is not set; {own} exists and is usable"),
            Some(format!("export XDG_RUNTIME_DIR={own}")),
            false,
        ),
        (false, None) => pass(ID, G, format!("{own} is owned by {} and writable", u.name)),
        (false, Some(p)) => bad(
            ID,
            G,
            Status::Fail,
            format!("XDG_RUNTIME_DIR is not set and {own}: {p}"),
            Some(format!(
                "{create}\n# then, as {}: export XDG_RUNTIME_DIR={own}",
                u.name
            )),
            true,
        ),
    }
}

fn systemd(f: &Facts) -> CheckResult {
    const ID: &str = "session.systemd";
    let name = user_name(f);
    if !f.systemd_booted {
        return bad(
            ID,
            G,
            Status::Warn,
            "systemd is not running: no user units; start usernetes by hand (u7s up --detach)",
            None,
            false,
        );
    }
    if !f.user_manager {
        return bad(
            ID,
            G,
            Status::Warn,
            format!("no systemd user manager for {name} (logged in with su or sudo?)"),
            Some(format!("loginctl enable-linger {}", shq(&name))),
            true,
        );
    }
    pass(ID, G, format!("systemd user manager of {name} is running"))
}

fn dbus(f: &Facts) -> CheckResult {
    const ID: &str = "session.dbus";
    if !f.systemd_booted || !f.user_manager {
        return skip(ID, G, "no systemd user manager");
    }
    if f.user_bus {
        return pass(ID, G, "D-Bus user session bus is available");
    }
    let install = fixes::install(f.distro.family, &fixes::DBUS_USER);
    bad(
        ID,
        G,
        Status::Warn,
        "no D-Bus user session bus: `systemctl --user` and the systemd cgroup driver fail",
        Some(format!(
            "{install}\n# then, as {}: systemctl --user enable --now dbus",
            user_name(f)
        )),
        true,
    )
}

fn linger(f: &Facts) -> CheckResult {
    const ID: &str = "session.linger";
    if !f.systemd_booted {
        return skip(ID, G, "systemd is not running");
    }
    let name = user_name(f);
    if f.linger {
        return pass(ID, G, format!("lingering is enabled for {name}"));
    }
    bad(
        ID,
        G,
        Status::Warn,
        format!("lingering is not enabled: usernetes stops when {name} logs out"),
        Some(format!("loginctl enable-linger {}", shq(&name))),
        true,
    )
}

fn rootful_docker(f: &Facts) -> CheckResult {
    const ID: &str = "session.rootful_docker";
    let Ok(u) = &f.user else {
        return skip(ID, G, "unknown user");
    };
    let usable = f.docker_sockets.iter().find(|s| {
        s.meta
            .as_ref()
            .is_ok_and(|m| m.allows(u.uid, &f.user_gids, Access::Write))
    });
    match (usable, f.docker_sockets.first()) {
        (Some(s), _) => {
            let rt = f
                .runtime_dir
                .as_ref()
                .map(|r| r.path.clone())
                .unwrap_or_else(|| format!("/run/user/{}", u.uid));
            bad(
                ID,
                G,
                Status::Warn,
                format!(
                    "a rootful Docker ({}) is reachable by {}: plain `docker` talks to it, not to usernetes",
                    s.path, u.name
                ),
                Some(format!(
                    "export DOCKER_HOST=unix://{rt}/docker.sock   # or use `u7s docker`"
                )),
                false,
            )
        }
        (None, Some(s)) => pass(
            ID,
            G,
            format!(
                "a rootful Docker socket exists ({}) but {} cannot use it",
                s.path, u.name
            ),
        ),
        (None, None) => pass(ID, G, "no rootful Docker socket"),
    }
}

fn conflict(f: &Facts) -> CheckResult {
    const ID: &str = "session.conflict";
    let mut worst: Option<CheckResult> = None;
    let mut keep = |c: CheckResult| {
        let rank = |s: Status| match s {
            Status::Fail => 3,
            Status::Warn => 2,
            _ => 1,
        };
        if worst
            .as_ref()
            .is_none_or(|w| rank(c.status) > rank(w.status))
        {
            worst = Some(c);
        }
    };
    for d in &f.state_dirs {
        let pid = d
            .child_pid
            .map(|p| p.to_string())
            .unwrap_or_else(|| "?".into());
        match (d.owner, d.alive) {
            ("dockerd-rootless", true) => keep(bad(
                ID,
                G,
                Status::Fail,
                format!(
                    "Docker's own rootless dockerd is running (RootlessKit child pid {pid}): it holds $XDG_RUNTIME_DIR/docker.sock"
                ),
                Some(
                    "systemctl --user disable --now docker.service   # or stop dockerd-rootless.sh"
                        .into(),
                ),
                false,
            )),
            ("containerd-rootless", true) => keep(bad(
                ID,
                G,
                Status::Warn,
                format!("nerdctl's rootless containerd is running (RootlessKit child pid {pid})"),
                Some("systemctl --user disable --now containerd.service".into()),
                false,
            )),
            ("usernetes", true) => keep(pass(
                ID,
                G,
                format!("a usernetes session is running (RootlessKit child pid {pid})"),
            )),
            (owner, false) => keep(bad(
                ID,
                G,
                Status::Warn,
                format!("stale {owner} state in {} (no process {pid})", d.path),
                Some(format!("rm -rf {}", shq(&d.path))),
                false,
            )),
            _ => {}
        }
    }
    worst.unwrap_or_else(|| pass(ID, G, "no other rootless session"))
}
