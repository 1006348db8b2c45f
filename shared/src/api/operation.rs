//! Background operations (`/1.0/operations`), shaped as LXD's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What kind of operation this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationClass {
    /// Work running in the background.
    Task,
    /// A websocket session.
    Websocket,
    /// A join token waiting to be used.
    Token,
}

/// An operation's state, with LXD's names and numeric codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationStatus {
    /// Just made.
    Pending,
    /// Under way.
    Running,
    /// Finished well.
    Success,
    /// Finished with an error.
    Failure,
    /// Cancelled.
    Cancelled,
}

impl OperationStatus {
    /// LXD's numeric status code.
    pub fn code(self) -> u16 {
        match self {
            OperationStatus::Pending => 105,
            OperationStatus::Running => 103,
            OperationStatus::Success => 200,
            OperationStatus::Failure => 400,
            OperationStatus::Cancelled => 401,
        }
    }

    /// LXD's name for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationStatus::Pending => "Pending",
            OperationStatus::Running => "Running",
            OperationStatus::Success => "Success",
            OperationStatus::Failure => "Failure",
            OperationStatus::Cancelled => "Cancelled",
        }
    }

    /// Whether the operation is over (LXD: code 200 and above).
    pub fn is_final(self) -> bool {
        self.code() >= 200
    }

    fn from_name(name: &str) -> Option<Self> {
        [
            OperationStatus::Pending,
            OperationStatus::Running,
            OperationStatus::Success,
            OperationStatus::Failure,
            OperationStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

impl Serialize for OperationStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OperationStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        OperationStatus::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown operation status {name:?}")))
    }
}

/// An operation as `GET /1.0/operations/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// UUID.
    pub id: String,
    /// task, websocket or token.
    pub class: OperationClass,
    /// What it does, in words.
    pub description: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
    /// Status name.
    pub status: OperationStatus,
    /// Status code.
    pub status_code: u16,
    /// Affected resources by type.
    pub resources: BTreeMap<String, Option<Vec<String>>>,
    /// Operation-specific data.
    pub metadata: serde_json::Value,
    /// Whether DELETE cancels it.
    pub may_cancel: bool,
    /// The error, when it failed.
    pub err: String,
    /// The member that runs it.
    pub location: String,
}

/// `GET /1.0/operations?recursion=1`: operations grouped by status name, lower-case.
pub type OperationList = BTreeMap<String, Vec<Operation>>;
