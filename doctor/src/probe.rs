//! Live probes (root `/` only, as the user): create a user namespace, map it with the user's
//! sub-ID ranges through newuidmap/newgidmap, and inside it (with its own mount and network
//! namespaces) mount a tmpfs, mount an overlay on the data directory's filesystem and create a
//! TAP device on /dev/net/tun. Every step reports the real errno.
//!
//! A forked child does the namespace work; it only makes system calls on data prepared before
//! the fork (no allocation), so the probe is safe from multi-threaded callers too.

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Gid, Pid, Uid};
use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Outcome of one probe step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Worked; a detail for the finding.
    Ok(String),
    /// Failed with this errno (if a system call failed) and message.
    Failed { errno: Option<i32>, message: String },
    /// Not attempted; why.
    NotRun(String),
}

impl Step {
    fn from_code(code: i32, ok: &str, what: &str) -> Step {
        match code {
            0 => Step::Ok(ok.to_string()),
            c if c > 0 => Step::Failed {
                errno: Some(c),
                message: format!("{what}: {}", errno_text(c)),
            },
            _ => Step::NotRun("an earlier step failed".into()),
        }
    }
}

/// `EPERM (Operation not permitted)`.
pub fn errno_text(code: i32) -> String {
    let e = Errno::from_raw(code);
    format!("{e:?} ({})", e.desc())
}

/// What the probes found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOutcome {
    /// unshare(CLONE_NEWUSER).
    pub userns: Step,
    /// newuidmap + newgidmap with the full sub-ID map.
    pub map: Step,
    /// unshare(CLONE_NEWNS|CLONE_NEWNET) and a tmpfs mount.
    pub mount: Step,
    /// An overlay mount on the data directory's filesystem.
    pub overlay: Step,
    /// open(/dev/net/tun) and TUNSETIFF (a TAP device) in the new network namespace.
    pub tun: Step,
}

/// What the probes need.
#[derive(Debug, Clone)]
pub struct ProbeInput {
    pub uid: u32,
    pub gid: u32,
    /// The doctor runs as root: become `uid`/`gid` first.
    pub drop_privileges: bool,
    pub newuidmap: Option<String>,
    pub newgidmap: Option<String>,
    pub uid_ranges: Vec<(u64, u64)>,
    pub gid_ranges: Vec<(u64, u64)>,
    /// Where the overlay scratch directory goes (on the data directory's filesystem).
    pub scratch_base: PathBuf,
}

// Child result slots.
const S_DROP: usize = 0;
const S_USERNS: usize = 1;
const S_UNSHARE: usize = 2;
const S_TMPFS: usize = 3;
const S_OVERLAY: usize = 4;
const S_OVL_PLAIN: usize = 5;
const S_OVL_WRITE: usize = 6;
const S_TUN_OPEN: usize = 7;
const S_TUN_IOCTL: usize = 8;
const SLOTS: usize = 9;

struct Paths {
    tmpfs_dir: CString,
    merged: CString,
    opts_userxattr: CString,
    opts_plain: CString,
    work_incompat: CString,
    work_volatile: CString,
    work_dirty: CString,
    probe_file: CString,
    upper_file: CString,
    work_work: CString,
    work_index: CString,
}

/// Runs the probes.
pub fn run(input: &ProbeInput) -> ProbeOutcome {
    let scratch = match make_scratch(input) {
        Ok(s) => s,
        Err(e) => {
            let why = format!(
                "cannot create a scratch directory in {}: {e}",
                input.scratch_base.display()
            );
            return ProbeOutcome {
                userns: Step::NotRun(why.clone()),
                map: Step::NotRun(why.clone()),
                mount: Step::NotRun(why.clone()),
                overlay: Step::NotRun(why.clone()),
                tun: Step::NotRun(why),
            };
        }
    };
    let out = run_in(input, &scratch);
    let _ = remove_scratch(&scratch);
    out
}

/// The scratch folder name of process `pid`.
const SCRATCH_PREFIX: &str = ".u7s-doctor-probe-";

/// Removes the scratch folders in `base` of processes that are gone (a program that ran the
/// doctor beside other work, such as `u7s up`, may exit before the probe cleans up).
pub fn remove_stale_scratch(base: &Path) {
    let Ok(rd) = std::fs::read_dir(base) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(SCRATCH_PREFIX))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = remove_scratch(&e.path());
        }
    }
}

fn make_scratch(input: &ProbeInput) -> std::io::Result<PathBuf> {
    remove_stale_scratch(&input.scratch_base);
    let dir = input
        .scratch_base
        .join(format!("{SCRATCH_PREFIX}{}", std::process::id()));
    let _ = remove_scratch(&dir);
    std::fs::create_dir(&dir)?;
    for sub in ["l", "u", "w", "m", "t"] {
        std::fs::create_dir(dir.join(sub))?;
    }
    if input.drop_privileges {
        let (u, g) = (
            Some(Uid::from_raw(input.uid)),
            Some(Gid::from_raw(input.gid)),
        );
        for sub in ["", "l", "u", "w", "m", "t"] {
            nix::unistd::chown(&dir.join(sub), u, g).map_err(std::io::Error::from)?;
        }
    }
    Ok(dir)
}

fn remove_scratch(dir: &Path) -> std::io::Result<()> {
    // overlay's work/work directory is created with mode 0.
    for d in ["w/work", "w/index"] {
        let p = dir.join(d);
        if p.exists() {
            let _ =
                std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o700));
        }
    }
    std::fs::remove_dir_all(dir)
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap_or_default()
}

fn run_in(input: &ProbeInput, scratch: &Path) -> ProbeOutcome {
    let p = Paths {
        tmpfs_dir: cstr(&scratch.join("t")),
        merged: cstr(&scratch.join("m")),
        // `volatile`: no sync of the whole upper filesystem on umount (it can take 100 ms).
        opts_userxattr: CString::new(format!(
            "lowerdir={},upperdir={},workdir={},userxattr,volatile",
            scratch.join("l").display(),
            scratch.join("u").display(),
            scratch.join("w").display()
        ))
        .unwrap_or_default(),
        opts_plain: CString::new(format!(
            "lowerdir={},upperdir={},workdir={}",
            scratch.join("l").display(),
            scratch.join("u").display(),
            scratch.join("w").display()
        ))
        .unwrap_or_default(),
        probe_file: cstr(&scratch.join("m/probe")),
        upper_file: cstr(&scratch.join("u/probe")),
        work_work: cstr(&scratch.join("w/work")),
        work_incompat: cstr(&scratch.join("w/work/incompat")),
        work_volatile: cstr(&scratch.join("w/work/incompat/volatile")),
        work_dirty: cstr(&scratch.join("w/work/incompat/volatile/dirty")),
        work_index: cstr(&scratch.join("w/index")),
    };
    let (Ok((c2p_r, c2p_w)), Ok((p2c_r, p2c_w))) = (nix::unistd::pipe(), nix::unistd::pipe())
    else {
        let why = "pipe() failed".to_string();
        return not_run_all(&why);
    };
    let groups = [Gid::from_raw(input.gid)];
    // SAFETY: the child only makes system calls on memory prepared above and exits with _exit.
    match unsafe { nix::unistd::fork() } {
        Err(e) => not_run_all(&format!("fork: {}", errno_text(e as i32))),
        Ok(ForkResult::Child) => {
            drop(c2p_r);
            drop(p2c_w);
            child(input, &groups, &p, c2p_w, p2c_r)
        }
        Ok(ForkResult::Parent { child }) => {
            drop(c2p_w);
            drop(p2c_r);
            let out = parent(input, child, c2p_r, p2c_w);
            // The child has reported; it may still be closing its TAP device. Reap it in the
            // background rather than wait for the kernel.
            let reaper = std::thread::Builder::new().spawn(move || waitpid(child, None));
            if reaper.is_err() {
                let _ = waitpid(child, None);
            }
            out
        }
    }
}

fn not_run_all(why: &str) -> ProbeOutcome {
    ProbeOutcome {
        userns: Step::NotRun(why.into()),
        map: Step::NotRun(why.into()),
        mount: Step::NotRun(why.into()),
        overlay: Step::NotRun(why.into()),
        tun: Step::NotRun(why.into()),
    }
}

fn write_i32(fd: &OwnedFd, v: i32) {
    let _ = nix::unistd::write(fd, &v.to_ne_bytes());
}

fn code<T>(r: nix::Result<T>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e as i32,
    }
}

#[repr(C)]
struct IfReq {
    name: [u8; 16],
    flags: i16,
    pad: [u8; 22],
}

fn child(input: &ProbeInput, groups: &[Gid], p: &Paths, out: OwnedFd, inp: OwnedFd) -> ! {
    let mut r = [-1i32; SLOTS];
    let finish = |r: &[i32; SLOTS]| -> ! {
        let mut buf = [0u8; SLOTS * 4];
        for (i, v) in r.iter().enumerate() {
            buf[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
        }
        let _ = nix::unistd::write(&out, &buf);
        // SAFETY: _exit is async-signal-safe and skips atexit handlers of the parent.
        unsafe { nix::libc::_exit(0) }
    };
    if input.drop_privileges {
        r[S_DROP] = code(
            nix::unistd::setgroups(groups)
                .and_then(|_| nix::unistd::setgid(Gid::from_raw(input.gid)))
                .and_then(|_| nix::unistd::setuid(Uid::from_raw(input.uid))),
        );
        if r[S_DROP] != 0 {
            write_i32(&out, -r[S_DROP] - 1000);
            finish(&r);
        }
    } else {
        r[S_DROP] = 0;
    }
    r[S_USERNS] = code(nix::sched::unshare(CloneFlags::CLONE_NEWUSER));
    // Tell the parent (errno, or 0 = map me now).
    write_i32(&out, r[S_USERNS]);
    if r[S_USERNS] != 0 {
        finish(&r);
    }
    let mut go = [0u8; 1];
    if !matches!(nix::unistd::read(&inp, &mut go), Ok(1)) || go[0] == 0 {
        finish(&r);
    }
    r[S_UNSHARE] = code(nix::sched::unshare(
        CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET,
    ));
    if r[S_UNSHARE] != 0 {
        finish(&r);
    }
    let _ = nix::mount::mount(
        None::<&str>,
        c"/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    );
    r[S_TMPFS] = code(nix::mount::mount(
        Some(c"none"),
        p.tmpfs_dir.as_c_str(),
        Some(c"tmpfs"),
        MsFlags::empty(),
        None::<&str>,
    ));
    if r[S_TMPFS] == 0 {
        let _ = nix::mount::umount2(p.tmpfs_dir.as_c_str(), MntFlags::MNT_DETACH);
    }
    r[S_OVERLAY] = code(nix::mount::mount(
        Some(c"overlay"),
        p.merged.as_c_str(),
        Some(c"overlay"),
        MsFlags::empty(),
        Some(p.opts_userxattr.as_c_str()),
    ));
    if r[S_OVERLAY] == Errno::EINVAL as i32 {
        // Kernels before 5.11 with userns overlay patches (Ubuntu) lack `userxattr`.
        r[S_OVL_PLAIN] = code(nix::mount::mount(
            Some(c"overlay"),
            p.merged.as_c_str(),
            Some(c"overlay"),
            MsFlags::empty(),
            Some(p.opts_plain.as_c_str()),
        ));
    }
    if r[S_OVERLAY] == 0 || r[S_OVL_PLAIN] == 0 {
        r[S_OVL_WRITE] = code(
            nix::fcntl::open(
                p.probe_file.as_c_str(),
                nix::fcntl::OFlag::O_CREAT | nix::fcntl::OFlag::O_WRONLY,
                nix::sys::stat::Mode::from_bits_truncate(0o600),
            )
            .map(drop)
            .and_then(|_| {
                nix::unistd::access(p.upper_file.as_c_str(), nix::unistd::AccessFlags::F_OK)
            }),
        );
        let _ = nix::mount::umount2(p.merged.as_c_str(), MntFlags::MNT_DETACH);
        let _ = nix::unistd::unlink(p.upper_file.as_c_str());
        let _ = nix::unistd::unlink(p.work_dirty.as_c_str());
        // SAFETY: plain rmdir on NUL-terminated paths.
        unsafe {
            nix::libc::rmdir(p.work_volatile.as_ptr());
            nix::libc::rmdir(p.work_incompat.as_ptr());
            nix::libc::rmdir(p.work_work.as_ptr());
            nix::libc::rmdir(p.work_index.as_ptr());
        }
    }
    // The TAP device stays open until _exit: tearing it down takes a synchronize_net() that
    // nobody needs to wait for (the parent reaps the child in the background).
    let mut _tap = None;
    match nix::fcntl::open(
        c"/dev/net/tun",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) {
        Err(e) => r[S_TUN_OPEN] = e as i32,
        Ok(fd) => {
            r[S_TUN_OPEN] = 0;
            let mut req = IfReq {
                name: [0; 16],
                flags: 0x0002 | 0x1000, // IFF_TAP | IFF_NO_PI
                pad: [0; 22],
            };
            req.name[..9].copy_from_slice(b"u7sprobe0");
            const TUNSETIFF: nix::libc::c_ulong = 0x4004_54ca;
            // SAFETY: TUNSETIFF reads and writes a struct ifreq of 40 bytes.
            let rc = unsafe { nix::libc::ioctl(fd.as_raw_fd(), TUNSETIFF as _, &mut req) };
            r[S_TUN_IOCTL] = if rc == 0 { 0 } else { Errno::last_raw() };
            _tap = Some(fd);
        }
    }
    finish(&r)
}

fn parent(input: &ProbeInput, child: Pid, from: OwnedFd, to: OwnedFd) -> ProbeOutcome {
    let mut first = [0u8; 4];
    let mut reader = std::fs::File::from(from);
    if reader.read_exact(&mut first).is_err() {
        return not_run_all("the probe process died");
    }
    let first = i32::from_ne_bytes(first);
    let userns = if first < -999 {
        let e = -(first + 1000);
        let _ = read_results(&mut reader);
        let why = format!("cannot switch to the user: {}", errno_text(e));
        return not_run_all(&why);
    } else {
        Step::from_code(first, "created", "unshare(CLONE_NEWUSER)")
    };
    if first != 0 {
        let _ = read_results(&mut reader);
        let nr = || Step::NotRun("no user namespace".into());
        return ProbeOutcome {
            userns,
            map: nr(),
            mount: nr(),
            overlay: nr(),
            tun: nr(),
        };
    }
    let map = apply_maps(input, child);
    let _ = nix::unistd::write(&to, &[1u8]);
    drop(to);
    let r = read_results(&mut reader).unwrap_or([-1; SLOTS]);
    let mount = if r[S_UNSHARE] > 0 {
        Step::from_code(r[S_UNSHARE], "", "unshare(CLONE_NEWNS|CLONE_NEWNET)")
    } else {
        Step::from_code(r[S_TMPFS], "tmpfs mounted", "mount tmpfs")
    };
    let overlay = if r[S_OVERLAY] == 0 {
        write_step(r[S_OVL_WRITE], "overlay (userxattr) mounted and writable")
    } else if r[S_OVL_PLAIN] == 0 {
        write_step(
            r[S_OVL_WRITE],
            "overlay mounted without userxattr and writable",
        )
    } else if r[S_OVERLAY] > 0 {
        Step::from_code(r[S_OVERLAY], "", "mount overlay")
    } else {
        Step::NotRun("an earlier step failed".into())
    };
    let tun = if r[S_TUN_OPEN] > 0 {
        Step::from_code(r[S_TUN_OPEN], "", "open /dev/net/tun")
    } else if r[S_TUN_OPEN] == 0 {
        Step::from_code(
            r[S_TUN_IOCTL],
            "TAP device created",
            "TUNSETIFF on /dev/net/tun",
        )
    } else {
        Step::NotRun("an earlier step failed".into())
    };
    ProbeOutcome {
        userns,
        map,
        mount,
        overlay,
        tun,
    }
}

fn write_step(code: i32, ok: &str) -> Step {
    Step::from_code(code, ok, "write through the overlay")
}

fn read_results(reader: &mut std::fs::File) -> Option<[i32; SLOTS]> {
    let mut buf = [0u8; SLOTS * 4];
    reader.read_exact(&mut buf).ok()?;
    let mut r = [0i32; SLOTS];
    for (i, v) in r.iter_mut().enumerate() {
        *v = i32::from_ne_bytes(buf[i * 4..i * 4 + 4].try_into().ok()?);
    }
    Some(r)
}

/// Map arguments: `0 <id> 1` then each range at 1, 1+count, ...
pub fn map_args(own: u32, ranges: &[(u64, u64)]) -> Vec<String> {
    let mut v = vec!["0".to_string(), own.to_string(), "1".to_string()];
    let mut next = 1u64;
    for (start, count) in ranges {
        v.push(next.to_string());
        v.push(start.to_string());
        v.push(count.to_string());
        next += count;
    }
    v
}

fn apply_maps(input: &ProbeInput, child: Pid) -> Step {
    let spawn = |tool: &Option<String>, own: u32, ranges: &[(u64, u64)]| {
        let tool = tool.as_ref().ok_or_else(|| "not found".to_string())?;
        if ranges.is_empty() {
            return Err("no sub-ID ranges".to_string());
        }
        let mut c = Command::new(tool);
        c.arg(child.as_raw().to_string())
            .args(map_args(own, ranges))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if input.drop_privileges {
            c.uid(input.uid).gid(input.gid);
        }
        c.spawn().map_err(|e| format!("{tool}: {e}"))
    };
    let u = spawn(&input.newuidmap, input.uid, &input.uid_ranges);
    let g = spawn(&input.newgidmap, input.gid, &input.gid_ranges);
    let finish = |name: &str, r: Result<std::process::Child, String>| -> Result<(), String> {
        let child = r.map_err(|e| format!("{name}: {e}"))?;
        let out = child
            .wait_with_output()
            .map_err(|e| format!("{name}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            let line = err
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            Err(format!("{name} failed ({}): {line}", out.status))
        }
    };
    let ru = finish("newuidmap", u);
    let rg = finish("newgidmap", g);
    match (ru, rg) {
        (Ok(()), Ok(())) => {
            let n: u64 = input.uid_ranges.iter().map(|r| r.1).sum();
            Step::Ok(format!("mapped 0 -> {} and 1..={n} -> sub-IDs", input.uid))
        }
        (ru, rg) => {
            let msg = [ru.err(), rg.err()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; ");
            // Map only the user's own ids so the remaining probes still run.
            self_map(input, child);
            Step::Failed {
                errno: None,
                message: msg,
            }
        }
    }
}

fn self_map(input: &ProbeInput, child: Pid) {
    let pid = child.as_raw();
    let _ = std::fs::write(
        format!("/proc/{pid}/uid_map"),
        format!("0 {} 1\n", input.uid),
    );
    let _ = std::fs::write(format!("/proc/{pid}/setgroups"), "deny");
    let _ = std::fs::write(
        format!("/proc/{pid}/gid_map"),
        format!("0 {} 1\n", input.gid),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_scratch_folders_of_gone_processes_are_removed() {
        let d = tempfile::tempdir().unwrap();
        // pid_max is at most 2^22: this pid never runs.
        let gone = d.path().join(format!("{SCRATCH_PREFIX}{}", 1u32 << 23));
        let mine = d
            .path()
            .join(format!("{SCRATCH_PREFIX}{}", std::process::id()));
        let other = d.path().join(format!("{SCRATCH_PREFIX}1"));
        for p in [&gone, &mine, &other] {
            std::fs::create_dir_all(p.join("w/work")).unwrap();
        }
        std::fs::set_permissions(
            gone.join("w/work"),
            std::os::unix::fs::PermissionsExt::from_mode(0o000),
        )
        .unwrap();
        std::fs::create_dir(d.path().join("docker")).unwrap();
        remove_stale_scratch(d.path());
        assert!(!gone.exists());
        assert!(mine.exists(), "this process's own");
        assert!(other.exists(), "pid 1 runs");
        assert!(d.path().join("docker").exists());
    }

    #[test]
    fn args() {
        assert_eq!(
            map_args(1000, &[(100000, 65536), (300000, 10)]).join(" "),
            "0 1000 1 1 100000 65536 65537 300000 10"
        );
        assert!(errno_text(1).starts_with("EPERM (Operation not permitted"));
    }
}
