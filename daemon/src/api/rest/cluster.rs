//! `/1.0/cluster` and `/1.0/cluster/members`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use corral_shared::api::{Cluster, etag_of};
use corral_shared::preseed::{ClusterPreseed, Preseed};
use serde::Deserialize;

use super::{ApiResult, Recursion, json_body, operation_created, sync};
use crate::cluster::{bootstrap, config, members};
use crate::error::Error;
use crate::node::Node;

pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/1.0/cluster", get(show).put(enable))
        .route("/1.0/cluster/members", get(list))
        .route("/1.0/cluster/members/{name}", get(member))
}

async fn show(State(node): State<Arc<Node>>) -> ApiResult {
    let name = if node.is_clustered() {
        members::own_name(&node).await?
    } else {
        String::new()
    };
    let cluster = Cluster {
        server_name: name,
        enabled: node.is_clustered(),
        member_config: Vec::new(),
    };
    let etag = etag_of(&cluster);
    sync(&cluster, Some(&etag))
}

/// The part of LXD's `ClusterPut` that bootstrapping uses.
#[derive(Debug, Deserialize)]
struct ClusterPut {
    #[serde(default)]
    server_name: String,
    #[serde(default)]
    enabled: bool,
}

/// `PUT /1.0/cluster` with `enabled: true`: bootstraps a cluster, as an operation.
async fn enable(State(node): State<Arc<Node>>, body: Bytes) -> ApiResult {
    let put: ClusterPut = json_body(&body)?;
    if !put.enabled {
        return Err(Error::BadRequest(
            "disabling clustering is not supported; remove the member from its cluster instead ('corral cluster remove')".into(),
        )
        .into());
    }
    // The address comes from the server's config, as when LXD enables clustering.
    let addresses = config::current(&node)
        .await?
        .into_iter()
        .filter(|(k, _)| config::LOCAL_KEYS.contains(&k.as_str()))
        .collect();
    let preseed = Preseed {
        config: addresses,
        cluster: Some(ClusterPreseed {
            server_name: put.server_name,
            enabled: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    // Checked now so that a bad request is refused at once rather than as a failed operation.
    if let Err(violations) = preseed.validate() {
        let lines: Vec<String> = violations.iter().map(|v| v.message()).collect();
        return Err(Error::BadRequest(lines.join("; ")).into());
    }
    let op = start_apply(node, preseed, "Creating bootstrap node");
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
    let all = members::list(&node).await?;
    if q.recursion > 0 {
        return sync(&all, None);
    }
    let urls: Vec<String> = all
        .iter()
        .map(|m| format!("/1.0/cluster/members/{}", m.server_name))
        .collect();
    sync(&urls, None)
}

async fn member(State(node): State<Arc<Node>>, Path(name): Path<String>) -> ApiResult {
    let member = members::get(&node, &name).await?;
    let etag = etag_of(&member.writable());
    sync(&member, Some(&etag))
}
