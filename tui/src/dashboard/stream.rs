//! What the Watch stream's events and the actions' results do to the [`App`].

use corral_shared::api::{
    ClusterMember, ClusterSnapshot, MemberStatus, Operation, OperationClass, OperationStatus,
    RaftState, WatchEvent,
};

use super::action::{Action, Outcome};
use super::app::{App, Command, Link, LogKind, Mode, Notice, backoff, roles_text};
use super::clock::Stamp;
use crate::commands::config::value_text;
use crate::format::order::natural_cmp;

pub(super) fn on_watch(app: &mut App, event: WatchEvent) -> Vec<Command> {
    if let WatchEvent::Snapshot(snapshot) = &event
        && app.sources.len() > 1
        && !same_cluster(&app.members, snapshot)
    {
        return refuse_foreign(app, snapshot);
    }
    if app.link != Link::Live {
        // Another member answering is news of its own (see `on_snapshot`), not "back".
        let moved = matches!(&event, WatchEvent::Snapshot(s)
            if !app.server.is_empty() && s.server_name != app.server);
        let text = match &app.link {
            Link::Down { since, .. } => format!("stream back (down since {})", since.clock),
            _ => format!("watching {}", app.source),
        };
        app.link = Link::Live;
        if !moved {
            app.push_log(LogKind::Good, text);
        }
    }
    match event {
        WatchEvent::Snapshot(snapshot) => on_snapshot(app, snapshot),
        WatchEvent::Member { name, after } => on_member(app, &name, after),
        WatchEvent::Heartbeat { name, at } => {
            app.heartbeats.insert(name, at);
        }
        WatchEvent::Raft(raft) => on_raft(app, raft),
        WatchEvent::Config { key, value } => {
            let text = match &value {
                Some(v) => format!("{key} = {}", value_text(Some(v))),
                None => format!("{key} unset"),
            };
            app.push_log(LogKind::Info, text);
            match value {
                Some(v) => app.config.insert(key, v),
                None => app.config.remove(&key),
            };
        }
        WatchEvent::Operation { id, after } => on_operation(app, id, after),
        WatchEvent::Instances(counts) => app.instances = counts,
    }
    Vec::new()
}

/// Whether `snapshot` comes from the cluster already shown (`known`, empty before the first
/// snapshot): some member is in both. A standalone server belongs to none.
pub fn same_cluster(known: &[ClusterMember], snapshot: &ClusterSnapshot) -> bool {
    known.is_empty()
        || snapshot.members.iter().any(|m| {
            known
                .iter()
                .any(|k| k.url == m.url && k.server_name == m.server_name)
        })
}

/// A fallback socket led to another cluster (or a standalone server): says so, and tries
/// the next one rather than show a different cluster as if it were this one.
fn refuse_foreign(app: &mut App, snapshot: &ClusterSnapshot) -> Vec<Command> {
    let server = if snapshot.server_name.is_empty() {
        "a server"
    } else {
        snapshot.server_name.as_str()
    };
    app.push_log(
        LogKind::Bad,
        format!(
            "{} is {server}, not a member of this cluster: not watched",
            app.source
        ),
    );
    on_stream_ended(
        app,
        format!("{} belongs to another cluster", app.source),
        app.now.clone(),
    )
}

fn on_snapshot(app: &mut App, snapshot: ClusterSnapshot) {
    let first = app.server.is_empty();
    if !first && snapshot.server_name != app.server {
        // The stream moved to another member after the watched one went away.
        let old = std::mem::replace(&mut app.server, snapshot.server_name.clone());
        app.push_log(
            LogKind::Warn,
            format!(
                "now watching {} ({}): {old} cannot be reached",
                app.server, app.source
            ),
        );
        app.lost = Some(old);
    } else if app.lost.as_deref() == Some(snapshot.server_name.as_str()) {
        app.lost = None;
    }
    app.server = snapshot.server_name;
    if first {
        app.members.clear();
        app.push_log(
            LogKind::Info,
            format!(
                "{} members, leader {}",
                snapshot.members.len(),
                snapshot.raft.leader.as_deref().unwrap_or("unknown")
            ),
        );
        app.raft = snapshot.raft;
    } else {
        // A fresh picture after a gap: report what changed meanwhile.
        let gone: Vec<String> = app
            .members
            .iter()
            .filter(|old| {
                !snapshot
                    .members
                    .iter()
                    .any(|m| m.server_name == old.server_name)
            })
            .map(|m| m.server_name.clone())
            .collect();
        for name in gone {
            on_member(app, &name, None);
        }
        on_raft(app, snapshot.raft);
    }
    for m in snapshot.members {
        if first {
            app.record_roles(&m);
            let at = app.members.partition_point(|x| {
                natural_cmp(&x.server_name, &m.server_name) == std::cmp::Ordering::Less
            });
            app.members.insert(at, m);
        } else {
            let name = m.server_name.clone();
            on_member(app, &name, Some(m));
        }
    }
    app.heartbeats = snapshot.heartbeats;
    app.config = snapshot.config;
    app.instances = snapshot.instances;
    app.operations = snapshot
        .operations
        .into_iter()
        .map(|op| (op.id.clone(), op))
        .collect();
}

fn on_member(app: &mut App, name: &str, after: Option<ClusterMember>) {
    let index = app.members.iter().position(|m| m.server_name == name);
    match (index, after) {
        (Some(i), None) => {
            app.members.remove(i);
            app.heartbeats.remove(name);
            app.push_log(LogKind::Warn, format!("{name} left the cluster"));
        }
        (None, None) => {}
        (None, Some(m)) => {
            app.push_log(
                LogKind::Good,
                format!("{name} joined ({})", m.status.to_string().to_uppercase()),
            );
            app.record_roles(&m);
            let at = app
                .members
                .partition_point(|x| natural_cmp(&x.server_name, name).is_lt());
            app.members.insert(at, m);
        }
        (Some(i), Some(m)) => {
            let old = &app.members[i];
            let mut news = Vec::new();
            if old.status != m.status {
                let kind = match m.status {
                    MemberStatus::Online => LogKind::Good,
                    MemberStatus::Offline => LogKind::Bad,
                    MemberStatus::Evacuated | MemberStatus::Blocked => LogKind::Warn,
                };
                news.push((
                    kind,
                    format!(
                        "{name} {} → {}",
                        old.status.to_string().to_uppercase(),
                        m.status.to_string().to_uppercase()
                    ),
                ));
            }
            if old.roles != m.roles {
                news.push((
                    LogKind::Info,
                    format!(
                        "{name} roles: {} → {}",
                        roles_text(&old.roles),
                        roles_text(&m.roles)
                    ),
                ));
            }
            if old.failure_domain != m.failure_domain {
                news.push((
                    LogKind::Info,
                    format!(
                        "{name} failure domain: {} → {}",
                        old.failure_domain, m.failure_domain
                    ),
                ));
            }
            for (kind, text) in news {
                app.push_log(kind, text);
            }
            app.record_roles(&m);
            app.members[i] = m;
        }
    }
}

fn on_raft(app: &mut App, raft: RaftState) {
    if raft.leader != app.raft.leader {
        let text = match &raft.leader {
            Some(leader) => format!("leader is now {leader} (term {})", raft.term),
            None => format!("no leader (term {})", raft.term),
        };
        let kind = if raft.leader.is_some() {
            LogKind::Info
        } else {
            LogKind::Bad
        };
        app.push_log(kind, text);
    }
    app.raft = raft;
}

fn on_operation(app: &mut App, id: String, after: Option<Operation>) {
    let token_for = |op: &Operation| {
        (op.class == OperationClass::Token)
            .then(|| op.metadata.get("serverName").and_then(|v| v.as_str()))
            .flatten()
            .map(str::to_string)
    };
    match after {
        Some(op) => {
            let fresh = !app.operations.contains_key(&id);
            if fresh
                && op.status == OperationStatus::Running
                && let Some(name) = token_for(&op)
            {
                app.push_log(LogKind::Info, format!("join token issued for {name}"));
            }
            app.operations.insert(id, op);
        }
        None => {
            if let Some(old) = app.operations.remove(&id)
                && let Some(name) = token_for(&old)
            {
                app.push_log(
                    LogKind::Info,
                    format!("join token for {name} used or revoked"),
                );
            }
        }
    }
}

pub(super) fn on_done(app: &mut App, action: Action, result: Result<Outcome, String>) {
    if let Some(i) = app.busy.iter().position(|a| *a == action) {
        app.busy.remove(i);
    }
    match result {
        // Successes are logged by the stream, which sees everyone's changes (the token's
        // operation, the member leaving, the new value): logging them here too showed each
        // twice. The notice says the action is done.
        Ok(Outcome::Token { name, token }) => {
            app.notice = None;
            app.mode = Mode::Token { name, token };
        }
        Ok(Outcome::Done(text)) => {
            app.notice = Some(Notice { text, error: false });
        }
        Ok(Outcome::Planned(next)) => {
            app.notice = None;
            app.mode = Mode::Confirm(next);
        }
        Err(error) => {
            app.push_log(LogKind::Bad, format!("{} failed: {error}", action.doing()));
            app.notice = Some(Notice {
                text: error,
                error: true,
            });
        }
    }
}

/// The stream ended (or could not be opened): tries the next known member, backing off
/// once every one of them was tried.
pub(super) fn on_stream_ended(app: &mut App, error: String, at: Stamp) -> Vec<Command> {
    app.now = at.clone();
    app.dirty = true;
    let (since, attempt) = match &app.link {
        Link::Down { since, attempt, .. } => (since.clone(), attempt + 1),
        Link::Live | Link::Connecting => {
            app.push_log(LogKind::Bad, format!("stream lost: {error}"));
            (at, 1)
        }
    };
    let n = app.sources.len().max(1);
    if n > 1 {
        app.watching = (app.watching + 1) % n;
        app.source = app.sources[app.watching].clone();
    }
    // One round is a try of every source: the wait grows per round, not per try.
    let round = u32::try_from((attempt as usize).div_ceil(n)).unwrap_or(u32::MAX);
    let retry_in = backoff(round);
    app.link = Link::Down {
        since,
        attempt,
        retry_in,
        error,
    };
    vec![Command::Connect { after: retry_in }]
}
