//! Go's module hash `h1:` (golang.org/x/mod/sumdb/dirhash `Hash1`), the hash go.sum and the
//! checksum database record for a module zip and for a go.mod file.
//!
//! `Hash1` sorts the file names (bytes), writes one line `"<sha256 hex>  <name>\n"` per file into
//! a sha256, and prints `h1:` + standard base64 of that digest. For a module zip the names are
//! the zip's entry names (`MODULE@VERSION/path`); for a go.mod the single name is `go.mod`.
//! Pure apart from reading the zip ([`hash_zip`]).

use std::io::Read;
use std::path::Path;

use base64::Engine;
use sha2::{Digest, Sha256};

/// `h1:` hash of named files given with their contents' sha256 digests.
pub fn hash1<'a>(files: impl IntoIterator<Item = (&'a str, [u8; 32])>) -> Result<String, String> {
    let mut files: Vec<(&str, [u8; 32])> = files.into_iter().collect();
    files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut h = Sha256::new();
    for (name, digest) in files {
        if name.contains('\n') {
            return Err(format!("file name with a newline: {name:?}"));
        }
        h.update(format!("{}  {name}\n", hex::encode(digest)));
    }
    Ok(format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(h.finalize())
    ))
}

/// The `/go.mod` hash of go.sum for a go.mod file's bytes.
pub fn hash_go_mod(data: &[u8]) -> String {
    hash1([("go.mod", Sha256::digest(data).into())]).expect("no newline in 'go.mod'")
}

/// The `h1:` hash of a module zip file (every entry, named as in the zip).
pub fn hash_zip(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| e.to_string())?;
    let mut names = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| e.to_string())?;
        let mut h = Sha256::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = entry
                .read(&mut buf)
                .map_err(|e| format!("{}: {e}", entry.name()))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        names.push((entry.name().to_string(), <[u8; 32]>::from(h.finalize())));
    }
    hash1(names.iter().map(|(n, d)| (n.as_str(), *d)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A module written by the test, zipped in Go's layout; the expected values are what
    /// `go mod download -json example.test/tiny@v1.0.0` printed (`Sum`, `GoModSum`) when this
    /// exact zip was served to go 1.26.8 from a file:// GOPROXY with GOSUMDB=off.
    #[test]
    fn matches_go() {
        let go_mod = "module example.test/tiny\n\ngo 1.21\n";
        let files = [
            ("example.test/tiny@v1.0.0/go.mod", go_mod),
            (
                "example.test/tiny@v1.0.0/tiny.go",
                "package tiny\n\n// Answer is the answer.\nconst Answer = 42\n",
            ),
            ("example.test/tiny@v1.0.0/LICENSE", "tiny licence\n"),
        ];
        let t = tempfile::tempdir().unwrap();
        let zip_path = t.path().join("v1.0.0.zip");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        for (name, text) in files {
            w.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(text.as_bytes()).unwrap();
        }
        w.finish().unwrap();
        assert_eq!(
            hash_zip(&zip_path).unwrap(),
            "h1:CVasdhSH2FwnE4g3XiiryKpDypJWee5GAn1PJtnKfGQ="
        );
        assert_eq!(
            hash_go_mod(go_mod.as_bytes()),
            "h1:BIskWLZhiZc7MUqQ2u/d9qZF6je0NQ3pp6/dFZLLCQU="
        );
    }

    #[test]
    fn order_is_by_bytes_and_newlines_are_refused() {
        let d = [0u8; 32];
        assert_eq!(
            hash1([("b", d), ("a", d), ("B", d)]).unwrap(),
            hash1([("B", d), ("a", d), ("b", d)]).unwrap()
        );
        assert!(hash1([("a\nb", d)]).is_err());
    }
}
