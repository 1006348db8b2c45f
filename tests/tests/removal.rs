//! Removing members as an operator does with `corral cluster remove`: a member that cannot
//! be reached is refused unless forced (nothing changes), and the leader itself can be
//! removed from another member: it hands the lead over first, as LXD's does.

use corral_tests::{Cluster, Member, leader_name, wait_for_roles};

fn is_clustered(member: &Member) -> bool {
    let cluster: serde_json::Value =
        serde_json::from_str(member.corral(&["query", "/1.0/cluster"]).ok()).expect("JSON");
    cluster["enabled"] == true
}

fn names(member: &Member) -> Vec<String> {
    member
        .members()
        .iter()
        .map(|m| m["server_name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn an_unreachable_member_is_refused_without_force_and_removed_with_it() {
    let mut cluster = Cluster::form(3);
    wait_for_roles(&cluster[0], 3, 3, 0);
    cluster[2].kill();

    let out = cluster[0].corral(&["cluster", "remove", "node3"]);
    let err = out.failed();
    assert!(
        err.contains("node3 at") && err.contains("cannot be reached"),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(err.contains("corral cluster remove --force node3"), "{err}");
    assert!(
        names(&cluster[0]).contains(&"node3".to_owned()),
        "node3 is still a member"
    );
    // Nothing changed in the database either: node3 still holds its vote.
    let node3 = cluster[0].member("node3");
    assert!(
        node3["roles"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r == "database")),
        "{node3}"
    );

    let out = cluster[0].corral(&["cluster", "remove", "--force", "--yes", "node3"]);
    assert!(out.ok().contains("Member node3 removed"), "{out:?}");
    assert_eq!(names(&cluster[0]), ["node1", "node2"]);
    cluster[1]
        .corral(&["config", "set", "user.after", "removal"])
        .ok();
}

#[test]
fn the_leader_of_three_is_removed_from_another_member() {
    let mut cluster = Cluster::form(3);
    let members = wait_for_roles(&cluster[0], 3, 3, 0);
    let leader = leader_name(&members).expect("a leader");
    let at = cluster
        .members()
        .iter()
        .position(|m| m.name == leader)
        .expect("the leader is one of ours");
    let via = (at + 1) % 3;

    let out = cluster[via].corral(&["cluster", "remove", &leader]);
    assert!(
        out.ok().contains(&format!("Member {leader} removed")),
        "{out:?}"
    );
    let removed = cluster.take(at);
    assert!(!is_clustered(&removed), "{leader} is standalone again");

    for m in cluster.members() {
        let listed = names(m);
        assert_eq!(listed.len(), 2, "{}: {listed:?}", m.name);
        assert!(!listed.contains(&leader), "{}: {listed:?}", m.name);
    }
    let rest = wait_for_roles(&cluster[0], 2, 1, 1);
    assert!(leader_name(&rest).is_some_and(|l| l != leader), "{rest:?}");
    // The database works: a write on either member is read on the other.
    cluster[0]
        .corral(&["config", "set", "user.after", "leader-removed"])
        .ok();
    assert_eq!(
        cluster[1]
            .corral(&["config", "get", "user.after"])
            .ok()
            .trim(),
        "leader-removed"
    );
}

/// The leader of two is the only voter: the other member gets a vote first, then the lead.
#[test]
fn the_only_voter_is_removed_from_the_other_member() {
    let mut cluster = Cluster::form(2);
    let members = wait_for_roles(&cluster[0], 2, 1, 1);
    assert_eq!(leader_name(&members).as_deref(), Some("node1"));

    cluster[1].corral(&["cluster", "remove", "node1"]).ok();
    let node1 = cluster.take(0);
    assert!(!is_clustered(&node1), "node1 is standalone again");
    let left = wait_for_roles(&cluster[0], 1, 1, 0);
    assert_eq!(leader_name(&left).as_deref(), Some("node2"));
    cluster[0]
        .corral(&["config", "set", "user.alone", "yes"])
        .ok();
}
