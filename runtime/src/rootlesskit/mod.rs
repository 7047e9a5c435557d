//! Everything about RootlessKit, the program that makes a session's namespaces: its command
//! line ([`flags`]), its REST API ([`api`]), the port specs it publishes ([`portspec`]) and
//! its output ([`output`]).

pub mod api;
pub mod flags;
pub mod output;
pub mod portspec;
