//! u7s-build: usernetes release builder.
//!
//! Reads recipes (`recipes/*.toml`), fetches every component at its pin into a cache, applies
//! the patch series (`patches/<component>/*.patch`) with `git am` semantics, runs each build
//! script on the host or in a container, stages the outputs with the `release/` payload, and
//! packs `usernetes-x86_64.tbz` + `SHA256SUMS` through crate `bundle`.
//!
//! The pipeline lives in [`pipeline`]; every stage has its own module.

pub mod build;
pub mod cache;
pub mod cancel;
pub mod cli;
pub mod dirhash;
pub mod error;
pub mod executor;
pub mod fetch_git;
pub mod fetch_url;
pub mod forklock;
pub mod fsutil;
pub mod gomod;
pub mod mirror;
pub mod needs;
pub mod patch;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod recipe;
pub mod stage;
pub mod summary;
pub mod unpack;

pub use error::{Error, Result};
