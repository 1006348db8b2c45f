//! `/1.0/operations`: background work and its outcome.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use corral_shared::api::{Envelope, MemberStatus, Operation};
use serde::Deserialize;

use super::done;
use super::{ApiResult, Recursion, answer_read, sync, sync_read};
use crate::cluster::{certificate_tokens, tokens};
use crate::error::Error;
use crate::node::{Node, Read};
use crate::peers::{PeerError, Peers};

/// The longest a `/wait` may block: every wait is bounded, even `timeout=-1`.
const MAX_WAIT: Duration = Duration::from_secs(3600);

pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/1.0/operations", get(list))
        .route("/1.0/operations/{id}", get(show).delete(cancel))
        .route("/1.0/operations/{id}/wait", get(wait))
        .route("/internal/operations", get(local))
}

/// How long another member may take to list its operations.
const PEER_LIST: Duration = Duration::from_secs(2);
/// What a wait relayed to the member running the operation may add to its timeout.
const PEER_WAIT_MARGIN: Duration = Duration::from_secs(5);

/// This member's own operations, for the other members' lists.
async fn local(State(node): State<Arc<Node>>) -> ApiResult {
    sync(&node.operations.list(), None)
}

/// The addresses of the members other than this one that are not known offline.
async fn other_members(node: &Node) -> Vec<String> {
    let Ok(read) = crate::cluster::members::list_current(node).await else {
        return Vec::new();
    };
    let own = crate::cluster::members::own_name(node)
        .await
        .unwrap_or_default();
    read.value
        .into_iter()
        .filter(|m| m.server_name != own && m.status != MemberStatus::Offline)
        .map(|m| m.url.trim_start_matches("https://").to_owned())
        .collect()
}

/// The operations the other members run, each with the address of the member running it
/// (an evacuation runs on the member evacuated, so it is seen from every member, as LXD
/// shows every member's operations); the members are asked at once, and one that does not
/// answer within [`PEER_LIST`] is left out.
async fn others(node: &Node) -> Vec<(String, Operation)> {
    if !node.is_clustered() {
        return Vec::new();
    }
    let Ok(peers) = Peers::of(node) else {
        return Vec::new();
    };
    let targets = other_members(node)
        .await
        .into_iter()
        .map(|address| (address.clone(), address))
        .collect();
    let answers = peers
        .fan_out(targets, PEER_LIST, |m| async move {
            let answer = m
                .relay("GET", "/internal/operations", Default::default())
                .await?;
            let unexpected = |e: serde_json::Error| PeerError::Unexpected {
                address: m.address().to_owned(),
                what: "an operation list",
                reason: e.to_string(),
            };
            let envelope: Envelope = serde_json::from_slice(&answer.body).map_err(unexpected)?;
            serde_json::from_value::<Vec<Operation>>(envelope.metadata).map_err(unexpected)
        })
        .await;
    answers
        .into_iter()
        .filter_map(|(address, ops)| Some((address, ops.ok()?)))
        .flat_map(|(address, ops)| ops.into_iter().map(move |op| (address.clone(), op)))
        .collect()
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

/// This member's operations, and the cluster's join tokens and its certificate add tokens
/// (which any member can show, as of now: see [`tokens::list_current`]); no other member
/// is asked.
async fn here(node: &Node) -> Result<Read<(Vec<Operation>, Vec<Operation>)>, Error> {
    let local = node.operations.list();
    let certificate = certificate_tokens::list_current(node).await?;
    if !node.is_clustered() {
        return Ok(certificate.map(|tokens| (local, tokens)));
    }
    let join = tokens::list_current(node).await?;
    Ok(join.map(|mut join| {
        join.extend(certificate.value);
        (local, join)
    }))
}

/// [`here`]'s operations with the other members' ([`others`]) after this member's own.
async fn all(node: &Node) -> Result<Read<Vec<Operation>>, Error> {
    let here = here(node).await?;
    let elsewhere = others(node).await;
    Ok(here.map(|(mut ops, tokens)| {
        ops.extend(elsewhere.into_iter().map(|(_, op)| op));
        ops.extend(tokens);
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

/// An operation: the other members are asked only when it is neither this member's nor a
/// token.
async fn show(State(node): State<Arc<Node>>, Path(id): Path<String>) -> ApiResult {
    let here = here(&node).await?;
    let (local, tokens) = &here.value;
    let elsewhere = if local.iter().chain(tokens).any(|o| o.id == id) {
        Vec::new()
    } else {
        others(&node).await
    };
    let found = here.map(|(local, tokens)| {
        local
            .into_iter()
            .chain(tokens)
            .chain(elsewhere.into_iter().map(|(_, op)| op))
            .find(|o| o.id == id)
            .ok_or_else(missing)
    });
    answer_read(found, |op| sync(&op, None))
}

/// Cancelling a token operation revokes the token (`corral cluster revoke-token`,
/// `corral config trust revoke-token`).
async fn cancel(State(node): State<Arc<Node>>, Path(id): Path<String>) -> ApiResult {
    if node.is_clustered() && tokens::revoke(&node, &id).await? {
        return done();
    }
    if certificate_tokens::revoke(&node, &id).await? {
        return done();
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
    if let Some(op) = node.operations.wait(&id, Some(timeout)).await {
        return sync(&op, None);
    }
    // Run by another member: the wait is relayed to it.
    let (address, owner) = others(&node)
        .await
        .into_iter()
        .find(|(_, o)| o.id == id)
        .ok_or_else(missing)?;
    let path = format!("/1.0/operations/{id}/wait?timeout={}", timeout.as_secs());
    let answer = Peers::of(&node)?
        .member(&address)
        .within(timeout + PEER_WAIT_MARGIN)
        .relay("GET", &path, Default::default())
        .await
        .map_err(|e| {
            Error::Unavailable(format!(
                "operation {id} runs on {}, which could not be reached: {}",
                owner.location,
                e.reason()
            ))
        })?;
    Ok(super::forward::raw_response(answer))
}
