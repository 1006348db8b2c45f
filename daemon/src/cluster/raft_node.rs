//! Removing a Raft member that is no longer a cluster member (it left the member list
//! uncleanly), by address, as `lxd cluster remove-raft-node` does.

use std::collections::BTreeSet;

use openraft::ChangeMembers;

use super::rebalance;
use crate::db::global::queries;
use crate::error::{Error, Result};
use crate::node::Node;

/// Takes the Raft member at `address` out of the configuration. Leader only.
pub async fn remove(node: &Node, address: &str) -> Result<()> {
    {
        let _guard = node.membership.lock().await;
        let rows = node.global.read(queries::members).await?;
        if let Some(m) = rows.iter().find(|m| m.address == address) {
            return Err(Error::BadRequest(format!(
                "{address} belongs to cluster member {}; remove it with 'corral cluster remove {}'",
                m.name, m.name
            )));
        }
        let membership = node.raft().metrics().borrow().membership_config.clone();
        let id = membership
            .membership()
            .nodes()
            .find(|(_, n)| n.addr == address)
            .map(|(id, _)| *id)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "No Raft member has the address {address}; see 'corrald cluster list-database'"
                ))
            })?;
        let is_voter = membership.membership().voter_ids().any(|v| v == id);
        let change = if is_voter {
            ChangeMembers::RemoveVoters(BTreeSet::from([id]))
        } else {
            ChangeMembers::RemoveNodes(BTreeSet::from([id]))
        };
        node.change_membership(
            change,
            false,
            &format!("remove Raft member {id} at {address}"),
        )
        .await?;
    }
    rebalance::run(node).await
}
