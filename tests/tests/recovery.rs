//! Recovery when the cluster cannot fix itself: quorum lost for good, and every member
//! moved to a new address.

use std::time::Duration;

use corral_tests::{Cluster, Member, wait_for_roles, wait_until};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn config_of(member: &Member) -> serde_json::Value {
    member.server_info()["config"].clone()
}

/// The seconds and the time in "No heartbeat for [1h][2m]3.45s (<RFC 3339 time>)...".
fn heartbeat_message(message: &str) -> Option<(f64, OffsetDateTime)> {
    let rest = message.strip_prefix("No heartbeat for ")?;
    let (duration, rest) = rest.split_once(" (")?;
    let (at, _) = rest.split_once(')')?;
    let mut secs = 0.0;
    let mut number = String::new();
    for c in duration.chars() {
        match c {
            'h' | 'm' | 's' => {
                let unit = match c {
                    'h' => 3600.0,
                    'm' => 60.0,
                    _ => 1.0,
                };
                secs += number.parse::<f64>().ok()? * unit;
                number.clear();
            }
            _ => number.push(c),
        }
    }
    Some((secs, OffsetDateTime::parse(at, &Rfc3339).ok()?))
}

#[test]
fn heartbeat_messages_are_read_back() {
    let (secs, at) =
        heartbeat_message("No heartbeat for 1m2.50s (2026-11-23T18:00:00Z); left out").unwrap();
    assert_eq!(secs, 62.5);
    assert_eq!(at.unix_timestamp(), 1_795_456_800);
    assert!(heartbeat_message("No heartbeat for 0.00s ()").is_none());
}

#[test]
fn a_survivor_recovers_everything_after_losing_two_members_for_good() {
    let mut cluster = Cluster::form(3);
    wait_for_roles(&cluster[0], 3, 3, 0);
    cluster[0]
        .corral(&["config", "set", "cluster.offline_threshold", "11"])
        .ok();
    for i in 0..25 {
        let via = i % 3;
        cluster[via]
            .corral(&[
                "config",
                "set",
                &format!("user.row{i}"),
                &format!("value {i}"),
            ])
            .ok();
    }
    let before = config_of(&cluster[0]);

    cluster[1].kill();
    cluster[2].kill();
    cluster[0].kill();
    let node1 = &mut cluster[0];
    let refused = node1.corrald(&["cluster", "recover-from-quorum-loss"], None);
    assert!(refused.failed().contains("--quiet"), "{refused:?}");
    node1
        .corrald(&["cluster", "recover-from-quorum-loss", "--quiet"], None)
        .ok();
    let backups = std::fs::read_dir(node1.dir())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("db_backup."))
        .count();
    assert_eq!(backups, 1, "a backup of the database was made first");
    node1.restart();

    // Nothing was lost: every row, as it was.
    let after = config_of(node1);
    for i in 0..25 {
        let key = format!("user.row{i}");
        assert_eq!(after[&key], before[&key], "{key}");
    }
    node1
        .corral(&["config", "set", "user.after", "recovery"])
        .ok();

    // The lost members are still listed, OFFLINE, and can be removed; a new member can join.
    wait_until(
        "the lost members to show OFFLINE",
        Duration::from_secs(20),
        || {
            let m = node1.members();
            m.iter()
                .filter(|m| m["status"] == "Offline")
                .count()
                .eq(&2)
                .then_some(())
        },
    );
    // Each says when it was last heard of, as LXD does: "No heartbeat for 12.34s (<time>)".
    for m in node1.members().iter().filter(|m| m["status"] == "Offline") {
        let message = m["message"].as_str().unwrap_or_default();
        let (age, at) = heartbeat_message(message).unwrap_or_else(|| panic!("{message}"));
        let since = OffsetDateTime::now_utc() - at;
        assert!(age > 0.0, "{message}");
        assert!(
            (since.as_seconds_f64() - age).abs() < 10.0,
            "{message}: its heartbeat was {since} ago"
        );
        assert!(message.contains("recover-from-quorum-loss"), "{message}");
    }
    for name in ["node2", "node3"] {
        let (status, body) = node1.raw(
            "DELETE",
            &format!("/1.0/cluster/members/{name}?force=1"),
            None,
        );
        assert_eq!(status, 200, "{body}");
    }
    let node4 = Member::start("node4");
    node4.join_by_token(node1);
    wait_for_roles(node1, 2, 1, 1);
}

#[test]
fn recovery_tools_refuse_to_touch_a_running_member() {
    let cluster = Cluster::form(1);
    for args in [
        vec!["cluster", "recover-from-quorum-loss", "--quiet"],
        vec!["cluster", "show"],
        vec!["cluster", "edit"],
    ] {
        let out = cluster[0].corrald(&args, Some(""));
        assert!(out.failed().contains("is running"), "{args:?}: {out:?}");
    }
}

#[test]
fn all_members_move_to_new_addresses_with_edit() {
    let mut cluster = Cluster::form(3);
    wait_for_roles(&cluster[0], 3, 3, 0);
    cluster[1]
        .corral(&["config", "set", "user.before", "move"])
        .ok();
    for i in 0..3 {
        cluster[i].kill();
    }
    let old: Vec<String> = cluster
        .members()
        .iter()
        .map(|m| m.address.clone())
        .collect();
    let new: Vec<String> = (0..3).map(|i| cluster[i].move_to_new_address()).collect();
    for i in 0..3 {
        let mut yaml = cluster[i]
            .corrald(&["cluster", "show"], None)
            .ok()
            .to_owned();
        assert!(yaml.contains("role: voter"), "{yaml}");
        for (o, n) in old.iter().zip(&new) {
            yaml = yaml.replace(o, n);
        }
        cluster[i].corrald(&["cluster", "edit"], Some(&yaml)).ok();
        // A bad edit is refused and changes nothing.
        let broken = yaml.replace("role: voter", "role: spare");
        let out = cluster[i].corrald(&["cluster", "edit"], Some(&broken));
        assert!(out.failed().contains("at least 2 voter"), "{out:?}");
    }
    for i in 0..3 {
        cluster[i].spawn();
    }
    for i in 0..3 {
        cluster[i].wait_ready();
    }
    let members = wait_for_roles(&cluster[0], 3, 3, 0);
    for (m, address) in members.iter().zip(&new) {
        assert_eq!(m["url"], format!("https://{address}"), "{m}");
    }
    wait_until(
        "node3 to have the write made before the move",
        Duration::from_secs(10),
        || {
            (cluster[2]
                .corral(&["config", "get", "user.before"])
                .ok()
                .trim()
                == "move")
                .then_some(())
        },
    );
    cluster[2]
        .corral(&["config", "set", "user.after", "move"])
        .ok();
}

#[test]
fn remove_raft_node_cleans_up_a_member_that_left_uncleanly() {
    let mut cluster = Cluster::form(4);
    wait_for_roles(&cluster[0], 4, 3, 1);
    // node4 vanishes from the member list without leaving Raft (as after a crash mid-removal).
    let gone = cluster[3].address.clone();
    cluster[3].kill();
    cluster[0]
        .corrald(
            &["sql", "global", "DELETE FROM nodes WHERE name = 'node4'"],
            None,
        )
        .ok();
    let raft_nodes = |m: &Member| {
        m.corrald(&["sql", "local", "SELECT address FROM raft_nodes"], None)
            .ok()
            .to_owned()
    };
    assert!(
        raft_nodes(&cluster[0]).contains(&gone),
        "still in Raft before the clean-up"
    );

    let refused = cluster[0].corrald(&["cluster", "remove-raft-node", &gone], Some(""));
    assert!(refused.failed().contains("--quiet"), "{refused:?}");
    // Run from a member that is not the leader: it is relayed there.
    cluster[1]
        .corrald(&["cluster", "remove-raft-node", &gone, "--quiet"], None)
        .ok();
    wait_until(
        "node4 out of the Raft configuration",
        Duration::from_secs(10),
        || (!raft_nodes(&cluster[0]).contains(&gone)).then_some(()),
    );
    // A live member's address is refused: that is what 'corral cluster remove' is for.
    let live = cluster[2].address.clone();
    let out = cluster[0].corrald(&["cluster", "remove-raft-node", &live, "--quiet"], None);
    assert!(
        out.failed().contains("corral cluster remove node3"),
        "{out:?}"
    );
    cluster[1]
        .corral(&["config", "set", "user.after", "cleanup"])
        .ok();
}
