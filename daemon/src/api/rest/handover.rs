//! `/internal/shutdown` (`corrald shutdown`: what stopping tries, then how it went),
//! `/internal/cluster/elect` and `/internal/cluster/handover`: the member-to-member calls
//! of a graceful shutdown; and `/internal/cluster/raft-node/{address}` for cleaning up
//! after a member that left uncleanly.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::{Extension, State};
use axum::routing::{delete, get, post};
use serde::Deserialize;

use super::done;
use super::internal::local_only;
use super::{ApiResult, forward, json_body, sync};
use crate::api::Peer;
use crate::cluster::{handover, raft_node};
use crate::error::Error;
use crate::node::Node;
use crate::peers::{Owner, route};

pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/internal/shutdown", get(shutdown_plan).put(shutdown))
        .route("/internal/cluster/elect", post(elect))
        .route("/internal/cluster/handover", post(hand_over))
        .route(
            "/internal/cluster/raft-node/{address}",
            delete(remove_raft_node),
        )
}

/// `corrald shutdown` asks what stopping will try first, to say so before it waits.
async fn shutdown_plan(
    State(node): State<Arc<Node>>,
    Extension(peer): Extension<Peer>,
) -> ApiResult {
    local_only(&peer)?;
    let holding = handover::Holding::of(&node).await;
    sync(&serde_json::json!({ "plan": holding.plan() }), None)
}

/// `corrald shutdown`: hands over (bounded), answers how that went, then stops the daemon.
async fn shutdown(State(node): State<Arc<Node>>, Extension(peer): Extension<Peer>) -> ApiResult {
    local_only(&peer)?;
    sync(&handover::stop(&node).await, None)
}

/// A leader about to stop asks this voter to stand for election.
async fn elect(State(node): State<Arc<Node>>) -> ApiResult {
    node.raft()
        .trigger()
        .elect()
        .await
        .map_err(|e| Error::Unavailable(format!("cannot start an election: {e}")))?;
    done()
}

#[derive(Debug, Deserialize)]
struct Leaving {
    id: u64,
}

/// A member about to stop asks the leader to move its role elsewhere.
async fn hand_over(State(node): State<Arc<Node>>, body: Bytes) -> ApiResult {
    if let Some(elsewhere) = forward::unless_leader(&node, "/internal/cluster/handover") {
        return elsewhere;
    }
    let leaving: Leaving = json_body(&body)?;
    handover::hand_over(&node, leaving.id).await?;
    done()
}

/// `corrald cluster remove-raft-node`: runs on the leader (relayed there from elsewhere).
async fn remove_raft_node(State(node): State<Arc<Node>>, Path(address): Path<String>) -> ApiResult {
    let here = raft_node::remove(&node, &address);
    let address = &address;
    route::on_owner(&node, Owner::Leader, here, |leader| async move {
        leader.remove_raft_node(address).await
    })
    .await?;
    done()
}
