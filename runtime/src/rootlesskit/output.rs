//! RootlessKit's stderr (which carries the session's own output too: the supervisor inside
//! inherits it), passed on line by line without the warnings that say nothing to act on.

use std::io::{BufRead, Write};

/// RootlessKit's warnings dropped from the output: each is known, harmless for a session, and
/// covered by the doctor where it matters.
///
/// - `The host root filesystem is mounted as "". Setting child propagation to "rslave" is not
///   supported.`: `/` has no propagation flags (a container, a chroot); mounts made on the host
///   later do not appear in the session, which nothing of it needs (`u7s-doctor` reports
///   `storage.propagation`).
///
/// Each is the fragments a line has (quoted `\"…\"` in logrus's text format, plain on a
/// terminal).
const DROPPED: &[&[&str]] = &[&["Setting child propagation to", "rslave", "is not supported"]];

/// Whether `line` is passed on.
pub fn keep(line: &str) -> bool {
    !DROPPED.iter().any(|d| d.iter().all(|f| line.contains(f)))
}

/// Copies `from` to `to` line by line, without the [`DROPPED`] lines, until `from` ends.
pub fn forward(from: impl std::io::Read, mut to: impl Write) {
    let mut r = std::io::BufReader::new(from);
    let mut line = Vec::new();
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if keep(&String::from_utf8_lossy(&line)) {
                    let _ = to.write_all(&line);
                    let _ = to.flush();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_propagation_warning_is_dropped_and_the_rest_kept() {
        let input = "time=\"2026-12-04T10:00:00Z\" level=warning msg=\"The host root filesystem is \
             mounted as \\\"\\\". Setting child propagation to \\\"rslave\\\" is not supported.\"\n\
             u7s: dockerd ready in 1.20s\n\
             level=warning msg=\"something else\"\n\
             WARN[0000] The host root filesystem is mounted as \"\". Setting child propagation \
             to \"rslave\" is not supported.\n\
             partial";
        let mut out = Vec::new();
        forward(input.as_bytes(), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "u7s: dockerd ready in 1.20s\nlevel=warning msg=\"something else\"\npartial"
        );
    }
}
