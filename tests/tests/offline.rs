//! Offline detection and coming back: heartbeats age out at `cluster.offline_threshold`,
//! and a restarted member is ONLINE again at once (never a stale OFFLINE).

use std::time::{Duration, Instant};

use corral_tests::{Cluster, Member, wait_for_roles, wait_until};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The last heartbeat recorded for member `name`, as `via`'s replica of the database has it.
fn last_heartbeat(via: &Member, name: &str) -> Option<OffsetDateTime> {
    let query = format!("SELECT heartbeat FROM nodes WHERE name = '{name}'");
    let out = via.corrald(&["sql", "global", &query], None);
    out.ok()
        .lines()
        .filter_map(|l| l.trim().strip_prefix('|')?.strip_suffix('|'))
        .map(str::trim)
        .find_map(|v| OffsetDateTime::parse(v, &Rfc3339).ok())
}

#[test]
fn a_killed_member_is_offline_at_the_threshold_and_online_again_on_restart() {
    let mut cluster = Cluster::form(3);
    wait_for_roles(&cluster[0], 3, 3, 0);
    cluster[0]
        .corral(&["config", "set", "cluster.offline_threshold", "11"])
        .ok();
    // Heartbeats at the new pace (a quarter of the threshold) are under way once one lands
    // after the change: the leader reads the pace again after every round.
    let set_at = OffsetDateTime::now_utc();
    wait_until(
        "a heartbeat from node3 recorded after the threshold changed",
        Duration::from_secs(10),
        || (last_heartbeat(&cluster[0], "node3")? > set_at).then_some(()),
    );

    cluster[2].kill();
    let died = Instant::now();
    let message = wait_until("node3 to be OFFLINE", Duration::from_secs(20), || {
        let m = cluster[0].member("node3");
        (m["status"] == "Offline").then(|| m["message"].as_str().unwrap_or_default().to_owned())
    });
    let after = died.elapsed();
    assert!(message.starts_with("No heartbeat for "), "{message}");
    // The threshold after its last heartbeat: not later than 11 s after death (plus the time
    // this test takes to look), not earlier than 11 s minus one heartbeat interval (2.75 s).
    assert!(
        after <= Duration::from_millis(12_000),
        "OFFLINE only after {after:?}"
    );
    assert!(
        after >= Duration::from_millis(8_000),
        "OFFLINE already after {after:?}"
    );

    cluster[2].restart();
    wait_until("node3 to be ONLINE again", Duration::from_secs(3), || {
        (cluster[0].member("node3")["status"] == "Online").then_some(())
    });
    // And it sees itself online, too.
    assert_eq!(cluster[2].member("node3")["status"], "Online");
}

#[test]
fn an_offline_members_config_is_readable_but_its_live_state_is_not() {
    let mut cluster = Cluster::form(3);
    cluster[0]
        .corral(&["config", "set", "cluster.offline_threshold", "11"])
        .ok();
    let (status, body) = cluster[0].raw("GET", "/1.0/cluster/members/node3/state", None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"sysinfo\""), "{body}");

    cluster[2].kill();
    // Refused at once: the member does not answer.
    let (status, body) = cluster[0].raw("GET", "/1.0/cluster/members/node3/state", None);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("Peer cluster member node3 at"), "{body}");
    assert!(body.contains("is down"), "{body}");
    let (status, body) = cluster[0].raw("GET", "/1.0/cluster/members/node3", None);
    assert_eq!(status, 200, "its configuration stays readable: {body}");
}
