//! `/1.0/events`, as LXD serves it: a websocket of text frames, one JSON event each, for
//! the types asked for in `type` (comma-separated; all when absent).
//!
//! Lifecycle events cover the whole cluster: each member derives those of replicated
//! changes from the Raft entries it applies (see `events::lifecycle`); those of actions
//! carried out on one member (an instance started, a file pushed, an evacuation done) and
//! operation events are that member's own, forwarded (see `events::forward`).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{
    Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use corral_shared::api::{Event, EventType, parse_types};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::{ApiError, ApiResult};
use crate::error::Error;
use crate::events::bus::{self, Happened};
use crate::events::forward::{Demand, Scope};
use crate::node::Node;

pub fn routes() -> Router<Arc<Node>> {
    Router::new().route("/1.0/events", get(events))
}

/// The query LXD's clients send.
#[derive(Debug, Default, Deserialize)]
struct EventsQuery {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    project: String,
    #[serde(rename = "all-projects", default)]
    all_projects: String,
    /// Members following each other (see `events::forward`): `local` or `relay`.
    #[serde(default)]
    scope: String,
    /// The member asking for `relay`, whose own events it already has.
    #[serde(default)]
    from: String,
}

/// Which events one listener asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    types: BTreeSet<EventType>,
    /// None: every project.
    project: Option<String>,
    /// None: a client, which gets every member's events.
    scope: Option<Scope>,
    from: String,
}

impl Filter {
    fn from_query(q: &EventsQuery) -> Result<Self, Error> {
        let types = parse_types(&q.kind).map_err(|e| Error::BadRequest(e.to_string()))?;
        let all = matches!(q.all_projects.as_str(), "true" | "1");
        let project = (!all).then(|| match q.project.as_str() {
            "" => corral_shared::api::DEFAULT_PROJECT.to_owned(),
            p => p.to_owned(),
        });
        let scope = match q.scope.as_str() {
            "" => None,
            "local" => Some(Scope::Local),
            "relay" => Some(Scope::Relay),
            other => {
                return Err(Error::BadRequest(format!(
                    "scope {other:?} is not local or relay (members following each other); \
                     leave it out to get every member's events"
                )));
            }
        };
        Ok(Self {
            types,
            project,
            scope,
            from: q.from.clone(),
        })
    }

    /// The event in `happened`, if it is for this listener.
    pub fn wants<'a>(&self, happened: &'a Happened) -> Option<&'a Event> {
        let event = match (self.scope, happened) {
            (_, Happened::Applied { .. }) => return None,
            (None, h) => h.event()?,
            (Some(_), Happened::Event(e)) => e,
            (Some(Scope::Relay), Happened::Forwarded(e)) if e.location != self.from => e,
            (Some(_), _) => return None,
        };
        (self.types.contains(&event.kind)
            && self.project.as_ref().is_none_or(|p| *p == event.project))
        .then_some(event)
    }

    /// Whether this listener wants events every member derives from the Raft log
    /// (lifecycle events, join tokens' operations): members following each other never do.
    fn needs_log_events(&self) -> bool {
        self.scope.is_none()
            && (self.types.contains(&EventType::Lifecycle)
                || self.types.contains(&EventType::Operation))
    }

    /// Whether this listener needs this member to follow the others' own events (every
    /// type has some: instances' lifecycle events happen where the instance runs).
    fn needs_others(&self) -> bool {
        match self.scope {
            None => !self.types.is_empty(),
            Some(Scope::Relay) => true,
            Some(Scope::Local) => false,
        }
    }
}

async fn events(
    State(node): State<Arc<Node>>,
    Query(q): Query<EventsQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult {
    let filter = Filter::from_query(&q)?;
    let ws = ws.map_err(|e| {
        ApiError(Error::BadRequest(format!(
            "/1.0/events is a websocket: connect with an Upgrade: websocket request ({e})"
        )))
    })?;
    // Subscribed before answering, so nothing published after the handshake is missed.
    let rx = bus::bus().subscribe();
    let logging = filter
        .types
        .contains(&EventType::Logging)
        .then(|| crate::events::logging::LISTENERS.start());
    let lifecycle = filter
        .needs_log_events()
        .then(|| crate::events::lifecycle::LISTENERS.start());
    let others = (filter.needs_others() && node.is_clustered()).then(|| Demand::start(&node));
    Ok(ws
        .on_upgrade(move |socket| async move {
            stream(node, socket, filter, rx).await;
            drop((logging, lifecycle, others));
        })
        .into_response())
}

/// Sends the listener its events until it goes away or the daemon stops.
async fn stream(
    node: Arc<Node>,
    mut socket: WebSocket,
    filter: Filter,
    mut rx: tokio::sync::broadcast::Receiver<Arc<Happened>>,
) {
    let shutdown = node.shutdown_requested();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            incoming = socket.recv() => match incoming {
                // LXD's clients send nothing but pings and the close.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            happened = rx.recv() => match happened {
                Ok(h) => {
                    let Some(event) = filter.wants(&h) else { continue };
                    let Ok(text) = serde_json::to_string(event) else { continue };
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!("/1.0/events: a listener fell behind and missed {n} events");
                }
                Err(RecvError::Closed) => break,
            },
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventType, project: &str) -> Event {
        Event {
            kind,
            timestamp: "t".into(),
            metadata: serde_json::Value::Null,
            location: "m1".into(),
            project: project.into(),
        }
    }

    #[test]
    fn listeners_get_the_types_and_projects_they_asked_for() {
        use EventType::*;
        let q = |kind: &str, project: &str, all: &str| EventsQuery {
            kind: kind.into(),
            project: project.into(),
            all_projects: all.into(),
            ..EventsQuery::default()
        };
        let own = |e: Event| Happened::Event(e);
        let cases = [
            (
                "nothing asked: every type",
                q("", "", ""),
                own(event(Logging, "default")),
                true,
            ),
            (
                "lifecycle only",
                q("lifecycle", "", ""),
                own(event(Operation, "default")),
                false,
            ),
            (
                "lifecycle only",
                q("lifecycle", "", ""),
                own(event(Lifecycle, "default")),
                true,
            ),
            (
                "another project",
                q("", "p1", ""),
                own(event(Lifecycle, "default")),
                false,
            ),
            (
                "all projects",
                q("", "p1", "true"),
                own(event(Lifecycle, "default")),
                true,
            ),
            (
                "not an event",
                q("", "", ""),
                Happened::Applied { index: 3 },
                false,
            ),
        ];
        for (what, query, h, want) in cases {
            let filter = Filter::from_query(&query).unwrap();
            assert_eq!(filter.wants(&h).is_some(), want, "{what}");
        }
        let refused = Filter::from_query(&q("lifecycle,nope", "", "")).unwrap_err();
        assert!(refused.to_string().contains("\"nope\""), "{refused}");
    }

    /// Which clients need the events named from the log (lifecycle, operations) and which
    /// need the other members' own events (an instance started elsewhere).
    #[test]
    fn what_each_client_needs_from_the_log_and_from_the_other_members() {
        let q = |kind: &str, scope: &str| EventsQuery {
            kind: kind.into(),
            scope: scope.into(),
            from: "m2".into(),
            ..EventsQuery::default()
        };
        // (client, query, needs the log named, needs the others' own events)
        let cases = [
            ("every type", q("", ""), true, true),
            ("lifecycle", q("lifecycle", ""), true, true),
            ("operations (join tokens')", q("operation", ""), true, true),
            ("logging alone", q("logging", ""), false, true),
            ("a member following another", q("", "local"), false, false),
            ("a hub's relay", q("", "relay"), false, true),
        ];
        for (what, query, log, others) in cases {
            let filter = Filter::from_query(&query).unwrap();
            assert_eq!(filter.needs_log_events(), log, "{what}");
            assert_eq!(filter.needs_others(), others, "{what}");
        }
    }

    #[test]
    fn members_get_their_peers_own_events_and_hubs_relay_the_rest() {
        let q = |scope: &str| EventsQuery {
            scope: scope.into(),
            from: "m2".into(),
            ..EventsQuery::default()
        };
        let at = |location: &str| Event {
            location: location.into(),
            ..event(EventType::Operation, "default")
        };
        let cases = [
            (
                "a client gets replicated events",
                "",
                Happened::Replicated(at("m1")),
                true,
            ),
            (
                "a client gets forwarded events",
                "",
                Happened::Forwarded(at("m3")),
                true,
            ),
            (
                "a member gets own events",
                "local",
                Happened::Event(at("m1")),
                true,
            ),
            (
                "every member has replicated events",
                "local",
                Happened::Replicated(at("m1")),
                false,
            ),
            (
                "nor forwarded ones, from a non-hub",
                "local",
                Happened::Forwarded(at("m3")),
                false,
            ),
            (
                "a hub relays others' events",
                "relay",
                Happened::Forwarded(at("m3")),
                true,
            ),
            (
                "but not back to their member",
                "relay",
                Happened::Forwarded(at("m2")),
                false,
            ),
            ("and its own", "relay", Happened::Event(at("m1")), true),
        ];
        for (what, scope, h, want) in cases {
            let filter = Filter::from_query(&q(scope)).unwrap();
            assert_eq!(filter.wants(&h).is_some(), want, "{what}");
        }
        assert!(Filter::from_query(&q("everything")).is_err());
    }
}
