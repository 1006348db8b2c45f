//! Undoing a preseed applied in part: the rows it may change are read before the commit
//! as statements that put them back, and [`restore`] replays them with the rest of what a
//! failed apply changed.

use std::collections::BTreeMap;
use std::sync::Arc;

use openraft::{BasicNode, ChangeMembers};

use crate::db::batch::Batch;
use crate::db::global::preseed_undo;
use crate::error::Result;
use crate::node::Node;

/// The rows a preseed may change, as statements that put them back.
pub(super) async fn snapshot(node: &Node) -> Result<Batch> {
    let member = node.id();
    Ok(node
        .global
        .read(move |c| preseed_undo::statements(c, member))
        .await?)
}

/// Where Raft records this member to be, before a bootstrap changes it.
pub(super) fn own_raft_address(node: &Node) -> Option<String> {
    let id = node.id();
    let metrics = node.raft().metrics().borrow().clone();
    metrics
        .membership_config
        .membership()
        .get_node(&id)
        .map(|n| n.addr.clone())
}

/// Puts back what a failed apply changed: the replicated rows, the local config, the
/// cluster certificate, Raft's record of this member and the listeners. Best effort: each
/// step is tried even if one before it failed, and failures are logged.
pub(super) async fn restore(
    node: &Arc<Node>,
    rows: Batch,
    local: &BTreeMap<String, String>,
    raft_address: Option<String>,
    drop_identity: bool,
) {
    if drop_identity {
        let _ = std::fs::remove_file(node.dirs.root().join("cluster.crt"));
        let _ = std::fs::remove_file(node.dirs.root().join("cluster.key"));
        node.clear_cluster_identity();
    }
    if let Some(address) = raft_address.filter(|a| Some(a) != own_raft_address(node).as_ref()) {
        let nodes = BTreeMap::from([(node.id(), BasicNode::new(address))]);
        if let Err(e) = node
            .change_membership(ChangeMembers::SetNodes(nodes), false, "undo a failed init")
            .await
        {
            tracing::error!("undoing a failed init: Raft address: {e}");
        }
    }
    if let Err(e) = node.propose(rows).await {
        tracing::error!("undoing a failed init: database rows: {e}");
    }
    if !local.is_empty()
        && let Err(e) = node.local.write_config(local.clone()).await
    {
        tracing::error!("undoing a failed init: local config: {e}");
    }
    if let Err(e) = node.reconcile_listeners().await {
        tracing::error!("undoing a failed init: listeners: {e}");
    }
}
