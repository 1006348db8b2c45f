//! `/internal/doctor`: the health report `corral cluster doctor` prints (unix socket only),
//! and `/internal/doctor/log`, where a doctor on another member asks this one where its
//! Raft log ends (members only: the trust layer requires the cluster certificate).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, State};
use axum::routing::get;

use super::{ApiResult, sync};
use crate::api::Peer;
use crate::cluster::doctor::{self, gather};
use crate::error::Error;
use crate::node::Node;

pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/internal/doctor", get(report))
        .route(gather::LOG_PATH, get(log))
}

async fn report(State(node): State<Arc<Node>>, Extension(peer): Extension<Peer>) -> ApiResult {
    // The report names addresses and members: it is for the operator at the machine.
    if !peer.local {
        return Err(Error::Forbidden(
            "this call is only accepted on the local unix socket; run 'corral cluster doctor' on the member"
                .into(),
        )
        .into());
    }
    let facts = gather::online(&node).await?;
    sync(&doctor::diagnose(&facts), None)
}

async fn log(State(node): State<Arc<Node>>) -> ApiResult {
    sync(&gather::log_report(&node).await?, None)
}
