//! Rolling upgrades: a member on a newer version is Blocked (503) until every member runs
//! it, while the others keep serving and show it BLOCKED; then it unblocks by itself.

use std::time::Duration;

use corral_tests::{Cluster, wait_until};

const NEWER: &str = "CORRAL_TEST_EXTRA_API_EXTENSIONS";

fn statuses(c: &Cluster, via: usize) -> Vec<(String, String, String)> {
    c[via]
        .members()
        .iter()
        .map(|m| {
            (
                m["server_name"].as_str().unwrap_or_default().to_owned(),
                m["status"].as_str().unwrap_or_default().to_owned(),
                m["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn rolling_upgrade(size: usize) {
    let mut cluster = Cluster::form(size);
    let last = size - 1;
    cluster[last].kill();
    cluster[last].set_env(NEWER, "1");
    cluster[last].restart();

    // The upgraded member refuses its public API, saying whom it waits for.
    let (status, body) = cluster[last].raw("GET", "/1.0/cluster/members", None);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("waits for node1 at"), "{body}");
    // The others serve, and show it (and themselves) BLOCKED.
    wait_until(
        "the upgraded member shown BLOCKED",
        Duration::from_secs(10),
        || {
            let s = statuses(&cluster, 0);
            s.iter()
                .any(|(n, st, msg)| {
                    *n == cluster[last].name
                        && st == "Blocked"
                        && msg == "Corral version is newer than other members"
                })
                .then_some(())
        },
    );
    let s = statuses(&cluster, 0);
    assert!(
        s.iter().any(|(n, st, msg)| n == "node1"
            && st == "Blocked"
            && msg == "Corral version is older than other members"),
        "{s:?}"
    );
    // Raft goes on: a write through an old member still commits.
    cluster[0]
        .corral(&["config", "set", "user.during", "upgrade"])
        .ok();

    // Upgrade the rest, one by one; the last one unblocks everybody.
    for i in 0..last {
        cluster[i].kill();
        cluster[i].set_env(NEWER, "1");
        cluster[i].restart();
    }
    wait_until(
        "everybody ONLINE on the new version",
        Duration::from_secs(20),
        || {
            // 503 while some member's new version is not recorded yet: keep waiting.
            let (status, body) = cluster[last].raw("GET", "/1.0/cluster/members?recursion=1", None);
            let envelope: serde_json::Value = serde_json::from_str(&body).ok()?;
            let members = envelope["metadata"].as_array()?.clone();
            (status == 200 && members.iter().all(|m| m["status"] == "Online")).then_some(())
        },
    );
    assert_eq!(
        cluster[last]
            .corral(&["config", "get", "user.during"])
            .ok()
            .trim(),
        "upgrade"
    );
}

#[test]
fn two_members_upgrade_one_by_one() {
    rolling_upgrade(2);
}

#[test]
fn three_members_upgrade_one_by_one() {
    rolling_upgrade(3);
}
