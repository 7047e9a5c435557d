//! The install record `PREFIX/install-record.json` (schema-versioned JSON, written atomically):
//! the activation history that drives rollback and pruning, and every file and rc line the
//! installer wrote outside `versions/`, so uninstall removes exactly those.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;

/// The schema this installer writes; older ones are read, newer ones refused.
pub const SCHEMA: u32 = 1;

/// A line the installer appended to a shell startup file.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RcLine {
    pub file: PathBuf,
    pub line: String,
    /// The file did not exist before: removed again when nothing else was added to it.
    #[serde(default)]
    pub created: bool,
}

/// A file the installer generated (unit, completion script), with the sha256 it wrote, so a
/// later run can tell whether the user edited it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    pub path: PathBuf,
    pub sha256: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub schema: u32,
    /// Versions in the order they were made current, most recent last, each once.
    #[serde(default)]
    pub history: Vec<String>,
    #[serde(default)]
    pub rc_lines: Vec<RcLine>,
    #[serde(default)]
    pub units: Vec<Generated>,
    #[serde(default)]
    pub service_enabled: bool,
    #[serde(default)]
    pub completions: Vec<Generated>,
}

impl Default for Record {
    fn default() -> Record {
        Record {
            schema: SCHEMA,
            history: Vec::new(),
            rc_lines: Vec::new(),
            units: Vec::new(),
            service_enabled: false,
            completions: Vec::new(),
        }
    }
}

impl Record {
    /// Reads the record; a missing file is an empty record.
    pub fn load(path: &Path) -> Result<Record> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Record::default()),
            Err(e) => return Err(Error::io("read", path, e)),
        };
        Record::parse(&text).map_err(|reason| Error::Record {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parses the JSON text, refusing schemas newer than this installer knows.
    pub fn parse(text: &str) -> std::result::Result<Record, String> {
        let rec: Record = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if rec.schema > SCHEMA {
            return Err(format!(
                "written by a newer u7s-install (schema {}, this one knows {SCHEMA})",
                rec.schema
            ));
        }
        Ok(Record {
            schema: SCHEMA,
            ..rec
        })
    }

    /// Writes the record atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self).expect("record serialises");
        text.push('\n');
        write_atomic(path, text.as_bytes(), 0o644)
    }

    /// Notes that `version` became current.
    pub fn activated(&mut self, version: &str) {
        self.history.retain(|v| v != version);
        self.history.push(version.to_string());
    }

    /// Forgets a version that was deleted.
    pub fn forget(&mut self, version: &str) {
        self.history.retain(|v| v != version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_history() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.json");
        let mut r = Record::load(&p).unwrap();
        assert_eq!(r, Record::default());
        r.activated("1");
        r.activated("2");
        r.activated("1");
        assert_eq!(r.history, ["2", "1"]);
        r.rc_lines.push(RcLine {
            file: "/h/.profile".into(),
            line: ". x".into(),
            created: true,
        });
        r.save(&p).unwrap();
        assert_eq!(Record::load(&p).unwrap(), r);
        r.forget("2");
        assert_eq!(r.history, ["1"]);
    }

    #[test]
    fn refuses_newer_schema_and_garbage() {
        assert!(
            Record::parse(r#"{"schema": 9}"#)
                .unwrap_err()
                .contains("newer")
        );
        assert!(Record::parse("not json").is_err());
        assert_eq!(
            Record::parse(r#"{"schema": 1}"#).unwrap(),
            Record::default()
        );
    }
}
