//! Forming a cluster: joining by token and by trust password, the roles members get as the
//! cluster grows, and every way a join is refused.

use std::time::Duration;

use corral_tests::{Cluster, Member, roles_of, wait_for_roles, wait_until};

#[test]
fn three_members_join_by_token_and_by_password() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let node2 = Member::start("node2");
    node2.join_by_token(&node1);
    let node3 = Member::start("node3");
    node3.join_by_password(&node1);

    let members = wait_for_roles(&node1, 3, 3, 0);
    for m in &members {
        assert_eq!(m["message"], "Fully operational", "{m}");
    }
    // Every member tells the same story, and presents the same certificate.
    let seen_from_3 = wait_for_roles(&node3, 3, 3, 0);
    let names = |ms: &[serde_json::Value]| {
        ms.iter()
            .map(|m| m["server_name"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&members), names(&seen_from_3));
    let fp = |m: &Member| m.server_info()["environment"]["certificate_fingerprint"].clone();
    assert_eq!(fp(&node1), fp(&node2));
    assert_eq!(fp(&node1), fp(&node3));

    // A write through any member is seen by all.
    node3.corral(&["config", "set", "user.from", "node3"]).ok();
    wait_until(
        "node2 to see node3's write",
        Duration::from_secs(10),
        || (node2.corral(&["config", "get", "user.from"]).ok().trim() == "node3").then_some(()),
    );
}

#[test]
fn roles_follow_the_size_of_the_cluster() {
    let mut cluster = Cluster::form(2);
    let members = wait_for_roles(&cluster[0], 2, 1, 1);
    assert_eq!(
        roles_of(&cluster[0].member("node1")),
        ["database-leader", "database"]
    );
    assert_eq!(
        roles_of(&cluster[0].member("node2")),
        ["database-standby"],
        "{members:?}"
    );

    cluster.add("node3");
    wait_for_roles(&cluster[0], 3, 3, 0);
    cluster.add("node4");
    cluster.add("node5");
    wait_for_roles(&cluster[0], 5, 3, 2);
    cluster.add("node6");
    let members = wait_for_roles(&cluster[0], 6, 3, 2);
    let sixth = members
        .iter()
        .find(|m| m["server_name"] == "node6")
        .expect("node6");
    assert!(roles_of(sixth).is_empty(), "{sixth}");
    assert_eq!(sixth["database"], false);
    assert_eq!(sixth["status"], "Online");
}

#[test]
fn changing_max_standby_rebalances_at_once() {
    let cluster = Cluster::form(5);
    wait_for_roles(&cluster[0], 5, 3, 2);
    cluster[0]
        .corral(&["config", "set", "cluster.max_standby", "1"])
        .ok();
    wait_for_roles(&cluster[0], 5, 3, 1);
    cluster[0]
        .corral(&["config", "set", "cluster.max_voters", "5"])
        .ok();
    wait_for_roles(&cluster[0], 5, 5, 0);
}

#[test]
fn tokens_are_single_use_revocable_expiring_and_tamper_proof() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let node2 = Member::start("node2");
    let token = node1.token_for("node2");
    node2.init(&node2.token_preseed(&node1, &token)).ok();

    // Reused: a second server presenting the same token (for the same name).
    let other = Member::start("node2");
    let err = other
        .init(&other.token_preseed(&node1, &token))
        .failed()
        .to_owned();
    assert!(
        err.contains("No matching cluster join operation found"),
        "{err}"
    );

    // Revoked.
    let node3 = Member::start("node3");
    let token = node1.token_for("node3");
    let ops: serde_json::Value =
        serde_json::from_str(node1.corral(&["query", "/1.0/operations?recursion=1"]).ok())
            .expect("JSON");
    let id = ops["running"]
        .as_array()
        .and_then(|ops| ops.iter().find(|o| o["metadata"]["serverName"] == "node3"))
        .and_then(|o| o["id"].as_str())
        .expect("the token is listed as a running operation")
        .to_owned();
    node1
        .corral(&["query", "-X", "DELETE", &format!("/1.0/operations/{id}")])
        .ok();
    let err = node3
        .init(&node3.token_preseed(&node1, &token))
        .failed()
        .to_owned();
    assert!(
        err.contains("No matching cluster join operation found"),
        "{err}"
    );

    // Tampered: a flipped secret.
    let mut forged =
        corral_shared::preseed::JoinToken::decode(&node1.token_for("node3")).expect("decodes");
    forged.secret = forged.secret.chars().rev().collect();
    let err = node3
        .init(&node3.token_preseed(&node1, &forged.encode()))
        .failed()
        .to_owned();
    assert!(
        err.contains("No matching cluster join operation found"),
        "{err}"
    );

    // Wrong name: a token for node3 used by a server that calls itself node4.
    let token = node1.token_for("node3");
    let preseed = node3
        .token_preseed(&node1, &token)
        .replace("cluster:\n", "cluster:\n  server_name: node4\n");
    let err = node3.init(&preseed).failed().to_owned();
    assert!(
        err.contains("the join token was issued for \"node3\""),
        "{err}"
    );

    // Expired (and burned even so).
    node1
        .corral(&["config", "set", "cluster.join_token_expiry", "1S"])
        .ok();
    let token = node1.token_for("node3");
    let expires = corral_shared::preseed::JoinToken::decode(&token)
        .expect("decodes")
        .expires_at;
    let expires =
        time::OffsetDateTime::parse(&expires, &time::format_description::well_known::Rfc3339)
            .expect("RFC 3339");
    wait_until("the token to expire", Duration::from_secs(10), || {
        (time::OffsetDateTime::now_utc() > expires).then_some(())
    });
    let err = node3
        .init(&node3.token_preseed(&node1, &token))
        .failed()
        .to_owned();
    assert!(err.contains("Token has expired"), "{err}");
    let err = node3
        .init(&node3.token_preseed(&node1, &token))
        .failed()
        .to_owned();
    assert!(
        err.contains("No matching cluster join operation found"),
        "burned: {err}"
    );

    // None of this changed the cluster, and node3 is still a standalone server.
    assert_eq!(node1.members().len(), 2);
    let cluster: serde_json::Value =
        serde_json::from_str(node3.corral(&["query", "/1.0/cluster"]).ok()).expect("JSON");
    assert_eq!(cluster["enabled"], false);
}

#[test]
fn tokens_for_the_reserved_name_are_refused() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let (status, body) = node1.raw(
        "POST",
        "/1.0/cluster/members",
        Some(r#"{"server_name": "none"}"#),
    );
    assert_eq!(status, 400, "{body}");
}

#[test]
fn a_wrong_cluster_certificate_stops_the_join() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let stranger = Member::start("elsewhere");
    stranger.bootstrap();
    let node2 = Member::start("node2");
    // The certificate of another cluster, with node1's address.
    let preseed = node2
        .password_preseed(&stranger, "sekret")
        .replace(&stranger.address, &node1.address);
    let err = node2.init(&preseed).failed().to_owned();
    assert!(err.contains("Certificate fingerprint mismatch"), "{err}");
    assert_eq!(node1.members().len(), 1);
}

#[test]
fn a_wrong_trust_password_is_not_authorized() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let node2 = Member::start("node2");
    let err = node2
        .init(&node2.password_preseed(&node1, "wrong"))
        .failed()
        .to_owned();
    assert!(err.contains("not authorized"), "{err}");
    assert_eq!(node1.members().len(), 1);
}

#[test]
fn a_join_under_a_name_in_use_is_refused_and_leaves_nothing_behind() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let impostor = Member::start("node1");
    let err = impostor
        .init(&impostor.password_preseed(&node1, "sekret"))
        .failed()
        .to_owned();
    assert!(
        err.contains("already has a member with name: node1"),
        "{err}"
    );
    assert_eq!(node1.members().len(), 1);
    let cluster: serde_json::Value =
        serde_json::from_str(impostor.corral(&["query", "/1.0/cluster"]).ok()).expect("JSON");
    assert_eq!(
        cluster["enabled"], false,
        "the refused joiner stays standalone"
    );
}

#[test]
fn member_config_answers_are_required_by_name() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let node2 = Member::start("node2");
    let token = node1.token_for("node2");
    let without = format!(
        "cluster:\n  enabled: true\n  server_address: {}\n  cluster_token: {token}\n",
        node2.address
    );
    let err = node2.init(&without).failed().to_owned();
    assert!(
        err.contains("missing an answer for storage-pool \"default\" key \"source\""),
        "{err}"
    );
}

#[test]
fn an_unreachable_address_in_the_token_is_skipped() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let node2 = Member::start("node2");
    let mut token =
        corral_shared::preseed::JoinToken::decode(&node1.token_for("node2")).expect("decodes");
    // A member that is gone, listed first: the joiner must move on to the next address.
    let gone = Member::new("gone");
    token.addresses.insert(0, gone.address.clone());
    node2
        .init(&node2.token_preseed(&node1, &token.encode()))
        .ok();
    assert_eq!(node1.members().len(), 2);
}

#[test]
fn a_clustered_server_cannot_join_another_cluster() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let other = Member::start("other");
    other.bootstrap();
    let token = node1.token_for("other");
    let err = other
        .init(&other.token_preseed(&node1, &token))
        .failed()
        .to_owned();
    assert!(err.contains("already clustered"), "{err}");
    assert_eq!(node1.members().len(), 1);
}

/// The lines of a member's log at level ERROR (colour codes ignored).
fn error_lines(log: &str) -> Vec<String> {
    let plain = |line: &str| {
        let mut out = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                // Skip an ANSI sequence: ESC '[' ... final letter.
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    log.lines()
        .map(plain)
        .filter(|l| l.split_whitespace().take(3).any(|w| w == "ERROR"))
        .collect()
}

#[test]
fn log_levels_are_told_apart_in_spite_of_colours() {
    let log = "2026-12-01T15:00:00Z \u{1b}[31mERROR\u{1b}[0m openraft::raft: rx recv error\n\
               2026-12-01T15:00:01Z  INFO corral: ERROR is a word here\n\
               2026-12-01T15:00:02Z ERROR corral: plain\n";
    assert_eq!(error_lines(log).len(), 2, "{:?}", error_lines(log));
}

/// Joining is normal operation: no member logs an error for it (a Raft instance replaced on
/// join once made openraft log "rx recv error ... channel closed").
#[test]
fn joining_logs_no_errors() {
    let mut cluster = Cluster::form(3);
    wait_for_roles(&cluster[0], 3, 3, 0);
    // A fourth member joins a cluster that already has its voters, through another member.
    let node4 = Member::start("node4");
    node4.join_by_token(&cluster[1]);
    wait_for_roles(&cluster[0], 4, 3, 1);
    cluster.add("node5");
    wait_for_roles(&cluster[0], 5, 3, 2);
    let mut members: Vec<&Member> = cluster.members().iter().collect();
    members.push(&node4);
    for m in members {
        let (name, log) = (&m.name, m.log());
        // The log is the daemon's: this proves the check below reads the right file.
        assert!(log.contains("corrald is serving"), "{name}'s log:\n{log}");
        let errors = error_lines(&log);
        assert!(
            errors.is_empty(),
            "{name} logged errors:\n{}",
            errors.join("\n")
        );
    }
}
