//! What the member holding an instance does to it: make its bundle from the image, start,
//! stop and forget its runc container, read its state. The cluster-wide entry points (which
//! route a request to the holder) are in [`super::lifecycle`].

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use corral_shared::api::{InstanceState, InstanceStatus};

use super::bundle::{self, Layout};
use super::interfaces;
use super::nic::{self, Link};
use super::runc::{ContainerState, Runc};
use crate::error::{Error, Result};
use crate::node::Node;

/// How long a started container may take to show as running.
const START_BOUND: Duration = Duration::from_secs(15);
/// How long a killed container may take to show as stopped.
const KILL_BOUND: Duration = Duration::from_secs(10);
/// How often runc is asked while waiting for a container to change state.
const POLL: Duration = Duration::from_millis(100);
/// LXD's signal asking a container's init to power off cleanly.
const CLEAN_STOP_SIGNAL: &str = "PWR";

/// Where the default pool lives on each member running in this process, by data
/// directory, as last read from the database (see [`refresh_layout`]).
static POOL_DIRS: LazyLock<Mutex<HashMap<PathBuf, PathBuf>>> = LazyLock::new(Default::default);

/// This member's instance files: in the default storage pool's directory on this member
/// (its member-specific `source` when the pool has one), as [`refresh_layout`] last found
/// it; the pool's usual place (`storage-pools/default`) before that or without a pool.
pub fn layout(node: &Node) -> Layout {
    let known = POOL_DIRS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(node.dirs.root())
        .cloned();
    Layout::new(node.dirs.root(), known.as_deref())
}

/// Whether [`refresh_layout`] ran for this member since it started.
fn layout_known(node: &Node) -> bool {
    POOL_DIRS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains_key(node.dirs.root())
}

/// Reads where the default pool lives on this member now (the storage module decides), so
/// [`layout`] puts and finds instances there; without such a pool, its usual place.
pub async fn refresh_layout(node: &Node) -> Layout {
    let dir = match crate::storage::local_pool_dir(node, bundle::DEFAULT_POOL).await {
        Ok(dir) => dir,
        Err(_) => crate::storage::pool_dir(node.dirs.root(), bundle::DEFAULT_POOL, None),
    };
    POOL_DIRS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(node.dirs.root().to_owned(), dir);
    layout(node)
}

/// runc with this member's state directory (refused, saying how to install it, without runc).
pub fn runc(node: &Node) -> Result<Runc> {
    Runc::new(&layout(node).runc_root())
}

/// Makes instance `name`'s bundle from image `fingerprint`: the image's root filesystem
/// (fetched from a holder first if this member lacks it) and runc's `config.json`.
pub async fn prepare(node: &Node, name: &str, fingerprint: &str) -> Result<()> {
    runc(node)?;
    let layout = refresh_layout(node).await;
    let bundle = layout.bundle(name);
    if bundle.exists() {
        // Left by a creation that failed half way (its row is gone, or this is it).
        remove_dir(&bundle).await?;
    }
    let rootfs = layout.rootfs(name);
    std::fs::create_dir_all(&bundle)
        .map_err(|e| Error::Internal(format!("cannot make {}: {e}", bundle.display())))?;
    let made = async {
        crate::images::ensure_rootfs(node, fingerprint, &rootfs).await?;
        let init = rootfs.join(bundle::INIT.trim_start_matches('/'));
        if std::fs::symlink_metadata(&init).is_err() {
            return Err(Error::BadRequest(format!(
                "image {fingerprint} has no {}: Corral runs system containers, whose image \
                 must have an init; use an image that has one",
                bundle::INIT
            )));
        }
        write_bundle_config(&layout, name, &bundle)
    };
    if let Err(e) = made.await {
        let _ = remove_dir(&bundle).await;
        return Err(e);
    }
    Ok(())
}

/// Writes into `dir` the `config.json` runc runs instance `name` from once `dir` is its
/// bundle under `layout`.
pub(super) fn write_bundle_config(
    layout: &Layout,
    name: &str,
    dir: &std::path::Path,
) -> Result<()> {
    let config = bundle::config(name, &layout.rootfs(name), &layout.cgroup(name));
    let text = serde_json::to_vec_pretty(&config).map_err(|e| Error::Internal(e.to_string()))?;
    std::fs::write(dir.join("config.json"), text)
        .map_err(|e| Error::Internal(format!("cannot write {name}'s config.json: {e}")))
}

/// The states of every container runc runs for this member, by instance name. The first
/// list after a start also learns where the pool lives (for file calls made before any
/// instance is made, started or removed here); later ones do not read the database again,
/// as every member answers each list.
pub async fn states(node: &Node) -> Result<BTreeMap<String, ContainerState>> {
    let runc = runc(node)?;
    if !layout_known(node) {
        refresh_layout(node).await;
    }
    Ok(runc
        .list()
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect())
}

/// The status an instance has given what runc says of it.
pub fn status_of(container: Option<&ContainerState>) -> InstanceStatus {
    match container {
        Some(c) if c.running() => InstanceStatus::Running,
        _ => InstanceStatus::Stopped,
    }
}

/// One instance's live state.
pub async fn state(node: &Node, name: &str) -> Result<InstanceState> {
    let container = runc(node)?.state(name).await?;
    let status = status_of(container.as_ref());
    let pid = container.filter(|c| c.running()).map_or(0, |c| c.pid);
    let processes = if pid > 0 { count_processes(pid) } else { 0 };
    let network = (pid > 0).then(|| network_of(node, name, pid));
    Ok(InstanceState {
        status,
        status_code: status.code(),
        pid,
        processes,
        network,
    })
}

/// The interfaces inside instance `name` (init `pid`), with the host's ends Corral made.
fn network_of(
    node: &Node,
    name: &str,
    pid: i64,
) -> BTreeMap<String, corral_shared::api::InstanceStateNetwork> {
    let mut found = interfaces::of_process(pid).unwrap_or_else(|e| {
        tracing::debug!("cannot read the interfaces of instance {name}: {e}");
        BTreeMap::new()
    });
    for (iface, state) in &mut found {
        let host = nic::host_name(node.dirs.root(), name, iface);
        if interfaces::exists_here(&host) {
            state.host_name = host;
        }
    }
    found
}

/// How many processes share the pid namespace of `pid` (-1 when it cannot be read).
fn count_processes(pid: i64) -> i64 {
    let Ok(ns) = std::fs::read_link(format!("/proc/{pid}/ns/pid")) else {
        return -1;
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return -1;
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| std::fs::read_link(e.path().join("ns/pid")).ok().as_ref() == Some(&ns))
        .count() as i64
}

/// Starts instance `name`'s init, its NICs (`links`) connected before the init runs.
pub async fn start(node: &Node, name: &str, links: &[Link]) -> Result<()> {
    let runc = runc(node)?;
    let layout = refresh_layout(node).await;
    if !layout.bundle(name).join("config.json").is_file() {
        return Err(Error::Internal(format!(
            "instance {name} has no bundle on this member ({}): delete it and create it again",
            layout.bundle(name).display()
        )));
    }
    match runc.state(name).await? {
        Some(c) if c.running() => {
            return Err(Error::BadRequest("The instance is already running".into()));
        }
        // A container that ended (its init powered off) is forgotten before running again.
        Some(_) => runc.delete(name, true).await?,
        None => {}
    }
    if links.is_empty() {
        runc.run_detached(name, &layout.bundle(name), &layout.console(name))
            .await?;
    } else {
        // Created, connected, then started: the init finds its interfaces in place.
        runc.create(name, &layout.bundle(name), &layout.console(name))
            .await?;
        if let Err(e) = connect(&runc, name, links).await {
            let _ = runc.delete(name, true).await;
            return Err(e);
        }
        runc.start(name).await?;
    }
    wait_for(&runc, name, true, START_BOUND).await.map_err(|_| {
        Error::Internal(format!(
            "instance {name} did not start within {START_BOUND:?}; its console output is in {}",
            layout.console(name).display()
        ))
    })
}

/// Connects `links` to created container `name`.
async fn connect(runc: &Runc, name: &str, links: &[Link]) -> Result<()> {
    let pid = runc
        .state(name)
        .await?
        .map(|c| c.pid)
        .filter(|pid| *pid > 0)
        .ok_or_else(|| {
            Error::Internal(format!(
                "container {name} has no init process after runc create"
            ))
        })?;
    for link in links {
        nic::attach(pid, link).await.map_err(|e| {
            Error::Internal(format!(
                "cannot connect {}'s {} to bridge {}: {e}",
                name, link.nic.device, link.nic.bridge
            ))
        })?;
    }
    Ok(())
}

/// Stops instance `name`: asks its init to power off and waits up to `timeout` for it (as
/// LXD's clean shutdown), then kills it; `force` kills it at once.
pub async fn stop(node: &Node, name: &str, force: bool, timeout: Duration) -> Result<()> {
    let runc = runc(node)?;
    match runc.state(name).await? {
        Some(c) if c.running() => {}
        Some(_) => {
            runc.delete(name, true).await?;
            return Err(Error::BadRequest("The instance is already stopped".into()));
        }
        None => return Err(Error::BadRequest("The instance is already stopped".into())),
    }
    let mut clean = false;
    if !force && runc.kill(name, CLEAN_STOP_SIGNAL).await.is_ok() {
        clean = wait_for(&runc, name, false, timeout).await.is_ok();
    }
    if !clean {
        // Already gone between the look and the kill is as good as killed.
        let _ = runc.kill(name, "KILL").await;
        wait_for(&runc, name, false, KILL_BOUND).await.map_err(|_| {
            Error::Internal(format!(
                "instance {name} did not stop within {KILL_BOUND:?} of SIGKILL; look at 'runc --root {} state {name}'",
                runc.root().display()
            ))
        })?;
    }
    runc.delete(name, true).await
}

/// Waits until the container runs (`running`) or not, bounded by `bound`.
async fn wait_for(runc: &Runc, name: &str, running: bool, bound: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        let now_running = runc.state(name).await?.is_some_and(|c| c.running());
        if now_running == running {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Internal(format!(
                "instance {name} did not become {} within {bound:?}",
                if running { "running" } else { "stopped" }
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Forgets instance `name`'s container (killing it if it runs) and removes its files.
pub async fn remove(node: &Node, name: &str) -> Result<()> {
    let layout = refresh_layout(node).await;
    // Without runc there is no container to forget; the files still go.
    if let Ok(runc) = runc(node)
        && runc.state(name).await?.is_some()
    {
        runc.delete(name, true).await?;
    }
    remove_dir(&layout.bundle(name)).await
}

/// Removes `dir` and what it holds; a directory already gone is no error.
pub(super) async fn remove_dir(dir: &std::path::Path) -> Result<()> {
    let owned = dir.to_owned();
    let result = tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&owned) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?;
    result.map_err(|e| Error::Internal(format!("cannot remove {}: {e}", dir.display())))
}
