//! Spares stay out of Raft: only voters and stand-bys are in its membership (in LXD's dqlite a
//! spare neither votes nor replicates), so the leader neither heartbeats nor replicates to
//! them through Raft. It feeds their replicas itself, so a spare still reads its own and
//! everyone's writes, through a leader change, a restart, and a log purged past what it
//! holds (then it gets the snapshot).

use std::time::Duration;

use corral_tests::{Cluster, Member, leader_name, roles_of, wait_for_roles, wait_until};

const SNAPSHOT_EVERY: &str = "CORRAL_SNAPSHOT_EVERY";
const GATHER: &str = "CORRAL_SPARE_GATHER_MS";

/// The Raft members as `member` records them (`raft_nodes`, kept in step with its view).
fn raft_nodes(member: &Member) -> String {
    member
        .corrald(&["sql", "local", "SELECT address FROM raft_nodes"], None)
        .ok()
        .to_owned()
}

/// The member listed with no role: the spare.
fn spare_of(members: &[serde_json::Value]) -> String {
    members
        .iter()
        .find(|m| roles_of(m).is_empty())
        .and_then(|m| m["server_name"].as_str())
        .expect("a spare")
        .to_owned()
}

#[test]
fn a_spare_is_outside_raft_and_reads_and_writes_like_any_member() {
    // The leader gathers a spare's new entries for 5 s here instead of 0.1 s: a read on the
    // spare then shows a write at once only if asking for the read index ends the wait (a
    // read that waited for it would time out and show the value before).
    let mut cluster = Cluster::form_prepared(6, None, |m| m.set_env(GATHER, "5000"));
    let members = wait_for_roles(&cluster[0], 6, 3, 2);
    let spare = cluster.position(&spare_of(&members)).expect("ours");
    let spare_address = cluster[spare].address.clone();

    // Only the five database members are in Raft, in every member's view.
    wait_until(
        "Raft to hold the five database members only",
        Duration::from_secs(10),
        || {
            cluster
                .members()
                .iter()
                .all(|m| {
                    let nodes = raft_nodes(m);
                    nodes.matches("127.").count() == 5 && !nodes.contains(&spare_address)
                })
                .then_some(())
        },
    );

    // It reads its own writes, and a write elsewhere as soon as that is acknowledged.
    cluster[spare]
        .corral(&["config", "set", "user.from_spare", "1"])
        .ok();
    assert_eq!(cluster[spare].config_value("user.from_spare"), "1");
    assert_eq!(cluster[0].config_value("user.from_spare"), "1");
    for i in 0..5 {
        cluster[0]
            .corral(&["config", "set", "user.from_leader", &i.to_string()])
            .ok();
        assert_eq!(
            cluster[spare].config_value("user.from_leader"),
            i.to_string()
        );
    }

    // Promoted, it joins Raft; demoted, it leaves it again.
    cluster[0]
        .corral(&["config", "set", "cluster.max_standby", "3"])
        .ok();
    wait_for_roles(&cluster[0], 6, 3, 3);
    wait_until(
        "the promoted spare in Raft",
        Duration::from_secs(10),
        || {
            raft_nodes(&cluster[0])
                .contains(&spare_address)
                .then_some(())
        },
    );
    cluster[0]
        .corral(&["config", "set", "cluster.max_standby", "2"])
        .ok();
    let members = wait_for_roles(&cluster[0], 6, 3, 2);
    let spare_now = spare_of(&members);
    let spare_now_address = cluster[cluster.position(&spare_now).expect("ours")]
        .address
        .clone();
    wait_until(
        "Raft down to five members again",
        Duration::from_secs(10),
        || {
            let nodes = raft_nodes(&cluster[0]);
            (nodes.matches("127.").count() == 5 && !nodes.contains(&spare_now_address))
                .then_some(())
        },
    );

    // The leader dies: the spare follows the new one, and writes through it.
    let leader = cluster
        .position(&leader_name(&members).expect("a leader"))
        .expect("ours");
    assert_ne!(leader, spare);
    cluster[leader].kill();
    let spare = cluster.position(&spare_now).expect("ours");
    wait_until(
        "a write through the spare after the leader died",
        Duration::from_secs(20),
        || {
            let out = cluster[spare].corral(&["config", "set", "user.after_failover", "yes"]);
            (out.code == 0).then_some(())
        },
    );
    assert_eq!(cluster[spare].config_value("user.after_failover"), "yes");
    let survivor = (0..cluster.members().len())
        .find(|&i| i != leader && i != spare)
        .expect("another survivor");
    assert_eq!(cluster[survivor].config_value("user.after_failover"), "yes");
    cluster.members_mut()[leader].restart();
}

#[test]
fn a_restarted_spare_catches_up_from_the_log_or_the_snapshot() {
    // Snapshots every ten entries: what a spare misses while down is soon purged. With no
    // stand-bys, the fourth member is a spare.
    let mut members = Cluster::form_prepared(4, None, |m| m.set_env(SNAPSHOT_EVERY, "10"));
    members[0]
        .corral(&["config", "set", "cluster.max_standby", "0"])
        .ok();
    let listed = wait_for_roles(&members[0], 4, 3, 0);
    let spare = members.position(&spare_of(&listed)).expect("ours");

    // Down for a few writes: the log still holds them when it returns.
    members.members_mut()[spare].kill();
    for i in 0..3 {
        members[0]
            .corral(&["config", "set", &format!("user.a{i}"), "x"])
            .ok();
    }
    members.members_mut()[spare].restart();
    assert_eq!(members[spare].config_value("user.a2"), "x");

    // Down for many: the leader's log is purged past what it holds, so it gets the snapshot.
    members.members_mut()[spare].kill();
    for i in 0..40 {
        members[0]
            .corral(&["config", "set", &format!("user.b{i}"), &i.to_string()])
            .ok();
    }
    members.members_mut()[spare].restart();
    for i in [0, 20, 39] {
        assert_eq!(
            members[spare].config_value(&format!("user.b{i}")),
            i.to_string()
        );
    }
    // And it is fed from the log again afterwards.
    members[0]
        .corral(&["config", "set", "user.after", "yes"])
        .ok();
    assert_eq!(members[spare].config_value("user.after"), "yes");
}
