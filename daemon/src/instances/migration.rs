//! Moving a stopped instance to another member over the cluster connection, so that a
//! member killed at any point leaves the instance in exactly one place once it is back.
//!
//! The replicated database says where an instance is, and only the destination changes it:
//! 1. the mover records an intent on the instance (`volatile.move.target` = destination id
//!    and a fresh token), through Raft;
//! 2. the destination pulls the root filesystem from the source as a tar stream (GET over
//!    the cluster connection), unpacks it in a staging directory, writes its bundle's
//!    `config.json`, syncs, and renames the staging directory into place;
//! 3. the destination switches the instance's member in one Raft entry that applies only
//!    while the instance is still on the source *and* the intent still carries its token,
//!    removing the intent with it: that is its confirmation;
//! 4. the source removes its copy once a current read says the instance is elsewhere.
//!
//! After a crash each member settles by the same rule at start ([`settle`]): staging
//! directories go; intents naming this member are withdrawn first (so a switch proposed
//! before the crash can no longer apply); then every copy of an instance the database
//! places on another member goes. Before step 3 commits the source's copy is the one the
//! database names; after it, the destination's.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use hyper::body::Bytes;
use serde::{Deserialize, Serialize};

use super::holder::Holder;
use super::{bundle, local};
use crate::db::batch::Batch;
use crate::db::global::instances::{self as db, InstanceRow};
use crate::error::{Error, Result};
use crate::node::Node;
use crate::peers::Peers;

/// The instance key holding a move's intent: `<destination member id>:<token>`.
pub const MOVE_KEY: &str = "volatile.move.target";
/// Staging directories of incoming copies start with this, beside the bundles.
pub const STAGING_PREFIX: &str = ".incoming-";
/// How long a destination may take to pull, unpack and confirm a copy.
const RECEIVE_BOUND: Duration = Duration::from_secs(900);
/// How long a source may take to forget its copy.
const FORGET_BOUND: Duration = Duration::from_secs(60);
/// Fault injection for the crash tests: the member aborts at the named step of a move
/// (`copied`: the destination's copy is in place, not yet switched; `switched`: the
/// destination switched, not yet answered; `confirmed`: the mover heard the destination
/// confirm, the source copy is not yet removed; `renamed`: a rename is in the database, its
/// files not yet renamed). Unset in normal use.
pub const CRASH_ENV: &str = "CORRAL_TEST_CRASH_AT";

/// What a destination is asked to pull.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Receive {
    /// The source member's cluster address.
    pub source: String,
    /// The source member's id (the switch applies only while the instance is there).
    pub source_id: u64,
    /// The intent's token.
    pub token: String,
}

/// Instances this member is receiving now (settling leaves their copies alone).
fn receiving() -> &'static Mutex<BTreeSet<String>> {
    static RECEIVING: OnceLock<Mutex<BTreeSet<String>>> = OnceLock::new();
    RECEIVING.get_or_init(Default::default)
}

pub(super) fn crash_point(step: &str) {
    if std::env::var(CRASH_ENV).is_ok_and(|v| v == step) {
        tracing::error!("{CRASH_ENV}={step}: aborting here, as a crash would");
        std::process::abort();
    }
}

fn intent(member_id: u64, token: &str) -> String {
    format!("{member_id}:{token}")
}

async fn current_row(node: &Node, name: &str) -> Result<Option<InstanceRow>> {
    let owned = name.to_owned();
    let read = node.read_current(move |c| db::instance(c, &owned)).await?;
    if let Some(stale) = read.stale {
        return Err(Error::Unavailable(format!(
            "cannot tell where instance {name} is now ({}): a move needs the database's \
             current answer; retry once the cluster has a quorum",
            stale.header_value()
        )));
    }
    Ok(read.value)
}

/// Moves stopped instance `name` to member `destination` (id and address); returns once
/// the database places it there and the source copy is gone (or will go when the source
/// settles, if it cannot be reached now).
pub async fn move_instance(
    node: &Node,
    name: &str,
    destination_id: u64,
    destination: &Holder,
) -> Result<()> {
    let row = current_row(node, name)
        .await?
        .ok_or_else(|| super::lifecycle::not_found(name))?;
    if row.node_id == destination_id {
        return Ok(());
    }
    let token = uuid::Uuid::new_v4().to_string();
    let mut batch = Batch::new();
    db::set_config(&mut batch, name, MOVE_KEY, &intent(destination_id, &token));
    node.propose(batch).await?;
    let request = Receive {
        source: row.address.clone(),
        source_id: row.node_id,
        token: token.clone(),
    };
    let received = if destination_id == node.id() {
        receive(node, name, &request).await
    } else {
        let body = serde_json::to_value(&request).map_err(|e| Error::Internal(e.to_string()))?;
        destination
            .call::<serde_json::Value>(
                node,
                "POST",
                &format!("/internal/moves/{name}/receive"),
                Some(body),
                RECEIVE_BOUND,
            )
            .await
            .map(drop)
    };
    if let Err(e) = received {
        // The outcome may be unknown (the destination died after switching): the database
        // says which it was. If not switched, withdraw the intent so no late switch applies.
        let now = current_row(node, name).await?;
        if now.as_ref().map(|r| r.node_id) != Some(destination_id) {
            let mut batch = Batch::new();
            withdraw(&mut batch, name, &intent(destination_id, &token));
            node.propose(batch).await?;
            return Err(e);
        }
    }
    crash_point("confirmed");
    let source = Holder::new(&row.location, &row.address);
    let forgot = if row.node_id == node.id() {
        forget(node, name).await
    } else {
        source
            .call::<serde_json::Value>(
                node,
                "POST",
                &format!("/internal/moves/{name}/forget"),
                None,
                FORGET_BOUND,
            )
            .await
            .map(drop)
    };
    if let Err(e) = forgot {
        tracing::warn!(
            "instance {name} moved to {}, but {} kept its old copy for now ({e}); it removes it when it starts again",
            destination.name,
            row.location
        );
    }
    Ok(())
}

/// Removes the intent `value` of instance `name`, if it is still there.
fn withdraw(batch: &mut Batch, name: &str, value: &str) {
    batch.push(
        "DELETE FROM instances_config WHERE key = ? AND value = ? AND instance_id =
         (SELECT id FROM instances WHERE project = 'default' AND name = ?)",
        vec![MOVE_KEY.into(), value.into(), name.into()],
    );
}

/// Destination side: pulls instance `name` from its source, puts the copy in place and
/// switches the database to this member (see the module documentation).
pub async fn receive(node: &Node, name: &str, request: &Receive) -> Result<()> {
    if !receiving()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(name.to_owned())
    {
        return Err(Error::Conflict(format!(
            "instance {name} is already being moved to this member; wait for that move to end"
        )));
    }
    let result = receive_once(node, name, request).await;
    receiving()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(name);
    result
}

async fn receive_once(node: &Node, name: &str, request: &Receive) -> Result<()> {
    let me = node.id();
    let wanted = intent(me, &request.token);
    let row = current_row(node, name)
        .await?
        .ok_or_else(|| super::lifecycle::not_found(name))?;
    if row.node_id != request.source_id || row.config.get(MOVE_KEY) != Some(&wanted) {
        return Err(Error::Conflict(format!(
            "instance {name} is no longer waiting to move here (it is on {}); nothing was copied",
            row.location
        )));
    }
    let layout = local::layout(node);
    let containers = layout.pool_dir.join("containers");
    let staging = containers.join(format!("{STAGING_PREFIX}{name}-{}", request.token));
    let copied = pull(node, name, &request.source, &staging).await;
    let placed = match copied {
        Ok(()) => place(&layout, name, &staging).await,
        Err(e) => Err(e),
    };
    if let Err(e) = placed {
        let _ = local::remove_dir(&staging).await;
        return Err(e);
    }
    crash_point("copied");
    let mut batch = Batch::new();
    batch.push(
        "UPDATE instances SET node_id = ? WHERE project = 'default' AND name = ? AND node_id = ?
         AND EXISTS (SELECT 1 FROM instances_config c WHERE c.instance_id = instances.id
                     AND c.key = ? AND c.value = ?)",
        vec![
            me.into(),
            name.into(),
            request.source_id.into(),
            MOVE_KEY.into(),
            wanted.clone().into(),
        ],
    );
    withdraw(&mut batch, name, &wanted);
    let outcome = node.propose(batch).await;
    let switched = matches!(&outcome, Ok(o) if o.rows_affected.first() == Some(&1));
    if !switched {
        // Not ours: the copy must not outlive the refusal (unless the outcome is unknown and
        // it did switch, which the current read tells).
        let here = current_row(node, name).await.ok().flatten();
        if here.is_none_or(|r| r.node_id != me) {
            let _ = local::remove(node, name).await;
            return Err(match outcome {
                Err(e) => e,
                Ok(_) => Error::Conflict(format!(
                    "the move of instance {name} was withdrawn before it completed; the \
                     instance stays on {}",
                    row.location
                )),
            });
        }
    }
    crash_point("switched");
    Ok(())
}

/// Streams the root filesystem of `name` from the member at `source` into `staging`.
async fn pull(node: &Node, name: &str, source: &str, staging: &Path) -> Result<()> {
    std::fs::create_dir_all(staging)
        .map_err(|e| Error::Internal(format!("cannot make {}: {e}", staging.display())))?;
    let mut tar = std::process::Command::new("tar")
        .args(["--numeric-owner", "-xpf", "-", "-C"])
        .arg(staging)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::Internal(format!("cannot run tar to unpack {name}: {e}")))?;
    let mut stdin = tar.stdin.take();
    let peers = Peers::of(node)?;
    let path = format!("/internal/moves/{name}/rootfs");
    // The sink writes to tar's pipe as chunks come; tar keeps up with the network.
    let received = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(peers.member(source).download(&path, |chunk| {
            match stdin.as_mut() {
                Some(pipe) => pipe.write_all(chunk),
                None => Ok(()),
            }
        }))
    });
    drop(stdin);
    let output = tar
        .wait_with_output()
        .map_err(|e| Error::Internal(format!("tar unpacking {name}: {e}")))?;
    let bytes = received.map_err(|e| {
        Error::Unavailable(format!(
            "copying instance {name} from {source} failed: {}; the instance stays where it was",
            e.reason()
        ))
    })?;
    if !output.status.success() {
        return Err(Error::Internal(format!(
            "unpacking instance {name} ({bytes} bytes from {source}) failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

/// Puts the unpacked copy in `staging` in place as `name`'s bundle, durably.
async fn place(layout: &bundle::Layout, name: &str, staging: &Path) -> Result<()> {
    local::write_bundle_config(layout, name, staging)?;
    sync_filesystem(staging)?;
    let target = layout.bundle(name);
    // A copy left from an earlier stay here (its removal still pending) is stale.
    local::remove_dir(&target).await?;
    std::fs::rename(staging, &target).map_err(|e| {
        Error::Internal(format!(
            "cannot move {} to {}: {e}",
            staging.display(),
            target.display()
        ))
    })?;
    if let Some(parent) = target.parent() {
        sync_filesystem(parent)?;
    }
    Ok(())
}

/// Flushes the filesystem holding `dir` to disk, so a copy confirmed survives a crash.
pub(super) fn sync_filesystem(dir: &Path) -> Result<()> {
    let file = std::fs::File::open(dir)
        .map_err(|e| Error::Internal(format!("cannot open {}: {e}", dir.display())))?;
    // SAFETY: syncfs only reads the descriptor, which `file` keeps open for the call.
    let rc = unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&file)) };
    if rc != 0 {
        return Err(Error::Internal(format!(
            "cannot sync {}: {}",
            dir.display(),
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// Source side: removes this member's copy of `name` once a current read places the
/// instance elsewhere (or nowhere); refuses while this member still holds it.
pub async fn forget(node: &Node, name: &str) -> Result<()> {
    match current_row(node, name).await? {
        Some(row) if row.node_id == node.id() => Err(Error::Conflict(format!(
            "instance {name} is still on this member; its copy stays"
        ))),
        _ => local::remove(node, name).await,
    }
}

/// Source side: a tar stream of instance `name`'s root filesystem, refused while it runs.
pub async fn rootfs_stream(
    node: &Node,
    name: &str,
) -> Result<tokio_stream::wrappers::ReceiverStream<std::io::Result<Bytes>>> {
    if let Ok(runc) = local::runc(node)
        && runc.state(name).await?.is_some_and(|c| c.running())
    {
        return Err(Error::Conflict(format!(
            "instance {name} is running: it is stopped before it moves"
        )));
    }
    let bundle = local::layout(node).bundle(name);
    if !bundle.join("rootfs").is_dir() {
        return Err(Error::NotFound(format!(
            "instance {name} has no root filesystem on this member ({})",
            bundle.display()
        )));
    }
    let mut child = tokio::process::Command::new("tar")
        .args(["--numeric-owner", "-cf", "-", "-C"])
        .arg(&bundle)
        .arg("rootfs")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::Internal(format!("cannot run tar to send {name}: {e}")))?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| Error::Internal("tar has no output".into()))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(8);
    let name = name.to_owned();
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match stdout.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
                    if tx
                        .send(Ok(Bytes::copy_from_slice(&buf[..n])))
                        .await
                        .is_err()
                    {
                        return; // The destination went away; tar is killed on drop.
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
        // A tar that failed must not end the stream as if complete.
        match child.wait_with_output().await {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                let why = String::from_utf8_lossy(&out.stderr).trim().to_owned();
                let _ = tx
                    .send(Err(std::io::Error::other(format!("tar of {name}: {why}"))))
                    .await;
            }
            Err(e) => {
                let _ = tx.send(Err(e)).await;
            }
        }
    });
    Ok(tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// Settles this member's copies after a start (see the module documentation): staging
/// directories go, intents naming this member are withdrawn, and copies of instances the
/// database places elsewhere are removed. Retried until a current read succeeds.
pub async fn settle(node: &Node) -> Result<usize> {
    let containers = local::layout(node).pool_dir.join("containers");
    let Ok(entries) = std::fs::read_dir(&containers) else {
        return Ok(0);
    };
    let names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for staging in names.iter().filter(|n| n.starts_with(STAGING_PREFIX)) {
        local::remove_dir(&containers.join(staging)).await?;
    }
    let read = node.read_current(db::instances).await?;
    if read.stale.is_some() {
        return Err(Error::Unavailable(
            "no current read of where instances are; settling waits for a quorum".into(),
        ));
    }
    let me = node.id();
    let prefix = format!("{me}:");
    let mut withdrawals = Batch::new();
    for row in &read.value {
        if let Some(value) = row.config.get(MOVE_KEY).filter(|v| v.starts_with(&prefix))
            && !is_receiving(&row.name)
        {
            withdraw(&mut withdrawals, &row.name, value);
        }
    }
    if !withdrawals.is_empty() {
        node.propose(withdrawals).await?;
    }
    let mut removed = 0;
    for row in read.value.iter().filter(|r| r.node_id != me) {
        if names.contains(&row.name) && !is_receiving(&row.name) {
            tracing::info!(
                "removing this member's stale copy of instance {} (it is on {})",
                row.name,
                row.location
            );
            local::remove(node, &row.name).await?;
            removed += 1;
        }
    }
    Ok(removed)
}

fn is_receiving(name: &str) -> bool {
    receiving()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(name)
}

/// How often settling is tried again while the database cannot answer.
const SETTLE_RETRY: Duration = Duration::from_secs(2);

/// [`settle`] and [`super::rename::settle`], tried until they succeed or the member stops;
/// run once at start. Then the member's instances start again ([`super::autostart`]): only
/// once no stale copy is left, so an instance that moved away while this member was down is
/// not started here. A server alone has no moves to settle, only renames.
pub async fn settle_at_start(node: std::sync::Arc<Node>) {
    loop {
        let settled = async {
            if node.is_clustered() {
                let n = settle(&node).await?;
                if n > 0 {
                    tracing::info!("settled interrupted moves: removed {n} stale instance copies");
                }
            }
            let n = super::rename::settle(&node).await?;
            if n > 0 {
                tracing::info!("finished {n} interrupted instance renames");
            }
            Ok::<_, Error>(())
        };
        match settled.await {
            Ok(()) => break,
            Err(e) => tracing::debug!("settling interrupted moves and renames later: {e}"),
        }
        tokio::select! {
            _ = node.shutdown_requested() => return,
            _ = tokio::time::sleep(SETTLE_RETRY) => {}
        }
    }
    super::autostart::at_start(&node).await;
}
