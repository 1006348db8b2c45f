//! `/1.0/events`, as LXD's clients follow it: a websocket of JSON events, lifecycle events
//! from every member reaching a listener on any member, and `corral monitor` printing them.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use corral_shared::api::{Event, EventType};
use corral_tests::{Cluster, HttpsClient, Member, Monitor};
use tokio_stream::StreamExt;
use tokio_tungstenite::tungstenite::Message;

/// How late an event may arrive after the command that caused it returned.
const PROMPT: Duration = Duration::from_secs(1);

/// A websocket client of `/1.0/events` on a member's unix socket, reading on its own
/// thread: every event with the moment it arrived.
struct Listener {
    events: mpsc::Receiver<(Instant, Event)>,
    seen: Vec<(Instant, Event)>,
}

impl Listener {
    fn connect(socket: PathBuf, query: &str) -> Self {
        let (tx, events) = mpsc::channel();
        let (ready_tx, ready) = mpsc::channel();
        let url = format!("ws://localhost/1.0/events{query}");
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let stream = tokio::net::UnixStream::connect(&socket)
                    .await
                    .expect("the unix socket");
                let (mut ws, response) = tokio_tungstenite::client_async(url, stream)
                    .await
                    .expect("the websocket handshake");
                ready_tx
                    .send(response.status().as_u16())
                    .expect("the test waits");
                while let Some(Ok(frame)) = ws.next().await {
                    let Message::Text(text) = frame else { continue };
                    let event: Event = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("not an LXD event ({e}): {text}"));
                    if tx.send((Instant::now(), event)).is_err() {
                        return;
                    }
                }
            });
        });
        let status = ready
            .recv_timeout(Duration::from_secs(10))
            .expect("the websocket opens");
        assert_eq!(status, 101, "the daemon switches protocols");
        Self {
            events,
            seen: Vec::new(),
        }
    }

    /// Waits (up to `within`) for a lifecycle event with `action`; when it arrived and it.
    fn lifecycle(&mut self, action: &str, within: Duration) -> (Instant, Event) {
        self.first(action, within, |e| e.metadata["action"] == action)
    }

    /// Waits (up to `within`) for the first event `pick` says yes to.
    fn first(
        &mut self,
        what: &str,
        within: Duration,
        pick: impl Fn(&Event) -> bool,
    ) -> (Instant, Event) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(found) = self.seen.iter().find(|(_, e)| pick(e)) {
                return found.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => self.seen.push(event),
                Err(_) => panic!(
                    "no {what} event within {within:?}; seen: {:#?}",
                    self.seen.iter().map(|(_, e)| e).collect::<Vec<_>>()
                ),
            }
        }
    }

    /// Everything that arrived so far and for `quiet` more.
    fn drain(&mut self, quiet: Duration) -> Vec<Event> {
        let deadline = Instant::now() + quiet;
        while let Ok(event) = self
            .events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(event);
        }
        self.seen.iter().map(|(_, e)| e.clone()).collect()
    }
}

fn position(seen: &[(Instant, Event)], action: &str) -> usize {
    seen.iter()
        .position(|(_, e)| e.metadata["action"] == action)
        .unwrap_or_else(|| panic!("no {action} event"))
}

#[test]
fn changes_made_on_other_members_reach_a_listener_on_the_first_in_order_within_a_second() {
    let cluster = Cluster::form(3);
    let mut lifecycle = Listener::connect(cluster[0].socket(), "?type=lifecycle");
    let mut operations = Listener::connect(cluster[0].socket(), "?type=operation");

    cluster[1].corral(&["cluster", "add", "node9"]).ok();
    let token_done = Instant::now();
    cluster[2]
        .corral(&["cluster", "rename", "node3", "node3b"])
        .ok();
    let rename_done = Instant::now();

    let (token_at, token) = lifecycle.lifecycle("cluster-token-created", PROMPT);
    let (rename_at, renamed) = lifecycle.lifecycle("cluster-member-renamed", PROMPT);
    assert!(
        token_at <= token_done + PROMPT,
        "the token's event came {:?} after its command",
        token_at - token_done
    );
    assert!(
        rename_at <= rename_done + PROMPT,
        "the rename's event came {:?} after its command",
        rename_at - rename_done
    );
    assert!(
        position(&lifecycle.seen, "cluster-token-created")
            < position(&lifecycle.seen, "cluster-member-renamed"),
        "in the order they happened: {:#?}",
        lifecycle.seen
    );

    // As LXD shapes them: where each happened, what it happened to.
    assert_eq!(token.kind, EventType::Lifecycle);
    assert_eq!(token.location, "node2", "{token:?}");
    assert_eq!(token.metadata["source"], "/1.0/cluster/members");
    assert_eq!(token.project, "default");
    assert_eq!(renamed.location, "node3b", "{renamed:?}");
    assert_eq!(renamed.metadata["source"], "/1.0/cluster/members/node3b");
    assert_eq!(renamed.metadata["context"]["old_name"], "node3");
    assert!(
        time::OffsetDateTime::parse(
            &renamed.timestamp,
            &time::format_description::well_known::Rfc3339
        )
        .is_ok(),
        "{}",
        renamed.timestamp
    );

    // The token is an operation too, announced on every member as LXD does: Pending, then
    // Running, where it was issued.
    let token_op = |status: &'static str| {
        move |e: &Event| e.metadata["class"] == "token" && e.metadata["status"] == status
    };
    let (_, pending) = operations.first("token Pending", PROMPT, token_op("Pending"));
    let (_, running) = operations.first("token Running", PROMPT, token_op("Running"));
    assert_eq!(pending.metadata["id"], running.metadata["id"]);
    assert_eq!(running.location, "node2", "{running:?}");
    assert_eq!(running.metadata["metadata"]["serverName"], "node9");

    // A listener gets only the types it asked for.
    let other = operations.drain(Duration::from_millis(300));
    assert!(
        other.iter().all(|e| e.kind == EventType::Operation),
        "{other:#?}"
    );
    let lifecycle = lifecycle.drain(Duration::from_millis(10));
    assert!(
        lifecycle.iter().all(|e| e.kind == EventType::Lifecycle),
        "{lifecycle:#?}"
    );
}

#[test]
fn events_are_a_websocket_and_unknown_types_are_refused() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let (status, body) = node1.raw("GET", "/1.0/events", None);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("websocket"), "{body}");
    let (status, body) = node1.raw("GET", "/1.0/events?type=lifecycle,ovn", None);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\\\"ovn\\\""), "{body}");
}

#[test]
fn corral_monitor_prints_what_another_command_did() {
    let node1 = Member::start("node1");
    node1.bootstrap();
    let json = Monitor::start(&node1, &["--type", "lifecycle", "--format", "json"]);
    let pretty = Monitor::start(&node1, &["--pretty"]);
    // The monitors follow once an event made after their start reaches them.
    let (mut round, mut json_ready, mut pretty_ready) = (0, false, false);
    corral_tests::wait_until("the monitors to follow", Duration::from_secs(10), || {
        round += 1;
        node1
            .corral(&["config", "set", "user.probe", &round.to_string()])
            .ok();
        let tick = Duration::from_millis(200);
        json_ready |= json.next_line(tick).is_some();
        pretty_ready |= pretty.next_line(tick).is_some();
        (json_ready && pretty_ready).then_some(())
    });

    node1.corral(&["config", "set", "user.demo", "1"]).ok();
    let line = json.line(Duration::from_secs(5), |l| l.contains("config-updated"));
    let event: Event = serde_json::from_str(&line).expect("one JSON event per line");
    assert_eq!(event.metadata["source"], "/1.0");
    assert_eq!(event.location, "node1");

    node1.corral(&["cluster", "add", "node9"]).ok();
    let line = pretty.line(Duration::from_secs(5), |l| {
        l.contains("cluster-token-created")
    });
    assert!(
        line.contains(" node1 [lifecycle] cluster-token-created /1.0/cluster/members"),
        "{line}"
    );
}

#[test]
fn a_members_log_records_are_logging_events_while_someone_listens() {
    let mut node1 = Member::new("node1").with_env("CORRAL_LOG", "info");
    node1.launch();
    node1.bootstrap();
    let mut logging = Listener::connect(node1.socket(), "?type=logging");
    // Joining a member moves Raft's membership, which the leader logs.
    let node2 = Member::start("node2");
    node2.join_by_token(&node1);
    let (_, record) = logging.first("logging", Duration::from_secs(10), |e| {
        e.kind == EventType::Logging
    });
    assert_eq!(record.location, "node1", "{record:?}");
    assert!(
        ["error", "warning", "info"].contains(&record.metadata["level"].as_str().unwrap_or("")),
        "{record:?}"
    );
    assert!(
        record.metadata["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{record:?}"
    );
    let all = logging.drain(Duration::from_millis(100));
    assert!(all.iter().all(|e| e.kind == EventType::Logging), "{all:#?}");
}

#[test]
fn other_members_own_events_are_forwarded_full_mesh_or_through_an_event_hub() {
    // node1 and node3 say whom they follow.
    let says_whom = "warn,corral_daemon::events=debug";
    let mut node1 = Member::new("node1").with_env("CORRAL_LOG", says_whom);
    node1.launch();
    node1.bootstrap();
    // node2 logs continuously at debug level: its own events, which only it has.
    let mut node2 = Member::new("node2").with_env("CORRAL_LOG", "debug");
    node2.launch();
    node2.join_by_token(&node1);
    let mut node3 = Member::new("node3").with_env("CORRAL_LOG", says_whom);
    node3.launch();
    node3.join_by_token(&node1);

    let mut all = Listener::connect(node1.socket(), "");
    let from_node2 = |e: &Event| e.kind == EventType::Logging && e.location == "node2";
    all.first(
        "node2's log record (full mesh)",
        Duration::from_secs(10),
        from_node2,
    );

    // Lifecycle events are every member's already: forwarding must not repeat them.
    node1.corral(&["config", "set", "user.once", "1"]).ok();
    all.lifecycle("config-updated", PROMPT);
    let updates = all
        .drain(Duration::from_millis(500))
        .iter()
        .filter(|e| e.metadata["action"] == "config-updated")
        .count();
    assert_eq!(updates, 1, "one config-updated event");

    // With an event hub, node1 follows node3 only, which relays node2's events.
    node1
        .corral(&["cluster", "role", "add", "node3", "event-hub"])
        .ok();
    node1.wait_log("for its relay events");
    node3.wait_log("following node2");
    let mut through_hub = Listener::connect(node1.socket(), "?type=logging");
    through_hub.first(
        "node2's log record (through node3)",
        Duration::from_secs(10),
        from_node2,
    );
    drop(all);
}

#[test]
fn events_name_who_asked_on_the_socket_or_over_https() {
    let cluster = Cluster::form(3);
    let mut listener = Listener::connect(cluster[0].socket(), "?type=lifecycle");
    // Asked of node2 on its socket; the event derived from the log on node1 says who.
    cluster[1]
        .corral(&["config", "set", "user.asked", "on-the-socket"])
        .ok();
    let (_, event) = listener.lifecycle("config-updated", Duration::from_secs(10));
    assert_eq!(
        event.metadata["requestor"],
        serde_json::json!({"username": "root", "protocol": "unix", "address": "@"})
    );
    // Asked of node3 over HTTPS by a trusted client: its certificate and its address.
    let client = HttpsClient::new();
    let trust = serde_json::json!({"name": "admin", "type": "client", "certificate": client.pem});
    let (status, body) = cluster[0].raw("POST", "/1.0/certificates", Some(&trust.to_string()));
    assert!(matches!(status, 200 | 201), "{status}: {body}");
    let reply = client.request(
        &cluster[2].address,
        "PATCH",
        "/1.0",
        Some(r#"{"config": {"user.asked": "over-https"}}"#),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (_, event) = listener.first("config-updated over HTTPS", Duration::from_secs(10), |e| {
        e.metadata["action"] == "config-updated" && e.metadata["requestor"]["protocol"] == "tls"
    });
    let requestor = &event.metadata["requestor"];
    assert_eq!(requestor["username"], client.fingerprint.as_str());
    let address = requestor["address"].as_str().unwrap_or_default();
    assert!(address.starts_with("127.0.0."), "{requestor}");
}
