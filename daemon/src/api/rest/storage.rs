//! `/1.0/storage-pools` and `/1.0/storage-pools/POOL/volumes/custom` in LXD's shapes
//! (`?target=` read here: it names the member a two-phase step, a member-specific key or a
//! volume is for), and the member calls `/internal/storage-pools/...` that a cluster-wide
//! create or delete, or a volume aimed at another member, sends.

use std::sync::Arc;

use super::targeted::Params;
use super::{ApiResult, check_etag, created, json_body, sync, sync_read};
use crate::error::Error;
use crate::node::Node;
use crate::storage::{pools, volumes};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use corral_shared::api::{
    StoragePool, StoragePoolPut, StoragePoolsPost, StorageVolumePost, StorageVolumesPost, etag_of,
};

pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/1.0/storage-pools", get(list).post(create))
        .route(
            "/1.0/storage-pools/{pool}",
            get(show).put(replace).patch(patch).delete(delete),
        )
        .route("/1.0/storage-pools/{pool}/volumes", get(volume_list))
        .route(
            "/1.0/storage-pools/{pool}/volumes/custom",
            get(volume_list).post(volume_create),
        )
        .route(
            "/1.0/storage-pools/{pool}/volumes/custom/{name}",
            get(volume_show).post(volume_rename).delete(volume_delete),
        )
        .route(
            "/internal/storage-pools/{pool}/here",
            post(create_here).delete(delete_here),
        )
        .route(
            "/internal/storage-pools/{pool}/volumes",
            post(volume_create_here),
        )
        .route(
            "/internal/storage-pools/{pool}/volumes/{name}",
            post(volume_rename_here).delete(volume_delete_here),
        )
}

fn writable(pool: &StoragePool) -> StoragePoolPut {
    StoragePoolPut {
        config: pool.config.clone(),
        description: pool.description.clone(),
    }
}

async fn list(State(node): State<Arc<Node>>, Query(q): Query<Params>) -> ApiResult {
    let read = pools::list(&node, q.target()).await?;
    if q.recursion > 0 {
        return sync_read(&read, None);
    }
    let urls = read.map(|all| {
        all.iter()
            .map(|p| format!("/1.0/storage-pools/{}", p.name))
            .collect::<Vec<_>>()
    });
    sync_read(&urls, None)
}

async fn create(State(node): State<Arc<Node>>, Query(q): Query<Params>, body: Bytes) -> ApiResult {
    let post: StoragePoolsPost = json_body(&body)?;
    pools::create(&node, &post, q.target()).await?;
    created(&format!("/1.0/storage-pools/{}", post.name))
}

async fn show(
    State(node): State<Arc<Node>>,
    Path(pool): Path<String>,
    Query(q): Query<Params>,
) -> ApiResult {
    let read = pools::get(&node, &pool, q.target()).await?;
    let etag = etag_of(&writable(&read.value));
    sync_read(&read, Some(&etag))
}

/// Refuses a write whose `If-Match` names another state of the pool than the current one.
async fn check_current(
    node: &Node,
    pool: &str,
    target: Option<&str>,
    headers: &HeaderMap,
) -> Result<(), super::ApiError> {
    if headers.contains_key(axum::http::header::IF_MATCH) {
        let read = pools::get(node, pool, target).await?;
        if read.stale.is_some() {
            return Err(Error::Unavailable(
                "the pool cannot be read as of now to check its ETag; retry in a moment".into(),
            )
            .into());
        }
        check_etag(headers, &etag_of(&writable(&read.value)))?;
    }
    Ok(())
}

/// A PUT (`patch` false: keys not given go) or a PATCH (they stay), checked against
/// `If-Match` first.
async fn write(
    node: &Node,
    pool: &str,
    target: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
    patch: bool,
) -> ApiResult {
    let put: StoragePoolPut = json_body(body)?;
    check_current(node, pool, target, headers).await?;
    pools::update(node, pool, target, &put, patch).await?;
    sync(&serde_json::Value::Null, None)
}

async fn replace(
    State(node): State<Arc<Node>>,
    Path(pool): Path<String>,
    Query(q): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    write(&node, &pool, q.target(), &headers, &body, false).await
}

async fn patch(
    State(node): State<Arc<Node>>,
    Path(pool): Path<String>,
    Query(q): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    write(&node, &pool, q.target(), &headers, &body, true).await
}

async fn delete(State(node): State<Arc<Node>>, Path(pool): Path<String>) -> ApiResult {
    pools::delete(&node, &pool).await?;
    sync(&serde_json::Value::Null, None)
}

async fn volume_list(
    State(node): State<Arc<Node>>,
    Path(pool): Path<String>,
    Query(q): Query<Params>,
) -> ApiResult {
    let read = volumes::list(&node, &pool, q.target()).await?;
    if q.recursion > 0 {
        return sync_read(&read, None);
    }
    let urls = read.map(|all| {
        all.iter()
            .map(|v| {
                format!(
                    "/1.0/storage-pools/{pool}/volumes/custom/{}?target={}",
                    v.name, v.location
                )
            })
            .collect::<Vec<_>>()
    });
    sync_read(&urls, None)
}

async fn volume_create(
    State(node): State<Arc<Node>>,
    Path(pool): Path<String>,
    Query(q): Query<Params>,
    body: Bytes,
) -> ApiResult {
    let post: StorageVolumesPost = json_body(&body)?;
    volumes::create(&node, &pool, &post, q.target()).await?;
    created(&format!(
        "/1.0/storage-pools/{pool}/volumes/custom/{}",
        post.name
    ))
}

async fn volume_show(
    State(node): State<Arc<Node>>,
    Path((pool, name)): Path<(String, String)>,
    Query(q): Query<Params>,
) -> ApiResult {
    let read = volumes::get(&node, &pool, &name, q.target()).await?;
    sync_read(&read, None)
}

async fn volume_rename(
    State(node): State<Arc<Node>>,
    Path((pool, name)): Path<(String, String)>,
    Query(q): Query<Params>,
    body: Bytes,
) -> ApiResult {
    let post: StorageVolumePost = json_body(&body)?;
    volumes::rename(&node, &pool, &name, &post.name, q.target()).await?;
    created(&format!(
        "/1.0/storage-pools/{pool}/volumes/custom/{}",
        post.name
    ))
}

async fn volume_delete(
    State(node): State<Arc<Node>>,
    Path((pool, name)): Path<(String, String)>,
    Query(q): Query<Params>,
) -> ApiResult {
    volumes::delete(&node, &pool, &name, q.target()).await?;
    sync(&serde_json::Value::Null, None)
}

// Member calls (the trust layer admits only the cluster certificate on /internal).

async fn create_here(State(node): State<Arc<Node>>, Path(pool): Path<String>) -> ApiResult {
    pools::create_here(&node, &pool).await?;
    sync(&serde_json::Value::Null, None)
}

async fn delete_here(State(node): State<Arc<Node>>, Path(pool): Path<String>) -> ApiResult {
    pools::delete_here(&node, &pool).await?;
    sync(&serde_json::Value::Null, None)
}

async fn volume_create_here(
    State(node): State<Arc<Node>>,
    Path(pool): Path<String>,
    body: Bytes,
) -> ApiResult {
    let post: StorageVolumesPost = json_body(&body)?;
    volumes::create_here(&node, &pool, &post).await?;
    sync(&serde_json::Value::Null, None)
}

async fn volume_delete_here(
    State(node): State<Arc<Node>>,
    Path((pool, name)): Path<(String, String)>,
) -> ApiResult {
    volumes::delete_here(&node, &pool, &name).await?;
    sync(&serde_json::Value::Null, None)
}

async fn volume_rename_here(
    State(node): State<Arc<Node>>,
    Path((pool, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let post: StorageVolumePost = json_body(&body)?;
    volumes::rename_here(&node, &pool, &name, &post.name).await?;
    sync(&serde_json::Value::Null, None)
}
