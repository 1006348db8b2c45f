//! `POST /1.0/cluster/members/NAME/state` (evacuate, restore; Corral's dry run), and the
//! member-to-member calls that move an instance (`/internal/moves/NAME/...`).

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use corral_shared::api::{ClusterMemberStatePost, EvacuationPlan};

use super::done;
use super::{ApiResult, json_body, operation_created, sync};
use crate::cluster::evacuate;
use crate::error::Error;
use crate::instances::migration::{self, Receive};
use crate::node::Node;
use crate::peers::Peers;

pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/1.0/cluster/members/{name}/state", post(change_state))
        .route("/internal/moves/{name}/rootfs", get(rootfs))
        .route("/internal/moves/{name}/receive", post(receive))
        .route("/internal/moves/{name}/forget", post(forget))
}

/// Evacuates or restores a member: run by the member itself (relayed to it from any other),
/// as an operation; with `dry_run`, the plan at once, from any member.
async fn change_state(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let post: ClusterMemberStatePost = json_body(&body)?;
    if post.dry_run {
        let plan = evacuate::plan(&node, &name, &post).await?;
        let value = serde_json::to_value(&plan).map_err(|e| Error::Internal(e.to_string()))?;
        let shared: EvacuationPlan =
            serde_json::from_value(value).map_err(|e| Error::Internal(e.to_string()))?;
        return sync(&shared, None);
    }
    let Some(address) = evacuate::runs_at(&node, &name).await? else {
        let op = evacuate::start(&node, &name, &post).await?;
        return operation_created(&op);
    };
    let path = format!("/1.0/cluster/members/{name}/state");
    let answer = Peers::of(&node)?
        .member(&address)
        .relay("POST", &path, body)
        .await
        .map_err(|e| {
            Error::Unavailable(format!(
                "cluster member {name} could not be reached to {} it: {}; check that it runs ('corral cluster list')",
                post.action,
                e.reason()
            ))
        })?;
    Ok(super::forward::raw_response(answer))
}

/// The root filesystem of an instance this member holds, as a tar stream.
async fn rootfs(State(node): State<Arc<Node>>, Path(name): Path<String>) -> ApiResult {
    let stream = migration::rootfs_stream(&node, &name).await?;
    let mut resp = Body::from_stream(stream).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    Ok(resp)
}

/// Pulls an instance from its source and takes it over (see `instances::migration`).
async fn receive(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let request: Receive = json_body(&body)?;
    migration::receive(&node, &name, &request).await?;
    done()
}

/// Removes this member's copy of an instance now held elsewhere.
async fn forget(State(node): State<Arc<Node>>, Path(name): Path<String>) -> ApiResult {
    migration::forget(&node, &name).await?;
    done()
}
