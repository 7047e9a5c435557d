//! `u7s logs COMPONENT [-n N] [-f]`: a component's log (`DATA/logs/NAME.log`); an unknown name is
//! answered with the logs that exist.

use super::ExitStatus;
use crate::session::paths::Paths;
use anyhow::Result;
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

pub fn run(name: &str, lines: Option<usize>, follow: bool) -> Result<ExitStatus> {
    let paths = Paths::from_process()?;
    let p = paths.log(name);
    let mut f = std::fs::File::open(&p).map_err(|e| {
        let known: Vec<String> = std::fs::read_dir(paths.logs())
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
        anyhow::anyhow!(
            "{}: {e}; logs here: {}",
            p.display(),
            if known.is_empty() {
                "none yet".into()
            } else {
                known.join(", ")
            }
        )
    })?;
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
