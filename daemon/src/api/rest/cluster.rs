//! `/1.0/cluster` and `/1.0/cluster/members`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use corral_shared::api::{ClusterMemberPut, MemberConfigKey, etag_of};
use corral_shared::preseed::{ClusterPreseed, Preseed};
use serde::Deserialize;

use super::done;
use super::{
    ApiResult, Recursion, answer_read, check_etag, json_body, operation_created, sync, sync_read,
};
use crate::cluster::{bootstrap, member_edit, members, remove, tokens};
use crate::error::Error;
use crate::node::Node;

pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/1.0/cluster", get(show).put(enable))
        .route("/1.0/cluster/members", get(list).post(add))
        .route(
            "/1.0/cluster/members/{name}",
            get(member)
                .put(replace_member)
                .patch(patch_member)
                .post(rename_member)
                .delete(delete_member),
        )
        .route("/1.0/cluster/members/{name}/state", get(member_state))
}

async fn show(State(node): State<Arc<Node>>) -> ApiResult {
    answer_read(members::cluster_current(&node).await?, |cluster| {
        sync(&cluster, Some(&etag_of(&cluster)))
    })
}

/// LXD's `ClusterPut`: bootstrap (no cluster address) or join.
#[derive(Debug, Deserialize)]
struct ClusterPut {
    #[serde(default)]
    server_name: String,
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    member_config: Vec<MemberConfigKey>,
    #[serde(default)]
    cluster_address: String,
    #[serde(default)]
    cluster_certificate: String,
    #[serde(default)]
    server_address: String,
    #[serde(default)]
    cluster_password: String,
    #[serde(default)]
    cluster_token: String,
}

/// `PUT /1.0/cluster` with `enabled: true`: bootstraps or joins a cluster, as an operation.
async fn enable(State(node): State<Arc<Node>>, body: Bytes) -> ApiResult {
    let put: ClusterPut = json_body(&body)?;
    if !put.enabled {
        return Err(Error::BadRequest(
            "disabling clustering is not supported; remove the member from its cluster instead ('corral cluster remove')".into(),
        )
        .into());
    }
    let preseed = bootstrap::preseed_for_cluster(
        &node,
        ClusterPreseed {
            server_name: put.server_name,
            enabled: true,
            member_config: put.member_config,
            cluster_address: put.cluster_address,
            cluster_certificate: put.cluster_certificate,
            server_address: put.server_address,
            cluster_password: put.cluster_password,
            cluster_token: put.cluster_token,
            ..Default::default()
        },
    )
    .await?;
    let description = if preseed.is_join() {
        "Joining cluster"
    } else {
        "Creating bootstrap node"
    };
    let op = start_apply(node, preseed, description);
    operation_created(&op)
}

/// Runs a preseed as a background operation.
pub fn start_apply(
    node: Arc<Node>,
    preseed: Preseed,
    description: &str,
) -> corral_shared::api::Operation {
    let resources = BTreeMap::from([("cluster".to_owned(), Some(Vec::new()))]);
    let ops = node.operations.clone();
    ops.start(description, resources, async move {
        bootstrap::apply(&node, &preseed)
            .await
            .map(|_| serde_json::Value::Object(Default::default()))
            .map_err(|e| e.to_string())
    })
}

async fn list(State(node): State<Arc<Node>>, Query(q): Query<Recursion>) -> ApiResult {
    let all = members::list_current(&node).await?;
    if q.recursion > 0 {
        return sync_read(&all, None);
    }
    let urls = all.map(|all| {
        all.iter()
            .map(|m| format!("/1.0/cluster/members/{}", m.server_name))
            .collect::<Vec<_>>()
    });
    sync_read(&urls, None)
}

#[derive(Debug, Deserialize)]
struct MembersPost {
    server_name: String,
}

/// `POST /1.0/cluster/members`: a join token, as a token operation.
async fn add(State(node): State<Arc<Node>>, body: Bytes) -> ApiResult {
    let post: MembersPost = json_body(&body)?;
    let op = tokens::issue(&node, &post.server_name).await?;
    operation_created(&op)
}

async fn member(State(node): State<Arc<Node>>, Path(name): Path<String>) -> ApiResult {
    answer_read(members::get_current(&node, &name).await?, |member| {
        sync(&member, Some(&etag_of(&member.writable())))
    })
}

/// The member as the edit reads it, and whether a matching If-Match asks for the edit to
/// be guarded at commit (a mismatch is refused here).
async fn current_member(
    node: &Node,
    name: &str,
    headers: &HeaderMap,
) -> Result<(member_edit::Seen, bool), super::ApiError> {
    let seen = member_edit::current(node, name).await?;
    let guarded = check_etag(headers, &etag_of(&seen.member.writable()))?;
    Ok((seen, guarded))
}

async fn replace_member(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (seen, guarded) = current_member(&node, &name, &headers).await?;
    let put: ClusterMemberPut = json_body(&body)?;
    member_edit::update(&node, &seen, put, guarded).await?;
    done()
}

async fn patch_member(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (seen, guarded) = current_member(&node, &name, &headers).await?;
    let patch: serde_json::Value = json_body(&body)?;
    let put = member_edit::merge(seen.member.writable(), &patch)?;
    member_edit::update(&node, &seen, put, guarded).await?;
    done()
}

async fn rename_member(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let post: MembersPost = json_body(&body)?;
    member_edit::rename(&node, &name, &post.server_name).await?;
    done()
}

/// A member's live state, asked of that member once it is found as every read finds it
/// (current, or marked as this member's own copy).
async fn member_state(State(node): State<Arc<Node>>, Path(name): Path<String>) -> ApiResult {
    let found = members::get_current(&node, &name).await?;
    let answer = match found.value {
        Err(e) => Err(e.into()),
        Ok(_) => match crate::cluster::member_state::get(&node, &name).await {
            Ok(state) => sync(&state, None),
            Err(e) => Err(e.into()),
        },
    };
    super::mark(answer, found.stale.as_ref())
}

#[derive(Debug, Deserialize, Default)]
struct Force {
    #[serde(default)]
    force: u8,
}

async fn delete_member(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    Query(q): Query<Force>,
) -> ApiResult {
    remove::remove_on_leader(&node, &name, q.force > 0).await?;
    done()
}
