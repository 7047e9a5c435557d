//! Everything about RootlessKit, the program that makes a session's namespaces: its command
//! line ([`flags`]), its REST API ([`api`]) and the port specs it publishes ([`portspec`]).

pub mod api;
pub mod flags;
pub mod portspec;
