//! What evacuating or restoring a member does to each instance, decided before anything
//! changes: a plain function over plain data (LXD facts section 6), so the dry run prints
//! exactly what the real run then does, and the rules are tested as tables.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::scheduler::{MemberLoad, Request, Target, place};

/// The instance key choosing what evacuation does with it.
pub const EVACUATE_KEY: &str = "cluster.evacuate";
/// Where an evacuated instance came from, so restore can bring it back.
pub const ORIGIN_KEY: &str = "volatile.evacuate.origin";
/// Whether the instance ran before the host stopped it (restore starts it again).
pub const LAST_POWER_KEY: &str = "volatile.last_state.power";
/// The group an instance was placed through (`--target @group`); a move stays in it.
pub const GROUP_KEY: &str = "volatile.cluster.group";
/// How long a clean shutdown may take before the instance is stopped by force.
pub const SHUTDOWN_TIMEOUT_KEY: &str = "boot.host_shutdown_timeout";
/// LXD's default for [`SHUTDOWN_TIMEOUT_KEY`], in seconds, when unset or invalid.
pub const DEFAULT_SHUTDOWN_TIMEOUT: u64 = 30;

/// What evacuation does with one instance (`cluster.evacuate`, or the request's mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Migrate when it can, which for a container is always.
    Auto,
    /// Stop it and move it to another member.
    Migrate,
    /// Move it running: only virtual machines can, so refused for containers.
    LiveMigrate,
    /// Stop it and leave it where it is.
    Stop,
}

impl Mode {
    /// Reads a `cluster.evacuate` value or a request's mode.
    pub fn parse(value: &str) -> Option<Mode> {
        Some(match value {
            "" | "auto" => Mode::Auto,
            "migrate" => Mode::Migrate,
            "live-migrate" => Mode::LiveMigrate,
            "stop" => Mode::Stop,
            _ => return None,
        })
    }
}

/// An instance as planning sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subject {
    /// Its name.
    pub name: String,
    /// The member holding it.
    pub location: String,
    /// Whether it runs now.
    pub running: bool,
    /// Whether it is a virtual machine (Corral runs containers only).
    pub virtual_machine: bool,
    /// Its configuration, `volatile.*` included.
    pub config: BTreeMap<String, String>,
}

impl Subject {
    fn key(&self, key: &str) -> Option<&str> {
        self.config.get(key).map(String::as_str)
    }
}

/// What happens to one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Stopped (if running) and moved to `destination`, started there if it ran.
    Migrate,
    /// Stopped (if running), left on its member.
    Stop,
    /// Nothing to do (already stopped and staying, or restore with `skip`).
    Stay,
    /// Restore: started again on its own member, where evacuation stopped it.
    Start,
    /// Restore: stopped (if running) where it was moved to, moved back, started if it ran.
    MoveBack,
}

impl Action {
    /// The word the plan is printed with.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Migrate => "migrate",
            Action::Stop => "stop",
            Action::Stay => "stay",
            Action::Start => "start",
            Action::MoveBack => "move back",
        }
    }
}

/// One instance's part of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The instance.
    pub instance: String,
    /// What happens to it.
    pub action: Action,
    /// Where it is now.
    pub source: String,
    /// Where it ends up (its own member when it stays).
    pub destination: String,
    /// Whether it is stopped first (it runs now).
    pub stop_first: bool,
    /// Whether it is started at the end.
    pub start_after: bool,
    /// Set `volatile.last_state.power=RUNNING` after stopping, so restore starts it again.
    pub remember_running: bool,
    /// Set `volatile.evacuate.origin` to the evacuated member (the first origin is kept).
    pub set_origin: Option<String>,
    /// Why, when it is not the plain rule (no member could take it, say).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// A whole evacuation or restore, in the order it runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Plan {
    /// The member evacuated or restored.
    pub member: String,
    /// `evacuate` or `restore`.
    pub action: String,
    /// One step per instance concerned, by instance name.
    pub steps: Vec<Step>,
}

/// Why a plan cannot be made; nothing has changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The request's mode is not one LXD knows.
    #[error(
        "Invalid evacuation mode {0:?}: use auto, migrate, live-migrate or stop (or leave --action out)"
    )]
    InvalidMode(String),
    /// An instance's `cluster.evacuate` is not one LXD knows.
    #[error(
        "Instance {instance:?} has an invalid cluster.evacuate value {value:?}: set it to auto, migrate, live-migrate or stop ('corral config set {instance} cluster.evacuate auto')"
    )]
    InvalidInstanceMode {
        /// The instance.
        instance: String,
        /// Its value.
        value: String,
    },
    /// Live migration asked for a container.
    #[error(
        "Instance {0:?} is a container and cannot be live-migrated (only virtual machines can): set cluster.evacuate to migrate, stop or auto ('corral config set {0} cluster.evacuate migrate'), or evacuate with --action migrate"
    )]
    LiveMigrateContainer(String),
    /// The restore action is not one LXD knows.
    #[error("Invalid restore action {0:?}: leave --action out to restore everything, or use skip")]
    InvalidRestoreAction(String),
}

/// Chooses a destination for `instance` away from the evacuated member, given how many
/// instances the plan already sends to each member; `None` when no member can take it.
pub trait Destination {
    /// The member to move `instance` to, if any.
    fn choose(&mut self, instance: &Subject, planned: &BTreeMap<String, usize>) -> Option<String>;
}

impl<F> Destination for F
where
    F: FnMut(&Subject, &BTreeMap<String, usize>) -> Option<String>,
{
    fn choose(&mut self, instance: &Subject, planned: &BTreeMap<String, usize>) -> Option<String> {
        self(instance, planned)
    }
}

/// Placement away from the evacuated member, by the scheduler's rule: the members' loads
/// as read, raised by the moves planned so far; an instance placed through a group stays
/// in that group (`volatile.cluster.group`).
#[derive(Debug, Clone)]
pub struct Placer {
    /// Every member with its load; the evacuated one is left out whatever its state.
    pub members: Vec<MemberLoad>,
    /// Every cluster group that exists.
    pub groups: Vec<String>,
    /// The member being evacuated.
    pub evacuated: String,
}

impl Destination for Placer {
    fn choose(&mut self, instance: &Subject, planned: &BTreeMap<String, usize>) -> Option<String> {
        let loads: Vec<MemberLoad> = self
            .members
            .iter()
            .filter(|m| m.name != self.evacuated)
            .map(|m| MemberLoad {
                instances: m.instances + planned.get(&m.name).copied().unwrap_or(0) as u64,
                ..m.clone()
            })
            .collect();
        let target = match instance.key(GROUP_KEY) {
            Some(g) if !g.is_empty() => Target::Group(g.to_owned()),
            _ => Target::Any,
        };
        let request = Request {
            target,
            architectures: &[],
            groups: &self.groups,
        };
        place(&loads, &request).ok().map(|p| p.member)
    }
}

/// The mode for one instance: the request's if given, else its `cluster.evacuate`.
fn mode_for(instance: &Subject, requested: Option<Mode>) -> Result<Mode, PlanError> {
    let mode = match requested {
        Some(m) => m,
        None => {
            let value = instance.key(EVACUATE_KEY).unwrap_or("auto");
            Mode::parse(value).ok_or_else(|| PlanError::InvalidInstanceMode {
                instance: instance.name.clone(),
                value: value.to_owned(),
            })?
        }
    };
    if mode == Mode::LiveMigrate && !instance.virtual_machine {
        return Err(PlanError::LiveMigrateContainer(instance.name.clone()));
    }
    Ok(mode)
}

/// Reads a request's evacuation mode (`--action`): empty means each instance's own.
pub fn requested_mode(value: &str) -> Result<Option<Mode>, PlanError> {
    match value {
        "" => Ok(None),
        v => Mode::parse(v)
            .map(Some)
            .ok_or_else(|| PlanError::InvalidMode(v.to_owned())),
    }
}

/// The evacuation of `member`: every instance on it, by name. Each is refused first (a
/// live migration of a container, an unknown mode), so a refused plan changes nothing.
pub fn evacuate(
    member: &str,
    instances: &[Subject],
    requested: Option<Mode>,
    destination: &mut impl Destination,
) -> Result<Plan, PlanError> {
    let mut local: Vec<&Subject> = instances.iter().filter(|i| i.location == member).collect();
    local.sort_by(|a, b| a.name.cmp(&b.name));
    let modes = local
        .iter()
        .map(|i| mode_for(i, requested))
        .collect::<Result<Vec<_>, _>>()?;
    let mut planned: BTreeMap<String, usize> = BTreeMap::new();
    let mut steps = Vec::with_capacity(local.len());
    for (instance, mode) in local.into_iter().zip(modes) {
        let mut step = Step {
            instance: instance.name.clone(),
            action: Action::Stop,
            source: member.to_owned(),
            destination: member.to_owned(),
            stop_first: instance.running,
            start_after: false,
            remember_running: instance.running,
            set_origin: None,
            note: String::new(),
        };
        let migrate = matches!(mode, Mode::Auto | Mode::Migrate | Mode::LiveMigrate);
        if migrate {
            match destination.choose(instance, &planned) {
                Some(target) => {
                    *planned.entry(target.clone()).or_default() += 1;
                    step.action = Action::Migrate;
                    step.destination = target;
                    step.start_after = instance.running;
                    // A restore starts it because it ran, not because of last_state.
                    step.remember_running = false;
                    step.set_origin = match instance.key(ORIGIN_KEY) {
                        Some(o) if !o.is_empty() => None,
                        _ => Some(member.to_owned()),
                    };
                }
                None => {
                    step.note =
                        "No suitable cluster member could be found: it stays here, stopped".into();
                }
            }
        }
        if step.action == Action::Stop && !instance.running {
            step.action = Action::Stay;
        }
        steps.push(step);
    }
    Ok(Plan {
        member: member.to_owned(),
        action: "evacuate".into(),
        steps,
    })
}

/// The restore of `member` (`action` "" or `skip`): with `skip` nothing moves or starts;
/// otherwise its own instances that evacuation stopped start again, and those it sent
/// elsewhere come back, started if they run.
pub fn restore(member: &str, instances: &[Subject], action: &str) -> Result<Plan, PlanError> {
    match action {
        "" => {}
        "skip" => {
            return Ok(Plan {
                member: member.to_owned(),
                action: "restore".into(),
                steps: Vec::new(),
            });
        }
        other => return Err(PlanError::InvalidRestoreAction(other.to_owned())),
    }
    let mut concerned: Vec<&Subject> = instances
        .iter()
        .filter(|i| i.location == member || i.key(ORIGIN_KEY) == Some(member))
        .collect();
    concerned.sort_by(|a, b| a.name.cmp(&b.name));
    let mut steps = Vec::new();
    for instance in concerned {
        if instance.location == member {
            let ran = instance.key(LAST_POWER_KEY) == Some("RUNNING");
            if ran && !instance.running {
                steps.push(Step {
                    instance: instance.name.clone(),
                    action: Action::Start,
                    source: member.to_owned(),
                    destination: member.to_owned(),
                    stop_first: false,
                    start_after: true,
                    remember_running: false,
                    set_origin: None,
                    note: String::new(),
                });
            }
            continue;
        }
        steps.push(Step {
            instance: instance.name.clone(),
            action: Action::MoveBack,
            source: instance.location.clone(),
            destination: member.to_owned(),
            stop_first: instance.running,
            start_after: instance.running,
            remember_running: false,
            set_origin: None,
            note: String::new(),
        });
    }
    Ok(Plan {
        member: member.to_owned(),
        action: "restore".into(),
        steps,
    })
}

/// `boot.host_shutdown_timeout` of an instance, LXD's 30 s when unset or invalid.
pub fn shutdown_timeout(config: &BTreeMap<String, String>) -> std::time::Duration {
    let secs = config
        .get(SHUTDOWN_TIMEOUT_KEY)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT);
    std::time::Duration::from_secs(secs)
}

#[cfg(test)]
#[path = "evacuation_tests.rs"]
mod tests;
