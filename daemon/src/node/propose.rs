//! The write path: a batch goes to Raft on the leader; elsewhere it is forwarded to the
//! leader over gRPC. Every wait is bounded and says what it waited for.

use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers};

use super::Node;
use crate::db::batch::{Batch, BatchOutcome};
use crate::error::{Error, Result};
use crate::peers::PeerError;
use crate::raft::NodeId;

/// How long a write may wait for a leader and a commit before it is refused; with the
/// quorum probe after it, every write answers within 10 s.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(8);

impl Node {
    /// Replicates `batch` through Raft from any member and returns its outcome; an SQL
    /// error that rolled the batch back is returned as a conflict. During an election the
    /// write waits (bounded) for the new leader; past the deadline the error explains why.
    pub async fn propose(&self, mut batch: Batch) -> Result<BatchOutcome> {
        if batch.requestor.is_none() {
            batch.requestor = crate::events::requestor::current();
        }
        // A member short of disk space says so before the cluster is asked.
        if let Some(refused) = self.refusal_for_space().await {
            return Err(refused);
        }
        let deadline = tokio::time::Instant::now() + WRITE_TIMEOUT;
        loop {
            let raft = self.raft();
            let attempt = tokio::time::timeout_at(deadline, self.writes().write(batch.clone()));
            let err = match attempt.await {
                Err(_) => return Err(self.write_timed_out().await),
                Ok(Ok(outcome)) => return outcome_checked(outcome),
                Ok(Err(e)) => e,
            };
            match err {
                RaftError::APIError(ClientWriteError::ForwardToLeader(fwd)) => {
                    if let Some(leader) = fwd.leader_node.filter(|l| !l.addr.is_empty()) {
                        // A forward that fails may still have been committed (the answer
                        // was lost, or the leader's queue proposes it after we gave up): the
                        // id, fixed before the first attempt, makes every later attempt of
                        // the same batch a no-op at apply if an earlier one got in.
                        batch.identified();
                        match tokio::time::timeout_at(deadline, self.forward(&leader.addr, &batch))
                            .await
                        {
                            Err(_) => return Err(self.write_timed_out().await),
                            Ok(Err(Error::Unavailable(_))) => {
                                // The leader we knew is gone: wait for Raft to learn of another.
                                let mut metrics = raft.metrics();
                                let moved = tokio::time::timeout(
                                    Duration::from_millis(200),
                                    metrics.changed(),
                                );
                                if tokio::time::timeout_at(deadline, moved).await.is_err() {
                                    return Err(self.write_timed_out().await);
                                }
                            }
                            Ok(other) => return other,
                        }
                        continue;
                    }
                    // No leader known yet (an election is under way): wait for one, bounded.
                    let mut metrics = raft.metrics();
                    let elected = metrics.wait_for(|m| m.current_leader.is_some());
                    if tokio::time::timeout_at(deadline, elected).await.is_err() {
                        return Err(self.write_timed_out().await);
                    }
                }
                other => {
                    return Err(Error::Unavailable(format!(
                        "the write was not replicated: {other}"
                    )));
                }
            }
        }
    }

    /// Proposes on this member only, refusing if it is not the leader.
    pub async fn propose_as_leader(&self, batch: Batch) -> Result<BatchOutcome> {
        match tokio::time::timeout(WRITE_TIMEOUT, self.writes().write(batch)).await {
            Err(_) => Err(self.write_timed_out().await),
            Ok(Ok(outcome)) => Ok(outcome),
            // A full disk stops this member's Raft on the write: say that, not its symptom.
            Ok(Err(e)) => Err(self.refusal_for_space().await.unwrap_or_else(|| {
                Error::Unavailable(format!(
                    "this member could not commit the forwarded write: {e}"
                ))
            })),
        }
    }

    async fn forward(&self, leader: &str, batch: &Batch) -> Result<BatchOutcome> {
        let leader = crate::peers::Peers::of(self)
            .map_err(|_| {
                Error::Unavailable(
                    "cannot forward the write: this member has no cluster certificate".into(),
                )
            })?
            .member(leader);
        let batch_json = serde_json::to_vec(batch).map_err(|e| Error::Internal(e.to_string()))?;
        let reply = leader.propose(batch_json).await.map_err(|e| match e {
            PeerError::Rpc { address, message } => Error::Unavailable(format!(
                "the leader at {address} did not take the write: {message}"
            )),
            e => Error::Unavailable(format!(
                "the leader at {} did not take the write: {e}",
                leader.address()
            )),
        })?;
        let outcome: BatchOutcome = serde_json::from_slice(&reply.result_json)
            .map_err(|e| Error::Internal(format!("malformed answer from the leader: {e}")))?;
        outcome_checked(outcome)
    }

    /// Changes the Raft membership (on the leader), bounded like a write: without a quorum
    /// it fails with the same explanation instead of waiting for ever.
    pub async fn change_membership(
        &self,
        changes: ChangeMembers<NodeId, BasicNode>,
        retain: bool,
        what: &str,
    ) -> Result<()> {
        let raft = self.raft();
        match tokio::time::timeout(WRITE_TIMEOUT, raft.change_membership(changes, retain)).await {
            Err(_) => Err(self.write_timed_out().await),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(Error::Unavailable(format!("cannot {what}: {e}"))),
        }
    }

    /// Adds a learner and waits (at most `within`) until it has caught up with the log.
    pub async fn add_learner(
        &self,
        id: NodeId,
        address: &str,
        within: Duration,
        what: &str,
    ) -> Result<()> {
        let raft = self.raft();
        let add = raft.add_learner(id, BasicNode::new(address), true);
        match tokio::time::timeout(within, add).await {
            Err(_) => Err(Error::Unavailable(format!(
                "cannot {what}: the member at {address} did not catch up with the database within {}s",
                within.as_secs()
            ))),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(Error::Unavailable(format!("cannot {what}: {e}"))),
        }
    }

    async fn write_timed_out(&self) -> Error {
        Error::Unavailable(crate::cluster::quorum::diagnose(self, WRITE_TIMEOUT).await)
    }
}

fn outcome_checked(o: BatchOutcome) -> Result<BatchOutcome> {
    match &o.error {
        Some(e) => Err(Error::Conflict(format!(
            "the change was refused by the database: {e}"
        ))),
        None => Ok(o),
    }
}
