//! gRPC services: Raft traffic and write forwarding between members.

pub mod leader;
pub mod member;
pub mod raft;
pub mod watch;

use std::sync::Arc;

use tonic::Status;

use crate::api::Peer;
use crate::node::Node;

/// Refuses any caller that does not present the cluster certificate: these services are
/// for members only.
pub(crate) fn require_member<T>(node: &Node, req: &tonic::Request<T>) -> Result<(), Status> {
    let peer = req.extensions().get::<Peer>();
    match peer.and_then(|p| p.fingerprint.as_deref()) {
        Some(seen) if crate::peers::is_member_certificate(node, seen) => Ok(()),
        _ => Err(Status::permission_denied(
            "only cluster members (presenting the cluster certificate) may call this service",
        )),
    }
}

/// The gRPC routes, for the listener to dispatch `application/grpc` requests to.
pub fn routes(node: Arc<Node>) -> tonic::service::Routes {
    tonic::service::Routes::new(corral_proto::v1::raft_server::RaftServer::new(
        raft::RaftService::new(node.clone()),
    ))
    .add_service(corral_proto::v1::leader_server::LeaderServer::new(
        leader::LeaderService::new(node.clone()),
    ))
    .add_service(corral_proto::v1::member_server::MemberServer::new(
        member::MemberService::new(node.clone()),
    ))
    .add_service(corral_proto::v1::operator_server::OperatorServer::new(
        watch::OperatorService::new(node),
    ))
}
