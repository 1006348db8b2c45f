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
pub mod containers;
mod https;
mod image;
mod member;
mod monitor;
mod net;
mod pane;
mod roles;
mod sshd;
pub mod torture;
mod wait;
mod watch;

pub use binaries::{corral_bin, corrald_bin};
pub use cluster::Cluster;
pub use https::{HttpsClient, HttpsReply};
pub use image::{fingerprint_of, test_image};
pub use member::{CommandOutput, Member};
pub use monitor::Monitor;
pub use net::Net;
pub use pane::Pane;
pub use roles::{count_role, leader_name, roles_of, wait_for_roles};
pub use sshd::Sshd;
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

/// The variable that turns every skipped test into a failure; `.ci/run` sets it to 1, so CI
/// never skips silently.
pub const REQUIRE_ALL: &str = "CORRAL_TEST_REQUIRE_ALL";

/// What becomes of a test whose environment may lack something it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Everything is here: run it.
    Run,
    /// Something is missing: say so and pass.
    Skip,
    /// Something is missing and [`REQUIRE_ALL`] forbids skipping.
    Fail,
}

/// The decision: run when nothing is missing; otherwise skip, unless [`REQUIRE_ALL`] holds a
/// value other than empty or `0`.
pub fn gate(missing: bool, require_all: Option<&str>) -> Gate {
    match (missing, require_all) {
        (false, _) => Gate::Run,
        (true, None | Some("" | "0")) => Gate::Skip,
        (true, Some(_)) => Gate::Fail,
    }
}

/// Whether the calling test can run here. `need` says what it needs ("root for network
/// namespaces", "tmux"); `missing` says why it is not here, or is `None` when it is. A skip
/// prints `<test>: skipped: needs <need> (<why>)` straight to stderr (cargo test shows it
/// even for passing tests) and returns `false`; with [`REQUIRE_ALL`] set, it fails instead.
pub fn runs_here(need: &str, missing: Option<String>) -> bool {
    let require_all = std::env::var(REQUIRE_ALL).ok();
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_owned();
    let why = missing.as_deref().unwrap_or_default();
    match gate(missing.is_some(), require_all.as_deref()) {
        Gate::Run => true,
        Gate::Skip => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "{test}: skipped: needs {need} ({why})");
            false
        }
        Gate::Fail => panic!(
            "{test} needs {need} ({why}), and {REQUIRE_ALL}={} forbids skipping it: provide it \
             (`.ci/run` runs as root and installs tmux, iproute2 and OpenSSH), or unset \
             {REQUIRE_ALL} to let the test skip",
            require_all.unwrap_or_default()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_need_skips_unless_every_test_is_required() {
        let cases = [
            (false, None, Gate::Run),
            (false, Some("1"), Gate::Run),
            (true, None, Gate::Skip),
            (true, Some(""), Gate::Skip),
            (true, Some("0"), Gate::Skip),
            (true, Some("1"), Gate::Fail),
            (true, Some("yes"), Gate::Fail),
        ];
        for (missing, require_all, expected) in cases {
            assert_eq!(
                gate(missing, require_all),
                expected,
                "missing={missing} {REQUIRE_ALL}={require_all:?}"
            );
        }
    }

    #[test]
    fn a_test_with_what_it_needs_runs_whatever_the_variable_says() {
        assert!(runs_here("nothing", None));
    }
}
