//! `/1.0/operations`: background work and its outcome.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use corral_shared::api::Operation;
use serde::Deserialize;

use super::{ApiResult, Recursion, sync};
use crate::error::Error;
use crate::node::Node;

/// The longest a `/wait` may block: every wait is bounded, even `timeout=-1`.
const MAX_WAIT: Duration = Duration::from_secs(3600);

pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/1.0/operations", get(list))
        .route("/1.0/operations/{id}", get(show))
        .route("/1.0/operations/{id}/wait", get(wait))
}

fn by_status(ops: Vec<Operation>) -> BTreeMap<String, Vec<Operation>> {
    let mut grouped: BTreeMap<String, Vec<Operation>> = BTreeMap::new();
    for op in ops {
        grouped
            .entry(op.status.as_str().to_lowercase())
            .or_default()
            .push(op);
    }
    grouped
}

async fn list(State(node): State<Arc<Node>>, Query(q): Query<Recursion>) -> ApiResult {
    let grouped = by_status(node.operations.list());
    if q.recursion > 0 {
        return sync(&grouped, None);
    }
    let urls: BTreeMap<String, Vec<String>> = grouped
        .into_iter()
        .map(|(status, ops)| {
            let urls = ops
                .into_iter()
                .map(|o| format!("/1.0/operations/{}", o.id))
                .collect();
            (status, urls)
        })
        .collect();
    sync(&urls, None)
}

fn missing() -> Error {
    Error::NotFound("Operation not found".into())
}

async fn show(State(node): State<Arc<Node>>, Path(id): Path<String>) -> ApiResult {
    let op = node.operations.get(&id).ok_or_else(missing)?;
    sync(&op, None)
}

#[derive(Debug, Deserialize)]
struct WaitQuery {
    #[serde(default)]
    timeout: Option<f64>,
}

async fn wait(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    Query(q): Query<WaitQuery>,
) -> ApiResult {
    let timeout = match q.timeout {
        Some(t) if t >= 0.0 => Duration::from_secs_f64(t).min(MAX_WAIT),
        _ => MAX_WAIT,
    };
    let op = node
        .operations
        .wait(&id, Some(timeout))
        .await
        .ok_or_else(missing)?;
    sync(&op, None)
}
