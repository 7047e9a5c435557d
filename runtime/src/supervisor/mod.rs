//! The supervisor: what runs inside the namespaces after `u7s __child` and owns the components
//! (start order by readiness, restarts with backoff, one-shot jobs, stop in reverse order). See
//! [`machine`] for the behaviour.

pub mod machine;

pub use machine::*;
