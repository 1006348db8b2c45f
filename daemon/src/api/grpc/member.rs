//! The Member service: answers the leader's heartbeats.

use std::sync::Arc;

use corral_proto::v1::{HeartbeatReply, HeartbeatRequest};
use tonic::{Request, Response, Status};

use super::require_member;
use crate::cluster::versions;
use crate::node::Node;

/// Serves `corral.v1.Member`.
pub struct MemberService {
    node: Arc<Node>,
}

impl MemberService {
    /// The service over a running member.
    pub fn new(node: Arc<Node>) -> Self {
        Self { node }
    }
}

#[tonic::async_trait]
impl corral_proto::v1::member_server::Member for MemberService {
    async fn heartbeat(
        &self,
        req: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatReply>, Status> {
        require_member(&self.node, &req)?;
        let (schema, api_extensions) = versions::own();
        let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        Ok(Response::new(HeartbeatReply {
            schema,
            api_extensions,
            member_time_ms: now_ms as i64,
        }))
    }
}
