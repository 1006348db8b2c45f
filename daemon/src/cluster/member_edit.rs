//! Editing a member: its description, failure domain, configuration, groups and the roles
//! that are not automatic (`event-hub`, `ovn-chassis`); and renaming it.

use std::collections::BTreeMap;

use corral_shared::api::{ClusterMember, ClusterMemberPut, Role};

use super::{members, rebalance};
use crate::db::batch::Batch;
use crate::db::global::{certificates, member_writable, nodes};
use crate::error::{Error, Result};
use crate::instances::scheduler::{SCHEDULER_INSTANCE_KEY, SchedulerInstance};
use crate::node::Node;

fn automatic(role: &Role) -> bool {
    matches!(
        role,
        Role::Database | Role::DatabaseLeader | Role::DatabaseStandby
    )
}

/// Checks a new writable part against the member as it is (pure).
pub fn check(current: &ClusterMember, put: &ClusterMemberPut, groups: &[String]) -> Result<()> {
    for role in current.roles.iter().filter(|r| automatic(r)) {
        if !put.roles.contains(role) {
            return Err(Error::BadRequest(format!(
                "The \"{role}\" role cannot be dropped at this time"
            )));
        }
    }
    for role in put.roles.iter().filter(|r| automatic(r)) {
        if !current.roles.contains(role) {
            return Err(Error::BadRequest(format!(
                "The \"{role}\" role cannot be assigned: database roles are given automatically; only event-hub and ovn-chassis can be added"
            )));
        }
    }
    if put.groups.is_empty() {
        return Err(Error::BadRequest(
            "Cluster members need to belong to at least one group".into(),
        ));
    }
    if let Some(g) = put.groups.iter().find(|g| !groups.contains(g)) {
        return Err(Error::BadRequest(format!(
            "Cluster group \"{g}\" doesn't exist"
        )));
    }
    for (key, value) in &put.config {
        match key.as_str() {
            SCHEDULER_INSTANCE_KEY => {
                value
                    .parse::<SchedulerInstance>()
                    .map_err(|e| Error::BadRequest(e.to_string()))?;
            }
            k if k.starts_with("user.") => {}
            k => {
                return Err(Error::BadRequest(format!(
                    "Invalid member config key '{k}': members take only scheduler.instance and user.* keys"
                )));
            }
        }
    }
    Ok(())
}

/// A member as an edit read it: what its ETag was judged against, the stored writable
/// part the edit's guard holds to, and the groups it may name; all from one read.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The member, as the API shows it.
    pub member: ClusterMember,
    /// [`member_writable::stored_writable`] as it was when `member` was read.
    stored: Option<String>,
    /// The cluster groups that existed then.
    groups: Vec<String>,
}

/// Member `name` as an edit must see it: the newest, not a replica a moment behind (its
/// ETag is judged against this), with what a guarded edit holds to.
pub async fn current(node: &Node, name: &str) -> Result<Seen> {
    node.read_barrier().await?;
    // One read transaction: the member shown, its stored part and the groups are of the
    // same moment, so the guard holds to exactly what the ETag was judged on.
    let owned = name.to_owned();
    let (rows, stored, groups) = node
        .global
        .read(move |c| {
            Ok((
                members::Rows::read(c)?,
                member_writable::stored_writable(c, &owned)?,
                nodes::cluster_groups(c)?,
            ))
        })
        .await?;
    Ok(Seen {
        member: members::one_in(node, &rows, name)?,
        stored,
        groups,
    })
}

/// Replaces the writable part of member `current` (as read by the caller, after a read
/// barrier when the request's ETag is to be judged). With `guarded` (the request named an
/// ETag and it matched), the change commits only if the member is still as read; else
/// nothing changes and the answer is 412.
pub async fn update(
    node: &Node,
    seen: &Seen,
    mut put: ClusterMemberPut,
    guarded: bool,
) -> Result<()> {
    let current = &seen.member;
    let name = current.server_name.as_str();
    check(current, &put, &seen.groups)?;
    if put.failure_domain.is_empty() {
        put.failure_domain = "default".into();
    }
    let roles: Vec<&str> = put
        .roles
        .iter()
        .filter(|r| !automatic(r))
        .map(|r| r.as_str())
        .collect();
    let mut batch = Batch::new();
    if guarded {
        member_writable::unchanged_since(&mut batch, name, seen.stored.as_deref());
    }
    member_writable::replace_writable(
        &mut batch,
        name,
        &member_writable::Writable {
            description: &put.description,
            failure_domain: &put.failure_domain,
            config: &put.config,
            roles: &roles,
            groups: &put.groups,
        },
    );
    match node.propose(batch).await {
        Err(Error::Conflict(_)) if guarded => return Err(super::config::changed_since_read()),
        other => {
            other.map_err(super::groups::refusal)?;
        }
    }
    if current.failure_domain != put.failure_domain {
        // Voters are spread over failure domains: a move may call for another voter.
        let _ = rebalance::run(node).await;
    }
    Ok(())
}

/// Merges a PATCH body onto the current writable part.
pub fn merge(current: ClusterMemberPut, patch: &serde_json::Value) -> Result<ClusterMemberPut> {
    let mut value = serde_json::to_value(current).map_err(|e| Error::Internal(e.to_string()))?;
    if let (Some(base), Some(changes)) = (value.as_object_mut(), patch.as_object()) {
        for (k, v) in changes {
            if k == "config" {
                let config: BTreeMap<String, String> = serde_json::from_value(v.clone())
                    .map_err(|e| Error::BadRequest(format!("config: {e}")))?;
                let merged = base
                    .entry("config")
                    .or_insert_with(|| serde_json::json!({}));
                for (ck, cv) in config {
                    merged[ck] = cv.into();
                }
            } else {
                base.insert(k.clone(), v.clone());
            }
        }
    }
    serde_json::from_value(value).map_err(|e| Error::BadRequest(format!("invalid member: {e}")))
}

/// Renames member `old` to `new`.
pub async fn rename(node: &Node, old: &str, new: &str) -> Result<()> {
    corral_shared::config::check_member_name(new).map_err(Error::BadRequest)?;
    let all = members::list(node).await?;
    if !all.iter().any(|m| m.server_name == old) {
        return Err(Error::NotFound("Cluster member not found".into()));
    }
    if all.iter().any(|m| m.server_name == new) {
        return Err(Error::Conflict(format!(
            "A cluster member named {new:?} already exists; choose another name"
        )));
    }
    let mut batch = Batch::new();
    nodes::rename(&mut batch, old, new);
    certificates::rename_member(&mut batch, old, new);
    node.propose(batch).await?;
    if members::own_name(node).await.ok().as_deref() == Some(new) {
        node.operations.set_location(new);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_shared::api::MemberStatus;

    fn member(roles: Vec<Role>) -> ClusterMember {
        ClusterMember {
            roles,
            failure_domain: "default".into(),
            description: String::new(),
            config: BTreeMap::new(),
            groups: vec!["default".into()],
            server_name: "node1".into(),
            url: "https://127.0.0.1:8443".into(),
            database: true,
            status: MemberStatus::Online,
            message: "Fully operational".into(),
            architecture: "x86_64".into(),
        }
    }

    #[test]
    fn member_edits_keep_automatic_roles_and_known_keys() {
        let current = member(vec![Role::DatabaseLeader, Role::Database]);
        let groups = vec!["default".to_owned(), "gpu".to_owned()];
        let base = current.writable();
        let with = |f: &dyn Fn(&mut ClusterMemberPut)| {
            let mut p = base.clone();
            f(&mut p);
            p
        };
        let cases: Vec<(&str, ClusterMemberPut, Option<&str>)> = vec![
            ("unchanged", base.clone(), None),
            (
                "add event-hub",
                with(&|p| p.roles.push(Role::EventHub)),
                None,
            ),
            (
                "drop database",
                with(&|p| p.roles.retain(|r| *r != Role::Database)),
                Some("The \"database\" role cannot be dropped at this time"),
            ),
            (
                "add standby",
                with(&|p| p.roles.push(Role::DatabaseStandby)),
                Some("cannot be assigned"),
            ),
            (
                "no groups",
                with(&|p| p.groups.clear()),
                Some("Cluster members need to belong to at least one group"),
            ),
            (
                "unknown group",
                with(&|p| p.groups = vec!["nope".into()]),
                Some("doesn't exist"),
            ),
            (
                "scheduler manual",
                with(&|p| {
                    p.config
                        .insert("scheduler.instance".into(), "manual".into());
                }),
                None,
            ),
            (
                "scheduler bogus",
                with(&|p| {
                    p.config
                        .insert("scheduler.instance".into(), "sometimes".into());
                }),
                Some("Value must be one of all, manual, group"),
            ),
            (
                "user key",
                with(&|p| {
                    p.config.insert("user.rack".into(), "r1".into());
                }),
                None,
            ),
            (
                "unknown key",
                with(&|p| {
                    p.config.insert("limits.cpu".into(), "2".into());
                }),
                Some("members take only"),
            ),
        ];
        for (what, put, want) in cases {
            match (check(&current, &put, &groups), want) {
                (Ok(()), None) => {}
                (Err(e), Some(text)) => assert!(e.to_string().contains(text), "{what}: {e}"),
                (got, want) => panic!("{what}: got {got:?}, want error {want:?}"),
            }
        }
    }

    #[test]
    fn patch_merges_config_keys_and_replaces_other_fields() {
        let mut current = member(vec![Role::Database]).writable();
        current.config.insert("user.a".into(), "1".into());
        let merged = merge(
            current,
            &serde_json::json!({"config": {"user.b": "2"}, "description": "d"}),
        )
        .unwrap();
        assert_eq!(merged.config.len(), 2);
        assert_eq!(merged.description, "d");
        assert_eq!(merged.groups, vec!["default".to_owned()]);
    }
}
