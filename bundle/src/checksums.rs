//! SHA-256 helpers (a hashing reader and writer) and the `SHA256SUMS` text format that
//! `sha256sum -c` reads.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Lowercase hex sha256 of a file's content.
pub fn sha256_file(path: &Path) -> Result<String> {
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut reader = HashingReader::new(file);
    io::copy(&mut reader, &mut io::sink()).map_err(|e| Error::io("read", path, e))?;
    Ok(reader.finish().0)
}

/// Lowercase hex sha256 of bytes.
pub fn sha256_bytes(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A `Write` passthrough that hashes and counts what goes through it.
pub struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Returns the inner writer, the lowercase hex sha256 and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A `Read` passthrough that hashes and counts what goes through it.
pub struct HashingReader<R: Read> {
    inner: R,
    hasher: Sha256,
    len: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// Returns the lowercase hex sha256 and the byte count of what was read.
    pub fn finish(self) -> (String, u64) {
        (hex::encode(self.hasher.finalize()), self.len)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// The content of a `SHA256SUMS` file: one `<hex>  <name>` line per file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sha256Sums {
    /// (lowercase hex, file name)
    pub entries: Vec<(String, String)>,
}

impl Sha256Sums {
    /// Parses `sha256sum` output. Accepts `<hex>  name` (text mode) and `<hex> *name` (binary
    /// mode); blank lines and `#` comments are skipped. The error names the line (1-based).
    pub fn parse(text: &str) -> Result<Sha256Sums> {
        let mut entries: Vec<(String, String)> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let bad = |reason: String| Error::Checksums {
                line: line_no,
                reason,
            };
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (hash, rest) = line.split_once(' ').ok_or_else(|| {
                bad(format!(
                    "expected \"<64 hex digits>  <file name>\", found {line:?}"
                ))
            })?;
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(format!(
                    "{hash:?} is not a sha256 (64 hex digits) in {line:?}"
                )));
            }
            let name = rest
                .strip_prefix(' ')
                .or_else(|| rest.strip_prefix('*'))
                .ok_or_else(|| {
                    bad(format!(
                        "expected two spaces or \" *\" between hash and file name in {line:?}"
                    ))
                })?;
            if name.is_empty() {
                return Err(bad("missing file name".into()));
            }
            if entries.iter().any(|(_, n)| n == name) {
                return Err(bad(format!("{name:?} is listed twice")));
            }
            entries.push((hash.to_ascii_lowercase(), name.to_string()));
        }
        Ok(Sha256Sums { entries })
    }

    /// `<hex>  name\n` per entry, in order.
    pub fn render(&self) -> String {
        self.entries
            .iter()
            .map(|(hash, name)| format!("{hash}  {name}\n"))
            .collect()
    }

    /// The hex sha256 listed for `file_name`.
    pub fn lookup(&self, file_name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(_, n)| n == file_name)
            .map(|(h, _)| h.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn hashes() {
        assert_eq!(sha256_bytes(b""), EMPTY);
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"ab").unwrap();
        w.write_all(b"c").unwrap();
        let (inner, hash, len) = w.finish();
        assert_eq!(inner, b"abc");
        assert_eq!(hash, sha256_bytes(b"abc"));
        assert_eq!(len, 3);
        let mut r = HashingReader::new(&b"abc"[..]);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(r.finish(), (sha256_bytes(b"abc"), 3));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x");
        std::fs::write(&f, b"abc").unwrap();
        assert_eq!(sha256_file(&f).unwrap(), sha256_bytes(b"abc"));
        let err = sha256_file(&dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn parse_and_render() {
        let upper = EMPTY.to_ascii_uppercase();
        let text = format!("{EMPTY}  a.tbz\n\n# comment\n{upper} *b file\r\n");
        let sums = Sha256Sums::parse(&text).unwrap();
        assert_eq!(sums.lookup("a.tbz"), Some(EMPTY));
        assert_eq!(sums.lookup("b file"), Some(EMPTY));
        assert_eq!(sums.lookup("c"), None);
        assert_eq!(sums.render(), format!("{EMPTY}  a.tbz\n{EMPTY}  b file\n"));
        assert_eq!(Sha256Sums::parse(&sums.render()).unwrap(), sums);
    }

    #[test]
    fn parse_errors_name_the_line() {
        for (text, line, needle) in [
            (format!("{EMPTY}  a\nnot-a-line\n"), 2, "expected"),
            (format!("{EMPTY}  a\n\n{}  b\n", &EMPTY[1..]), 3, "64 hex"),
            (format!("{}  a\n", EMPTY.replace('e', "g")), 1, "64 hex"),
            (format!("{EMPTY} a\n"), 1, "two spaces"),
            (format!("{EMPTY}  \n"), 1, "missing file name"),
            (format!("{EMPTY}  a\n{EMPTY}  a\n"), 2, "twice"),
        ] {
            match Sha256Sums::parse(&text) {
                Err(Error::Checksums { line: l, reason }) => {
                    assert_eq!(l, line, "{text:?}: {reason}");
                    assert!(reason.contains(needle), "{text:?}: {reason}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let err = Sha256Sums::parse("zz\n").unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
