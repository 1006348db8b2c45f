//! `/internal/cluster/address`: a member that moved asks the leader to record its new
//! cluster address (see `cluster::address`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::put;
use serde::Deserialize;

use super::done;
use super::{ApiResult, json_body};
use crate::cluster::address;
use crate::node::Node;

/// The routes.
pub fn routes() -> Router<Arc<Node>> {
    Router::new().route("/internal/cluster/address", put(record))
}

#[derive(Debug, Deserialize)]
struct Moved {
    id: u64,
    address: String,
}

async fn record(State(node): State<Arc<Node>>, body: Bytes) -> ApiResult {
    let moved: Moved = json_body(&body)?;
    address::record(&node, moved.id, &moved.address).await?;
    done()
}
