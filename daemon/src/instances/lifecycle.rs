//! The instance lifecycle, usable from any member: each call finds the member holding the
//! instance and runs there (here, or through that member's `/internal/instances` calls),
//! and records what changed in the replicated database. What the holder itself does to its
//! runc container is [`super::local`].

use std::collections::BTreeMap;
use std::time::Duration;

use corral_shared::api::{
    Action, Instance, InstanceState, InstanceStatus, InstancesPost, MemberStatus,
};
use serde_json::{Map, json};

use super::config::{self as keys, BASE_IMAGE_KEY, LAST_POWER_KEY, UUID_KEY};
use super::holder::Holder;
use super::local;
use super::nic::Devices;
use super::runc::ContainerState;
use crate::db::batch::Batch;
use crate::db::global::entities;
use crate::db::global::instances::{self as db, InstanceRow, NewInstance};
use crate::error::{Error, Result};
use crate::node::{Node, Read};

/// How long a holder may take to make an instance's bundle (fetching its image included).
const PREPARE_BOUND: Duration = Duration::from_secs(300);
/// How long a holder may take to start an instance.
const START_BOUND: Duration = Duration::from_secs(60);
/// What a stop may take beyond its clean-shutdown timeout (the forced kill, runc's delete).
const STOP_MARGIN: Duration = Duration::from_secs(30);
/// How long a member may take to report its containers' states for a list.
const STATES_BOUND: Duration = Duration::from_secs(5);

/// LXD's answer when no instance has the name.
pub fn not_found(name: &str) -> Error {
    Error::NotFound(format!(
        "Instance not found: there is no instance {name:?}; 'corral list' shows the instances"
    ))
}

/// The instance `name` as of now, with the member holding it.
pub async fn row(node: &Node, name: &str) -> Result<InstanceRow> {
    let owned = name.to_owned();
    node.read_current(move |c| db::instance(c, &owned))
        .await?
        .value
        .ok_or_else(|| not_found(name))
}

/// Where `row`'s instance is: `None` on this member.
pub(super) fn holder_of(node: &Node, row: &InstanceRow) -> Option<Holder> {
    (row.node_id != node.id()).then(|| Holder::new(&row.location, &row.address))
}

pub(super) fn path(name: &str, rest: &str) -> String {
    format!("/internal/instances/{name}{rest}")
}

/// An instance as the API shows it, given its row, live status and its profile's devices
/// (its expanded devices: the root disk Corral gives it, or the profile's own).
pub fn view(row: &InstanceRow, status: InstanceStatus, profile: &Devices) -> Instance {
    let root = BTreeMap::from([
        ("path".to_owned(), "/".to_owned()),
        ("pool".to_owned(), super::bundle::DEFAULT_POOL.to_owned()),
        ("type".to_owned(), "disk".to_owned()),
    ]);
    let mut expanded_devices = BTreeMap::from([("root".to_owned(), root)]);
    expanded_devices.extend(profile.iter().map(|(k, v)| (k.clone(), v.clone())));
    Instance {
        architecture: row.architecture.clone(),
        config: row.config.clone(),
        created_at: row.creation_date.clone(),
        description: row.description.clone(),
        devices: BTreeMap::new(),
        ephemeral: row.ephemeral,
        expanded_config: row.config.clone(),
        expanded_devices,
        last_used_at: if row.last_use_date.is_empty() {
            "1970-01-01T00:00:00Z".to_owned()
        } else {
            row.last_use_date.clone()
        },
        location: row.location.clone(),
        name: row.name.clone(),
        profiles: vec!["default".to_owned()],
        project: db::PROJECT.to_owned(),
        stateful: false,
        status,
        status_code: status.code(),
        kind: "container".to_owned(),
        state: None,
    }
}

/// The live status of each instance among `rows`: this member's containers and every
/// other holder's are asked for at once, each holder once; the instances of a member that
/// is offline or does not answer are in `Error`, as LXD shows them (their configuration
/// stays readable).
async fn statuses(
    node: &Node,
    rows: &[InstanceRow],
    offline: &[String],
) -> BTreeMap<String, InstanceStatus> {
    let mut holders: BTreeMap<u64, (&str, &str)> = BTreeMap::new();
    for r in rows {
        holders
            .entry(r.node_id)
            .or_insert((&r.location, &r.address));
    }
    holders.retain(|_, (name, _)| !offline.iter().any(|o| o == name));
    let here = holders.remove(&node.id()).is_some();
    let others: Vec<(u64, String)> = holders
        .into_iter()
        .map(|(id, (_, address))| (id, address.to_owned()))
        .collect();
    let asked_here = async {
        if here {
            local::states(node).await.ok()
        } else {
            None
        }
    };
    let asked_others = async {
        let Ok(peers) = crate::peers::Peers::of(node) else {
            return Vec::new();
        };
        peers
            .fan_out(others, STATES_BOUND, |member| async move {
                member
                    .relay("GET", "/internal/instances", Default::default())
                    .await
            })
            .await
    };
    let (states_here, answers) = tokio::join!(asked_here, asked_others);
    let mut known: BTreeMap<u64, BTreeMap<String, ContainerState>> = BTreeMap::new();
    if let Some(states) = states_here {
        known.insert(node.id(), states);
    }
    for (id, answer) in answers {
        let states = answer.ok().filter(|a| a.status == 200).and_then(|a| {
            serde_json::from_slice::<corral_shared::api::Envelope>(&a.body)
                .ok()
                .and_then(|e| serde_json::from_value(e.metadata).ok())
        });
        if let Some(states) = states {
            known.insert(id, states);
        }
    }
    rows.iter()
        .map(|r| {
            let status = match known.get(&r.node_id) {
                Some(states) => local::status_of(states.get(&r.name)),
                None => InstanceStatus::Error,
            };
            (r.name.clone(), status)
        })
        .collect()
}

/// Names of members that are offline now (none when not clustered). Read from this
/// member's replica: callers read the instances through the linearizable path just
/// before, so the replica already holds all that read saw, and a second confirmation
/// would only cost another round trip to the leader on every list.
async fn offline_members(node: &Node) -> Vec<String> {
    if !node.is_clustered() {
        return Vec::new();
    }
    match crate::cluster::members::list(node).await {
        Ok(members) => members
            .into_iter()
            .filter(|m| m.status == MemberStatus::Offline)
            .map(|m| m.server_name)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Every instance with its member and status, as of now (`target`: only that member's).
pub async fn list(node: &Node, target: Option<&str>) -> Result<Read<Vec<Instance>>> {
    let read = node
        .read_current(|c| Ok((db::instances(c)?, entities::profile_devices(c, "default")?)))
        .await?;
    let stale = read.stale.clone();
    let (rows, profile) = read.value;
    let rows: Vec<InstanceRow> = rows
        .into_iter()
        .filter(|r| target.is_none_or(|t| r.location == t))
        .collect();
    let offline = offline_members(node).await;
    let statuses = statuses(node, &rows, &offline).await;
    let value = rows
        .iter()
        .map(|r| view(r, statuses[&r.name], &profile))
        .collect::<Vec<_>>();
    Ok(Read { value, stale })
}

/// One instance with its status.
pub async fn get(node: &Node, name: &str) -> Result<Instance> {
    let owned = name.to_owned();
    let (row, profile) = node
        .read_current(move |c| {
            Ok((
                db::instance(c, &owned)?,
                entities::profile_devices(c, "default")?,
            ))
        })
        .await?
        .value;
    let row = row.ok_or_else(|| not_found(name))?;
    let offline = offline_members(node).await;
    let statuses = statuses(node, std::slice::from_ref(&row), &offline).await;
    Ok(view(&row, statuses[&row.name], &profile))
}

/// How many instances' states are asked for at once for a list (`?recursion=2`).
const STATES_AT_ONCE: usize = 16;

/// Fills in the live state of each running instance among `instances` (`?recursion=2`,
/// as LXD's full instances), asking the holders; one that cannot answer is left without.
pub async fn add_states(node: &Node, instances: &mut [Instance]) {
    use futures_util::StreamExt;
    let running: Vec<String> = instances
        .iter()
        .filter(|i| i.status == InstanceStatus::Running)
        .map(|i| i.name.clone())
        .collect();
    let mut states: BTreeMap<String, InstanceState> =
        futures_util::stream::iter(running.into_iter().map(|name| async move {
            let state = state(node, &name).await;
            (name, state)
        }))
        .buffer_unordered(STATES_AT_ONCE)
        .filter_map(|(name, state)| async move { state.ok().map(|s| (name, s)) })
        .collect()
        .await;
    for instance in instances {
        instance.state = states.remove(&instance.name);
    }
}

/// One instance's live state, from its holder.
pub async fn state(node: &Node, name: &str) -> Result<InstanceState> {
    let row = row(node, name).await?;
    match holder_of(node, &row) {
        None => local::state(node, name).await,
        Some(h) => {
            h.call(node, "GET", &path(name, "/state"), None, STATES_BOUND)
                .await
        }
    }
}

/// Creates an instance from `post` (its image, name and configuration), placed by the
/// scheduler (`target`: a member or `@group`), and starts it when `post.start` asks.
pub async fn create(node: &Node, post: &InstancesPost, target: Option<&str>) -> Result<()> {
    keys::check_name(&post.name)?;
    keys::check(&post.config)?;
    if !post.kind.is_empty() && post.kind != "container" {
        return Err(Error::BadRequest(format!(
            "Invalid instance type {:?}: Corral runs containers only (leave --vm out)",
            post.kind
        )));
    }
    let image_name = match (post.source.kind.as_str(), &post.source) {
        ("image", s) if !s.alias.is_empty() => s.alias.clone(),
        ("image", s) if !s.fingerprint.is_empty() => s.fingerprint.clone(),
        ("image", _) => {
            return Err(Error::BadRequest(
                "The image source names no image: give its alias or fingerprint".into(),
            ));
        }
        (other, _) => {
            return Err(Error::BadRequest(format!(
                "Invalid instance source type {other:?}: Corral makes instances from images \
                 ('corral launch IMAGE NAME')"
            )));
        }
    };
    let image = crate::images::resolve(node, &image_name).await?;
    let exists = {
        let name = post.name.clone();
        node.read_current(move |c| db::instance(c, &name))
            .await?
            .value
    };
    if exists.is_some() {
        return Err(already_exists(&post.name));
    }
    let architectures = vec![image.architecture.clone()];
    let (placement, reservation) = super::placement::choose(node, target, &architectures).await?;
    let mut config = post.config.clone();
    for (key, value) in &image.properties {
        config.insert(format!("image.{key}"), value.clone());
    }
    config.insert(BASE_IMAGE_KEY.to_owned(), image.fingerprint.clone());
    config.insert(UUID_KEY.to_owned(), uuid::Uuid::new_v4().to_string());
    config.insert(LAST_POWER_KEY.to_owned(), "STOPPED".to_owned());
    if let Some((key, value)) = placement.volatile_config() {
        config.insert(key.to_owned(), value);
    }
    let new = NewInstance {
        name: post.name.clone(),
        node_id: placement.member_id,
        architecture: image.architecture.clone(),
        description: post.description.clone(),
        creation_date: crate::operations::now_rfc3339(),
        config,
    };
    let mut batch = Batch::new();
    db::create(&mut batch, &new);
    let outcome = node.propose(batch).await?;
    drop(reservation);
    if outcome.rows_affected.first().copied().unwrap_or(0) == 0 {
        return Err(already_exists(&post.name));
    }
    let row = row(node, &post.name).await?;
    let made = match holder_of(node, &row) {
        None => prepare_here(node, &post.name, &image.fingerprint).await,
        Some(h) => h
            .call::<serde_json::Value>(
                node,
                "POST",
                &path(&post.name, "/prepare"),
                Some(json!({ "fingerprint": image.fingerprint })),
                PREPARE_BOUND,
            )
            .await
            .map(drop),
    };
    if let Err(e) = made {
        // Nothing half made is left: the row goes with the bundle the holder removed.
        let mut batch = Batch::new();
        db::delete(&mut batch, &post.name);
        let _ = node.propose(batch).await;
        return Err(e);
    }
    if post.start {
        start(node, &post.name).await?;
    }
    Ok(())
}

/// Makes the bundle of new instance `name`, held by this member, from image `fingerprint`:
/// the step that creates it where it lives, so it is announced there, as LXD does.
pub async fn prepare_here(node: &Node, name: &str, fingerprint: &str) -> Result<()> {
    local::prepare(node, name, fingerprint).await?;
    announce(Action::InstanceCreated, name, Map::new());
    Ok(())
}

/// Announces `action` on instance `name` as this member's own lifecycle event.
pub(super) fn announce(action: Action, name: &str, context: Map<String, serde_json::Value>) {
    crate::events::bus::announce(action, format!("/1.0/instances/{name}"), context);
}

fn already_exists(name: &str) -> Error {
    Error::Conflict(format!(
        "Instance {name:?} already exists: choose another name, or delete it first ('corral delete {name}')"
    ))
}

/// Starts instance `name` on its member and records it as running.
pub async fn start(node: &Node, name: &str) -> Result<()> {
    let row = row(node, name).await?;
    match holder_of(node, &row) {
        None => start_here(node, name).await,
        Some(h) => h
            .call::<serde_json::Value>(node, "POST", &path(name, "/start"), None, START_BOUND)
            .await
            .map(drop),
    }
}

/// Starts instance `name`, held by this member.
pub async fn start_here(node: &Node, name: &str) -> Result<()> {
    start_quietly(node, name).await?;
    announce(Action::InstanceStarted, name, Map::new());
    Ok(())
}

/// [`start_here`] without its event (a restart announces itself once).
async fn start_quietly(node: &Node, name: &str) -> Result<()> {
    let links = super::nic::prepare(node, name).await?;
    local::start(node, name, &links).await?;
    let mut batch = Batch::new();
    db::set_config(&mut batch, name, LAST_POWER_KEY, "RUNNING");
    db::set_last_use(&mut batch, name, &crate::operations::now_rfc3339());
    node.propose(batch).await.map(drop)
}

/// Stops instance `name` on its member: a clean shutdown within `timeout` (default: its
/// `boot.host_shutdown_timeout`, else 30 s), then forced; `force` kills it at once.
pub async fn stop(node: &Node, name: &str, force: bool, timeout: Option<Duration>) -> Result<()> {
    let row = row(node, name).await?;
    let timeout =
        timeout.unwrap_or_else(|| Duration::from_secs(keys::shutdown_timeout(&row.config)));
    match holder_of(node, &row) {
        None => stop_here(node, name, force, timeout).await,
        Some(h) => {
            let body = json!({ "force": force, "timeout": timeout.as_secs() });
            h.call::<serde_json::Value>(
                node,
                "POST",
                &path(name, "/stop"),
                Some(body),
                timeout + STOP_MARGIN,
            )
            .await
            .map(drop)
        }
    }
}

/// Stops instance `name`, held by this member, and records it as stopped: announced as
/// LXD does, `instance-stopped` when forced, `instance-shutdown` for a clean shutdown.
pub async fn stop_here(node: &Node, name: &str, force: bool, timeout: Duration) -> Result<()> {
    stop_quietly(node, name, force, timeout).await?;
    let action = if force {
        Action::InstanceStopped
    } else {
        Action::InstanceShutdown
    };
    announce(action, name, Map::new());
    Ok(())
}

/// [`stop_here`] without its event.
async fn stop_quietly(node: &Node, name: &str, force: bool, timeout: Duration) -> Result<()> {
    local::stop(node, name, force, timeout).await?;
    let mut batch = Batch::new();
    db::set_config(&mut batch, name, LAST_POWER_KEY, "STOPPED");
    node.propose(batch).await.map(drop)
}

/// Stops (if it runs) then starts instance `name`, on its member.
pub async fn restart(
    node: &Node,
    name: &str,
    force: bool,
    timeout: Option<Duration>,
) -> Result<()> {
    let row = row(node, name).await?;
    let timeout =
        timeout.unwrap_or_else(|| Duration::from_secs(keys::shutdown_timeout(&row.config)));
    match holder_of(node, &row) {
        None => restart_here(node, name, force, timeout).await,
        Some(h) => {
            let body = json!({ "force": force, "timeout": timeout.as_secs() });
            h.call::<serde_json::Value>(
                node,
                "POST",
                &path(name, "/restart"),
                Some(body),
                timeout + STOP_MARGIN + START_BOUND,
            )
            .await
            .map(drop)
        }
    }
}

/// Restarts instance `name`, held by this member: one `instance-restarted`, as LXD
/// announces a restart (not a stop and a start).
pub async fn restart_here(node: &Node, name: &str, force: bool, timeout: Duration) -> Result<()> {
    match stop_quietly(node, name, force, timeout).await {
        Ok(()) => {}
        Err(Error::BadRequest(m)) if m.contains("already stopped") => {}
        Err(e) => return Err(e),
    }
    start_quietly(node, name).await?;
    announce(Action::InstanceRestarted, name, Map::new());
    Ok(())
}

/// Deletes instance `name`: refused while it runs unless `force` (then it is killed).
pub async fn delete(node: &Node, name: &str, force: bool) -> Result<()> {
    let row = row(node, name).await?;
    match holder_of(node, &row) {
        None => delete_here(node, name, force).await,
        Some(h) => {
            let p = format!("{}?force={}", path(name, ""), u8::from(force));
            h.call::<serde_json::Value>(node, "DELETE", &p, None, START_BOUND)
                .await
                .map(drop)
        }
    }
}

/// Deletes instance `name`, held by this member: its container, its files, its row.
pub async fn delete_here(node: &Node, name: &str, force: bool) -> Result<()> {
    if !force && local::state(node, name).await?.status == InstanceStatus::Running {
        return Err(Error::BadRequest(
            "The instance is currently running, stop it first or use --force".into(),
        ));
    }
    local::remove(node, name).await?;
    let mut batch = Batch::new();
    db::delete(&mut batch, name);
    node.propose(batch).await?;
    announce(Action::InstanceDeleted, name, Map::new());
    Ok(())
}

/// Runs a command in instance `name` on its member, with `io` as its streams; its exit code.
pub async fn exec(
    node: &Node,
    name: &str,
    req: &super::exec::ExecRequest,
    io: super::exec::Io,
) -> Result<i32> {
    let row = row(node, name).await?;
    match holder_of(node, &row) {
        None => super::exec::run_here(node, name, req, io).await,
        Some(h) => super::exec::remote::run_on(node, &h, name, req, io).await,
    }
}
