//! `/internal/...`: calls for the daemon's own tools (`corrald init`, `waitready`,
//! `shutdown`) over the unix socket, and later for members.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::routing::{get, post, put};
use corral_shared::preseed::Preseed;

use super::{ApiResult, json_body, operation_created, sync};
use crate::api::Peer;
use crate::error::Error;
use crate::node::Node;

pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/internal/ready", get(ready))
        .route("/internal/shutdown", put(shutdown))
        .route("/internal/init", post(init))
}

fn local_only(peer: &Peer) -> Result<(), Error> {
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
        sync(&serde_json::json!({}), None)
    } else {
        Err(
            Error::Unavailable("the daemon is starting: its database has no leader yet".into())
                .into(),
        )
    }
}

async fn shutdown(State(node): State<Arc<Node>>, Extension(peer): Extension<Peer>) -> ApiResult {
    local_only(&peer)?;
    node.request_shutdown();
    sync(&serde_json::json!({}), None)
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
