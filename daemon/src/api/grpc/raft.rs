//! The Raft service: hands other members' Raft RPCs to the local openraft instance.

use std::sync::Arc;

use corral_proto::v1::RaftPayload;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::{Request, Response, Status};

use super::require_member;
use crate::node::Node;

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
        serde_json::from_slice(&req.get_ref().json)
            .map_err(|e| Status::invalid_argument(format!("malformed Raft message: {e}")))
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
        let rpc = self.decode(&req)?;
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
        let rpc = self.decode(&req)?;
        encode(&self.node.raft().install_snapshot(rpc).await)
    }
}
