//! Roles after failures: a lost voter is replaced, from its own failure domain when it can be.

use std::time::Duration;

use corral_tests::{Cluster, Member, roles_of, wait_for_roles, wait_until};

fn voters(member: &Member) -> Vec<serde_json::Value> {
    member
        .members()
        .into_iter()
        .filter(|m| roles_of(m).iter().any(|r| r == "database"))
        .collect()
}

#[test]
fn four_members_a_killed_voter_is_replaced_by_the_standby() {
    let mut cluster = Cluster::form(4);
    let members = wait_for_roles(&cluster[0], 4, 3, 1);
    cluster[0]
        .corral(&["config", "set", "cluster.offline_threshold", "11"])
        .ok();
    let standby = members
        .iter()
        .find(|m| roles_of(m) == ["database-standby"])
        .and_then(|m| m["server_name"].as_str())
        .expect("a stand-by")
        .to_owned();
    // Kill a voter that is not the leader (member 1 leads: it bootstrapped).
    let victim = members
        .iter()
        .find(|m| roles_of(m) == ["database"])
        .and_then(|m| m["server_name"].as_str())
        .expect("a plain voter")
        .to_owned();
    let index = cluster
        .members()
        .iter()
        .position(|m| m.name == victim)
        .expect("ours");
    cluster[index].kill();
    wait_until(
        "the stand-by promoted and the dead voter demoted",
        Duration::from_secs(30),
        || {
            let list = cluster[0].members();
            let role = |name: &str| list.iter().find(|m| m["server_name"] == name).map(roles_of);
            (role(&standby).is_some_and(|r| r.contains(&"database".to_owned()))
                && role(&victim).is_some_and(|r| r.is_empty()))
            .then_some(())
        },
    );
}

#[test]
fn a_lost_voter_is_replaced_from_its_own_failure_domain() {
    let mut cluster = Cluster::form(6);
    wait_for_roles(&cluster[0], 6, 3, 2);
    cluster[0]
        .corral(&["config", "set", "cluster.offline_threshold", "11"])
        .ok();
    let domains = ["az1", "az1", "az2", "az2", "az3", "az3"];
    for (i, domain) in domains.iter().enumerate() {
        let path = format!("/1.0/cluster/members/node{}", i + 1);
        let body = format!(r#"{{"failure_domain": "{domain}"}}"#);
        let (status, text) = cluster[0].raw("PATCH", &path, Some(&body));
        assert_eq!(status, 200, "{text}");
    }
    // Voters spread over the three domains.
    let spread = wait_until(
        "one voter per failure domain",
        Duration::from_secs(30),
        || {
            let v = voters(&cluster[0]);
            let mut ds: Vec<String> = v
                .iter()
                .map(|m| m["failure_domain"].as_str().unwrap_or_default().to_owned())
                .collect();
            ds.sort();
            (ds == ["az1", "az2", "az3"]).then_some(v)
        },
    );
    let az2 = spread
        .iter()
        .find(|m| m["failure_domain"] == "az2")
        .and_then(|m| m["server_name"].as_str())
        .expect("the az2 voter")
        .to_owned();
    let other_az2 = if az2 == "node3" { "node4" } else { "node3" };
    let index = cluster
        .members()
        .iter()
        .position(|m| m.name == az2)
        .expect("ours");
    cluster[index].kill();
    let watcher = if index == 0 { 1 } else { 0 };
    wait_until(
        "the other az2 member to become a voter",
        Duration::from_secs(40),
        || {
            let v = voters(&cluster[watcher]);
            v.iter()
                .any(|m| m["server_name"] == other_az2)
                .then_some(())
        },
    );
}
