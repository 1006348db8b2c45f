//! Bootstrapping a one-member cluster from a preseed, and finding it unchanged after a
//! clean restart and after a crash.

use corral_tests::Member;

fn assert_single_online_leader(member: &Member) {
    let members = member.members();
    assert_eq!(members.len(), 1, "{members:#?}");
    let m = &members[0];
    assert_eq!(m["server_name"], member.name.as_str());
    assert_eq!(m["status"], "Online");
    assert_eq!(m["message"], "Fully operational");
    assert_eq!(
        m["roles"],
        serde_json::json!(["database-leader", "database"])
    );
    assert_eq!(m["database"], true);
    assert_eq!(m["url"], format!("https://{}", member.address));
}

#[test]
fn a_preseed_bootstraps_a_one_member_cluster_with_the_leader_role() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    assert_single_online_leader(&node1);

    let table = node1.corral(&["cluster", "list"]);
    let table = table.ok();
    assert!(table.contains("| database-leader |"), "{table}");
    assert!(table.contains("| ONLINE |"), "{table}");

    let config = node1.corral(&["config", "show"]);
    let config = config.ok();
    assert!(
        config.contains(&format!("core.https_address: {}", node1.address)),
        "{config}"
    );
    // The trust password is stored hashed and only ever shown as set.
    assert!(config.contains("core.trust_password: true"), "{config}");
    assert!(!config.contains("sekret"), "{config}");
}

#[test]
fn a_bootstrapped_member_keeps_its_state_across_a_clean_restart_and_a_crash() {
    let mut node1 = Member::start("node1");
    node1.bootstrap();
    node1
        .corral(&["config", "set", "user.planet", "earth"])
        .ok();

    node1.shutdown();
    node1.restart();
    assert_single_online_leader(&node1);
    assert_eq!(
        node1.corral(&["config", "get", "user.planet"]).ok().trim(),
        "earth"
    );

    node1.kill();
    node1.restart();
    assert_single_online_leader(&node1);
    assert_eq!(
        node1.corral(&["config", "get", "user.planet"]).ok().trim(),
        "earth"
    );
}

#[test]
fn bootstrapping_twice_is_refused_and_changes_nothing() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let again = node1.corrald(&["init", "--preseed"], Some(&node1.bootstrap_preseed()));
    let err = again.failed();
    assert!(
        err.contains("already exists") || err.contains("already clustered"),
        "{err}"
    );
    assert_single_online_leader(&node1);
}

#[test]
fn a_second_daemon_on_the_same_directory_is_refused() {
    let node1 = Member::start("node1");
    let out = std::process::Command::new(corral_tests::corrald_bin())
        .env("CORRAL_DIR", node1.dir())
        .output()
        .expect("corrald runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another corrald is already running"), "{err}");
}
