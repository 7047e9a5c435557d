//! The machine outside the session: the programs a session runs and where they are found
//! ([`binaries`]), the session's cgroup mode ([`cgroups`]), facts from /proc ([`procfs`]), the
//! host's own address ([`hostaddr`]), who holds a host port ([`sockets`]), the storage driver
//! that works in a user namespace ([`storage`]), files written with the runtime's guarantees
//! ([`fsutil`]) and the systemd user units ([`units`]).

pub mod binaries;
pub mod cgroups;
pub mod fsutil;
pub mod hostaddr;
pub mod procfs;
pub mod sockets;
pub mod storage;
pub mod units;
