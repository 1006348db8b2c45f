//! Network partitions, made with network namespaces (root and `ip` needed): an isolated
//! leader is replaced by the majority, refuses writes it cannot commit, and catches up once
//! the partition heals; a follower cut off while writes go on catches up soon after.

use std::time::Duration;

use corral_tests::{Cluster, Member, Net, leader_name, wait_for_roles, wait_until};

/// Three members, each in a namespace of its own, once their roles settle, with the
/// leader's position.
fn three_with_leader() -> (Cluster, usize) {
    let cluster = Cluster::form_in_namespaces(3);
    let roles = wait_for_roles(&cluster[0], 3, 3, 0);
    let leader = leader_name(&roles).expect("a leader");
    let at = cluster.position(&leader).expect("the leader is a member");
    (cluster, at)
}

/// Waits (bounded) until `member` reads `value` for config `key`.
fn wait_for_config(member: &Member, key: &str, value: &str, within: Duration) {
    wait_until(
        &format!("{} to hold {key}={value}", member.name),
        within,
        || {
            let out = member.corral(&["config", "get", key]);
            (out.code == 0 && out.stdout.trim() == value).then_some(())
        },
    );
}

#[test]
fn an_isolated_leader_is_replaced_and_catches_up_when_the_partition_heals() {
    if !Net::available() {
        return;
    }
    let (cluster, cut) = three_with_leader();
    let old = cluster[cut].name.clone();
    let other = (cut + 1) % cluster.members().len();

    cluster.isolate(cut);
    // The majority elects a leader among itself; the write waits through the election.
    cluster[other]
        .corral(&["config", "set", "user.side", "majority"])
        .ok();
    let leader = leader_name(&cluster[other].members());
    assert!(
        leader.is_some() && leader.as_deref() != Some(old.as_str()),
        "the majority is led by {leader:?}"
    );

    // The isolated member cannot commit anything, and says why within its bounded wait.
    let refused = cluster[cut].corral(&["config", "set", "user.side", "minority"]);
    let why = refused.failed();
    assert!(why.contains("quorum"), "{why}");

    cluster.heal(cut);
    wait_for_config(
        &cluster[cut],
        "user.side",
        "majority",
        Duration::from_secs(30),
    );
    wait_for_roles(&cluster[cut], 3, 3, 0);
}

/// A follower cut off while writes go on (long enough for TCP's retransmissions to back off
/// to seconds) is caught up soon after the partition heals, not whenever a stalled
/// connection happens to retry.
#[test]
fn a_follower_cut_off_for_long_catches_up_soon_after_healing() {
    if !Net::available() {
        return;
    }
    let (cluster, writer) = three_with_leader();
    let cut = (writer + 1) % cluster.members().len();

    cluster.isolate(cut);
    // Writes go on without it, long enough for its stalled connections to back off.
    let until = std::time::Instant::now() + Duration::from_secs(20);
    let mut n = 0;
    while std::time::Instant::now() < until {
        n += 1;
        cluster[writer]
            .corral(&["config", "set", "user.during", &n.to_string()])
            .ok();
    }

    cluster.heal(cut);
    wait_for_config(
        &cluster[cut],
        "user.during",
        &n.to_string(),
        Duration::from_secs(10),
    );
}

/// Links cut one by one (not the leader's cable): the leader split from both followers
/// loses quorum while the followers, who still see each other, elect a leader and commit;
/// mended, the old leader catches up.
#[test]
fn a_leader_split_from_its_followers_by_cut_links_loses_quorum_and_catches_up() {
    if !Net::available() {
        return;
    }
    let (cluster, old) = three_with_leader();
    let others: Vec<usize> = (0..3).filter(|&i| i != old).collect();

    cluster.split(&[old], &others);
    cluster[others[0]]
        .corral(&["config", "set", "user.split", "majority"])
        .ok();
    let refused = cluster[old].corral(&["config", "set", "user.split", "minority"]);
    let why = refused.failed();
    assert!(why.contains("quorum"), "{why}");

    cluster.heal_all();
    wait_for_config(
        &cluster[old],
        "user.split",
        "majority",
        Duration::from_secs(30),
    );
}

/// A bridge member sees both halves while they cannot see each other: writes still commit
/// through it, and every member reads them once the links are mended.
#[test]
fn writes_commit_while_one_member_bridges_two_halves() {
    if !Net::available() {
        return;
    }
    let (cluster, leader) = three_with_leader();
    let (one, other) = cluster.bridge(leader);
    assert_eq!((one.len(), other.len()), (1, 1));

    cluster[one[0]]
        .corral(&["config", "set", "user.bridged", "one"])
        .ok();
    cluster[other[0]]
        .corral(&["config", "set", "user.bridged", "other"])
        .ok();
    cluster.heal_all();
    for member in cluster.members() {
        wait_for_config(member, "user.bridged", "other", Duration::from_secs(30));
    }
}
