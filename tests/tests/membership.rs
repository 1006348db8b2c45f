//! Managing members: show, edit with ETags, rename, remove, force-remove and rejoin.

use std::time::Duration;

use corral_tests::{Cluster, Member, wait_until};

fn is_clustered(member: &Member) -> bool {
    let cluster: serde_json::Value =
        serde_json::from_str(member.corral(&["query", "/1.0/cluster"]).ok()).expect("JSON");
    cluster["enabled"] == true
}

#[test]
fn a_removed_member_leaves_and_can_join_again() {
    let mut cluster = Cluster::form(3);
    cluster[0]
        .corral(&["query", "-X", "DELETE", "/1.0/cluster/members/node3"])
        .ok();
    assert_eq!(cluster[0].members().len(), 2);
    assert!(
        !is_clustered(&cluster[2]),
        "node3 went back to being standalone"
    );
    // Its server certificate is no longer trusted.
    let certs: serde_json::Value = serde_json::from_str(
        cluster[0]
            .corral(&["query", "/1.0/certificates?recursion=1"])
            .ok(),
    )
    .expect("JSON");
    assert!(
        !certs
            .as_array()
            .expect("list")
            .iter()
            .any(|c| c["name"] == "node3"),
        "{certs}"
    );

    let node1 = cluster.take(0);
    let node3 = cluster.take(1);
    node3.join_by_token(&node1);
    wait_until("node3 back and ONLINE", Duration::from_secs(20), || {
        let m = node1.members();
        (m.len() == 3 && m.iter().all(|m| m["status"] == "Online")).then_some(())
    });
}

#[test]
fn a_dead_member_is_force_removed_and_the_last_member_is_kept() {
    let mut cluster = Cluster::form(3);
    cluster[2].kill();
    let (status, body) = cluster[0].raw("DELETE", "/1.0/cluster/members/node3?force=1", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(cluster[0].members().len(), 2);
    // Writes still work with the two members left.
    cluster[1]
        .corral(&["config", "set", "user.after", "removal"])
        .ok();

    cluster[0].raw("DELETE", "/1.0/cluster/members/node2", None);
    let (status, body) = cluster[0].raw("DELETE", "/1.0/cluster/members/node1", None);
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("Member is the only member in the cluster"),
        "{body}"
    );
    let (status, body) = cluster[0].raw("DELETE", "/1.0/cluster/members/nope", None);
    assert_eq!(status, 404, "{body}");
}

#[test]
fn members_are_edited_with_etags_and_renamed() {
    let cluster = Cluster::form(2);
    let node1 = &cluster[0];
    let etag = node1.etag("/1.0/cluster/members/node2").expect("an ETag");
    let change = serde_json::json!({"failure_domain": "az2", "description": "rack 2", "config": {"user.rack": "2"}});
    assert_eq!(
        node1.request_if_match("PATCH", "/1.0/cluster/members/node2", &change, &etag),
        200
    );
    assert_eq!(
        node1.request_if_match("PATCH", "/1.0/cluster/members/node2", &change, &etag),
        412
    );
    let m = node1.member("node2");
    assert_eq!(m["failure_domain"], "az2");
    assert_eq!(m["config"]["user.rack"], "2");

    let (status, body) = node1.raw(
        "PATCH",
        "/1.0/cluster/members/node2",
        Some(r#"{"groups": []}"#),
    );
    assert_eq!(status, 400);
    assert!(
        body.contains("Cluster members need to belong to at least one group"),
        "{body}"
    );

    let (status, body) = node1.raw(
        "POST",
        "/1.0/cluster/members/node2",
        Some(r#"{"server_name": "node1"}"#),
    );
    assert_eq!(status, 409, "{body}");
    let (status, body) = node1.raw(
        "POST",
        "/1.0/cluster/members/node2",
        Some(r#"{"server_name": "second"}"#),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(node1.member("second")["failure_domain"], "az2");
}

/// `corral cluster add` refuses a member's name, as LXD does, and a name against the rule
/// (as `rename` does), naming the value and the rule; a second token for a new name
/// replaces the first, as LXD's does.
#[test]
fn tokens_and_renames_refuse_taken_and_invalid_names() {
    let cluster = Cluster::form(2);
    let node1 = &cluster[0];
    let err = node1
        .corral(&["cluster", "add", "node2"])
        .failed()
        .to_owned();
    assert!(
        err.contains("The cluster already has a member with name: node2"),
        "{err}"
    );
    let tokens = node1.corral(&["cluster", "list-tokens", "--format", "csv"]);
    assert!(!tokens.ok().contains("node2"), "no token was issued");

    for args in [
        vec!["cluster", "add", "bad name"],
        vec!["cluster", "rename", "node2", "bad name"],
    ] {
        let err = node1.corral(&args).failed().to_owned();
        assert!(
            err.contains("Invalid member name \"bad name\": a member name starts with a letter"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("name name"), "{err}");
    }
    assert_eq!(node1.member("node2")["server_name"], "node2");

    let first = node1.token_for("node9");
    let second = node1.token_for("node9");
    assert_ne!(first, second);
    let listed = node1.corral(&["cluster", "list-tokens", "--format", "csv"]);
    let lines: Vec<&str> = listed
        .ok()
        .lines()
        .filter(|l| l.starts_with("node9,"))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(&second),
        "the later token is the one kept"
    );
}
