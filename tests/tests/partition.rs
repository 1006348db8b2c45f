//! Network partitions, made with network namespaces (root and `ip` needed): an isolated
//! leader is replaced by the majority, refuses writes it cannot commit, and catches up once
//! the partition heals; a follower cut off while writes go on catches up soon after.

use std::time::Duration;

use corral_tests::{Member, Net, leader_name, wait_for_roles, wait_until};

/// Members node1..nodeN, each in its own namespace of `net`, formed into one cluster.
fn form(net: &Net, n: usize) -> Vec<Member> {
    let mut members: Vec<Member> = Vec::new();
    for i in 0..n {
        let name = format!("node{}", i + 1);
        let mut m = Member::in_namespace(&name, net.namespace(i), net.address(i));
        m.launch();
        match members.first() {
            None => m.bootstrap(),
            Some(first) => m.join_by_token(first),
        }
        members.push(m);
    }
    members
}

/// Three members formed in `net`, once their roles settle, with the leader's position.
fn three_with_leader(net: &Net) -> (Vec<Member>, usize) {
    let cluster = form(net, 3);
    let roles = wait_for_roles(&cluster[0], 3, 3, 0);
    let leader = leader_name(&roles).expect("a leader");
    let at = cluster
        .iter()
        .position(|m| m.name == leader)
        .expect("the leader is a member");
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
    // Declared first, dropped last: the members are killed before their namespaces go.
    let net = Net::new(3);
    let (cluster, cut) = three_with_leader(&net);
    let old = cluster[cut].name.clone();
    let other = (cut + 1) % cluster.len();

    net.isolate(cut);
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

    net.heal(cut);
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
    let net = Net::new(3);
    let (cluster, writer) = three_with_leader(&net);
    let cut = (writer + 1) % cluster.len();

    net.isolate(cut);
    // Writes go on without it, long enough for its stalled connections to back off.
    let until = std::time::Instant::now() + Duration::from_secs(20);
    let mut n = 0;
    while std::time::Instant::now() < until {
        n += 1;
        cluster[writer]
            .corral(&["config", "set", "user.during", &n.to_string()])
            .ok();
    }

    net.heal(cut);
    wait_for_config(
        &cluster[cut],
        "user.during",
        &n.to_string(),
        Duration::from_secs(10),
    );
}
