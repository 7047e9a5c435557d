//! u7s-install: verified, safe, atomic install of a usernetes release under `$HOME`, with
//! upgrade, rollback, uninstall, PATH and systemd user integration.
//!
//! The flow (see [`install::install`]): lock the prefix, clean up after a killed run, check the
//! archive's SHA-256 against `SHA256SUMS`, unpack through bundle's safe reader into a staging
//! folder, check every file against `manifest.json`, fsync, rename to `versions/<version>`,
//! swap the `current` symlink, prune old versions, then set up PATH, the unit and completions.

pub mod activate;
pub mod checkup;
pub mod cleanup;
pub mod cli;
pub mod error;
pub mod extract;
pub mod fsutil;
pub mod install;
pub mod integration;
pub mod lock;
pub mod prefix;
pub mod record;
pub mod run;
pub mod session;
pub mod signature;
pub mod source;
pub mod ui;
pub mod uninstall;
pub mod verify;
pub mod versions;

pub use error::{Error, Result};
