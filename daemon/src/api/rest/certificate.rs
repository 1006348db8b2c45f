//! `/1.0/cluster/certificate`: replacing the cluster certificate on every member (LXD's
//! `ClusterCertificatePut`), and `/internal/cluster/certificate`, where members take
//! the steps of an update (see `cluster::certificate`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::put;
use corral_shared::api::Envelope;
use serde::Deserialize;

use super::{ApiResult, envelope, json_body, sync};
use crate::cluster::certificate::{self, Step};
use crate::node::Node;

/// The routes.
pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/1.0/cluster/certificate", put(replace).get(unreadable))
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
    sync(&serde_json::json!({}), None)
}

/// What to do instead of reading the cluster certificate back.
const INSTEAD: &str = "the cluster certificate cannot be read back here: GET /1.0 shows \
    it and its fingerprint (environment.certificate, environment.certificate_fingerprint), \
    and PUT /1.0/cluster/certificate ('corral cluster update-certificate CERT KEY') \
    replaces it";

/// The certificate is written, never read, here: LXD answers a GET with 501 "not
/// implemented", which clients match on; the envelope's metadata says what to do instead.
async fn unreadable() -> ApiResult {
    let mut answer = Envelope::error(501, "not implemented");
    answer.metadata = serde_json::json!(INSTEAD);
    Ok(envelope(501, answer, None))
}

async fn take_step(State(node): State<Arc<Node>>, body: Bytes) -> ApiResult {
    let step: Step = json_body(&body)?;
    certificate::step(&node, &step).await?;
    sync(&serde_json::json!({}), None)
}
