//! The Raft service: hands other members' Raft RPCs to the local openraft instance.

use std::sync::Arc;

use corral_proto::v1::RaftPayload;
use openraft::Vote;
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::{Request, Response, Status};

use super::require_member;
use crate::node::Node;
use crate::raft::{NodeId, TypeConfig};

/// Serves `corral.v1.Raft`.
pub struct RaftService {
    node: Arc<Node>,
}

impl RaftService {
    /// The service over a running member.
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }

    fn decode<T: DeserializeOwned>(&self, req: &Request<RaftPayload>) -> Result<T, Status> {
        require_member(&self.node, req)?;
        addressed_here(self.node.id(), req)?;
        serde_json::from_slice(&req.get_ref().json)
            .map_err(|e| Status::invalid_argument(format!("malformed Raft message: {e}")))
    }
}

/// Refuses a message naming another Raft id than this member's (see
/// [`crate::raft::network::TARGET_KEY`]): a spare's address may answer before the member
/// there has joined, or after another took it over.
fn addressed_here<T>(own: NodeId, req: &Request<T>) -> Result<(), Status> {
    let Some(named) = req.metadata().get(crate::raft::network::TARGET_KEY) else {
        return Ok(());
    };
    match named.to_str().ok().and_then(|v| v.parse::<NodeId>().ok()) {
        Some(id) if id == own => Ok(()),
        _ => Err(Status::failed_precondition(format!(
            "this member is Raft member {own}, not the one this message was sent to ({named:?})"
        ))),
    }
}

/// Refuses a leader's message (entries, snapshot) whose vote is not committed: no leader
/// sends one, and openraft's core stops on it (a consistency check), taking the member's
/// database down with it.
fn from_leader(vote: &Vote<NodeId>) -> Result<(), Status> {
    if vote.is_committed() {
        Ok(())
    } else {
        Err(Status::invalid_argument(format!(
            "malformed Raft message: a leader's message must carry a committed vote, not {vote}"
        )))
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Response<RaftPayload>, Status> {
    serde_json::to_vec(value)
        .map(|json| Response::new(RaftPayload { json }))
        .map_err(|e| Status::internal(format!("cannot encode Raft reply: {e}")))
}

#[tonic::async_trait]
impl corral_proto::v1::raft_server::Raft for RaftService {
    async fn append_entries(
        &self,
        req: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let rpc: AppendEntriesRequest<TypeConfig> = self.decode(&req)?;
        from_leader(&rpc.vote)?;
        encode(&self.node.raft().append_entries(rpc).await)
    }

    async fn vote(&self, req: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let rpc = self.decode(&req)?;
        encode(&self.node.raft().vote(rpc).await)
    }

    async fn install_snapshot(
        &self,
        req: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let rpc: InstallSnapshotRequest<TypeConfig> = self.decode(&req)?;
        from_leader(&rpc.vote)?;
        encode(&self.node.raft().install_snapshot(rpc).await)
    }
}
