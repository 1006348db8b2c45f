//! `logging` events: the daemon's log records on the bus, as LXD streams them (`message`,
//! `level`, `context`). A record is only formatted while some listener asked for them.

use std::fmt::Write as _;

use corral_shared::api::{DEFAULT_PROJECT, Event, EventType};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

use super::bus::{self, Happened, Listeners};

/// Listeners that asked for logging events, here or on members that forward them.
pub static LISTENERS: Listeners = Listeners::new();

/// The tracing layer that publishes log records on the bus.
pub struct Layer;

/// LXD's name for a tracing level.
pub fn level_name(level: &tracing::Level) -> &'static str {
    match *level {
        tracing::Level::ERROR => "error",
        tracing::Level::WARN => "warning",
        tracing::Level::INFO => "info",
        tracing::Level::DEBUG => "debug",
        tracing::Level::TRACE => "trace",
    }
}

/// Collects a record's message and its other fields.
#[derive(Default)]
struct Fields {
    message: String,
    context: serde_json::Map<String, serde_json::Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.context.insert(field.name().into(), value.into());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.context
                .insert(field.name().into(), format!("{value:?}").into());
        }
    }
}

/// A log record as LXD's logging event.
pub fn event(
    level: &tracing::Level,
    message: String,
    context: serde_json::Map<String, serde_json::Value>,
    location: String,
    timestamp: String,
) -> Event {
    Event {
        kind: EventType::Logging,
        timestamp,
        metadata: serde_json::json!({
            "message": message,
            "level": level_name(level),
            "context": context,
        }),
        location,
        project: DEFAULT_PROJECT.to_owned(),
    }
}

/// Whether a record is worth an event. The HTTP and websocket stack's own debug records are
/// not: sending an event would log, and that record would be another event, without end.
pub fn wanted(target: &str, level: &tracing::Level) -> bool {
    const TRANSPORT: [&str; 6] = [
        "tungstenite",
        "tokio_tungstenite",
        "hyper",
        "h2",
        "tower",
        "axum",
    ];
    *level <= tracing::Level::INFO
        || !TRANSPORT
            .iter()
            .any(|t| target == *t || target.starts_with(&format!("{t}::")))
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Layer {
    fn on_event(&self, record: &tracing::Event<'_>, _: Context<'_, S>) {
        if !LISTENERS.any() || !wanted(record.metadata().target(), record.metadata().level()) {
            return;
        }
        let mut fields = Fields::default();
        record.record(&mut fields);
        let event = event(
            record.metadata().level(),
            fields.message,
            fields.context,
            bus::location(),
            crate::operations::now_rfc3339(),
        );
        bus::bus().publish(Happened::Event(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transports_own_debug_records_are_not_events() {
        use tracing::Level;
        let cases = [
            ("corral_daemon::cluster", Level::DEBUG, true),
            ("openraft::core", Level::DEBUG, true),
            ("tungstenite::protocol", Level::DEBUG, false),
            ("hyper", Level::TRACE, false),
            ("hyper_util::client", Level::DEBUG, true),
            ("h2::codec", Level::WARN, true),
        ];
        for (target, level, want) in cases {
            assert_eq!(wanted(target, &level), want, "{target} {level}");
        }
    }

    #[test]
    fn records_read_as_lxds_logging_events() {
        let mut context = serde_json::Map::new();
        context.insert("member".into(), "node2".into());
        let e = event(
            &tracing::Level::WARN,
            "member node2 is offline".into(),
            context,
            "node1".into(),
            "t".into(),
        );
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({
                "type": "logging",
                "timestamp": "t",
                "metadata": {
                    "message": "member node2 is offline",
                    "level": "warning",
                    "context": {"member": "node2"},
                },
                "location": "node1",
                "project": "default",
            })
        );
    }
}
