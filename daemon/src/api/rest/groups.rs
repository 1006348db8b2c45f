//! `/1.0/cluster/groups` and `/1.0/cluster/groups/NAME`, as LXD serves them.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use corral_shared::api::{ClusterGroupPost, ClusterGroupPut, ClusterGroupsPost, etag_of};

use super::done;
use super::{ApiResult, Recursion, answer_read, created, if_match, json_body, sync, sync_read};
use crate::cluster::groups;
use crate::node::Node;

/// The group routes.
pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/1.0/cluster/groups", get(list).post(create))
        .route(
            "/1.0/cluster/groups/{name}",
            get(show)
                .put(replace)
                .patch(patch)
                .post(rename)
                .delete(delete),
        )
}

fn url(name: &str) -> String {
    format!("/1.0/cluster/groups/{name}")
}

async fn list(State(node): State<Arc<Node>>, Query(q): Query<Recursion>) -> ApiResult {
    let all = groups::list(&node).await?;
    if q.recursion > 0 {
        return sync_read(&all, None);
    }
    sync_read(
        &all.map(|all| all.iter().map(|g| url(&g.name)).collect::<Vec<_>>()),
        None,
    )
}

async fn create(State(node): State<Arc<Node>>, body: Bytes) -> ApiResult {
    let post: ClusterGroupsPost = json_body(&body)?;
    groups::create(&node, &post).await?;
    created(&url(&post.name))
}

async fn show(State(node): State<Arc<Node>>, Path(name): Path<String>) -> ApiResult {
    answer_read(groups::get(&node, &name).await?, |group| {
        sync(&group, Some(&etag_of(&group.writable())))
    })
}

async fn replace(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let put: ClusterGroupPut = json_body(&body)?;
    groups::update(&node, &name, &put, if_match(&headers).as_deref()).await?;
    done()
}

async fn patch(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let changes: serde_json::Value = json_body(&body)?;
    let (current, etag) = groups::writable(&node, &name).await?;
    let put = groups::merge(current, &changes)?;
    // Judged against the group as read for the merge, so a change in between is refused.
    let expected = if_match(&headers).unwrap_or(etag);
    groups::update(&node, &name, &put, Some(&expected)).await?;
    done()
}

async fn rename(State(node): State<Arc<Node>>, Path(name): Path<String>, body: Bytes) -> ApiResult {
    let post: ClusterGroupPost = json_body(&body)?;
    groups::rename(&node, &name, &post.name).await?;
    created(&url(&post.name))
}

async fn delete(State(node): State<Arc<Node>>, Path(name): Path<String>) -> ApiResult {
    groups::delete(&node, &name).await?;
    done()
}
