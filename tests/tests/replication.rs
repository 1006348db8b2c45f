//! The replicated database: writes through any member, snapshots, and catching up.

use std::time::Duration;

use corral_tests::{Member, wait_until};

const SNAPSHOT_EVERY: &str = "CORRAL_SNAPSHOT_EVERY";

#[test]
fn a_member_restarts_from_its_snapshot_and_a_joiner_receives_one() {
    let mut node1 = Member::new("node1").with_env(SNAPSHOT_EVERY, "10");
    node1.launch();
    node1.bootstrap();
    for i in 0..40 {
        node1
            .corral(&["config", "set", &format!("user.k{i}"), &i.to_string()])
            .ok();
    }
    let snapshot = node1.dir().join("database/snapshots/current.db");
    wait_until("a snapshot on disk", Duration::from_secs(10), || {
        snapshot.exists().then_some(())
    });

    // Restarted, it rebuilds from the snapshot and the log after it.
    node1.kill();
    node1.restart();
    for i in [0, 17, 39] {
        assert_eq!(node1.config_value(&format!("user.k{i}")), i.to_string());
    }

    // A new member joins after the early log was purged: it gets the snapshot.
    let node2 = Member::new("node2").with_env(SNAPSHOT_EVERY, "10");
    let mut node2 = node2;
    node2.launch();
    node2.join_by_token(&node1);
    for i in [0, 17, 39] {
        assert_eq!(node2.config_value(&format!("user.k{i}")), i.to_string());
    }
    assert!(node2.dir().join("database/snapshots/current.db").exists());
}

#[test]
fn writes_through_a_follower_reach_the_leader_and_survive_a_dead_follower() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let node2 = Member::start("node2");
    node2.join_by_token(&node1);
    let mut node3 = Member::start("node3");
    node3.join_by_token(&node1);
    wait_until("three voters", Duration::from_secs(20), || {
        let m = node1.members();
        (m.iter()
            .filter(|m| {
                m["roles"]
                    .as_array()
                    .is_some_and(|r| r.contains(&"database".into()))
            })
            .count()
            == 3)
            .then_some(())
    });
    // node2 is not the leader: its write is forwarded, and acknowledged once committed.
    node2.corral(&["config", "set", "user.via", "node2"]).ok();
    assert_eq!(node1.config_value("user.via"), "node2");

    // One voter down of three: the database still takes writes, and the dead one catches up.
    node3.kill();
    node2.corral(&["config", "set", "user.while", "down"]).ok();
    node3.restart();
    wait_until("node3 to catch up", Duration::from_secs(20), || {
        (node3.config_value("user.while") == "down").then_some(())
    });
}
