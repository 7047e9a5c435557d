//! SHA-256 helpers (hashing readers/writers) and the `SHA256SUMS` format `sha256sum -c` reads.

use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::Result;

/// Lowercase hex sha256 of a file's content.
pub fn sha256_file(path: &Path) -> Result<String> {
    let _ = path;
    todo!()
}

/// Lowercase hex sha256 of bytes.
pub fn sha256_bytes(data: &[u8]) -> String {
    let _ = data;
    todo!()
}

/// A `Write` passthrough that hashes and counts what goes through it.
pub struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }
    /// Returns the inner writer, the lowercase hex sha256 and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        todo!()
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
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
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }
    /// Returns the lowercase hex sha256 and the byte count of what was read.
    pub fn finish(self) -> (String, u64) {
        todo!()
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// The content of a `SHA256SUMS` file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sha256Sums {
    /// (lowercase hex, file name)
    pub entries: Vec<(String, String)>,
}

impl Sha256Sums {
    /// Accepts "<hex>  name" and "<hex> *name"; the error names the line.
    pub fn parse(text: &str) -> Result<Sha256Sums> {
        let _ = text;
        todo!()
    }
    /// "<hex>  name\n" per entry.
    pub fn render(&self) -> String {
        todo!()
    }
    /// The hex sha256 listed for `file_name`.
    pub fn lookup(&self, file_name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(_, n)| n == file_name)
            .map(|(h, _)| h.as_str())
    }
}
