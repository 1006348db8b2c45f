//! Starting a member's instances again when its daemon starts, as LXD does at boot: an
//! instance that was running when it last changed (`volatile.last_state.power` RUNNING) is
//! started again unless `boot.autostart` is false; `boot.autostart` true starts it whatever
//! its last state. Higher `boot.autostart.priority` first, and `boot.autostart.delay`
//! seconds waited after each one started. Which instances, in which order, is [`plan`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::config::LAST_POWER_KEY;
use super::{lifecycle, local};
use crate::db::global::instances as db;
use crate::db::global::nodes::{self, MemberState};
use crate::error::{Error, Result};
use crate::node::Node;

/// Whether an instance starts with its member.
pub const AUTOSTART_KEY: &str = "boot.autostart";
/// Seconds to wait after starting it, before the next one.
pub const DELAY_KEY: &str = "boot.autostart.delay";
/// The order instances start in: higher first.
pub const PRIORITY_KEY: &str = "boot.autostart.priority";

/// How often the start-up pass is tried again while the database cannot answer.
const RETRY: Duration = Duration::from_secs(2);

/// One instance to start, and how long to wait after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// The instance.
    pub name: String,
    /// `boot.autostart.delay`.
    pub delay: Duration,
}

/// LXD's reading of a boolean key: true, 1, yes or on.
fn is_true(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on"
    )
}

/// Whether an instance with `config` starts with its member (LXD's `shouldAutoStart`).
pub fn should_start(config: &BTreeMap<String, String>) -> bool {
    match config.get(AUTOSTART_KEY).map(String::as_str) {
        None | Some("") => config.get(LAST_POWER_KEY).map(String::as_str) == Some("RUNNING"),
        Some(value) => is_true(value),
    }
}

/// The instances among `instances` (name, configuration) to start, in order: those that
/// should start and do not run already (`running`), by `boot.autostart.priority` (higher
/// first; unset or unreadable is 0), then by name.
pub fn plan(
    instances: &[(String, BTreeMap<String, String>)],
    running: &BTreeSet<String>,
) -> Vec<Start> {
    let number = |config: &BTreeMap<String, String>, key: &str| -> i64 {
        config
            .get(key)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let mut chosen: Vec<(i64, &String, &BTreeMap<String, String>)> = instances
        .iter()
        .filter(|(name, config)| !running.contains(name) && should_start(config))
        .map(|(name, config)| (number(config, PRIORITY_KEY), name, config))
        .collect();
    chosen.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    chosen
        .into_iter()
        .map(|(_, name, config)| Start {
            name: name.clone(),
            delay: Duration::from_secs(number(config, DELAY_KEY).max(0) as u64),
        })
        .collect()
}

/// Starts this member's networks, then what [`plan`] says among its instances; how many
/// instances started. Nothing starts on an evacuated member (its networks and instances
/// wait for the restore), as in LXD.
pub async fn start_instances(node: &Node) -> Result<usize> {
    // One current read answers both questions: whether this member is evacuated, and which
    // instances are its own.
    let me = node.id();
    let read = node
        .read_current(move |c| Ok((nodes::member_by_id(c, me)?, db::instances(c)?)))
        .await?;
    if read.stale.is_some() {
        return Err(Error::Unavailable(
            "no current read of this member's instances; starting them waits for a quorum".into(),
        ));
    }
    let (member, instances) = read.value;
    let evacuated = member.is_some_and(|m| m.state == MemberState::Evacuated);
    if node.is_clustered() && evacuated {
        tracing::info!(
            "this member is evacuated: its networks and instances start with its restore"
        );
        return Ok(0);
    }
    // As LXD, the member's networks start before its instances.
    let made =
        crate::network::activation::start(node, crate::network::activation::Start::Missing).await;
    match made {
        Ok(0) => {}
        Ok(n) => tracing::info!("started {n} network bridges with this member"),
        Err(e) => tracing::warn!("starting this member's networks: {e}"),
    }
    if local::runc(node).is_err() {
        return Ok(0);
    }
    let mine: Vec<(String, BTreeMap<String, String>)> = instances
        .into_iter()
        .filter(|r| r.node_id == me)
        .map(|r| (r.name, r.config))
        .collect();
    if mine.is_empty() {
        return Ok(0);
    }
    let running: BTreeSet<String> = local::states(node)
        .await?
        .into_iter()
        .filter(|(_, state)| state.running())
        .map(|(name, _)| name)
        .collect();
    let mut started = 0;
    for step in plan(&mine, &running) {
        match lifecycle::start_here(node, &step.name).await {
            Ok(()) => {
                tracing::info!("started instance {} with this member", step.name);
                started += 1;
            }
            Err(e) => tracing::warn!(
                "instance {} did not start with this member: {e}; start it with 'corral start {}'",
                step.name,
                step.name
            ),
        }
        if !step.delay.is_zero() {
            tokio::time::sleep(step.delay).await;
        }
    }
    Ok(started)
}

/// [`start_instances`], tried until the database answers or the member stops.
pub async fn at_start(node: &Node) {
    loop {
        match start_instances(node).await {
            Ok(0) => return,
            Ok(n) => {
                tracing::info!("started {n} instances with this member");
                return;
            }
            Err(e) => tracing::debug!("starting this member's instances later: {e}"),
        }
        tokio::select! {
            _ = node.shutdown_requested() => return,
            _ = tokio::time::sleep(RETRY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(name: &str, pairs: &[(&str, &str)]) -> (String, BTreeMap<String, String>) {
        (
            name.to_owned(),
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn what_ran_starts_again_unless_autostart_says_otherwise() {
        let ran = (LAST_POWER_KEY, "RUNNING");
        let stopped = (LAST_POWER_KEY, "STOPPED");
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
        let cases: [Case; 8] = [
            ("it ran", &[ran], true),
            ("it was stopped", &[stopped], false),
            ("no record of its state", &[], false),
            (
                "it ran, autostart false",
                &[ran, (AUTOSTART_KEY, "false")],
                false,
            ),
            ("it ran, autostart 0", &[ran, (AUTOSTART_KEY, "0")], false),
            (
                "stopped, autostart true",
                &[stopped, (AUTOSTART_KEY, "true")],
                true,
            ),
            (
                "stopped, autostart 1",
                &[stopped, (AUTOSTART_KEY, "1")],
                true,
            ),
            ("it ran, autostart empty", &[ran, (AUTOSTART_KEY, "")], true),
        ];
        for (what, pairs, want) in cases {
            assert_eq!(should_start(&instance("c", pairs).1), want, "{what}");
        }
    }

    #[test]
    fn higher_priority_first_then_by_name_skipping_what_runs() {
        let ran = (LAST_POWER_KEY, "RUNNING");
        let instances = vec![
            instance("a", &[ran]),
            instance("b", &[ran, (PRIORITY_KEY, "10"), (DELAY_KEY, "3")]),
            instance("c", &[ran, (PRIORITY_KEY, "-1")]),
            instance("d", &[ran, (PRIORITY_KEY, "10")]),
            instance("e", &[ran, (PRIORITY_KEY, "many")]),
            instance("f", &[ran]),
            instance("g", &[(LAST_POWER_KEY, "STOPPED")]),
        ];
        let running = BTreeSet::from(["f".to_owned()]);
        let got: Vec<(String, u64)> = plan(&instances, &running)
            .into_iter()
            .map(|s| (s.name, s.delay.as_secs()))
            .collect();
        let want: Vec<(String, u64)> = [("b", 3), ("d", 0), ("a", 0), ("e", 0), ("c", 0)]
            .into_iter()
            .map(|(n, d)| (n.to_owned(), d))
            .collect();
        assert_eq!(got, want);
    }
}
