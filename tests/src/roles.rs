//! Reading roles out of `corral cluster list --format json`, and waiting for them to settle.

use std::time::Duration;

use crate::member::Member;
use crate::wait::wait_until;

/// The roles a listed member holds.
pub fn roles_of(m: &serde_json::Value) -> Vec<String> {
    serde_json::from_value(m["roles"].clone()).unwrap_or_default()
}

/// How many listed members hold `role`.
pub fn count_role(members: &[serde_json::Value], role: &str) -> usize {
    members
        .iter()
        .filter(|m| roles_of(m).iter().any(|r| r == role))
        .count()
}

/// The name of the member listed as `database-leader`.
pub fn leader_name(members: &[serde_json::Value]) -> Option<String> {
    members
        .iter()
        .find(|m| roles_of(m).iter().any(|r| r == "database-leader"))
        .and_then(|m| m["server_name"].as_str().map(str::to_owned))
}

/// Waits until `member` lists `total` members, all ONLINE, with `voters` database members
/// (one of them leader) and `standbys` stand-bys.
pub fn wait_for_roles(
    member: &Member,
    total: usize,
    voters: usize,
    standbys: usize,
) -> Vec<serde_json::Value> {
    wait_until(
        &format!("{total} members with {voters} voters and {standbys} stand-bys"),
        Duration::from_secs(30),
        || {
            let members = member.members();
            let settled = members.len() == total
                && members.iter().all(|m| m["status"] == "Online")
                && count_role(&members, "database") == voters
                && count_role(&members, "database-standby") == standbys
                && count_role(&members, "database-leader") == 1;
            settled.then_some(members)
        },
    )
}
