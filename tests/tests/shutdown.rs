//! Graceful shutdown: a leaving member hands over leadership and its role first, so
//! stopping members one by one never loses quorum.

use std::time::Instant;

use corral_tests::{Cluster, leader_name, wait_for_roles};

#[test]
fn five_members_stopped_one_by_one_never_lose_quorum() {
    let mut cluster = Cluster::form(5);
    wait_for_roles(&cluster[0], 5, 3, 2);
    for stopping in 0..4 {
        let before = cluster[4].members();
        cluster[stopping].shutdown();
        // Every write through the last member must still commit.
        let key = format!("user.after_{stopping}");
        cluster[4].corral(&["config", "set", &key, "ok"]).ok();
        let after = cluster[4].members();
        let leader = leader_name(&after).expect("a leader");
        assert_ne!(
            leader, cluster[stopping].name,
            "a stopped member still leads: {before:?}"
        );
    }
    assert_eq!(
        cluster[4]
            .corral(&["config", "get", "user.after_3"])
            .ok()
            .trim(),
        "ok"
    );
}

#[test]
fn a_stopped_member_comes_back_and_takes_a_role_again() {
    let mut cluster = Cluster::form(3);
    wait_for_roles(&cluster[0], 3, 3, 0);
    cluster[1].shutdown();
    cluster[1].restart();
    wait_for_roles(&cluster[0], 3, 3, 0);
}

/// The whole cluster stopped, then started again one member at a time: the first one back
/// cannot record that it runs (no quorum yet) and keeps trying, so once the others are up it
/// is no longer marked as stopping and takes its voter role again.
#[test]
fn a_cluster_restarted_member_by_member_heals() {
    let mut cluster = Cluster::form(3);
    wait_for_roles(&cluster[0], 3, 3, 0);
    for i in 0..3 {
        cluster[i].shutdown();
    }
    cluster[1].spawn();
    cluster[1].wait_log("could not announce this member");
    cluster[0].spawn();
    cluster[2].spawn();
    for i in 0..3 {
        cluster[i].wait_ready();
    }
    wait_for_roles(&cluster[0], 3, 3, 0);
}

/// Every member stopped at once (a power cut announced, say) and started again together:
/// handovers interrupted half-way must not cost any member its place in the database.
#[test]
fn a_cluster_stopped_all_at_once_comes_back_whole() {
    let mut cluster = Cluster::form(3);
    wait_for_roles(&cluster[0], 3, 3, 0);
    std::thread::scope(|s| {
        for m in cluster.members_mut() {
            // Stopped together, some cannot hand over (and say so): they stop all the same.
            s.spawn(move || m.stop());
        }
    });
    for i in 0..3 {
        cluster[i].spawn();
    }
    for i in 0..3 {
        cluster[i].wait_ready();
    }
    for i in 0..3 {
        wait_for_roles(&cluster[i], 3, 3, 0);
    }
}

/// Without quorum, `corrald shutdown` says what it waits for as it starts waiting, stops the
/// daemon all the same, and fails saying the handover did not happen and what that means.
#[test]
fn a_stop_without_quorum_says_what_it_waited_for_and_fails() {
    let mut cluster = Cluster::form(3);
    wait_for_roles(&cluster[0], 3, 3, 0);
    cluster[1].kill();
    cluster[2].kill();
    let started = Instant::now();
    let out = cluster[0].stop();
    let err = out.failed();
    assert!(
        err.starts_with("Before stopping, corrald records that this member is stopping"),
        "{err}"
    );
    assert!(
        err.contains("this needs a quorum of the database's voters (waiting at most 15s)"),
        "{err}"
    );
    assert!(
        err.contains("corrald stopped without handing over: "),
        "{err}"
    );
    assert!(
        err.contains("What this means: this member still holds a vote"),
        "{err}"
    );
    assert!(!cluster[0].is_running(), "the daemon stopped all the same");
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
}
