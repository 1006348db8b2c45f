//! Removing a member: out of Raft, out of the database, and (unless forced) told to leave,
//! after which it is a clean standalone server again. Then roles are rebalanced.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use openraft::ChangeMembers;

use super::{rebalance, trust};
use crate::api::peer::PeerClient;
use crate::db::batch::Batch;
use crate::db::global::queries;
use crate::error::{Error, Result};
use crate::node::Node;

/// How long a removed member may take to reset itself.
const LEAVE: Duration = Duration::from_secs(30);

/// Whether `name` may be removed from a cluster of `count` members (pure checks).
pub fn check(count: usize, target_is_leader: bool, name: &str) -> Result<()> {
    if count <= 1 {
        return Err(Error::BadRequest(format!(
            "Member is the only member in the cluster; {name} cannot be removed (there would be no cluster left)"
        )));
    }
    if target_is_leader {
        return Err(Error::BadRequest(format!(
            "{name} is the database leader and cannot remove itself: stop it first ('corrald shutdown' on {name}) \
             so another member takes over, then remove it from another member"
        )));
    }
    Ok(())
}

/// Removes member `name`. Leader only. With `force` the member is not contacted and only its
/// own rows are deleted.
pub async fn remove(node: &Node, name: &str, force: bool) -> Result<()> {
    let leave_at = {
        let _guard = node.membership.lock().await;
        let rows = node.global.read(queries::members).await?;
        let target = rows
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| Error::NotFound("Cluster member not found".into()))?
            .clone();
        check(rows.len(), target.id == node.id(), name)?;

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
        batch.push("DELETE FROM nodes WHERE id = ?", vec![target.id.into()]);
        batch.push(
            "DELETE FROM certificates WHERE name = ? AND type = ?",
            vec![name.into(), trust::SERVER.into()],
        );
        node.propose(batch).await?;
        (!force).then_some(target.address)
    };
    let _ = rebalance::run(node).await;
    if let Some(address) = leave_at {
        tell_to_leave(node, name, &address).await?;
    }
    Ok(())
}

async fn tell_to_leave(node: &Node, name: &str, address: &str) -> Result<()> {
    let identity = node
        .cluster_identity()
        .ok_or_else(|| Error::Internal("no cluster certificate".into()))?;
    let tls = crate::tls::pinned_client_config(&identity, identity.fingerprint())
        .map_err(|e| Error::Internal(e.to_string()))?;
    PeerClient::new(tls, LEAVE)
        .call(address, "PUT", "/internal/cluster/leave", None)
        .await
        .map(|_| ())
        .map_err(|e| {
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
        .set_config(&[("cluster.https_address".to_owned(), String::new())].into())?;
    node.reset_database(1, true).await?;
    node.operations
        .set_location(super::members::STANDALONE_NAME);
    node.reconcile_listeners().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_needs_another_member_and_another_leader() {
        for (count, leader, ok) in [
            (1, false, false),
            (2, false, true),
            (3, true, false),
            (5, false, true),
        ] {
            assert_eq!(
                check(count, leader, "node2").is_ok(),
                ok,
                "{count} members, leader={leader}"
            );
        }
        let err = check(1, false, "node1").unwrap_err().to_string();
        assert!(
            err.starts_with("Member is the only member in the cluster"),
            "{err}"
        );
    }
}
