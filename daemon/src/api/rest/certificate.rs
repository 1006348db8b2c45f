//! `/1.0/cluster/certificate`: replacing the cluster certificate on every member (LXD's
//! `ClusterCertificatePut`), and `/internal/cluster/certificate`, where members take
//! the steps of an update (see `cluster::certificate`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::put;
use serde::Deserialize;

use super::done;
use super::{ApiResult, json_body};
use crate::cluster::certificate::{self, Step};
use crate::node::Node;

/// The routes.
pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/1.0/cluster/certificate", put(replace))
        .route("/internal/cluster/certificate", put(take_step))
}

/// LXD's `ClusterCertificatePut`.
#[derive(Debug, Deserialize)]
struct ClusterCertificatePut {
    #[serde(default)]
    cluster_certificate: String,
    #[serde(default)]
    cluster_certificate_key: String,
}

async fn replace(State(node): State<Arc<Node>>, body: Bytes) -> ApiResult {
    let put: ClusterCertificatePut = json_body(&body)?;
    certificate::update(
        &node,
        &put.cluster_certificate,
        &put.cluster_certificate_key,
    )
    .await?;
    done()
}

async fn take_step(State(node): State<Arc<Node>>, body: Bytes) -> ApiResult {
    let step: Step = json_body(&body)?;
    certificate::step(&node, &step).await?;
    done()
}
