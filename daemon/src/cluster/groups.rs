//! Cluster groups: named sets of members that instances target with `--target @GROUP`.
//! LXD's rules: the `default` group always exists and cannot be renamed or deleted, every
//! member belongs to at least one group (new members join `default`), and a group that
//! holds members or that instances were placed through cannot be deleted.

use corral_shared::api::{ClusterGroup, ClusterGroupPut, ClusterGroupsPost};

use crate::db::batch::Batch;
use crate::db::global::groups::{self, DEFAULT_GROUP, GroupRow};
use crate::db::global::queries;
use crate::error::{Error, Result};
use crate::node::{Node, Read};

/// The refusal of a change that would leave a member in no group (LXD's text).
pub const MEMBER_NEEDS_A_GROUP: &str = "Cluster members need to belong to at least one group";

/// Checks a group name: what `--target @NAME` and comma-separated lists can carry.
pub fn check_name(name: &str) -> Result<()> {
    let refuse = |rule: &str| {
        Err(Error::BadRequest(format!(
            "Invalid cluster group name {name:?}: {rule}; use letters, digits, '-', '_' and '.'"
        )))
    };
    if name.is_empty() {
        return refuse("it is empty");
    }
    if name.len() > 63 {
        return refuse("it is longer than 63 characters");
    }
    if name == "." || name == ".." {
        return refuse("it cannot be '.' or '..'");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)))
    {
        return refuse(&format!("it contains {c:?}"));
    }
    Ok(())
}

/// A stored group as the API shows it.
pub fn view(row: &GroupRow) -> ClusterGroup {
    ClusterGroup {
        description: row.description.clone(),
        members: row.members.clone(),
        name: row.name.clone(),
        used_by: row
            .instances
            .iter()
            .map(|i| format!("/1.0/instances/{i}"))
            .collect(),
    }
}

fn not_found() -> Error {
    Error::NotFound("Cluster group not found".into())
}

fn find<'a>(all: &'a [GroupRow], name: &str) -> Result<&'a GroupRow> {
    all.iter().find(|g| g.name == name).ok_or_else(not_found)
}

fn not_clustered(node: &Node) -> Result<()> {
    if node.is_clustered() {
        Ok(())
    } else {
        Err(Error::BadRequest(
            "This server is not clustered; cluster groups exist only in a cluster".into(),
        ))
    }
}

/// Every group, as of now (marked when no leader could confirm the read).
pub async fn list(node: &Node) -> Result<Read<Vec<ClusterGroup>>> {
    not_clustered(node)?;
    let read = node.read_current(groups::groups).await?;
    Ok(read.map(|rows| rows.iter().map(view).collect()))
}

/// One group by name, as [`list`] reads.
pub async fn get(node: &Node, name: &str) -> Result<Read<Result<ClusterGroup>>> {
    let name = name.to_owned();
    Ok(list(node).await?.map(|all| {
        all.into_iter()
            .find(|g| g.name == name)
            .ok_or_else(not_found)
    }))
}

/// Groups and member names as of now, for a decision.
async fn current(node: &Node) -> Result<(Vec<GroupRow>, Vec<queries::MemberRow>)> {
    not_clustered(node)?;
    node.read_barrier().await?;
    Ok(node
        .global
        .read(|c| Ok((groups::groups(c)?, queries::members(c)?)))
        .await?)
}

fn check_members_exist(members: &[queries::MemberRow], names: &[String]) -> Result<()> {
    match names
        .iter()
        .find(|n| !members.iter().any(|m| &m.name == *n))
    {
        Some(n) => Err(Error::NotFound(format!(
            "Cluster member {n:?} not found; 'corral cluster list' shows the members"
        ))),
        None => Ok(()),
    }
}

/// Proposes a change to memberships, refused as a whole if it would leave a member in no
/// group (a concurrent change may have taken another group away since it was checked).
async fn propose_memberships(node: &Node, mut batch: Batch, members: &[String]) -> Result<()> {
    groups::guard_grouped(&mut batch, members);
    node.propose(batch).await.map(drop).map_err(refusal)
}

/// `POST /1.0/cluster/groups`: a new group, with the members named (who keep their other
/// groups).
pub async fn create(node: &Node, post: &ClusterGroupsPost) -> Result<()> {
    check_name(&post.name)?;
    let (all, members) = current(node).await?;
    if all.iter().any(|g| g.name == post.name) {
        return Err(Error::Conflict(format!(
            "Cluster group {:?} already exists",
            post.name
        )));
    }
    check_members_exist(&members, &post.members)?;
    let mut batch = Batch::new();
    groups::create(&mut batch, &post.name, &post.description, &post.members);
    node.propose(batch).await.map(drop).map_err(|e| match e {
        // Created by someone else between the read and the write.
        Error::Conflict(m) if m.contains("UNIQUE") => {
            Error::Conflict(format!("Cluster group {:?} already exists", post.name))
        }
        e => e,
    })
}

/// The member a group change would leave without any group, if any (pure).
pub fn orphaned<'a>(
    group: &'a GroupRow,
    new_members: &[String],
    members: &[queries::MemberRow],
) -> Option<&'a str> {
    group
        .members
        .iter()
        .filter(|m| !new_members.contains(m))
        .find(|m| {
            members
                .iter()
                .find(|row| &row.name == *m)
                .is_some_and(|row| row.groups.len() <= 1)
        })
        .map(String::as_str)
}

/// `PUT /1.0/cluster/groups/NAME`: its description and members replaced. `etag`, when
/// given, must be the group's current one.
pub async fn update(
    node: &Node,
    name: &str,
    put: &ClusterGroupPut,
    etag: Option<&str>,
) -> Result<()> {
    let (all, members) = current(node).await?;
    let group = find(&all, name)?;
    if let Some(tag) = etag {
        check_etag(&view(group), tag)?;
    }
    check_members_exist(&members, &put.members)?;
    if let Some(member) = orphaned(group, &put.members, &members) {
        return Err(Error::BadRequest(format!(
            "Cannot remove {member:?} from group as member needs to belong to at least one group"
        )));
    }
    let mut batch = Batch::new();
    groups::set_description(&mut batch, name, &put.description);
    let gone: Vec<String> = group
        .members
        .iter()
        .filter(|m| !put.members.contains(m))
        .cloned()
        .collect();
    for member in &gone {
        groups::remove_member(&mut batch, name, member);
    }
    for new in put.members.iter().filter(|m| !group.members.contains(m)) {
        groups::add_member(&mut batch, name, new);
    }
    propose_memberships(node, batch, &gone).await
}

/// The group's current ETag must be `given` (the If-Match a client sent).
fn check_etag(group: &ClusterGroup, given: &str) -> Result<()> {
    if corral_shared::api::etag_of(&group.writable()) == given {
        Ok(())
    } else {
        Err(Error::PreconditionFailed(
            "ETag doesn't match: the cluster group changed since you read it; read it again and retry"
                .into(),
        ))
    }
}

/// Merges a PATCH body onto the group's writable part: fields absent keep their value.
pub fn merge(current: ClusterGroupPut, patch: &serde_json::Value) -> Result<ClusterGroupPut> {
    let mut value = serde_json::to_value(current).map_err(|e| Error::Internal(e.to_string()))?;
    if let (Some(base), Some(changes)) = (value.as_object_mut(), patch.as_object()) {
        for (k, v) in changes {
            base.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(value)
        .map_err(|e| Error::BadRequest(format!("invalid cluster group: {e}")))
}

/// The current writable part of group `name` and its ETag (for PATCH).
pub async fn writable(node: &Node, name: &str) -> Result<(ClusterGroupPut, String)> {
    let (all, _) = current(node).await?;
    let group = view(find(&all, name)?);
    let etag = corral_shared::api::etag_of(&group.writable());
    Ok((group.writable(), etag))
}

/// `POST /1.0/cluster/groups/NAME`: renamed.
pub async fn rename(node: &Node, old: &str, new: &str) -> Result<()> {
    if old == DEFAULT_GROUP {
        return Err(Error::Forbidden(
            "The 'default' cluster group cannot be renamed".into(),
        ));
    }
    check_name(new)?;
    let (all, _) = current(node).await?;
    let group = find(&all, old)?;
    if all.iter().any(|g| g.name == new) {
        return Err(Error::Conflict(format!("Name {new:?} already in use")));
    }
    if !group.instances.is_empty() {
        return Err(in_use(group));
    }
    let mut batch = Batch::new();
    groups::rename(&mut batch, old, new);
    node.propose(batch).await.map(drop)
}

fn in_use(group: &GroupRow) -> Error {
    Error::BadRequest(format!(
        "Cluster group is currently in use (instances placed through it: {}); delete or move them first",
        group.instances.join(", ")
    ))
}

/// `DELETE /1.0/cluster/groups/NAME`: only an empty group no instance was placed through.
pub async fn delete(node: &Node, name: &str) -> Result<()> {
    if name == DEFAULT_GROUP {
        return Err(Error::Forbidden(
            "The 'default' cluster group cannot be deleted".into(),
        ));
    }
    let (all, _) = current(node).await?;
    let group = find(&all, name)?;
    refuse_delete(group)?;
    let mut batch = Batch::new();
    groups::delete_if_unused(&mut batch, name);
    let outcome = node.propose(batch).await?;
    if outcome.rows_affected.first().copied().unwrap_or(0) == 0 {
        // A member joined it, or an instance was placed through it, since it was read.
        let (all, _) = current(node).await?;
        return match all.iter().find(|g| g.name == name) {
            Some(group) => refuse_delete(group),
            None => Ok(()),
        };
    }
    Ok(())
}

/// Why group `group` cannot be deleted now, if it cannot (LXD's texts).
pub fn refuse_delete(group: &GroupRow) -> Result<()> {
    if !group.members.is_empty() {
        return Err(Error::BadRequest(
            "Only empty cluster groups can be removed".into(),
        ));
    }
    if !group.instances.is_empty() {
        return Err(in_use(group));
    }
    Ok(())
}

/// Whether a refused write is the guard's: a member would have been left in no group.
pub fn refusal(e: Error) -> Error {
    match e {
        Error::Conflict(m) if m.contains(groups::UNGROUPED_MEMBER) => {
            Error::BadRequest(MEMBER_NEEDS_A_GROUP.into())
        }
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::global::queries::MemberRow;

    fn row(name: &str, members: &[&str], instances: &[&str]) -> GroupRow {
        GroupRow {
            name: name.into(),
            description: String::new(),
            members: members.iter().map(|m| (*m).to_owned()).collect(),
            instances: instances.iter().map(|m| (*m).to_owned()).collect(),
        }
    }

    fn member(id: u64, groups: &[&str]) -> MemberRow {
        MemberRow {
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            ..MemberRow::sample(id)
        }
    }

    #[test]
    fn names_are_checked_with_the_rule_named() {
        let cases = [
            ("gpu", None),
            ("rack-1.a_b", None),
            ("", Some("it is empty")),
            ("@gpu", Some("it contains '@'")),
            ("a,b", Some("it contains ','")),
            ("a b", Some("it contains ' '")),
            ("a/b", Some("it contains '/'")),
            ("..", Some("'.' or '..'")),
        ];
        for (name, want) in cases {
            match (check_name(name), want) {
                (Ok(()), None) => {}
                (Err(e), Some(rule)) => {
                    let text = e.to_string();
                    assert!(
                        text.contains(rule) && text.contains(&format!("{name:?}")),
                        "{text}"
                    );
                }
                (got, want) => panic!("{name:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn deleting_follows_lxd_rules() {
        let cases = [
            (row("gpu", &[], &[]), Ok(())),
            (
                row("gpu", &["node1"], &[]),
                Err("Only empty cluster groups can be removed".to_owned()),
            ),
            (
                row("gpu", &[], &["c3"]),
                Err("Cluster group is currently in use (instances placed through it: c3); delete or move them first".to_owned()),
            ),
        ];
        for (group, want) in cases {
            assert_eq!(
                refuse_delete(&group).map_err(|e| e.to_string()),
                want,
                "{group:?}"
            );
        }
    }

    #[test]
    fn a_member_is_never_left_without_a_group() {
        let members = [
            member(1, &["gpu"]),
            member(2, &["default", "gpu"]),
            member(3, &["default"]),
        ];
        let gpu = row("gpu", &["node1", "node2"], &[]);
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let cases = [
            (names(&["node1", "node2"]), None),
            (names(&["node1"]), None),
            (names(&["node1", "node3"]), None),
            (names(&["node2"]), Some("node1")),
            (names(&[]), Some("node1")),
        ];
        for (new, want) in cases {
            assert_eq!(orphaned(&gpu, &new, &members), want, "{new:?}");
        }
    }

    #[test]
    fn patch_keeps_what_it_does_not_name() {
        let current = ClusterGroupPut {
            description: "old".into(),
            members: vec!["node1".into()],
        };
        let merged = merge(current, &serde_json::json!({"description": "new"})).unwrap();
        assert_eq!(
            (merged.description.as_str(), merged.members),
            ("new", vec!["node1".to_owned()])
        );
    }
}
