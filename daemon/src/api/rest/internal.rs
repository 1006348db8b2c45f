//! `/internal/...`: calls for the daemon's own tools (`corrald init`, `waitready`) over the
//! unix socket, and member-to-member calls over TLS (`shutdown` is in `handover`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::routing::{get, post, put};
use corral_shared::preseed::Preseed;
use serde::Deserialize;

use super::done;
use super::{ApiResult, forward, json_body, operation_created, sync};
use crate::api::Peer;
use crate::cluster::{accept, rebalance, remove};
use crate::error::Error;
use crate::node::Node;

pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/internal/ready", get(ready))
        .route("/internal/init", post(init))
        .route("/internal/preseed", get(preseed))
        .route("/internal/cluster/accept", post(accept_member))
        .route("/internal/cluster/finish", post(finish_join))
        .route("/internal/cluster/leave", put(leave))
        .route("/internal/cluster/rebalance", post(rebalance_roles))
}

/// Refuses a call that did not come through the root-only unix socket.
pub(super) fn local_only(peer: &Peer) -> Result<(), Error> {
    if peer.local {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "this call is only accepted on the local unix socket".into(),
        ))
    }
}

async fn ready(State(node): State<Arc<Node>>) -> ApiResult {
    if node.is_ready() {
        done()
    } else {
        Err(
            Error::Unavailable("the daemon is starting: its database has no leader yet".into())
                .into(),
        )
    }
}

/// Applies a whole preseed (already parsed and checked by `corrald init`) as one operation.
async fn init(
    State(node): State<Arc<Node>>,
    Extension(peer): Extension<Peer>,
    body: Bytes,
) -> ApiResult {
    local_only(&peer)?;
    let preseed: Preseed = json_body(&body)?;
    let op = super::cluster::start_apply(node, preseed, "Applying preseed");
    operation_created(&op)
}

/// The current configuration as a preseed (`corrald init --dump`).
async fn preseed(State(node): State<Arc<Node>>, Extension(peer): Extension<Peer>) -> ApiResult {
    local_only(&peer)?;
    sync(&crate::cluster::dump::current(&node).await?, None)
}

/// A joiner asks to be admitted (leader only; others redirect it there).
async fn accept_member(
    State(node): State<Arc<Node>>,
    Extension(peer): Extension<Peer>,
    body: Bytes,
) -> ApiResult {
    if let Some(elsewhere) = forward::unless_leader(&node, "/internal/cluster/accept") {
        return elsewhere;
    }
    let req: accept::AcceptRequest = json_body(&body)?;
    let fingerprint = peer.fingerprint.unwrap_or_default();
    sync(&accept::accept(&node, &req, &fingerprint).await?, None)
}

#[derive(Debug, Deserialize)]
struct Finish {
    id: u64,
}

/// An accepted joiner, now running an empty database, asks to be brought in.
async fn finish_join(State(node): State<Arc<Node>>, body: Bytes) -> ApiResult {
    if let Some(elsewhere) = forward::unless_leader(&node, "/internal/cluster/finish") {
        return elsewhere;
    }
    let finish: Finish = json_body(&body)?;
    accept::finish(&node, finish.id).await?;
    done()
}

/// A member asks the leader to apply the role rule now.
async fn rebalance_roles(State(node): State<Arc<Node>>) -> ApiResult {
    if let Some(elsewhere) = forward::unless_leader(&node, "/internal/cluster/rebalance") {
        return elsewhere;
    }
    rebalance::run(&node).await?;
    done()
}

/// The leader tells a removed member to become a standalone server again.
async fn leave(State(node): State<Arc<Node>>) -> ApiResult {
    remove::leave(&node).await?;
    done()
}
