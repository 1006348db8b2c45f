//! The `Watch` stream: a snapshot first, then what happens to the cluster as it happens,
//! for local callers and trusted certificates only.

use std::time::Duration;

use corral_shared::api::{ClusterSnapshot, MemberStatus, WatchEvent};
use corral_tests::{Cluster, Member, Watch};

/// Generous: a loaded machine runs several clusters at once.
const SOON: Duration = Duration::from_secs(15);

fn first_snapshot(watch: &mut Watch) -> ClusterSnapshot {
    match watch.next(SOON) {
        Some(WatchEvent::Snapshot(s)) => s,
        other => panic!("the stream must open with a snapshot, got {other:?}"),
    }
}

fn names(snapshot: &ClusterSnapshot) -> Vec<&str> {
    snapshot
        .members
        .iter()
        .map(|m| m.server_name.as_str())
        .collect()
}

fn status_of(event: &WatchEvent, member: &str) -> Option<MemberStatus> {
    match event {
        WatchEvent::Member {
            name,
            after: Some(after),
        } if name == member => Some(after.status),
        _ => None,
    }
}

#[test]
fn the_stream_opens_with_a_snapshot_naming_the_leader() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let mut watch = Watch::unix(&node1.socket());
    let snapshot = first_snapshot(&mut watch);
    assert_eq!(snapshot.server_name, "node1");
    assert_eq!(names(&snapshot), ["node1"]);
    assert_eq!(snapshot.members[0].status, MemberStatus::Online);
    assert!(snapshot.heartbeats.contains_key("node1"), "{snapshot:#?}");
    assert_eq!(snapshot.raft.leader.as_deref(), Some("node1"));
    assert_eq!((snapshot.raft.voters, snapshot.raft.quorum), (1, 1));
    assert!(snapshot.raft.term >= 1, "{:?}", snapshot.raft);
    assert!(
        snapshot.raft.commit_index >= snapshot.raft.applied_index
            && snapshot.raft.applied_index > 0,
        "{:?}",
        snapshot.raft
    );
    assert_eq!(
        snapshot.config["core.https_address"],
        node1.address.as_str()
    );
    assert_eq!(
        snapshot.config["core.trust_password"], true,
        "the trust password is never shown"
    );
}

#[test]
fn setting_a_key_is_seen_as_a_config_event() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let mut watch = Watch::unix(&node1.socket());
    first_snapshot(&mut watch);

    node1.corral(&["config", "set", "user.x", "1"]).ok();
    watch.wait_for("user.x set to 1", SOON, |e| match e {
        WatchEvent::Config { key, value } if key == "user.x" => {
            assert_eq!(value.as_ref(), Some(&serde_json::json!("1")));
            Some(())
        }
        _ => None,
    });
    // The write moved the log, too.
    watch.wait_for("the Raft indexes to move", SOON, |e| {
        matches!(e, WatchEvent::Raft(_)).then_some(())
    });

    node1.corral(&["config", "unset", "user.x"]).ok();
    watch.wait_for("user.x unset", SOON, |e| match e {
        WatchEvent::Config { key, value: None } if key == "user.x" => Some(()),
        _ => None,
    });
}

#[test]
fn a_killed_member_goes_offline_and_comes_back_online() {
    let mut cluster = Cluster::form(3);
    cluster[0]
        .corral(&["config", "set", "cluster.offline_threshold", "11"])
        .ok();
    let mut watch = Watch::unix(&cluster[0].socket());
    let snapshot = first_snapshot(&mut watch);
    assert_eq!(names(&snapshot), ["node1", "node2", "node3"]);
    assert_eq!((snapshot.raft.voters, snapshot.raft.quorum), (3, 2));
    // Heartbeats keep arriving while everyone is up.
    watch.wait_for("a heartbeat from node3", SOON, |e| match e {
        WatchEvent::Heartbeat { name, .. } if name == "node3" => Some(()),
        _ => None,
    });

    cluster[2].kill();
    watch.wait_for(
        "node3 to be reported offline",
        Duration::from_secs(30),
        |e| (status_of(e, "node3") == Some(MemberStatus::Offline)).then_some(()),
    );

    cluster[2].restart();
    watch.wait_for(
        "node3 to be reported online again",
        Duration::from_secs(30),
        |e| (status_of(e, "node3") == Some(MemberStatus::Online)).then_some(()),
    );
}

#[test]
fn a_server_that_joins_a_cluster_sends_a_fresh_snapshot() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let node2 = Member::start("node2");
    let mut watch = Watch::unix(&node2.socket());
    let before = first_snapshot(&mut watch);
    assert_eq!(before.server_name, "none", "not clustered yet");
    assert!(before.members.is_empty(), "{before:#?}");

    node2.join_by_token(&node1);
    let after = watch.wait_for("a snapshot as node2", SOON, |e| match e {
        WatchEvent::Snapshot(s) if s.server_name == "node2" => Some(s.clone()),
        _ => None,
    });
    assert_eq!(names(&after), ["node1", "node2"]);
    assert_eq!(after.raft.leader.as_deref(), Some("node1"));

    // Still following: a write on the other member arrives through the joiner's new Raft.
    node1.corral(&["config", "set", "user.joined", "yes"]).ok();
    watch.wait_for("user.joined on node2", SOON, |e| match e {
        WatchEvent::Config { key, .. } if key == "user.joined" => Some(()),
        _ => None,
    });
}

#[test]
fn only_trusted_certificates_may_watch_over_tls() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let cluster_fp = node1.server_info()["environment"]["certificate_fingerprint"]
        .as_str()
        .expect("fingerprint")
        .to_owned();
    let client = corral_daemon::tls::Identity::generate("watcher", vec!["watcher".into()])
        .expect("identity");
    let tls = corral_shared::tls::client_config(
        &corral_shared::tls::ServerTrust::Fingerprint(cluster_fp.clone()),
        Some(&corral_shared::tls::ClientIdentity::new(
            client.cert_der(),
            client.key_der(),
        )),
        &[b"h2"],
    )
    .expect("tls")
    .config;

    let refused = Watch::tls(&node1.address, tls.clone())
        .err()
        .expect("a stranger may not watch");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    assert!(
        refused.message().contains("POST /1.0/certificates"),
        "the refusal says how to get trusted: {}",
        refused.message()
    );

    let body = serde_json::json!({
        "name": "watcher",
        "type": "client",
        "certificate": client.cert_pem(),
    })
    .to_string();
    let (status, text) = node1.raw("POST", "/1.0/certificates", Some(&body));
    // LXD answers 201 Created with a Location; either success will do for this test.
    assert!(matches!(status, 200 | 201), "{status}: {text}");
    let mut watch = Watch::tls(&node1.address, tls).expect("a trusted client may watch");
    assert_eq!(first_snapshot(&mut watch).server_name, "node1");
}

/// The first Raft event for which `pick` says something, from a watch reading until `deadline`.
fn raft_until<T>(
    watch: &mut Watch,
    what: &str,
    deadline: Duration,
    mut pick: impl FnMut(&corral_shared::api::RaftState) -> Option<T>,
) -> T {
    watch.wait_for(what, deadline, |e| match e {
        WatchEvent::Raft(raft) | WatchEvent::Snapshot(ClusterSnapshot { raft, .. }) => pick(raft),
        _ => None,
    })
}

#[test]
fn killing_the_leader_of_three_is_seen_in_raft_view_within_moments() {
    let mut cluster = Cluster::form(3);
    let mut watch = Watch::unix(&cluster[0].socket());
    let snapshot = first_snapshot(&mut watch);
    let leader = snapshot.raft.leader.clone().expect("a leader");
    // Watch from a survivor: a member that is not the leader.
    let survivor = ["node1", "node2", "node3"]
        .into_iter()
        .position(|n| n != leader)
        .expect("a follower");
    let mut watch = Watch::unix(&cluster[survivor].socket());
    first_snapshot(&mut watch);
    raft_until(&mut watch, "all three voters reachable", SOON, |r| {
        (r.voters_reachable.len() == 3 && r.voters_reachable.values().all(|up| *up)).then_some(())
    });

    let leader_index = ["node1", "node2", "node3"]
        .into_iter()
        .position(|n| n == leader)
        .expect("the leader is a member");
    cluster[leader_index].kill();
    // Raft's own view moves within about a second: an election, a leader that does not
    // answer, or a new leader seeing the old one silent. A loaded machine gets some slack.
    raft_until(
        &mut watch,
        "the watch to show the leader's loss",
        Duration::from_secs(3),
        |r| {
            (r.leader.is_none()
                || r.leader_unreachable
                || r.voters_reachable.get(&leader) == Some(&false))
            .then_some(())
        },
    );
    // And it settles on a new leader that reports the old one down: degraded, not OK.
    let settled = raft_until(
        &mut watch,
        "a new leader seeing the old one down",
        SOON,
        |r| {
            (r.leader.as_ref().is_some_and(|l| *l != leader)
                && r.voters_reachable.get(&leader) == Some(&false))
            .then(|| r.clone())
        },
    );
    assert_eq!(
        settled.voters_reachable.values().filter(|up| **up).count(),
        2,
        "{settled:?}"
    );
}

#[test]
fn a_stand_by_sees_its_only_voter_go_silent() {
    let mut cluster = Cluster::form(2);
    let mut watch = Watch::unix(&cluster[1].socket());
    let snapshot = first_snapshot(&mut watch);
    assert_eq!(
        (snapshot.raft.voters, snapshot.raft.leader.as_deref()),
        (1, Some("node1")),
        "{:?}",
        snapshot.raft
    );
    raft_until(&mut watch, "node1 reachable as seen by node2", SOON, |r| {
        (r.voters_reachable.get("node1") == Some(&true)).then_some(())
    });

    cluster[0].kill();
    // A stand-by holds no election, so it still names node1 as the leader; but node1 does
    // not answer, and the view says so.
    raft_until(
        &mut watch,
        "node2 to report its leader unreachable",
        Duration::from_secs(3),
        |r| (r.leader_unreachable && r.voters_reachable.is_empty()).then_some(()),
    );
}
