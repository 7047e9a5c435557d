//! `u7s logs COMPONENT [-n N] [-f]`: a component's log (`DATA/logs/NAME.log`); an unknown name,
//! or none, is answered with the logs that exist.

use super::ExitStatus;
use crate::session::paths::Paths;
use anyhow::Result;
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

/// The names of the logs in `DATA/logs/`, sorted.
fn known_logs(paths: &Paths) -> Vec<String> {
    let mut known: Vec<String> = std::fs::read_dir(paths.logs())
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".log")
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    known.sort();
    known
}

/// The logs there are, for people.
fn available(known: &[String]) -> String {
    if known.is_empty() {
        "none yet (no session has run)".to_string()
    } else {
        known.join(", ")
    }
}

pub fn run(name: Option<&str>, lines: Option<usize>, follow: bool) -> Result<ExitStatus> {
    let paths = Paths::from_process()?;
    let Some(name) = name else {
        return Err(crate::Error::WhichLog(available(&known_logs(&paths))).into());
    };
    let p = paths.log(name);
    let mut f = std::fs::File::open(&p)
        .map_err(|e| anyhow::anyhow!(missing_log(name, &p, &e, &known_logs(&paths))))?;
    let mut out = std::io::stdout().lock();
    match lines {
        Some(n) => {
            writeln!(out, "{}", crate::host::fsutil::tail(&p, n))?;
            f.seek(SeekFrom::End(0))?;
        }
        None => {
            std::io::copy(&mut f, &mut out)?;
        }
    }
    if !follow {
        return Ok(ExitStatus::Success);
    }
    loop {
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        if buf.is_empty() {
            std::thread::sleep(Duration::from_millis(200));
        } else {
            out.write_all(&buf)?;
            out.flush()?;
        }
    }
}

/// Why log `name` (at `path`) cannot be shown: a name without a log is the user's mistake, said
/// as such with the logs there are; any other error names the file.
fn missing_log(name: &str, path: &std::path::Path, e: &std::io::Error, known: &[String]) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        format!("no log {name:?}; available: {}", available(known))
    } else {
        format!("{}: {e}", path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_log_is_named_with_the_available_ones() {
        let nf = std::io::Error::from(std::io::ErrorKind::NotFound);
        let known = ["containerd".to_string(), "dockerd".into(), "session".into()];
        assert_eq!(
            missing_log("foo", "/d/logs/foo.log".as_ref(), &nf, &known),
            "no log \"foo\"; available: containerd, dockerd, session"
        );
        assert!(missing_log("x", "/l".as_ref(), &nf, &[]).contains("none yet"));
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(missing_log("x", "/l/x.log".as_ref(), &denied, &known).starts_with("/l/x.log: "));
    }
}
