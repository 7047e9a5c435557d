//! Limits: the hard limit of open files (the runtime raises the soft limit up to it).

use super::{bad, pass, shq, skip, user_name};
use crate::facts::Facts;
use crate::{CheckResult, Family, Status, Target};

const G: &str = "limits";

pub fn checks(f: &Facts) -> Vec<CheckResult> {
    const ID: &str = "limits.nofile";
    if !f.is_self {
        return vec![skip(
            ID,
            G,
            "limits belong to the session: run the doctor as the user",
        )];
    }
    let Some(l) = f.nofile else {
        return vec![skip(ID, G, "/proc/self/limits is unreadable")];
    };
    let need: u64 = match f.target {
        Target::Docker => 4096,
        Target::Kubernetes => 65536,
    };
    let show = |v: Option<u64>| {
        v.map(|n| n.to_string())
            .unwrap_or_else(|| "unlimited".into())
    };
    let text = format!("open files: soft {}, hard {}", show(l.soft), show(l.hard));
    match l.hard {
        Some(h) if h < need => {
            let name = user_name(f);
            let mut fix = format!(
                "printf '%s hard nofile 1048576\\n%s soft nofile 1048576\\n' {n} {n} > /etc/security/limits.d/90-usernetes.conf\n# then log {name} out and in again",
                n = shq(&name)
            );
            if f.distro.family == Family::Suse
                && let Some(pp) = f.ppid
            {
                // The seed's openSUSE hint, for the running shell.
                fix.push_str(&format!("\nprlimit --nofile=:65536 --pid {pp}"));
            }
            vec![bad(
                ID,
                G,
                Status::Warn,
                format!("{text}: {need} or more are needed"),
                Some(fix),
                true,
            )]
        }
        _ => vec![pass(ID, G, text)],
    }
}
