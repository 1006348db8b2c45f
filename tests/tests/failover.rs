//! Leader failover: the leader is killed, another voter takes over, and writes through
//! any survivor succeed again. (How fast is measured by cluster-bench, not asserted here.)

use std::time::Duration;

use corral_tests::{Cluster, leader_name, wait_for_roles, wait_until};

#[test]
fn a_killed_leader_is_replaced_and_writes_through_a_survivor_succeed() {
    let mut cluster = Cluster::form(3);
    let members = wait_for_roles(&cluster[0], 3, 3, 0);
    let leader = leader_name(&members).expect("a leader");
    let index = cluster
        .members()
        .iter()
        .position(|m| m.name == leader)
        .expect("leader is ours");
    cluster[index].kill();
    let survivor = (index + 1) % 3;

    // A write that arrives during the election waits for the new leader, then succeeds.
    cluster[survivor]
        .corral(&["config", "set", "user.after", "failover"])
        .ok();
    let other = 3 - index - survivor;
    wait_until(
        "the other survivor to see the write",
        Duration::from_secs(10),
        || {
            (cluster[other]
                .corral(&["config", "get", "user.after"])
                .ok()
                .trim()
                == "failover")
                .then_some(())
        },
    );
    let members = cluster[survivor].members();
    let new_leader = leader_name(&members).expect("a new leader");
    assert_ne!(new_leader, leader);
}
