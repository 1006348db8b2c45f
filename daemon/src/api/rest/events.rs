//! `/1.0/events`, as LXD serves it: a websocket of text frames, one JSON event each, for
//! the types asked for in `type` (comma-separated; all when absent).
//!
//! Lifecycle events cover the whole cluster: each member derives them from the Raft
//! entries it applies (see `events::lifecycle`). Operation events are this member's own.

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
}

/// Which events one listener asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    types: BTreeSet<EventType>,
    /// None: every project.
    project: Option<String>,
}

impl Filter {
    fn from_query(q: &EventsQuery) -> Result<Self, Error> {
        let types = parse_types(&q.kind).map_err(|e| Error::BadRequest(e.to_string()))?;
        let all = matches!(q.all_projects.as_str(), "true" | "1");
        let project = (!all).then(|| match q.project.as_str() {
            "" => corral_shared::api::DEFAULT_PROJECT.to_owned(),
            p => p.to_owned(),
        });
        Ok(Self { types, project })
    }

    /// Whether `event` is for this listener.
    pub fn wants(&self, event: &Event) -> bool {
        self.types.contains(&event.kind)
            && self.project.as_ref().is_none_or(|p| *p == event.project)
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
        .then(crate::events::logging::Listening::start);
    Ok(ws
        .on_upgrade(move |socket| async move {
            stream(node, socket, filter, rx).await;
            drop(logging);
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
                    let Happened::Event(event) = &*h else { continue };
                    if !filter.wants(event) {
                        continue;
                    }
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
        };
        let cases = [
            (
                "nothing asked: every type",
                q("", "", ""),
                event(Logging, "default"),
                true,
            ),
            (
                "lifecycle only",
                q("lifecycle", "", ""),
                event(Operation, "default"),
                false,
            ),
            (
                "lifecycle only",
                q("lifecycle", "", ""),
                event(Lifecycle, "default"),
                true,
            ),
            (
                "another project",
                q("", "p1", ""),
                event(Lifecycle, "default"),
                false,
            ),
            (
                "all projects",
                q("", "p1", "true"),
                event(Lifecycle, "default"),
                true,
            ),
        ];
        for (what, query, e, want) in cases {
            assert_eq!(
                Filter::from_query(&query).unwrap().wants(&e),
                want,
                "{what}"
            );
        }
        let refused = Filter::from_query(&q("lifecycle,nope", "", "")).unwrap_err();
        assert!(refused.to_string().contains("\"nope\""), "{refused}");
    }
}
