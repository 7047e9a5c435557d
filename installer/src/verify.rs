//! Archive integrity before anything is unpacked: finding the expected SHA-256 in a
//! `SHA256SUMS` file (beside the archive or given with `--checksums`), hashing the archive, and
//! comparing. With no checksums at all the caller decides (`--yes` goes on, with a warning).

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
    match sums.lookup(name) {
        Some(h) => Ok(Expected {
            sha256: h.to_ascii_lowercase(),
            from: from.to_string(),
        }),
        None => Err(Error::NotListed {
            sums: from.to_string(),
            name: name.to_string(),
        }),
    }
}

/// Compares an archive's hash with the expected one.
pub fn check(file: &str, actual: &str, expected: &Expected) -> Result<()> {
    if actual.eq_ignore_ascii_case(&expected.sha256) {
        Ok(())
    } else {
        Err(Error::ChecksumMismatch {
            file: file.to_string(),
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
}
