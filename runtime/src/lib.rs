//! The usernetes runtime: a RootlessKit session (user, mount, network and pid namespaces) whose
//! child is `u7s` itself, supervising dockerd, containerd, CRI-O and etcd with real readiness
//! probes; ports through RootlessKit's REST API; status, logs, stop, reset and systemd units.
//!
//! Pure logic (flags, configs, specs, status model) lives in modules apart from the ones that
//! run processes, so it is unit-tested without a session.
//!
//! Where things live:
//!
//! | folder | owns |
//! |---|---|
//! | [`cli`], [`commands`] | the command line (clap) and one file per `u7s` command |
//! | [`session`] | what a session is: its config, files, record, status; finding, stopping, resetting it |
//! | [`process`] | the processes of a session by role: leader, detach, inside (`u7s __child`), nsprep |
//! | [`supervisor`] | the components' lifecycle inside the namespaces: order, readiness, restarts, jobs, stop |
//! | [`components`] | what runs and how each piece is configured (a pure [`components::Plan`]) |
//! | [`rootlesskit`] | RootlessKit's command line, REST API and port specs |
//! | [`pki`] | TLS material: CA, leaves, kubeconfigs, `u7s certs`, the join bundle |
//! | [`probe`] | readiness probes and the small HTTP client they use |
//! | [`registry`] | CRI-O's images without a registry: the session's image store and its loopback registry |
//! | [`host`] | the machine outside: programs, /proc, host address, storage, files, systemd units |

pub mod cli;
pub mod commands;
pub mod components;
pub mod error;
pub mod host;
pub mod pki;
pub mod probe;
pub mod process;
pub mod registry;
pub mod rootlesskit;
pub mod session;
pub mod supervisor;

pub use error::{Error, Result};
