//! Facts about processes from /proc: start times (so a reused pid is never mistaken for ours),
//! zombies, the processes marked with a session's id in their environment, and the host pid of
//! a process known by its pid inside the session's pid namespace.

use std::fs;
use std::path::Path;

/// The fields of /proc/PID/stat after the command name.
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_tail(&s)
}

/// Splits a stat line after the `(comm)` (which may hold spaces and parentheses).
pub fn parse_stat_tail(stat: &str) -> Option<Vec<String>> {
    let close = stat.rfind(')')?;
    Some(
        stat[close + 1..]
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    )
}

/// Start time of `pid` in clock ticks since boot (field 22).
pub fn start_time(pid: i32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// Whether `pid` runs (exists and is not a zombie) and, when given, started at `start`.
pub fn alive(pid: i32, start: Option<u64>) -> bool {
    let Some(f) = stat_fields(pid) else {
        return false;
    };
    let state_ok = f.first().is_some_and(|s| s != "Z" && s != "X");
    let start_ok = match start {
        Some(st) => f.get(19).and_then(|v| v.parse::<u64>().ok()) == Some(st),
        None => true,
    };
    state_ok && start_ok
}

fn all_pids() -> Vec<i32> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return vec![];
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Whether an environ block (NUL-separated) holds `key=value`.
pub fn environ_has(environ: &[u8], key: &str, value: &str) -> bool {
    let want = format!("{key}={value}");
    environ.split(|b| *b == 0).any(|e| e == want.as_bytes())
}

/// Live (non-zombie) processes whose environment holds `key=value`.
pub fn pids_with_env(key: &str, value: &str) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .map(|e| environ_has(&e, key, value))
                .unwrap_or(false)
                && alive(*pid, None)
        })
        .collect()
}

/// The pid namespace of `pid` (`pid:[4026531836]`).
pub fn pid_ns(pid: i32) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/ns/pid"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// The pids of a `NSpid:` line of /proc/PID/status, outermost first.
pub fn parse_nspid(status: &str) -> Vec<i32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|r| {
            r.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Maps pids inside the pid namespace of `ns_init` (a host pid) to host pids.
pub fn host_pids(ns_init: i32, inner: &[i32]) -> Vec<(i32, i32)> {
    let Some(ns) = pid_ns(ns_init) else {
        return vec![];
    };
    let mut out = vec![];
    for pid in all_pids() {
        let Ok(st) = fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let nspid = parse_nspid(&st);
        let Some(last) = nspid.last().copied() else {
            continue;
        };
        if nspid.len() >= 2 && inner.contains(&last) && pid_ns(pid).as_deref() == Some(ns.as_str())
        {
            out.push((last, pid));
        }
    }
    out
}

/// Reads a decimal pid file.
pub fn read_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_command_names() {
        let f = parse_stat_tail(
            "42 (a) b (c)) S 1 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 12345 0",
        )
        .unwrap();
        assert_eq!(f[0], "S");
        assert_eq!(f[19], "12345");
    }

    #[test]
    fn this_process_is_alive_with_its_start_time() {
        let me = std::process::id() as i32;
        let st = start_time(me).unwrap();
        assert!(alive(me, Some(st)));
        assert!(
            !alive(me, Some(st + 1)),
            "a reused pid has another start time"
        );
        assert!(!alive(i32::MAX, None));
    }

    #[test]
    fn environment_markers() {
        assert!(environ_has(b"A=1\0U7S_SESSION=abc\0", "U7S_SESSION", "abc"));
        assert!(!environ_has(b"U7S_SESSION=abcd\0", "U7S_SESSION", "abc"));
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env("U7S_TEST_MARK", "m1")
            .spawn()
            .unwrap();
        // The kernel releases the spawning parent before the new program's environment is in
        // place, so the marker shows up a moment after spawn() returns: look until it does.
        let mut pids = vec![];
        for _ in 0..500 {
            pids = pids_with_env("U7S_TEST_MARK", "m1");
            if !pids.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(pids, vec![child.id() as i32]);
        assert!(pids_with_env("U7S_TEST_MARK", "m1").is_empty());
    }

    #[test]
    fn nspid_lines() {
        assert_eq!(parse_nspid("Name:\tx\nNSpid:\t4242\t7\n"), vec![4242, 7]);
        assert!(parse_nspid("Name:\tx\n").is_empty());
        let me = std::process::id() as i32;
        // Our own namespace: every process has a single NSpid entry, so nothing maps.
        assert!(host_pids(me, &[me]).is_empty());
    }
}
