//! What the tests of several crates share, so that each rule has one home: files that a test
//! writes and then runs ([`exec`]), and what a test that needs something of the machine does
//! when it is missing ([`prereq`]), hand-made hostile tar archives ([`tar`]), and a tiny HTTP
//! file server for download tests ([`http`]). A dev-dependency only: no product binary links it.

pub mod exec;
pub mod http;
pub mod prereq;
pub mod tar;

pub use exec::{copy_executable, write_executable};
pub use prereq::{
    RELEASE_BIN_ENV, find_program, program, require, require_root, second_test_user, test_user,
    test_user_reachable,
};
