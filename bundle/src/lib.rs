//! The usernetes release format: the `manifest.json` schema, `SHA256SUMS`, a deterministic tar
//! writer, a parallel multi-stream bzip2 encoder and decoder, and the safe streaming reader the
//! installer extracts releases with.

pub mod bzip;
pub mod checksums;
pub mod error;
pub mod manifest;
pub mod pack;
pub mod safe_extract;
pub mod stage_scan;
pub mod tar_writer;

pub use error::{Error, Result};
