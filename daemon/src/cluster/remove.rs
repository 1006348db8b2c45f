//! Removing a member: out of Raft, out of the database, and (unless forced) told to leave,
//! after which it is a clean standalone server again. Then roles are rebalanced.

use std::collections::BTreeSet;
use std::sync::Arc;

use openraft::ChangeMembers;

use super::{handover, rebalance};
use crate::db::batch::Batch;
use crate::db::global::{certificates, groups, nodes, queries};
use crate::error::{Error, Result};
use crate::node::Node;
use crate::peers::{Owner, PeerError, Peers, route};

/// Whether `name` may be removed from a cluster of `count` members (pure checks).
pub fn check(count: usize, name: &str) -> Result<()> {
    if count <= 1 {
        return Err(Error::BadRequest(format!(
            "Member is the only member in the cluster; {name} cannot be removed (there would be no cluster left)"
        )));
    }
    Ok(())
}

/// The refusal of a removal without `--force` of a member that cannot be told to leave.
pub fn unreachable(name: &str, address: &str, why: &str) -> Error {
    Error::Unavailable(format!(
        "Cluster member {name} at {address} cannot be reached ({why}), so it cannot be told to \
         leave; nothing was changed. If {name} is only down, start it again and retry; if it is \
         gone for good, remove it with --force ('corral cluster remove --force {name}')"
    ))
}

/// Refuses to remove a member that holds instances (LXD's text, then what to do).
pub fn check_empty(name: &str, instances: &[String]) -> Result<()> {
    if instances.is_empty() {
        return Ok(());
    }
    Err(Error::BadRequest(format!(
        "Node still has the following instances: {}; move them to another member \
         ('corral cluster evacuate {name}') or delete them first, or remove {name} with --force, \
         which deletes them from the cluster",
        instances.join(", ")
    )))
}

/// The member `name`, if it exists and may be removed now (without `force`, only if it
/// holds no instances).
async fn removable(node: &Arc<Node>, name: &str, force: bool) -> Result<queries::MemberRow> {
    let owned = name.to_owned();
    let (rows, instances) = node
        .global
        .read(move |c| {
            let rows = queries::members(c)?;
            let instances = match rows.iter().find(|m| m.name == owned) {
                Some(m) => groups::instances_on(c, m.id)?,
                None => Vec::new(),
            };
            Ok((rows, instances))
        })
        .await?;
    let target = rows
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| Error::NotFound("Cluster member not found".into()))?
        .clone();
    check(rows.len(), name)?;
    if !force {
        check_empty(name, &instances)?;
    }
    Ok(target)
}

/// Removes member `name`. Leader only. Without `force` the member must answer first, and it
/// is told to leave; with `force` it is not contacted and only its own rows are deleted. The
/// leader removing itself first hands its leadership over, and the new leader removes it.
pub async fn remove(node: &Arc<Node>, name: &str, force: bool) -> Result<()> {
    let target = removable(node, name, force).await?;
    if target.id == node.id() {
        return remove_self(node, name, force).await;
    }
    // Refused before anything changes, as LXD's removal stops when it cannot reach the member.
    if !force {
        probe(node, &target.address)
            .await
            .map_err(|why| unreachable(name, &target.address, &why))?;
        // No image may go with it: what only it holds is copied elsewhere first.
        crate::images::replication::rescue_from(node, target.id, name).await?;
        crate::network::remove_member(node, &target).await?;
        crate::storage::pools::remove_member(node, &target).await?;
    }
    let leave_at = {
        let _guard = node.membership.lock().await;
        // Read again under the lock: the member may have changed while it was probed.
        let target = removable(node, name, force).await?;

        let raft = node.raft();
        let membership = raft.metrics().borrow().membership_config.clone();
        let is_voter = membership
            .membership()
            .voter_ids()
            .any(|id| id == target.id);
        let in_raft = membership.membership().get_node(&target.id).is_some();
        let change = if is_voter {
            Some(ChangeMembers::RemoveVoters(BTreeSet::from([target.id])))
        } else if in_raft {
            Some(ChangeMembers::RemoveNodes(BTreeSet::from([target.id])))
        } else {
            None
        };
        if let Some(change) = change {
            node.change_membership(change, false, &format!("take {name} out of the database"))
                .await?;
        }
        let mut batch = Batch::new();
        // What it held goes with it (only a forced removal gets here with instances).
        groups::clear_member(&mut batch, target.id);
        nodes::remove(&mut batch, target.id);
        certificates::forget_member(&mut batch, name);
        node.propose(batch).await?;
        (!force).then_some(target.address)
    };
    let _ = rebalance::run(node).await;
    if let Some(address) = leave_at {
        tell_to_leave(node, name, &address).await?;
    }
    Ok(())
}

/// Removes member `name` from any member: here on the leader, else by asking the leader,
/// whose refusal is returned as its own.
pub async fn remove_on_leader(node: &Arc<Node>, name: &str, force: bool) -> Result<()> {
    route::on_owner(
        node,
        Owner::Leader,
        remove(node, name, force),
        |leader| async move { leader.remove_member(name, force).await },
    )
    .await
}

/// Whether the member at `address` answers (any answer will do: even "not ready" proves it
/// is there to be told to leave); the reason when it does not.
async fn probe(node: &Node, address: &str) -> std::result::Result<(), String> {
    let member = Peers::of(node).map_err(|e| e.to_string())?.member(address);
    match member.ready().await {
        Ok(_) | Err(PeerError::Refused { .. }) => Ok(()),
        // The address is in the refusal already.
        Err(PeerError::Unreachable { reason, .. }) => Err(reason),
        Err(e) => Err(e.to_string()),
    }
}

/// The leader removing itself: another member takes the lead, then removes this one (and,
/// unless forced, tells it to leave); a forced removal leaves here, as LXD's leader does.
async fn remove_self(node: &Arc<Node>, name: &str, force: bool) -> Result<()> {
    if let Err(e) = handover::step_down(node).await {
        node.raft().runtime_config().elect(true);
        return Err(Error::Unavailable(format!(
            "{name} leads the database and could not hand the lead to another member ({e}); \
             nothing was changed: retry in a moment, or stop {name} ('corrald shutdown') and \
             remove it from another member"
        )));
    }
    let leader = node.leader_address().ok_or_else(|| {
        Error::Unavailable(format!(
            "{name} handed the lead over, but no new leader is known yet; nothing was changed: retry in a moment"
        ))
    })?;
    let removed = Peers::of(node)?
        .member(&leader)
        .remove_member(name, force)
        .await;
    if let Err(e) = removed {
        if node.is_clustered() {
            // Still a member: let it stand for election again.
            node.raft().runtime_config().elect(true);
        }
        return Err(match e {
            PeerError::Refused { status, message } => Error::from_status(status, message),
            e => Error::Unavailable(format!(
                "{name} handed the lead to the member at {leader}, which could not be asked to remove it: {e}"
            )),
        });
    }
    if node.is_clustered() {
        leave(node).await?;
    }
    Ok(())
}

async fn tell_to_leave(node: &Node, name: &str, address: &str) -> Result<()> {
    Peers::of(node)?.member(address).leave().await.map_err(|e| {
        Error::Unavailable(format!(
            "{name} was removed from the cluster but could not be told to reset itself ({e}); \
                 on {name}, stop corrald and clear its directory before reusing it"
        ))
    })
}

/// Run on a member that was removed: forget the cluster and start over as a standalone server.
pub async fn leave(node: &Arc<Node>) -> Result<()> {
    let _ = std::fs::remove_file(node.dirs.root().join("cluster.crt"));
    let _ = std::fs::remove_file(node.dirs.root().join("cluster.key"));
    node.clear_cluster_identity();
    node.local
        .write_config([("cluster.https_address".to_owned(), String::new())].into())
        .await?;
    node.reset_database(1, true).await?;
    node.operations
        .set_location(super::members::STANDALONE_NAME);
    node.reconcile_listeners().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_needs_another_member() {
        for (count, ok) in [(1, false), (2, true), (3, true), (5, true)] {
            assert_eq!(check(count, "node2").is_ok(), ok, "{count} members");
        }
        let err = check(1, "node1").unwrap_err().to_string();
        assert!(
            err.starts_with("Member is the only member in the cluster"),
            "{err}"
        );
    }

    #[test]
    fn a_member_holding_instances_is_refused_naming_them() {
        assert!(check_empty("node2", &[]).is_ok());
        let err = check_empty("node2", &["c1".into(), "c4".into()]).unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)));
        let text = err.to_string();
        assert!(
            text.starts_with("Node still has the following instances: c1, c4; ")
                && text.contains("--force"),
            "{text}"
        );
    }

    #[test]
    fn an_unreachable_member_is_refused_pointing_at_force() {
        let err = unreachable("node3", "127.0.0.3:8443", "connection refused");
        assert!(matches!(err, Error::Unavailable(_)));
        let text = err.to_string();
        for part in [
            "node3 at 127.0.0.3:8443 cannot be reached (connection refused)",
            "nothing was changed",
            "'corral cluster remove --force node3'",
        ] {
            assert!(text.contains(part), "{part:?} in {text}");
        }
    }
}
