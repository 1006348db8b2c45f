//! The test harness: starts real `corrald` processes on loopback addresses with their own
//! directories, and drives them with the real `corral` and `corrald` commands, so that
//! cluster tests read like what an operator does.
//!
//! ```no_run
//! let mut node1 = corral_tests::Member::start("node1");
//! node1.bootstrap();
//! node1.kill();
//! node1.restart();
//! ```

mod binaries;
mod cluster;
mod https;
mod member;
mod net;
mod roles;
mod wait;
mod watch;

pub use binaries::{corral_bin, corrald_bin};
pub use cluster::Cluster;
pub use https::{HttpsClient, HttpsReply};
pub use member::{CommandOutput, Member};
pub use net::Net;
pub use roles::{count_role, leader_name, roles_of, wait_for_roles};
pub use wait::wait_until;
pub use watch::Watch;

/// Path of a file under the repository's `assets/`.
pub fn asset(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../assets")
        .join(relative)
}

/// Path of one of LXD's captures kept in the repository (`tests/fixtures/lxd`).
pub fn lxd_sample(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/lxd")
        .join(name)
}
