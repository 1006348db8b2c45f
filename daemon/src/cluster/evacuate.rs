//! Evacuating and restoring a member (LXD facts section 6): the checks, the member's
//! state in the database, and carrying out the plan `instances::evacuation` makes, as an
//! operation whose metadata says which instance is being handled. The work runs on the
//! member itself (the REST layer routes the request there), as LXD's does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use corral_shared::api::{ClusterMemberStatePost, MemberStatus, Operation};
use serde_json::json;

use crate::db::batch::Batch;
use crate::db::global::instances as instances_db;
use crate::db::global::nodes::{self, MemberRow, MemberState};
use crate::db::global::queries;
use crate::error::{Error, Result};
use crate::instances::evacuation::{
    self, Action, LAST_POWER_KEY, ORIGIN_KEY, Placer, Plan, Step, Subject,
};
use crate::instances::holder::Holder;
use crate::instances::scheduler::{Availability, MemberLoad, SchedulerInstance};
use crate::instances::{lifecycle, migration};
use crate::network;
use crate::node::Node;
use crate::operations::Progress;

/// The evacuation or restore running on this member, if any: (action, operation id).
fn running() -> &'static Mutex<Option<(String, String)>> {
    static RUNNING: OnceLock<Mutex<Option<(String, String)>>> = OnceLock::new();
    RUNNING.get_or_init(Default::default)
}

/// Everything a plan is made from, read as of now.
struct Facts {
    rows: Vec<MemberRow>,
    statuses: BTreeMap<String, MemberStatus>,
    subjects: Vec<Subject>,
    groups: Vec<String>,
}

async fn facts(node: &Node) -> Result<Facts> {
    let read = node
        .read_current(|c| Ok((queries::members(c)?, instances_db::group_names(c)?)))
        .await?;
    if let Some(stale) = read.stale {
        return Err(Error::Unavailable(format!(
            "cannot plan an evacuation without the database's current state ({}); retry once the cluster has a quorum",
            stale.header_value()
        )));
    }
    let (rows, groups) = read.value;
    let statuses = super::members::list_current(node)
        .await?
        .value
        .into_iter()
        .map(|m| (m.server_name, m.status))
        .collect();
    let subjects = lifecycle::list(node, None)
        .await?
        .value
        .into_iter()
        .map(|i| Subject {
            running: i.status == corral_shared::api::InstanceStatus::Running,
            virtual_machine: i.kind == "virtual-machine",
            name: i.name,
            location: i.location,
            config: i.config,
        })
        .collect();
    Ok(Facts {
        rows,
        statuses,
        subjects,
        groups,
    })
}

fn loads(facts: &Facts) -> Vec<MemberLoad> {
    facts
        .rows
        .iter()
        .map(|r| MemberLoad {
            id: r.id,
            name: r.name.clone(),
            architecture: r.arch.clone(),
            availability: match facts.statuses.get(&r.name) {
                Some(MemberStatus::Online) if r.state == MemberState::Created => {
                    Availability::Online
                }
                Some(MemberStatus::Evacuated) => Availability::Evacuated,
                Some(MemberStatus::Blocked) => Availability::Blocked,
                Some(MemberStatus::Online) if r.state == MemberState::Pending => {
                    Availability::Pending
                }
                _ => Availability::Offline,
            },
            scheduler: SchedulerInstance::of_config(
                r.config.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            ),
            groups: r.groups.clone(),
            instances: facts
                .subjects
                .iter()
                .filter(|s| s.location == r.name)
                .count() as u64,
            creating: 0,
        })
        .collect()
}

fn plan_from(facts: &Facts, member: &str, post: &ClusterMemberStatePost) -> Result<Plan> {
    let refused = |e: evacuation::PlanError| Error::BadRequest(e.to_string());
    match post.action.as_str() {
        "evacuate" => {
            let mode = evacuation::requested_mode(&post.mode).map_err(refused)?;
            let mut placer = Placer {
                members: loads(facts),
                groups: facts.groups.clone(),
                evacuated: member.to_owned(),
            };
            evacuation::evacuate(member, &facts.subjects, mode, &mut placer).map_err(refused)
        }
        "restore" => evacuation::restore(member, &facts.subjects, &post.mode).map_err(refused),
        other => Err(Error::BadRequest(format!(
            "Unknown cluster member state action {other:?}: use evacuate or restore"
        ))),
    }
}

/// Checks a request for member `name` against its state, and returns its row.
fn check(facts: &Facts, name: &str, action: &str) -> Result<MemberRow> {
    let row = facts
        .rows
        .iter()
        .find(|r| r.name == name)
        .cloned()
        .ok_or_else(|| Error::NotFound("Cluster member not found".into()))?;
    if facts.statuses.get(name) == Some(&MemberStatus::Offline) {
        return Err(offline(name));
    }
    match (action, row.state) {
        ("evacuate", MemberState::Evacuated) => Err(Error::BadRequest(
            "Cluster member is already evacuated".into(),
        )),
        ("restore", MemberState::Created) => Err(Error::BadRequest(
            "Cluster member is already restored".into(),
        )),
        (_, MemberState::Pending) => Err(Error::BadRequest(format!(
            "Cluster member {name} is still joining; wait until it is online"
        ))),
        _ => Ok(row),
    }
}

/// LXD's refusal to evacuate or restore an offline member.
fn offline(name: &str) -> Error {
    Error::BadRequest(format!(
        "Cluster member {name} is offline: you cannot evacuate or restore an offline \
         server; start it first ('corral cluster list' shows its state)"
    ))
}

/// Where evacuating or restoring member `name` runs: on the member itself, so `None` when
/// it is this member, else its address (refused when it is offline).
pub async fn runs_at(node: &Node, name: &str) -> Result<Option<String>> {
    let member = super::members::get(node, name).await?;
    if super::members::own_name(node).await.ok().as_deref() == Some(name) {
        return Ok(None);
    }
    if member.status == MemberStatus::Offline {
        return Err(offline(name));
    }
    Ok(Some(member.url.trim_start_matches("https://").to_owned()))
}

/// What evacuating or restoring member `name` would do, changing nothing (`--dry-run`).
pub async fn plan(node: &Node, name: &str, post: &ClusterMemberStatePost) -> Result<Plan> {
    let facts = facts(node).await?;
    check(&facts, name, &post.action)?;
    plan_from(&facts, name, post)
}

/// Starts evacuating or restoring this member (`name`) as an operation, after the checks:
/// one evacuation or restore at a time, the member's state, and the plan itself (a refused
/// plan changes nothing).
pub async fn start(
    node: &Arc<Node>,
    name: &str,
    post: &ClusterMemberStatePost,
) -> Result<Operation> {
    // Refused first, whatever the member's state says meanwhile.
    let busy = running().lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(refusal) = in_progress(busy.as_ref(), name, &post.action) {
        return Err(refusal);
    }
    let facts = facts(node).await?;
    let row = check(&facts, name, &post.action)?;
    if row.id != node.id() {
        return Err(Error::BadRequest(format!(
            "member {name} must evacuate or restore itself: send the request to it"
        )));
    }
    let plan = plan_from(&facts, name, post)?;
    let addresses: BTreeMap<String, (u64, String)> = facts
        .rows
        .iter()
        .map(|r| (r.name.clone(), (r.id, r.address.clone())))
        .collect();
    let mut slot = running().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(refusal) = in_progress(slot.as_ref(), name, &post.action) {
        return Err(refusal);
    }
    let description = match post.action.as_str() {
        "evacuate" => "Evacuating cluster member",
        _ => "Restoring cluster member",
    };
    let resources = BTreeMap::from([(
        "cluster".to_owned(),
        Some(vec![format!("/1.0/cluster/members/{name}")]),
    )]);
    let worker = node.clone();
    let action = post.action.clone();
    let op = node
        .operations
        .start_reporting(description, resources, move |progress| async move {
            let outcome = run(&worker, &row, &plan, &addresses, &progress).await;
            running().lock().unwrap_or_else(|p| p.into_inner()).take();
            outcome.map_err(|e| e.to_string())
        });
    *slot = Some((action, op.id.clone()));
    Ok(op)
}

/// The refusal of `action` on member `name` while `running` (action, operation id) runs.
fn in_progress(running: Option<&(String, String)>, name: &str, action: &str) -> Option<Error> {
    let (other, id) = running?;
    let other = if other == "evacuate" {
        "an evacuation"
    } else {
        "a restore"
    };
    Some(Error::Conflict(format!(
        "Cannot {action} member {name} while {other} of it is in progress (operation {id}); wait for it to end"
    )))
}

/// Sets this member's state from `from` to `to`, refusing if it was not `from`.
async fn set_state(node: &Node, id: u64, from: MemberState, to: MemberState) -> Result<()> {
    let mut batch = Batch::new();
    nodes::set_state_from(&mut batch, id, from, to);
    let outcome = node.propose(batch).await?;
    if outcome.rows_affected.first() != Some(&1) {
        return Err(Error::Conflict(format!(
            "the member's state changed meanwhile (it is no longer {from:?}); look at 'corral cluster list' and retry"
        )));
    }
    Ok(())
}

async fn run(
    node: &Node,
    row: &MemberRow,
    plan: &Plan,
    addresses: &BTreeMap<String, (u64, String)>,
    progress: &Progress,
) -> Result<serde_json::Value> {
    let (from, to) = match plan.action.as_str() {
        "evacuate" => (MemberState::Created, MemberState::Evacuated),
        _ => (MemberState::Evacuated, MemberState::Created),
    };
    set_state(node, row.id, from, to).await?;
    if plan.action != "evacuate" {
        // As LXD, a restored member's networks start before its instances do.
        if let Err(e) = network::activation::start(node, network::activation::Start::All).await {
            let _ = set_state(node, row.id, to, from).await;
            return Err(Error::Unavailable(format!(
                "restore of member {} stopped: its networks could not be started ({e}); it stays evacuated",
                plan.member
            )));
        }
    }
    let key = match plan.action.as_str() {
        "evacuate" => "evacuation_progress",
        _ => "restore_progress",
    };
    let total = plan.steps.len();
    // Every step's text stays in the metadata, so a client polling now and then still
    // sees each instance handled, the last ones too.
    let mut said: Vec<String> = Vec::with_capacity(total);
    let metadata = |said: &[String], done: usize| {
        json!({
            key: said.last().cloned().unwrap_or_default(),
            "steps": said,
            "member": plan.member,
            "done": done,
            "total": total,
        })
    };
    for (done, step) in plan.steps.iter().enumerate() {
        said.push(describe(step));
        progress.set(metadata(&said, done));
        if let Err(e) = carry_out(node, step, addresses).await {
            // As LXD: a failed evacuation leaves the member in service, a failed restore
            // leaves it evacuated; what moved already stays where it is.
            let _ = set_state(node, row.id, to, from).await;
            return Err(Error::Internal(format!(
                "{} of member {} stopped at instance {}: {e}; {done} of {total} instances were handled",
                plan.action, plan.member, step.instance
            )));
        }
    }
    if plan.action == "evacuate" {
        // As LXD, an evacuated member's networks stop once its instances are handled.
        network::activation::stop(node).await.map_err(|e| {
            Error::Internal(format!(
                "member {} is evacuated, but its networks could not be stopped: {e}; they start again with 'corral cluster restore {}'",
                plan.member, plan.member
            ))
        })?;
    }
    // As LXD, the member's evacuation or restore is announced once it is done.
    let done = match plan.action.as_str() {
        "evacuate" => corral_shared::api::Action::ClusterMemberEvacuated,
        _ => corral_shared::api::Action::ClusterMemberRestored,
    };
    crate::events::bus::announce(
        done,
        format!("/1.0/cluster/members/{}", plan.member),
        serde_json::Map::new(),
    );
    Ok(metadata(&said, total))
}

/// LXD's progress text for a step.
pub fn describe(step: &Step) -> String {
    let name = &step.instance;
    match step.action {
        Action::Migrate => format!(
            "Migrating {name:?} in project \"default\" to {:?}",
            step.destination
        ),
        Action::MoveBack => format!(
            "Migrating {name:?} in project \"default\" from {:?}",
            step.source
        ),
        Action::Stop | Action::Stay => format!("Stopping {name:?} in project \"default\""),
        Action::Start => format!("Starting {name:?} in project \"default\""),
    }
}

async fn carry_out(
    node: &Node,
    step: &Step,
    addresses: &BTreeMap<String, (u64, String)>,
) -> Result<()> {
    let name = &step.instance;
    if step.stop_first {
        // A clean shutdown within boot.host_shutdown_timeout (default 30 s), then forced.
        lifecycle::stop(node, name, false, None).await?;
    }
    let mut config = Batch::new();
    if step.remember_running {
        instances_db::set_config(&mut config, name, LAST_POWER_KEY, "RUNNING");
    }
    if let Some(origin) = &step.set_origin {
        instances_db::set_config(&mut config, name, ORIGIN_KEY, origin);
    }
    if !config.is_empty() {
        node.propose(config).await?;
    }
    if matches!(step.action, Action::Migrate | Action::MoveBack) {
        let (id, address) = addresses.get(&step.destination).ok_or_else(|| {
            Error::Internal(format!("member {} has no address", step.destination))
        })?;
        let destination = Holder::new(&step.destination, address);
        migration::move_instance(node, name, *id, &destination).await?;
        if step.action == Action::MoveBack {
            let mut batch = Batch::new();
            instances_db::unset_config(&mut batch, name, ORIGIN_KEY);
            node.propose(batch).await?;
        }
    }
    if step.start_after {
        lifecycle::start(node, name).await?;
    }
    Ok(())
}
