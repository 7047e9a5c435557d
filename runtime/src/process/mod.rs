//! The processes of a session, one file per role. `u7s up` runs the [`leader`] (or, with
//! `--detach`, [`detach`] starts the leader in the background and waits for readiness); the
//! leader starts RootlessKit, whose child is `u7s __child` ([`inside`]), the first process inside
//! the namespaces: it prepares them ([`nsprep`]) and hands over to the
//! [`supervisor`](crate::supervisor), which runs the components. Two helpers run inside too:
//! [`images`] (the job importing the pause image) and [`oci_runtime`] (runc's wrapper without
//! writable cgroups).
//!
//! ```text
//! u7s up (leader) ─▶ rootlesskit ─▶ u7s __child (inside) ─▶ supervisor ─▶ dockerd, containerd, etcd, …
//! ```

pub mod detach;
pub mod images;
pub mod inside;
pub mod leader;
pub mod nsprep;
pub mod oci_runtime;
