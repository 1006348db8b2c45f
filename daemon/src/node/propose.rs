//! The write path: a batch goes to Raft on the leader; elsewhere it is forwarded to the
//! leader over gRPC. Every wait is bounded and says what it waited for.

use std::time::Duration;

use corral_proto::v1::ProposeRequest;
use corral_proto::v1::leader_client::LeaderClient;
use openraft::error::{ClientWriteError, RaftError};

use super::Node;
use crate::api::grpc::dial;
use crate::db::batch::{Batch, BatchOutcome};
use crate::error::{Error, Result};

/// How long a write may wait for a leader and a commit before it is refused.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

impl Node {
    /// Replicates `batch` through Raft from any member and returns its outcome; an SQL
    /// error that rolled the batch back is returned as a conflict.
    pub async fn propose(&self, batch: Batch) -> Result<BatchOutcome> {
        let deadline = tokio::time::Instant::now() + WRITE_TIMEOUT;
        loop {
            let raft = self.raft();
            let attempt = tokio::time::timeout_at(deadline, raft.client_write(batch.clone()));
            let err = match attempt.await {
                Err(_) => return Err(self.write_timed_out()),
                Ok(Ok(resp)) => return outcome_checked(resp.data),
                Ok(Err(e)) => e,
            };
            match err {
                RaftError::APIError(ClientWriteError::ForwardToLeader(fwd)) => {
                    if let Some(leader) = fwd.leader_node {
                        let forwarded =
                            tokio::time::timeout_at(deadline, self.forward(&leader.addr, &batch));
                        return match forwarded.await {
                            Ok(r) => r,
                            Err(_) => Err(self.write_timed_out()),
                        };
                    }
                    // No leader known yet (an election is under way): wait for one, bounded.
                    let mut metrics = self.raft().metrics();
                    let elected = metrics.wait_for(|m| m.current_leader.is_some());
                    if tokio::time::timeout_at(deadline, elected).await.is_err() {
                        return Err(self.write_timed_out());
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
        match tokio::time::timeout(WRITE_TIMEOUT, self.raft().client_write(batch)).await {
            Err(_) => Err(self.write_timed_out()),
            Ok(Ok(resp)) => Ok(resp.data),
            Ok(Err(e)) => Err(Error::Unavailable(format!(
                "this member could not commit the forwarded write: {e}"
            ))),
        }
    }

    async fn forward(&self, leader: &str, batch: &Batch) -> Result<BatchOutcome> {
        let tls = self.network.tls().ok_or_else(|| {
            Error::Unavailable(
                "cannot forward the write: this member has no cluster certificate".into(),
            )
        })?;
        let mut client = LeaderClient::new(dial::channel(leader, tls));
        let batch_json = serde_json::to_vec(batch).map_err(|e| Error::Internal(e.to_string()))?;
        let reply = client
            .propose(ProposeRequest { batch_json })
            .await
            .map_err(|s| {
                Error::Unavailable(format!(
                    "the leader at {leader} did not take the write: {}",
                    s.message()
                ))
            })?;
        let outcome: BatchOutcome = serde_json::from_slice(&reply.into_inner().result_json)
            .map_err(|e| Error::Internal(format!("malformed answer from the leader: {e}")))?;
        outcome_checked(outcome)
    }

    fn write_timed_out(&self) -> Error {
        let m = self.raft().metrics().borrow().clone();
        let voters: Vec<String> = m
            .membership_config
            .membership()
            .voter_ids()
            .map(|id| id.to_string())
            .collect();
        Error::Unavailable(format!(
            "no write could be committed within {}s: no leader reachable with a quorum of the database members (ids {}). \
             Check that a majority of them is running; if they are lost for good, see 'corrald cluster recover-from-quorum-loss'",
            WRITE_TIMEOUT.as_secs(),
            voters.join(", ")
        ))
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
