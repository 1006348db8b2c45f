//! The Raft service: hands other members' Raft RPCs to the local openraft instance, under
//! the rules of [`crate::raft::inbound`].

use std::sync::Arc;

use corral_proto::v1::RaftPayload;
use tonic::{Request, Response, Status};

use super::require_member;
use crate::node::Node;
use crate::raft::NodeId;
use crate::raft::inbound::{Refusal, deliver};
use crate::raft::line::Kind;

/// Serves `corral.v1.Raft`.
pub struct RaftService {
    node: Arc<Node>,
}

impl RaftService {
    /// The service over a running member.
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }

    async fn deliver(
        &self,
        kind: Kind,
        req: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        require_member(&self.node, &req)?;
        let target = match req.metadata().get(crate::raft::network::TARGET_KEY) {
            None => None,
            Some(named) => Some(
                named
                    .to_str()
                    .ok()
                    .and_then(|v| v.parse::<NodeId>().ok())
                    .ok_or_else(|| {
                        Status::failed_precondition(format!(
                            "the Raft target {named:?} is not a Raft id"
                        ))
                    })?,
            ),
        };
        match deliver(&self.node, kind, target, &req.get_ref().json).await {
            Ok(json) => Ok(Response::new(RaftPayload { json })),
            Err(Refusal::Misaddressed(why)) => Err(Status::failed_precondition(why)),
            Err(Refusal::Malformed(why)) => Err(Status::invalid_argument(why)),
            Err(Refusal::Unencodable(why)) => Err(Status::internal(why)),
        }
    }
}

#[tonic::async_trait]
impl corral_proto::v1::raft_server::Raft for RaftService {
    async fn append_entries(
        &self,
        req: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        self.deliver(Kind::Append, req).await
    }

    async fn vote(&self, req: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        self.deliver(Kind::Vote, req).await
    }

    async fn install_snapshot(
        &self,
        req: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        self.deliver(Kind::Snapshot, req).await
    }
}
