//! `/1.0/networks` in LXD's shapes (`?target=` read here: it names the member a two-phase
//! step or a member-specific key is for), and the member calls `/internal/networks/...`
//! a cluster-wide create, update or delete sends each member.

use std::sync::Arc;

use super::done;
use super::targeted::Params;
use super::{ApiResult, answer_read, check_etag, created, json_body, sync, sync_read};
use crate::cluster::two_phase::State as Phase;
use crate::db::global::networks::NetworkRow;
use crate::error::Error;
use crate::network;
use crate::node::Node;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use corral_shared::api::{Network, NetworkPut, NetworksPost, etag_of};

pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/1.0/networks", get(list).post(create))
        .route(
            "/1.0/networks/{name}",
            get(show).put(replace).patch(patch).delete(delete),
        )
        .route("/internal/networks/{name}/apply", post(apply_here))
        .route("/internal/networks/{name}/remove", post(remove_here))
}

/// A stored network as LXD shows it; with a target, that member's keys and state.
fn shown(row: &NetworkRow, target: Option<&str>) -> Network {
    let status = match target.and_then(|t| row.member(t)) {
        Some(part) => part.state,
        None => row.state,
    };
    Network {
        config: network::shown_config(row, target),
        description: row.description.clone(),
        name: row.name.clone(),
        kind: row.kind.clone(),
        used_by: row
            .profiles
            .iter()
            .map(|p| format!("/1.0/profiles/{p}"))
            .collect(),
        managed: true,
        status: Phase::from_db(status).api_status().to_owned(),
        locations: row.members.iter().map(|m| m.name.clone()).collect(),
    }
}

fn writable(net: &Network) -> NetworkPut {
    NetworkPut {
        config: net.config.clone(),
        description: net.description.clone(),
    }
}

async fn list(State(node): State<Arc<Node>>, Query(q): Query<Params>) -> ApiResult {
    let read = network::list(&node).await?;
    if q.recursion > 0 {
        let all = read.map(|rows| {
            rows.iter()
                .map(|r| shown(r, q.target()))
                .collect::<Vec<_>>()
        });
        return sync_read(&all, None);
    }
    let urls = read.map(|rows| {
        rows.iter()
            .map(|r| format!("/1.0/networks/{}", r.name))
            .collect::<Vec<_>>()
    });
    sync_read(&urls, None)
}

async fn create(State(node): State<Arc<Node>>, Query(q): Query<Params>, body: Bytes) -> ApiResult {
    let post: NetworksPost = json_body(&body)?;
    network::create(&node, &post, q.target()).await?;
    created(&format!("/1.0/networks/{}", post.name))
}

async fn show(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    Query(q): Query<Params>,
) -> ApiResult {
    let read = network::get(&node, &name).await?;
    answer_read(read, |row| {
        let net = shown(&row, q.target());
        sync(&net, Some(&etag_of(&writable(&net))))
    })
}

/// The network as shown now (refused unless current), its ETag checked against `If-Match`.
async fn current(
    node: &Node,
    name: &str,
    target: Option<&str>,
    headers: &HeaderMap,
) -> Result<Network, super::ApiError> {
    let read = network::get(node, name).await?;
    if read.stale.is_some() {
        return Err(Error::Unavailable(
            "no database leader confirmed this member's copy; retry once the cluster has a leader"
                .into(),
        )
        .into());
    }
    let net = shown(&read.value?, target);
    check_etag(headers, &etag_of(&writable(&net)))?;
    Ok(net)
}

async fn replace(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    Query(q): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    current(&node, &name, q.target(), &headers).await?;
    let put: NetworkPut = json_body(&body)?;
    network::update(&node, &name, q.target(), &put).await?;
    done()
}

/// PATCH: the given keys change, the others stay (as LXD merges).
async fn patch(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    Query(q): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let net = current(&node, &name, q.target(), &headers).await?;
    let given: serde_json::Value = json_body(&body)?;
    let mut put = writable(&net);
    if let Some(config) = given.get("config").and_then(|c| c.as_object()) {
        for (k, v) in config {
            let value = v
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            put.config.insert(k.clone(), value);
        }
    }
    if let Some(d) = given.get("description").and_then(|d| d.as_str()) {
        put.description = d.to_owned();
    }
    network::update(&node, &name, q.target(), &put).await?;
    done()
}

async fn delete(State(node): State<Arc<Node>>, Path(name): Path<String>) -> ApiResult {
    network::delete(&node, &name).await?;
    done()
}

/// A member told to make its part of a network (cluster-wide create or update).
async fn apply_here(State(node): State<Arc<Node>>, Path(name): Path<String>) -> ApiResult {
    network::apply_here(&node, &name).await?;
    done()
}

/// A member told to remove its part of a network (delete, or leaving the cluster).
async fn remove_here(State(node): State<Arc<Node>>, Path(name): Path<String>) -> ApiResult {
    network::remove_here(&node, &name).await?;
    done()
}
