//! `/1.0/operations`: background work and its outcome.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use corral_shared::api::Operation;
use serde::Deserialize;

use super::{ApiResult, Recursion, answer_read, sync, sync_read};
use crate::cluster::{certificate_tokens, tokens};
use crate::error::Error;
use crate::node::{Node, Read};

/// The longest a `/wait` may block: every wait is bounded, even `timeout=-1`.
const MAX_WAIT: Duration = Duration::from_secs(3600);

pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/1.0/operations", get(list))
        .route("/1.0/operations/{id}", get(show).delete(cancel))
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

/// This member's operations, the cluster's join tokens and its certificate add tokens
/// (which any member can show, as of now: see [`tokens::list_current`]).
async fn all(node: &Node) -> Result<Read<Vec<Operation>>, Error> {
    let local = node.operations.list();
    let certificate = certificate_tokens::list_current(node).await?;
    if !node.is_clustered() {
        return Ok(certificate.map(|tokens| {
            let mut ops = local;
            ops.extend(tokens);
            ops
        }));
    }
    let join = tokens::list_current(node).await?;
    Ok(join.map(|join| {
        let mut ops = local;
        ops.extend(join);
        ops.extend(certificate.value);
        ops
    }))
}

async fn list(State(node): State<Arc<Node>>, Query(q): Query<Recursion>) -> ApiResult {
    let grouped = all(&node).await?.map(by_status);
    if q.recursion > 0 {
        return sync_read(&grouped, None);
    }
    let urls = grouped.map(|grouped| {
        grouped
            .into_iter()
            .map(|(status, ops)| {
                let urls = ops
                    .into_iter()
                    .map(|o| format!("/1.0/operations/{}", o.id))
                    .collect::<Vec<_>>();
                (status, urls)
            })
            .collect::<BTreeMap<_, _>>()
    });
    sync_read(&urls, None)
}

fn missing() -> Error {
    Error::NotFound("Operation not found".into())
}

async fn show(State(node): State<Arc<Node>>, Path(id): Path<String>) -> ApiResult {
    let found = all(&node)
        .await?
        .map(|ops| ops.into_iter().find(|o| o.id == id).ok_or_else(missing));
    answer_read(found, |op| sync(&op, None))
}

/// Cancelling a token operation revokes the token (`corral cluster revoke-token`,
/// `corral config trust revoke-token`).
async fn cancel(State(node): State<Arc<Node>>, Path(id): Path<String>) -> ApiResult {
    if node.is_clustered() && tokens::revoke(&node, &id).await? {
        return sync(&serde_json::json!({}), None);
    }
    if certificate_tokens::revoke(&node, &id).await? {
        return sync(&serde_json::json!({}), None);
    }
    if node.operations.get(&id).is_some() {
        return Err(Error::BadRequest("This operation can't be cancelled".into()).into());
    }
    Err(missing().into())
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
