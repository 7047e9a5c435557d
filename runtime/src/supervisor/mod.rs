//! The supervisor: what runs inside the namespaces after `u7s __child` and owns the components
//! (start order by readiness, restarts with backoff, one-shot jobs, stop in reverse order).
//!
//! [`machine`] is the state machine; [`host`] holds its effects behind the [`host::Host`] trait
//! (processes, signals, probes, clocks, the status file), with [`host::Linux`] for the real
//! machine. The unit tests run the machine on a scripted fake host (`fake.rs`, `scenarios.rs`);
//! `tests/supervisor.rs` runs it on real processes.

pub mod host;
pub mod machine;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod scenarios;

pub use machine::*;
