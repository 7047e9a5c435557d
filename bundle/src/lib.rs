//! The usernetes release format: the `manifest.json` schema, `SHA256SUMS`, a deterministic tar
//! writer, a parallel multi-stream bzip2 encoder and decoder, and the safe streaming reader the
//! installer extracts releases with; and [`oci_image`], the image archives that stand in for a
//! registry.
//!
//! The builder stages `usernetes/`, describes it with [`stage_scan::scan_tree`], writes
//! [`manifest::Manifest::to_json`] into it, then calls [`pack::pack_to_file`] and
//! [`pack::write_checksums_file`]. The installer checks the archive against
//! [`checksums::Sha256Sums`], extracts it with [`safe_extract::extract_archive`] into a fresh
//! folder, and compares the result with the manifest via
//! [`safe_extract::verify_against_manifest`].
//!
//! Format constants that change the archive bytes (and so must never depend on the machine):
//! the entry order and header fields ([`tar_writer`]), [`bzip::CHUNK_SIZE`] and
//! [`bzip::LEVEL`].

pub mod bzip;
pub mod checksums;
pub mod durable;
pub mod error;
pub mod manifest;
pub mod oci_image;
pub mod pack;
pub mod safe_extract;
pub mod stage_scan;
pub mod tar_writer;

pub use error::{Error, Result};
