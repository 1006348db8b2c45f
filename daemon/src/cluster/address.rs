//! A member's cluster address: where other members reach it for Raft, heartbeats,
//! forwarded requests and joins. It is `cluster.https_address` when set, else
//! `core.https_address` (as LXD's members are reached on `cluster.https_address`, which a
//! member without one shares with its API). Both addresses serve the whole API.
//!
//! Unlike LXD 5.0, which refuses to change `cluster.https_address` once clustered (a
//! changed host address then needs `lxd cluster edit` with every daemon stopped), a
//! running member may move: it listens on the new address first, then the leader records
//! it in the member list and in the Raft membership, in that order, so that peers dial the
//! new address from then on.

use std::collections::BTreeMap;

use openraft::{BasicNode, ChangeMembers};

use crate::db::batch::Batch;
use crate::db::global::{nodes, queries};
use crate::error::{Error, Result};
use crate::node::Node;
use crate::peers::route::{self, Owner};

/// The address other members reach a member on, as its local `config` sets it.
pub fn cluster_address(config: &BTreeMap<String, String>) -> Option<String> {
    let set = |key: &str| config.get(key).filter(|a| !a.is_empty());
    set("cluster.https_address")
        .or_else(|| set("core.https_address"))
        .map(|a| corral_shared::config::canonical_address(a).unwrap_or_else(|_| a.clone()))
}

/// Where a config change from `old` to `new` moves a clustered member: its new cluster
/// address, if it changes. A clustered member may not be left without one.
pub fn moved(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> std::result::Result<Option<String>, String> {
    let (before, after) = (cluster_address(old), cluster_address(new));
    match after {
        None if before.is_some() => Err(format!(
            "a cluster member needs an address other members reach it on: keep \
             cluster.https_address or core.https_address set (it was {})",
            before.unwrap_or_default()
        )),
        Some(after) if before.as_ref() != Some(&after) => {
            if is_wildcard(&after) {
                return Err(format!(
                    "other members cannot reach this one at {after} (a wildcard address): set \
                     cluster.https_address to an address of this member they can reach"
                ));
            }
            Ok(Some(after))
        }
        _ => Ok(None),
    }
}

/// Whether `address` (`host:port`) listens on every interface rather than naming one.
fn is_wildcard(address: &str) -> bool {
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.is_empty()
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified())
}

/// Refuses an address another member already has: peers could not tell them apart.
pub fn check_unique(members: &[(u64, String, String)], id: u64, address: &str) -> Result<()> {
    match members.iter().find(|(i, _, a)| *i != id && a == address) {
        Some((_, name, _)) => Err(Error::Conflict(format!(
            "cannot move this member to {address}: cluster member {name} has that address; \
             choose another one"
        ))),
        None => Ok(()),
    }
}

/// Records member `id`'s new cluster address everywhere peers look it up, on the leader
/// (relayed there from any member): the member list, then the Raft membership.
pub async fn record(node: &Node, id: u64, address: &str) -> Result<()> {
    route::on_owner(
        node,
        Owner::Leader,
        record_as_leader(node, id, address),
        |leader| async move { leader.set_member_address(id, address).await },
    )
    .await
}

async fn record_as_leader(node: &Node, id: u64, address: &str) -> Result<()> {
    let _membership = node.membership.lock().await;
    node.read_barrier().await?;
    let rows = node.global.read(queries::members).await?;
    let members: Vec<(u64, String, String)> = rows
        .iter()
        .map(|m| (m.id, m.name.clone(), m.address.clone()))
        .collect();
    check_unique(&members, id, address)?;
    let before = rows
        .iter()
        .find(|m| m.id == id)
        .map(|m| m.address.clone())
        .ok_or_else(|| {
            Error::NotFound(format!(
                "no cluster member has id {id}; it may have been removed"
            ))
        })?;
    let mut batch = Batch::new();
    nodes::set_address(&mut batch, id, address);
    node.propose(batch).await?;
    let membership = node.raft().metrics().borrow().membership_config.clone();
    let in_raft = membership.membership().nodes().any(|(n, _)| *n == id);
    let same = membership
        .membership()
        .get_node(&id)
        .is_some_and(|n| n.addr == address);
    if in_raft && !same {
        // Spares are not in the Raft membership; adding them here would make them learners.
        let change = ChangeMembers::SetNodes(BTreeMap::from([(id, BasicNode::new(address))]));
        let what = format!("move member {id} to {address}");
        if let Err(e) = node.change_membership(change, false, &what).await {
            // The member goes back to its old address: so does its row, or heartbeats would
            // look for it where it does not listen.
            let mut undo = Batch::new();
            nodes::set_address(&mut undo, id, &before);
            if let Err(u) = node.propose(undo).await {
                tracing::warn!("member {id} stays recorded at {address} though it moves back: {u}");
            }
            return Err(e);
        }
    }
    tracing::info!("member {id} is now reached at {address}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_cluster_address_is_the_cluster_key_else_the_core_key() {
        for (pairs, want) in [
            (vec![], None),
            (
                vec![("core.https_address", "10.0.0.1:8443")],
                Some("10.0.0.1:8443"),
            ),
            (
                vec![("core.https_address", "10.0.0.1")],
                Some("10.0.0.1:8443"),
            ),
            (
                vec![
                    ("core.https_address", "10.0.0.1:8443"),
                    ("cluster.https_address", "10.1.0.1:8443"),
                ],
                Some("10.1.0.1:8443"),
            ),
            (
                vec![
                    ("core.https_address", "10.0.0.1:8443"),
                    ("cluster.https_address", ""),
                ],
                Some("10.0.0.1:8443"),
            ),
        ] {
            assert_eq!(
                cluster_address(&config(&pairs)).as_deref(),
                want,
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn a_member_moves_when_its_cluster_address_changes() {
        let core = ("core.https_address", "10.0.0.1:8443");
        for (old, new, want) in [
            // A separate cluster address for a member reached on its core one.
            (
                vec![core],
                vec![core, ("cluster.https_address", "10.1.0.1:8443")],
                Ok(Some("10.1.0.1:8443")),
            ),
            // The core address moves while no cluster address is set: the member moves.
            (
                vec![core],
                vec![("core.https_address", "10.0.0.2:8443")],
                Ok(Some("10.0.0.2:8443")),
            ),
            // The core address moves under a cluster address: the member stays.
            (
                vec![core, ("cluster.https_address", "10.1.0.1:8443")],
                vec![
                    ("core.https_address", "10.0.0.9:8443"),
                    ("cluster.https_address", "10.1.0.1:8443"),
                ],
                Ok(None),
            ),
            // Unsetting the cluster address falls back to the core one.
            (
                vec![core, ("cluster.https_address", "10.1.0.1:8443")],
                vec![core],
                Ok(Some("10.0.0.1:8443")),
            ),
            // The same address written out in full is no move.
            (
                vec![("core.https_address", "10.0.0.1")],
                vec![core],
                Ok(None),
            ),
            (vec![core], vec![], Err("needs an address")),
            // A wildcard API address is fine beside a cluster address, not as one.
            (
                vec![core],
                vec![("core.https_address", "[::]:8443")],
                Err("a wildcard address"),
            ),
            (
                vec![core],
                vec![("core.https_address", "0.0.0.0:8443")],
                Err("a wildcard address"),
            ),
            (
                vec![core, ("cluster.https_address", "10.1.0.1:8443")],
                vec![
                    ("core.https_address", "[::]:8443"),
                    ("cluster.https_address", "10.1.0.1:8443"),
                ],
                Ok(None),
            ),
        ] {
            let got = moved(&config(&old), &config(&new));
            match (&got, want) {
                (Ok(a), Ok(b)) => assert_eq!(a.as_deref(), b, "{old:?} -> {new:?}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{e}"),
                _ => panic!("{old:?} -> {new:?}: {got:?}"),
            }
        }
    }

    #[test]
    fn an_address_another_member_has_is_refused() {
        let members = vec![
            (1, "node1".to_owned(), "10.0.0.1:8443".to_owned()),
            (2, "node2".to_owned(), "10.0.0.2:8443".to_owned()),
        ];
        assert!(check_unique(&members, 1, "10.0.0.3:8443").is_ok());
        assert!(check_unique(&members, 1, "10.0.0.1:8443").is_ok());
        let err = check_unique(&members, 1, "10.0.0.2:8443").unwrap_err();
        assert!(err.to_string().contains("cluster member node2"), "{err}");
    }
}
