//! The usernetes runtime: a RootlessKit session (user, mount, network and pid namespaces) whose
//! child is `u7s` itself, supervising dockerd, containerd, CRI-O and etcd with real readiness
//! probes; ports through RootlessKit's REST API; status, logs, stop, reset and systemd units.
//!
//! Pure logic (flags, configs, specs, status model) lives in modules apart from the ones that
//! run processes, so it is unit-tested without a session.

pub mod binaries;
pub mod bootstrap;
pub mod certs;
pub mod cgroups;
pub mod child;
pub mod components;
pub mod config;
pub mod detach;
pub mod error;
pub mod fsutil;
pub mod hostaddr;
pub mod http;
pub mod images;
pub mod inspect;
pub mod kubeconfig;
pub mod leader;
pub mod nsprep;
pub mod oci_runtime;
pub mod paths;
pub mod pki;
pub mod portspec;
pub mod probe;
pub mod procfs;
pub mod reset;
pub mod rkapi;
pub mod rkflags;
pub mod session;
pub mod status;
pub mod storage;
pub mod supervisor;
pub mod units;

pub use error::{Error, Result};
