//! `/1.0/instances` as LXD serves it (list, create, show, change, delete, state, exec with
//! websockets, files), answerable on any member, and the `/internal/instances` calls a
//! member makes to the one holding an instance.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use corral_shared::api::{
    InstanceExecPost, InstancePost, InstancePut, InstanceStatePut, InstancesPost, etag_of,
};
use serde::Deserialize;

use super::done;
use super::{ApiError, ApiResult, json_body, operation_created, sync, sync_read};
use crate::error::Error;
use crate::instances::exec::{remote, session};
use crate::instances::files::{self, FileWrite};
use crate::instances::{lifecycle, local, reconfigure, relocation, rename};
use crate::node::Node;

pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/1.0/instances", get(list).post(create))
        .route(
            "/1.0/instances/{name}",
            get(show)
                .put(replace)
                .patch(patch)
                .post(rename_or_move)
                .delete(delete),
        )
        .route("/1.0/instances/{name}/state", get(state).put(change_state))
        .route("/1.0/instances/{name}/exec", post(exec))
        .route(
            "/1.0/instances/{name}/files",
            get(file_get).post(file_post).delete(file_delete),
        )
        .route("/1.0/operations/{id}/websocket", get(websocket))
        .route("/internal/instances", get(internal_states))
        .route(
            "/internal/instances/{name}",
            axum::routing::delete(internal_delete).patch(internal_change),
        )
        .route("/internal/instances/{name}/state", get(internal_state))
        .route("/internal/instances/{name}/prepare", post(internal_prepare))
        .route("/internal/instances/{name}/start", post(internal_start))
        .route("/internal/instances/{name}/stop", post(internal_stop))
        .route("/internal/instances/{name}/restart", post(internal_restart))
        .route("/internal/instances/{name}/rename", post(internal_rename))
        .route("/internal/instances/{name}/exec", get(internal_exec))
        .route(
            "/internal/instances/{name}/files",
            get(internal_file_get)
                .post(internal_file_post)
                .delete(internal_file_delete),
        )
}

#[derive(Debug, Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    recursion: u8,
    #[serde(default)]
    target: Option<String>,
}

async fn list(State(node): State<Arc<Node>>, Query(q): Query<ListQuery>) -> ApiResult {
    let target = q.target.filter(|t| !t.is_empty());
    let mut all = lifecycle::list(&node, target.as_deref()).await?;
    if q.recursion > 1 {
        lifecycle::add_states(&node, &mut all.value).await;
    }
    if q.recursion > 0 {
        return sync_read(&all, None);
    }
    let urls = all.map(|all| {
        all.iter()
            .map(|i| format!("/1.0/instances/{}", i.name))
            .collect::<Vec<_>>()
    });
    sync_read(&urls, None)
}

fn resources(name: &str) -> BTreeMap<String, Option<Vec<String>>> {
    BTreeMap::from([(
        "instances".to_owned(),
        Some(vec![format!("/1.0/instances/{name}")]),
    )])
}

/// Runs `work` as an operation over instance `name` and answers with it (202).
fn operation<F>(node: &Arc<Node>, description: &str, name: &str, work: F) -> ApiResult
where
    F: std::future::Future<Output = crate::error::Result<()>> + Send + 'static,
{
    let op = node
        .operations
        .start(description, resources(name), async move {
            work.await
                .map(|()| serde_json::json!({}))
                .map_err(|e| e.to_string())
        });
    operation_created(&op)
}

#[derive(Debug, Deserialize, Default)]
struct TargetQuery {
    #[serde(default)]
    target: Option<String>,
}

async fn create(
    State(node): State<Arc<Node>>,
    Query(q): Query<TargetQuery>,
    body: Bytes,
) -> ApiResult {
    let post: InstancesPost = json_body(&body)?;
    // Checked before the operation starts, so a bad request is refused as one.
    crate::instances::config::check_name(&post.name)?;
    crate::instances::config::check(&post.config)?;
    let target = q.target.filter(|t| !t.is_empty());
    let name = post.name.clone();
    let worker = node.clone();
    operation(&node, "Creating instance", &name, async move {
        lifecycle::create(&worker, &post, target.as_deref()).await
    })
}

async fn show(State(node): State<Arc<Node>>, Path(name): Path<String>) -> ApiResult {
    let instance = lifecycle::get(&node, &name).await?;
    let etag = etag_of(&(&instance.config, &instance.description));
    sync(&instance, Some(&etag))
}

async fn replace(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let current = lifecycle::row(&node, &name).await?;
    super::check_etag(&headers, &etag_of(&(&current.config, &current.description)))?;
    let put: InstancePut = json_body(&body)?;
    let change = reconfigure::Change::Whole {
        config: put.config,
        description: put.description,
    };
    reconfigure::apply(&node, &current, &change).await?;
    done()
}

async fn patch(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let current = lifecycle::row(&node, &name).await?;
    super::check_etag(&headers, &etag_of(&(&current.config, &current.description)))?;
    let patch: serde_json::Value = json_body(&body)?;
    let changes = crate::instances::config::patch_changes(&patch);
    reconfigure::apply(&node, &current, &reconfigure::Change::Keys { changes }).await?;
    done()
}

#[derive(Debug, Deserialize, Default)]
struct ForceQuery {
    #[serde(default)]
    force: u8,
}

/// `lxc move` and `lxc rename`: a new name, or (`?target=`) another member.
async fn rename_or_move(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    Query(q): Query<TargetQuery>,
    body: Bytes,
) -> ApiResult {
    let post: InstancePost = json_body(&body)?;
    let request = relocation::request(&name, &post, q.target.as_deref())?;
    lifecycle::row(&node, &name).await?;
    let description = request.description();
    let worker = node.clone();
    let owned = name.clone();
    operation(&node, description, &name, async move {
        relocation::carry_out(&worker, &owned, &request).await
    })
}

async fn delete(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    Query(q): Query<ForceQuery>,
) -> ApiResult {
    lifecycle::row(&node, &name).await?;
    let worker = node.clone();
    let force = q.force > 0;
    let owned = name.clone();
    operation(&node, "Deleting instance", &name, async move {
        lifecycle::delete(&worker, &owned, force).await
    })
}

async fn state(State(node): State<Arc<Node>>, Path(name): Path<String>) -> ApiResult {
    sync(&lifecycle::state(&node, &name).await?, None)
}

async fn change_state(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let put: InstanceStatePut = json_body(&body)?;
    if put.stateful {
        return Err(Error::BadRequest(
            "Stateful stop and start are not supported: containers run by runc are not \
             checkpointed here; leave --stateful out"
                .into(),
        )
        .into());
    }
    lifecycle::row(&node, &name).await?;
    let timeout = (put.timeout >= 0).then(|| Duration::from_secs(put.timeout as u64));
    let worker = node.clone();
    let owned = name.clone();
    let force = put.force;
    match put.action.as_str() {
        "start" => operation(&node, "Starting instance", &name, async move {
            lifecycle::start(&worker, &owned).await
        }),
        "stop" => operation(&node, "Stopping instance", &name, async move {
            lifecycle::stop(&worker, &owned, force, timeout).await
        }),
        "restart" => operation(&node, "Restarting instance", &name, async move {
            lifecycle::restart(&worker, &owned, force, timeout).await
        }),
        other => Err(Error::BadRequest(format!(
            "Unknown action {other:?}: use start, stop or restart"
        ))
        .into()),
    }
}

async fn exec(State(node): State<Arc<Node>>, Path(name): Path<String>, body: Bytes) -> ApiResult {
    let post: InstanceExecPost = json_body(&body)?;
    if post.record_output {
        return Err(Error::BadRequest(
            "record-output is not supported: connect the websockets to read the output".into(),
        )
        .into());
    }
    lifecycle::row(&node, &name).await?;
    let op = session::start(node, &name, &post)?;
    operation_created(&op)
}

#[derive(Debug, Deserialize)]
struct SecretQuery {
    #[serde(default)]
    secret: String,
}

async fn websocket(
    Path(id): Path<String>,
    Query(q): Query<SecretQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult {
    let ws = ws.map_err(|e| Error::BadRequest(format!("a websocket is needed here: {e}")))?;
    let Some(slot) = session::claim(&id, &q.secret) else {
        return Err(Error::Forbidden(
            "No websocket of this operation waits for that secret".into(),
        )
        .into());
    };
    Ok(ws
        .on_upgrade(move |socket| async move {
            let _ = slot.send(socket);
        })
        .into_response())
}

#[derive(Debug, Deserialize, Default)]
struct FileQuery {
    #[serde(default)]
    path: String,
    #[serde(default)]
    stat: u8,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    uid: Option<u32>,
    #[serde(default)]
    gid: Option<u32>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    write: Option<String>,
}

/// A file's content with LXD's headers, or a directory's entries.
fn file_answer(info: &files::FileInfo, body: Vec<u8>) -> ApiResult {
    let mut resp = if info.kind == "directory" {
        sync(&info.entries, None)?
    } else {
        let mut resp = body.into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        resp
    };
    for (name, value) in [
        ("X-LXD-uid", info.uid.to_string()),
        ("X-LXD-gid", info.gid.to_string()),
        ("X-LXD-mode", format!("{:04o}", info.mode)),
        ("X-LXD-type", info.kind.clone()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    }
    Ok(resp)
}

async fn file_get(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    Query(q): Query<FileQuery>,
) -> ApiResult {
    let (info, body) = files::pull(&node, &name, &q.path).await?;
    file_answer(&info, body)
}

/// How to write, from LXD's headers (or the query, between members).
fn file_write(headers: &HeaderMap, q: &FileQuery) -> Result<FileWrite, ApiError> {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let number = |what: &str, v: Option<String>, radix: u32| -> Result<Option<u32>, ApiError> {
        let kind = if radix == 8 {
            "octal permission bits, e.g. 0644"
        } else {
            "a number"
        };
        v.map(|v| {
            u32::from_str_radix(v.trim(), radix).map_err(|_| {
                ApiError(Error::BadRequest(format!(
                    "Invalid {what} {v:?}: give {kind}"
                )))
            })
        })
        .transpose()
    };
    let defaults = FileWrite::default();
    let uid = match q.uid {
        Some(u) => Some(u),
        None => number("uid", header("X-LXD-uid"), 10)?,
    };
    let gid = match q.gid {
        Some(g) => Some(g),
        None => number("gid", header("X-LXD-gid"), 10)?,
    };
    let mode = number("mode", q.mode.clone().or_else(|| header("X-LXD-mode")), 8)?;
    let kind = q.kind.clone().or_else(|| header("X-LXD-type"));
    let write = q.write.clone().or_else(|| header("X-LXD-write"));
    Ok(FileWrite {
        kind: kind.filter(|k| !k.is_empty()).unwrap_or(defaults.kind),
        uid: uid.unwrap_or(0),
        gid: gid.unwrap_or(0),
        mode: mode.unwrap_or(defaults.mode),
        append: write.as_deref() == Some("append"),
    })
}

async fn file_post(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    Query(q): Query<FileQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let how = file_write(&headers, &q)?;
    files::push(&node, &name, &q.path, &how, body.to_vec()).await?;
    done()
}

async fn file_delete(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    Query(q): Query<FileQuery>,
) -> ApiResult {
    files::remove(&node, &name, &q.path).await?;
    done()
}

// Member-to-member calls, made by a member for an instance this member holds.

async fn internal_states(State(node): State<Arc<Node>>) -> ApiResult {
    sync(&local::states(&node).await?, None)
}

async fn internal_state(State(node): State<Arc<Node>>, Path(name): Path<String>) -> ApiResult {
    sync(&local::state(&node, &name).await?, None)
}

#[derive(Debug, Deserialize)]
struct Prepare {
    fingerprint: String,
}

async fn internal_prepare(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let prepare: Prepare = json_body(&body)?;
    lifecycle::prepare_here(&node, &name, &prepare.fingerprint).await?;
    done()
}

async fn internal_start(State(node): State<Arc<Node>>, Path(name): Path<String>) -> ApiResult {
    lifecycle::start_here(&node, &name).await?;
    done()
}

#[derive(Debug, Deserialize)]
struct Stop {
    #[serde(default)]
    force: bool,
    timeout: u64,
}

async fn internal_stop(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let stop: Stop = json_body(&body)?;
    lifecycle::stop_here(&node, &name, stop.force, Duration::from_secs(stop.timeout)).await?;
    done()
}

async fn internal_restart(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let stop: Stop = json_body(&body)?;
    lifecycle::restart_here(&node, &name, stop.force, Duration::from_secs(stop.timeout)).await?;
    done()
}

#[derive(Debug, Deserialize)]
struct Rename {
    name: String,
}

async fn internal_rename(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let rename: Rename = json_body(&body)?;
    rename::rename_here(&node, &name, &rename.name).await?;
    done()
}

async fn internal_change(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    let change: reconfigure::Change = json_body(&body)?;
    reconfigure::apply_here(&node, &name, &change).await?;
    done()
}

async fn internal_delete(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    Query(q): Query<ForceQuery>,
) -> ApiResult {
    lifecycle::delete_here(&node, &name, q.force > 0).await?;
    done()
}

async fn internal_exec(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match ws {
        Ok(ws) => {
            // The websocket is served in a task of its own, for the same requestor.
            let who = crate::events::requestor::current();
            ws.on_upgrade(move |socket| {
                crate::events::requestor::scope(who, remote::serve(node, name, socket))
            })
        }
        Err(e) => ApiError(Error::BadRequest(format!(
            "a websocket is needed here: {e}"
        )))
        .into_response(),
    }
}

async fn internal_file_get(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    Query(q): Query<FileQuery>,
) -> ApiResult {
    if q.stat > 0 {
        return sync(&files::stat_here(&node, &name, &q.path)?, None);
    }
    let body = files::read_here(&node, &name, &q.path)?;
    Ok(body.into_response())
}

async fn internal_file_post(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    Query(q): Query<FileQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let how = file_write(&headers, &q)?;
    files::write_here(&node, &name, &q.path, &how, &body)?;
    done()
}

async fn internal_file_delete(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    Query(q): Query<FileQuery>,
) -> ApiResult {
    files::delete_here(&node, &name, &q.path)?;
    done()
}
