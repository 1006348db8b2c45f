//! The Leader service: a member that received a write but is not the leader hands it here.

use std::sync::Arc;

use corral_proto::v1::{ProposeReply, ProposeRequest, ReadIndexReply, ReadIndexRequest};
use tonic::{Request, Response, Status};

use super::require_member;
use crate::node::Node;

/// Serves `corral.v1.Leader`.
pub struct LeaderService {
    node: Arc<Node>,
}

impl LeaderService {
    /// The service over a running member.
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

#[tonic::async_trait]
impl corral_proto::v1::leader_server::Leader for LeaderService {
    async fn propose(
        &self,
        req: Request<ProposeRequest>,
    ) -> Result<Response<ProposeReply>, Status> {
        require_member(&self.node, &req)?;
        let batch = serde_json::from_slice(&req.get_ref().batch_json)
            .map_err(|e| Status::invalid_argument(format!("malformed batch: {e}")))?;
        // Only the leader proposes here: forwarding twice could loop between two members
        // that each think the other leads.
        let outcome = self
            .node
            .propose_as_leader(batch)
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let result_json = serde_json::to_vec(&outcome)
            .map_err(|e| Status::internal(format!("cannot encode outcome: {e}")))?;
        Ok(Response::new(ProposeReply { result_json }))
    }

    async fn read_index(
        &self,
        req: Request<ReadIndexRequest>,
    ) -> Result<Response<ReadIndexReply>, Status> {
        require_member(&self.node, &req)?;
        let asker = req.get_ref().asker;
        let index = self
            .node
            .read_index_for_member((asker != 0).then_some(asker))
            .await
            .map_err(|e| Status::failed_precondition(e.to_string()))?;
        Ok(Response::new(ReadIndexReply { index }))
    }
}
