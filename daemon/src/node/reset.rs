//! Replacing a member's database: a joiner drops its standalone one for the cluster's; a
//! removed member drops the cluster's and starts over alone.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;

use super::Node;
use super::start::{build_raft, record_raft_nodes, wait_for_leader};
use crate::cluster::members;
use crate::error::{Error, Result};
use crate::raft::NodeId;
use crate::raft::state_machine::StateMachine;

impl Node {
    /// Throws away this member's Raft log, vote, replica and snapshots and runs an empty Raft
    /// as member `id`. With `alone`, it initialises a one-member database (a standalone server).
    pub async fn reset_database(self: &Arc<Self>, id: NodeId, alone: bool) -> Result<()> {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.raft().shutdown()).await;
        self.local
            .blocking(move |db| {
                db.wipe_raft()?;
                db.set_config(&BTreeMap::from([("raft.node_id".into(), id.to_string())]))
            })
            .await?;
        self.global.wipe().await?;
        let snapshots = self.dirs.snapshots();
        let _ = std::fs::remove_dir_all(&snapshots);
        let state_machine = StateMachine::open(&self.dirs.global_db(), &snapshots)?;
        let raft = build_raft(id, &self.local, state_machine, &self.network).await?;
        self.replace_raft(id, raft);
        if alone {
            self.raft()
                .initialize(BTreeMap::from([(id, BasicNode::new(""))]))
                .await
                .map_err(|e| Error::Internal(format!("cannot initialise the database: {e}")))?;
            wait_for_leader(self).await;
            members::ensure_self(self).await?;
        }
        record_raft_nodes(self);
        Ok(())
    }
}
