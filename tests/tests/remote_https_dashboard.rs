//! `corral dashboard REMOTE:` under tmux: it watches a real cluster through an HTTPS remote,
//! shows a member killed with SIGKILL go OFFLINE, and when the member behind the remote
//! itself dies, says it is disconnected and reconnects to the same remote when it is back.

#[path = "remote_https/common.rs"]
mod common;

use std::time::Duration;

use corral_tests::{Cluster, Pane, corral_bin};

use common::Laptop;

/// Whether `name`'s row in the members table says `status`.
fn row_says(screen: &str, name: &str, status: &str) -> bool {
    screen
        .lines()
        .any(|l| l.starts_with(&format!("│{name} ")) && l.contains(&format!(" {status} ")))
}

#[test]
fn the_dashboard_watches_a_remote_and_reconnects_to_it() {
    if !Pane::available() {
        return;
    }
    let mut cluster = Cluster::form(3);
    cluster[0]
        .corral(&["config", "set", "core.trust_password", "pw"])
        .ok();
    cluster[0]
        .corral(&["config", "set", "cluster.offline_threshold", "11"])
        .ok();
    let laptop = Laptop::new();
    let address = cluster[0].address.clone();
    laptop
        .corral(
            &[
                "remote",
                "add",
                "prod",
                &address,
                "--accept-certificate",
                "--password",
                "pw",
            ],
            "",
        )
        .ok();
    let command = format!(
        "env CORRAL_CONF={} CORRAL_DIR={} {} dashboard prod:",
        laptop.conf().display(),
        laptop.no_daemon.path().display(),
        corral_bin().display()
    );
    let pane = Pane::start(&command, 120, 30);
    let screen = pane.wait_for("three members ONLINE", Duration::from_secs(60), |s| {
        ["node1", "node2", "node3"]
            .iter()
            .all(|name| row_says(s, name, "ONLINE"))
    });
    assert!(screen.contains(&format!("https://{address}")), "{screen}");

    // A member dies: the remote says so.
    cluster[2].kill();
    pane.wait_for("node3 OFFLINE", Duration::from_secs(45), |s| {
        row_says(s, "node3", "OFFLINE")
    });

    // The member behind the remote itself dies: the dashboard says it is disconnected and
    // keeps retrying the same remote, and comes back when it does.
    cluster[2].restart();
    pane.wait_for("node3 ONLINE again", Duration::from_secs(45), |s| {
        row_says(s, "node3", "ONLINE")
    });
    cluster[0].kill();
    pane.wait_for("the outage banner", Duration::from_secs(30), |s| {
        s.contains("disconnected since") && s.contains("retrying")
    });
    cluster[0].restart();
    let screen = pane.wait_for("the remote back", Duration::from_secs(60), |s| {
        !s.contains("disconnected since") && row_says(s, "node1", "ONLINE")
    });
    assert!(screen.contains(&format!("https://{address}")), "{screen}");
}
