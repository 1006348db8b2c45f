//! The read barrier: before deciding on something (is this certificate trusted, does this
//! token exist, what is the config being changed), a member makes sure its replica holds
//! everything the leader had committed when the decision was asked for.

use std::time::Duration;

use corral_proto::v1::ReadIndexRequest;
use corral_proto::v1::leader_client::LeaderClient;

use super::Node;
use crate::error::{Error, Result};

/// How long a decision may wait for the replica to catch up.
const READ_TIMEOUT: Duration = Duration::from_secs(4);

impl Node {
    /// On the leader: confirms leadership with a quorum and returns the index reads must see.
    pub async fn read_index_as_leader(&self) -> Result<u64> {
        let raft = self.raft();
        match tokio::time::timeout(READ_TIMEOUT, raft.ensure_linearizable()).await {
            Err(_) => Err(Error::Unavailable(
                crate::cluster::quorum::diagnose(self, READ_TIMEOUT).await,
            )),
            Ok(Ok(read)) => Ok(read.map_or(0, |l| l.index)),
            Ok(Err(e)) => Err(Error::Unavailable(format!(
                "this member cannot serve a current read: {e}"
            ))),
        }
    }

    /// Waits until this member's replica is at least as current as the leader's was now.
    /// During an election it waits (bounded) for the new leader, as writes do.
    pub async fn read_barrier(&self) -> Result<()> {
        if !self.is_clustered() {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + READ_TIMEOUT;
        let index = loop {
            match self.read_index().await {
                Ok(index) => break index,
                Err(_) if tokio::time::Instant::now() < deadline => {
                    // The leader we knew may be gone: wait for Raft to learn more, then retry.
                    let mut metrics = self.raft().metrics();
                    let changed =
                        tokio::time::timeout(Duration::from_millis(200), metrics.changed());
                    let _ = tokio::time::timeout_at(deadline, changed).await;
                }
                Err(_) => {
                    return Err(Error::Unavailable(
                        crate::cluster::quorum::diagnose(self, READ_TIMEOUT).await,
                    ));
                }
            }
        };
        let mut metrics = self.raft().metrics();
        let caught_up = metrics.wait_for(|m| m.last_applied.is_some_and(|l| l.index >= index));
        tokio::time::timeout_at(deadline + READ_TIMEOUT, caught_up)
            .await
            .map_err(|_| {
                Error::Unavailable(format!(
                    "this member's replica did not reach log index {index} in time"
                ))
            })?
            .map(|_| ())
            .map_err(|_| Error::Internal("the database stopped".into()))
    }

    /// The leader's read index: asked of the leader, or worked out here when this is it.
    async fn read_index(&self) -> Result<u64> {
        if self.is_leader() {
            return self.read_index_as_leader().await;
        }
        let leader = self
            .leader_address()
            .ok_or_else(|| Error::Unavailable("no database leader is known right now".into()))?;
        let channel = self
            .network
            .channel(&leader)
            .ok_or_else(|| Error::Internal("no cluster certificate".into()))?;
        let mut client = LeaderClient::new(channel);
        let reply = tokio::time::timeout(
            Duration::from_secs(2),
            client.read_index(ReadIndexRequest {}),
        )
        .await
        .map_err(|_| Error::Unavailable(format!("the leader at {leader} did not answer")))?
        .map_err(|s| {
            Error::Unavailable(format!(
                "the leader at {leader} cannot confirm a current read: {}",
                s.message()
            ))
        })?;
        Ok(reply.into_inner().index)
    }
}
