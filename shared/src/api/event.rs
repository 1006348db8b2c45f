//! What `/1.0/events` carries, as LXD shapes it: one JSON object per websocket text frame,
//! with `type`, `timestamp`, `metadata`, `location` and `project`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// One event, as LXD's `api.Event`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// lifecycle, operation or logging.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When it happened, RFC 3339 with nanoseconds.
    pub timestamp: String,
    /// What happened: [`Lifecycle`], an [`super::Operation`], or a log record.
    pub metadata: serde_json::Value,
    /// The member where it happened.
    #[serde(default)]
    pub location: String,
    /// The project (always `default` here: Corral has no projects yet).
    #[serde(default)]
    pub project: String,
}

/// The kinds of event LXD streams (it has more, `ovn` and `security`, which Corral has no
/// source for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// An audit trail of actions (a member renamed, a token created ...).
    Lifecycle,
    /// Operations from creation to completion.
    Operation,
    /// Log records.
    Logging,
}

impl EventType {
    /// Every type, as LXD sends when none is asked for.
    pub const ALL: [EventType; 3] = [Self::Lifecycle, Self::Operation, Self::Logging];

    /// The name LXD uses on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lifecycle => "lifecycle",
            Self::Operation => "operation",
            Self::Logging => "logging",
        }
    }
}

/// Why a `type` filter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "event type {0:?} is not one of lifecycle, operation, logging: \
     ask for those (comma-separated) or leave `type` out for all"
)]
pub struct UnknownEventType(pub String);

/// The types a `type` query value asks for (comma-separated, as LXD reads it); all of them
/// when it is empty.
pub fn parse_types(value: &str) -> Result<BTreeSet<EventType>, UnknownEventType> {
    let mut types = BTreeSet::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let kind = EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == name)
            .ok_or_else(|| UnknownEventType(name.to_owned()))?;
        types.insert(kind);
    }
    if types.is_empty() {
        types.extend(EventType::ALL);
    }
    Ok(types)
}

/// A lifecycle event's metadata, as LXD's `api.EventLifecycle`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// What happened, in LXD's words (see [`Action`]).
    pub action: String,
    /// The API path of what it happened to.
    pub source: String,
    /// Details (a rename's `old_name`).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub context: serde_json::Map<String, serde_json::Value>,
    /// Who asked, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requestor: Option<Requestor>,
}

/// Who caused a lifecycle event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requestor {
    /// The user (root on the unix socket, the certificate's fingerprint over HTTPS).
    pub username: String,
    /// unix or tls.
    pub protocol: String,
    /// The client's address (`@` on the unix socket).
    #[serde(default)]
    pub address: String,
}

/// The lifecycle actions Corral reports, named as LXD names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A member joined.
    ClusterMemberAdded,
    /// A member was removed.
    ClusterMemberRemoved,
    /// A member was renamed (context: `old_name`).
    ClusterMemberRenamed,
    /// A member's description, failure domain, roles, groups or config changed.
    ClusterMemberUpdated,
    /// A member now presents a new cluster certificate.
    ClusterCertificateUpdated,
    /// A join token was issued.
    ClusterTokenCreated,
    /// The server configuration changed.
    ConfigUpdated,
    /// A certificate was trusted.
    CertificateCreated,
    /// A certificate was removed from the trust store.
    CertificateDeleted,
    /// An operation (a join token, as LXD 5.0 reports a revocation) was cancelled.
    OperationCancelled,
    /// A cluster group was created.
    ClusterGroupCreated,
    /// A cluster group's description or members changed.
    ClusterGroupUpdated,
    /// A cluster group was renamed (context: `old_name`).
    ClusterGroupRenamed,
    /// A cluster group was deleted.
    ClusterGroupDeleted,
    /// A member's evacuation finished.
    ClusterMemberEvacuated,
    /// A member's restore finished.
    ClusterMemberRestored,
    /// An instance was created (its bundle made on its member).
    InstanceCreated,
    /// An instance was started.
    InstanceStarted,
    /// An instance was stopped by force.
    InstanceStopped,
    /// An instance was shut down cleanly.
    InstanceShutdown,
    /// An instance was restarted.
    InstanceRestarted,
    /// An instance was deleted.
    InstanceDeleted,
    /// An instance's configuration or description changed.
    InstanceUpdated,
    /// An instance was renamed (context: `old_name`).
    InstanceRenamed,
    /// A command was run in an instance (context: `command`).
    InstanceExec,
    /// A file was written in an instance (context: `path`).
    InstanceFilePushed,
    /// A file or directory was read from an instance (context: `path`).
    InstanceFileRetrieved,
    /// A file was deleted in an instance (context: `path`).
    InstanceFileDeleted,
    /// An image was added.
    ImageCreated,
    /// An image was deleted.
    ImageDeleted,
    /// An image's properties or visibility changed.
    ImageUpdated,
    /// An image alias was created.
    ImageAliasCreated,
    /// An image alias was deleted.
    ImageAliasDeleted,
    /// An image alias was renamed (context: `old_name`).
    ImageAliasRenamed,
}

impl Action {
    /// LXD's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClusterMemberAdded => "cluster-member-added",
            Self::ClusterMemberRemoved => "cluster-member-removed",
            Self::ClusterMemberRenamed => "cluster-member-renamed",
            Self::ClusterMemberUpdated => "cluster-member-updated",
            Self::ClusterCertificateUpdated => "cluster-certificate-updated",
            Self::ClusterTokenCreated => "cluster-token-created",
            Self::ConfigUpdated => "config-updated",
            Self::CertificateCreated => "certificate-created",
            Self::CertificateDeleted => "certificate-deleted",
            Self::OperationCancelled => "operation-cancelled",
            Self::ClusterGroupCreated => "cluster-group-created",
            Self::ClusterGroupUpdated => "cluster-group-updated",
            Self::ClusterGroupRenamed => "cluster-group-renamed",
            Self::ClusterGroupDeleted => "cluster-group-deleted",
            Self::ClusterMemberEvacuated => "cluster-member-evacuated",
            Self::ClusterMemberRestored => "cluster-member-restored",
            Self::InstanceCreated => "instance-created",
            Self::InstanceStarted => "instance-started",
            Self::InstanceStopped => "instance-stopped",
            Self::InstanceShutdown => "instance-shutdown",
            Self::InstanceRestarted => "instance-restarted",
            Self::InstanceDeleted => "instance-deleted",
            Self::InstanceUpdated => "instance-updated",
            Self::InstanceRenamed => "instance-renamed",
            Self::InstanceExec => "instance-exec",
            Self::InstanceFilePushed => "instance-file-pushed",
            Self::InstanceFileRetrieved => "instance-file-retrieved",
            Self::InstanceFileDeleted => "instance-file-deleted",
            Self::ImageCreated => "image-created",
            Self::ImageDeleted => "image-deleted",
            Self::ImageUpdated => "image-updated",
            Self::ImageAliasCreated => "image-alias-created",
            Self::ImageAliasDeleted => "image-alias-deleted",
            Self::ImageAliasRenamed => "image-alias-renamed",
        }
    }
}

/// The project every event names.
pub const DEFAULT_PROJECT: &str = "default";

impl Event {
    /// A lifecycle event: `action` on `source`, at `location`.
    pub fn lifecycle(
        action: Action,
        source: String,
        context: serde_json::Map<String, serde_json::Value>,
        location: &str,
        timestamp: String,
    ) -> Self {
        let metadata = Lifecycle {
            action: action.as_str().to_owned(),
            source,
            context,
            requestor: None,
        };
        Self {
            kind: EventType::Lifecycle,
            timestamp,
            metadata: serde_json::to_value(metadata).unwrap_or_default(),
            location: location.to_owned(),
            project: DEFAULT_PROJECT.to_owned(),
        }
    }

    /// The same lifecycle event naming who asked for it (LXD's `requestor`), when known.
    pub fn with_requestor(mut self, requestor: Option<&Requestor>) -> Self {
        if let (Some(who), Some(fields)) = (requestor, self.metadata.as_object_mut()) {
            fields.insert(
                "requestor".into(),
                serde_json::to_value(who).unwrap_or_default(),
            );
        }
        self
    }

    /// An operation event: the operation as it now is, at its own location.
    pub fn operation(op: &super::Operation, timestamp: String) -> Self {
        Self {
            kind: EventType::Operation,
            timestamp,
            metadata: serde_json::to_value(op).unwrap_or_default(),
            location: op.location.clone(),
            project: DEFAULT_PROJECT.to_owned(),
        }
    }

    /// The lifecycle metadata, when this is a lifecycle event.
    pub fn as_lifecycle(&self) -> Option<Lifecycle> {
        (self.kind == EventType::Lifecycle)
            .then(|| serde_json::from_value(self.metadata.clone()).ok())
            .flatten()
    }

    /// One line for people, as `lxc monitor --pretty` shows an event.
    pub fn pretty(&self) -> String {
        let what = match (self.kind, self.as_lifecycle()) {
            (EventType::Lifecycle, Some(l)) => {
                let mut line = format!("{} {}", l.action, l.source);
                for (k, v) in &l.context {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    line.push_str(&format!(" {k}={v}"));
                }
                line
            }
            (EventType::Operation, _) => {
                let field = |k: &str| {
                    self.metadata
                        .get(k)
                        .and_then(|v| v.as_str())
                        .unwrap_or("")
                        .to_owned()
                };
                format!(
                    "operation {} {} {}",
                    field("id"),
                    field("status"),
                    field("description")
                )
            }
            _ => self
                .metadata
                .get("message")
                .and_then(|m| m.as_str())
                .map_or_else(|| self.metadata.to_string(), str::to_owned),
        };
        format!(
            "{} {} [{}] {what}",
            self.timestamp,
            self.location,
            self.kind.as_str()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFECYCLE: &str =
        include_str!("../../../tests/fixtures/lxd/events_lifecycle_monitor_node1.json");
    const OPERATION: &str =
        include_str!("../../../tests/fixtures/lxd/events_operation_monitor_node1.json");

    fn captured(raw: &str) -> Vec<serde_json::Value> {
        raw.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn lxds_captured_events_read_and_write_back_unchanged() {
        for raw in [LIFECYCLE, OPERATION] {
            for value in captured(raw) {
                let event: Event = serde_json::from_value(value.clone()).unwrap();
                assert_eq!(serde_json::to_value(&event).unwrap(), value);
            }
        }
    }

    #[test]
    fn lifecycle_events_are_built_as_lxd_sends_them() {
        let events = captured(LIFECYCLE);
        // LXD's events, without who asked (a replicated change does not record it).
        let strip = |mut v: serde_json::Value| {
            v["metadata"].as_object_mut().unwrap().remove("requestor");
            v
        };
        let context = |old: &str| {
            let mut c = serde_json::Map::new();
            c.insert("old_name".into(), old.into());
            c
        };
        let cases = [
            (
                0,
                Action::ClusterTokenCreated,
                "/1.0/cluster/members",
                None,
                "node2",
            ),
            (2, Action::ConfigUpdated, "/1.0", None, "node3"),
            (
                3,
                Action::ClusterMemberUpdated,
                "/1.0/cluster/members/node2",
                None,
                "node2",
            ),
            (
                4,
                Action::ClusterMemberRenamed,
                "/1.0/cluster/members/node3b",
                Some("node3"),
                "node3",
            ),
        ];
        for (i, action, source, old, location) in cases {
            let want = strip(events[i].clone());
            let built = Event::lifecycle(
                action,
                source.into(),
                old.map(context).unwrap_or_default(),
                location,
                want["timestamp"].as_str().unwrap().into(),
            );
            assert_eq!(
                serde_json::to_value(&built).unwrap(),
                want,
                "{}",
                action.as_str()
            );
        }
    }

    #[test]
    fn operation_events_carry_the_operation_at_its_location() {
        let want = captured(OPERATION).remove(1);
        let op: super::super::Operation = serde_json::from_value(want["metadata"].clone()).unwrap();
        let built = Event::operation(&op, want["timestamp"].as_str().unwrap().into());
        assert_eq!(serde_json::to_value(&built).unwrap(), want);
    }

    #[test]
    fn type_filters_read_as_lxd_reads_them() {
        use EventType::*;
        let cases: [(&str, Result<Vec<EventType>, &str>); 5] = [
            ("", Ok(vec![Lifecycle, Operation, Logging])),
            ("lifecycle", Ok(vec![Lifecycle])),
            ("operation,lifecycle", Ok(vec![Lifecycle, Operation])),
            ("logging, ", Ok(vec![Logging])),
            ("lifecycle,ovn", Err("ovn")),
        ];
        for (value, want) in cases {
            let got = parse_types(value).map(|t| t.into_iter().collect::<Vec<_>>());
            assert_eq!(
                got,
                want.map_err(|n| UnknownEventType(n.into())),
                "{value:?}"
            );
        }
    }

    #[test]
    fn pretty_lines_say_where_what_and_to_what() {
        let event: Event = serde_json::from_value(captured(LIFECYCLE).remove(4)).unwrap();
        assert_eq!(
            event.pretty(),
            "2026-12-01T15:01:00.386345396Z node3 [lifecycle] \
             cluster-member-renamed /1.0/cluster/members/node3b old_name=node3"
        );
    }
}
