//! `corral dashboard REMOTE:` under tmux: it watches a real cluster through an HTTPS remote,
//! shows a member killed with SIGKILL go OFFLINE, and when the member behind the remote
//! itself dies, says it is disconnected and reconnects to the same remote when it is back.

#[path = "remote_https/common.rs"]
mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use corral_tests::{Cluster, corral_bin, wait_until};

use common::Laptop;

/// tmux on PATH, if installed.
fn find_tmux() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("tmux"))
        .find(|path| path.is_file())
}

/// A private tmux server (own socket, no user configuration) running one command in a
/// 120x30 pane; dropping it kills the server and so the dashboard in it.
struct Pane {
    tmux: PathBuf,
    socket: String,
}

impl Pane {
    fn start(tmux: PathBuf, command: &str) -> Pane {
        let pane = Pane {
            tmux,
            socket: format!("corral-remote-https-{}", std::process::id()),
        };
        let out = pane.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "dash",
            "-x",
            "120",
            "-y",
            "30",
            command,
        ]);
        assert!(out.status.success(), "tmux new-session failed: {out:?}");
        pane
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.tmux)
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("tmux runs")
    }

    /// Reads the screen until `done` holds; fails after `limit` showing the last screen.
    fn wait_for(&self, what: &str, limit: Duration, done: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_until(what, limit, || {
                let out = self.run(&["capture-pane", "-p", "-t", "dash"]);
                let screen = String::from_utf8_lossy(&out.stdout).into_owned();
                let hit = done(&screen).then(|| screen.clone());
                last = screen;
                hit
            })
        }));
        found.unwrap_or_else(|_| panic!("waited for {what}; the screen:\n{last}"))
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// Whether `name`'s row in the members table says `status`.
fn row_says(screen: &str, name: &str, status: &str) -> bool {
    screen
        .lines()
        .any(|l| l.starts_with(&format!("│{name} ")) && l.contains(&format!(" {status} ")))
}

#[test]
fn the_dashboard_watches_a_remote_and_reconnects_to_it() {
    let missing = find_tmux().is_none().then(|| {
        "not on PATH; install it (e.g. `apt-get install tmux`) to run this test".to_owned()
    });
    if !corral_tests::runs_here("tmux", missing) {
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
    let pane = Pane::start(find_tmux().expect("checked above"), &command);
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
