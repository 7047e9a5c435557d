//! Safe streaming extraction of release archives.

use std::io::Read;
use std::path::Path;

use crate::Result;
use crate::manifest::{FileEntry, Manifest};

/// Options for [`extract_tar`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtractOptions {
    pub top: String,
}

/// What was extracted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extracted {
    pub files: Vec<FileEntry>,
}

/// Reads a (decompressed) tar stream and writes it under `dest`, stripping the top folder.
pub fn extract_tar<R: Read>(tar: R, dest: &Path, opts: &ExtractOptions) -> Result<Extracted> {
    let _ = (tar, dest, opts);
    todo!()
}

/// bzip2 archive file -> ParallelBzDecoder -> extract_tar; also returns the archive sha256.
pub fn extract_archive(
    archive: &Path,
    dest: &Path,
    opts: &ExtractOptions,
    threads: usize,
) -> Result<(Extracted, String)> {
    let _ = (archive, dest, opts, threads);
    todo!()
}

/// Compares what was extracted with the manifest.
pub fn verify_against_manifest(manifest: &Manifest, extracted: &Extracted) -> Result<()> {
    let _ = (manifest, extracted);
    todo!()
}
