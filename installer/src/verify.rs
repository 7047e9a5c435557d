//! Archive integrity before anything is unpacked: finding the expected SHA-256 in a
//! `SHA256SUMS` file (beside the archive or given with `--checksums`), hashing the archive, and
//! comparing. With no checksums at all the caller decides (`--insecure-skip-checksum` goes on,
//! with a warning; `--yes` never does). An archive a browser renamed on a second download
//! (`usernetes-x86_64 (1).tbz`) is checked against the line of the name it had.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use bundle::checksums::Sha256Sums;
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::ui::Progress;

/// The SHA-256 an archive must have, and where that value came from (for messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    pub sha256: String,
    pub from: String,
    /// The name the checksums list, when the archive's own name is a browser's copy of it.
    pub listed_as: Option<String>,
}

/// The name a browser's second download of a file had before it was renamed:
/// `usernetes-x86_64 (1).tbz` and `usernetes-x86_64(2).tbz` were `usernetes-x86_64.tbz` (pure).
pub fn before_browser_rename(name: &str) -> Option<String> {
    let open = name.rfind('(')?;
    let close = open + name[open..].find(')')?;
    let digits = &name[open + 1..close];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let stem = name[..open].strip_suffix(' ').unwrap_or(&name[..open]);
    let original = format!("{stem}{}", &name[close + 1..]);
    (!stem.is_empty() && original != name).then_some(original)
}

/// Lowercase hex SHA-256 of bytes.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Finds `name`'s hash in the text of a checksums file labelled `from`.
pub fn expected_from(text: &str, from: &str, name: &str) -> Result<Expected> {
    let sums = Sha256Sums::parse(text).map_err(|e| Error::BadChecksums {
        sums: from.to_string(),
        reason: e.to_string(),
    })?;
    if let Some(h) = sums.lookup(name) {
        return Ok(Expected {
            sha256: h.to_ascii_lowercase(),
            from: from.to_string(),
            listed_as: None,
        });
    }
    // A browser's renamed copy: its hash must be that of the name it had.
    if let Some(original) = before_browser_rename(name)
        && let Some(h) = sums.lookup(&original)
    {
        return Ok(Expected {
            sha256: h.to_ascii_lowercase(),
            from: from.to_string(),
            listed_as: Some(original),
        });
    }
    Err(Error::NotListed {
        sums: from.to_string(),
        name: name.to_string(),
    })
}

/// Compares an archive's hash with the expected one.
pub fn check(file: &str, actual: &str, expected: &Expected) -> Result<()> {
    if actual.eq_ignore_ascii_case(&expected.sha256) {
        Ok(())
    } else {
        Err(Error::ChecksumMismatch {
            file: match &expected.listed_as {
                Some(listed) => format!(
                    "{file} (checked as {listed}, the name it had before a \
                     browser renamed it)"
                ),
                None => file.to_string(),
            },
            expected: expected.sha256.clone(),
            actual: actual.to_string(),
            sums: expected.from.clone(),
        })
    }
}

/// Hashes a file, reporting bytes read to `progress`.
pub fn sha256_file(path: &Path, progress: &Progress) -> Result<String> {
    let mut f = File::open(path).ctx("open", path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).ctx("read", path)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        progress.inc(n as u64);
    }
    Ok(hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn hashes() {
        assert_eq!(sha256_hex(b""), H);
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("e");
        std::fs::write(&f, b"").unwrap();
        assert_eq!(sha256_file(&f, &Progress::hidden()).unwrap(), H);
    }

    #[test]
    fn check_names_both_hashes() {
        let exp = Expected {
            sha256: H.into(),
            from: "SHA256SUMS".into(),
            listed_as: None,
        };
        check("a.tbz", &H.to_uppercase(), &exp).unwrap();
        let msg = check("a.tbz", &"0".repeat(64), &exp)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("a.tbz") && msg.contains(H) && msg.contains(&"0".repeat(64)),
            "{msg}"
        );
    }

    /// newcomer review L27: "SHA256SUMS has no line for usernetes-x86_64 (1).tbz".
    #[test]
    fn a_browser_renamed_archive_is_checked_against_its_original_line() {
        for (renamed, original) in [
            ("usernetes-x86_64 (1).tbz", Some("usernetes-x86_64.tbz")),
            ("usernetes-x86_64(12).tbz", Some("usernetes-x86_64.tbz")),
            ("usernetes-x86_64.tbz", None),
            ("usernetes-x86_64 (x).tbz", None),
            ("(1).tbz", None),
        ] {
            assert_eq!(
                before_browser_rename(renamed).as_deref(),
                original,
                "{renamed}"
            );
        }
        let sums = format!("{H}  usernetes-x86_64.tbz\n");
        let e = expected_from(&sums, "SHA256SUMS", "usernetes-x86_64 (1).tbz").unwrap();
        assert_eq!(e.sha256, H);
        assert_eq!(e.listed_as.as_deref(), Some("usernetes-x86_64.tbz"));
        let msg = check("usernetes-x86_64 (1).tbz", &"0".repeat(64), &e)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("checked as usernetes-x86_64.tbz"), "{msg}");
        let e = expected_from(&sums, "SHA256SUMS", "other (1).tbz").unwrap_err();
        assert!(
            e.to_string().contains("has no line for other (1).tbz"),
            "{e}"
        );
    }
}
