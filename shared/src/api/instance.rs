//! Instances as LXD's API shows them (`/1.0/instances`), and the requests that create,
//! change, run commands in and copy files to them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// An instance's state as the API words it, with LXD's numeric codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InstanceStatus {
    /// Its init runs.
    Running,
    /// It does not run.
    Stopped,
    /// Being made (its root filesystem is being unpacked).
    Starting,
    /// Its member cannot be asked (offline), or its runtime state cannot be read.
    Error,
}

impl InstanceStatus {
    /// LXD's status code (103 Running, 102 Stopped, 106 Starting, 112 Error).
    pub fn code(self) -> u16 {
        match self {
            InstanceStatus::Running => 103,
            InstanceStatus::Stopped => 102,
            InstanceStatus::Starting => 106,
            InstanceStatus::Error => 112,
        }
    }

    /// The word as the API writes it ("Running").
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::Running => "Running",
            InstanceStatus::Stopped => "Stopped",
            InstanceStatus::Starting => "Starting",
            InstanceStatus::Error => "Error",
        }
    }
}

impl fmt::Display for InstanceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One instance, with LXD's field names (`GET /1.0/instances/NAME`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// Its architecture (the member's).
    pub architecture: String,
    /// Its own configuration (`volatile.*` included).
    pub config: BTreeMap<String, String>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// Free text.
    pub description: String,
    /// Devices of its own (none: the root disk comes from the default profile).
    pub devices: BTreeMap<String, BTreeMap<String, String>>,
    /// Deleted when stopped.
    pub ephemeral: bool,
    /// Its configuration with its profiles' applied.
    pub expanded_config: BTreeMap<String, String>,
    /// Its devices with its profiles' applied.
    pub expanded_devices: BTreeMap<String, BTreeMap<String, String>>,
    /// RFC 3339 time it was last started ("1970-01-01T00:00:00Z" if never).
    pub last_used_at: String,
    /// The member that holds it.
    pub location: String,
    /// Its name.
    pub name: String,
    /// Its profiles.
    pub profiles: Vec<String>,
    /// Its project.
    pub project: String,
    /// Whether it has stateful snapshots.
    pub stateful: bool,
    /// Running, Stopped, Error...
    pub status: InstanceStatus,
    /// LXD's code for `status`.
    pub status_code: u16,
    /// "container".
    #[serde(rename = "type")]
    pub kind: String,
    /// Its live state (`?recursion=2`, as LXD's `InstanceFull`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<InstanceState>,
}

/// Where a new instance's root filesystem comes from (LXD's `InstanceSource`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceSource {
    /// "image" (the only kind Corral makes instances from) or "none".
    #[serde(rename = "type", default)]
    pub kind: String,
    /// An image alias.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alias: String,
    /// An image fingerprint (or a unique prefix of one).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fingerprint: String,
}

/// `POST /1.0/instances` (LXD's `InstancesPost`, the fields Corral reads).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstancesPost {
    /// The new instance's name.
    pub name: String,
    /// Its image.
    #[serde(default)]
    pub source: InstanceSource,
    /// Its configuration (`-c key=value`).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// "container" (or empty).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Start it once made (`launch`).
    #[serde(default)]
    pub start: bool,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// `PUT /1.0/instances/NAME/state` (LXD's `InstanceStatePut`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceStatePut {
    /// start, stop, restart.
    pub action: String,
    /// Seconds to wait for a clean stop before it is forced (-1: the default).
    #[serde(default = "default_timeout")]
    pub timeout: i64,
    /// Stop at once (SIGKILL), without a clean shutdown.
    #[serde(default)]
    pub force: bool,
    /// Stateful stop/start (refused: containers run by runc cannot be checkpointed here).
    #[serde(default)]
    pub stateful: bool,
}

fn default_timeout() -> i64 {
    -1
}

/// `GET /1.0/instances/NAME/state`, the part Corral fills in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceState {
    /// Running, Stopped, Error.
    pub status: InstanceStatus,
    /// LXD's code for `status`.
    pub status_code: u16,
    /// The init's process id on its member (0 when stopped).
    pub pid: i64,
    /// How many processes run in it (-1 when not known).
    pub processes: i64,
    /// Its network interfaces by name, as seen inside it (none when stopped).
    #[serde(default)]
    pub network: Option<BTreeMap<String, InstanceStateNetwork>>,
}

/// One network interface of a running instance (LXD's `InstanceStateNetwork`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStateNetwork {
    /// Its addresses.
    #[serde(default)]
    pub addresses: Vec<InstanceStateNetworkAddress>,
    /// Its MAC address.
    #[serde(default)]
    pub hwaddr: String,
    /// The host's end of it (a veth on the member), when Corral made it.
    #[serde(default)]
    pub host_name: String,
    /// Its MTU.
    #[serde(default)]
    pub mtu: u32,
    /// "up" or "down".
    #[serde(default)]
    pub state: String,
    /// "broadcast" or "loopback".
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// One address of an instance's interface (LXD's `InstanceStateNetworkAddress`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStateNetworkAddress {
    /// "inet" or "inet6".
    pub family: String,
    /// The address.
    pub address: String,
    /// Its prefix length.
    pub netmask: String,
    /// "global", "link" or "local".
    pub scope: String,
}

/// `POST /1.0/instances/NAME/exec` (LXD's `InstanceExecPost`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceExecPost {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Whether the client will connect websockets (Corral always serves them).
    #[serde(rename = "wait-for-websocket", default)]
    pub wait_for_websocket: bool,
    /// A terminal: one websocket for stdin and output together, plus control.
    #[serde(default)]
    pub interactive: bool,
    /// The terminal's width.
    #[serde(default)]
    pub width: u16,
    /// The terminal's height.
    #[serde(default)]
    pub height: u16,
    /// Keep the output in files (not supported: refused).
    #[serde(rename = "record-output", default)]
    pub record_output: bool,
    /// The working directory.
    #[serde(default)]
    pub cwd: String,
}

/// A control message on an exec's `control` websocket (LXD's `InstanceExecControl`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceExecControl {
    /// "window-resize" or "signal".
    pub command: String,
    /// For window-resize: "width" and "height".
    #[serde(default)]
    pub args: BTreeMap<String, String>,
    /// For signal: the signal number.
    #[serde(default)]
    pub signal: i32,
}

/// `PUT`/`PATCH /1.0/instances/NAME`: the writable part Corral accepts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstancePut {
    /// The whole configuration (PUT) or the keys to change (PATCH).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// `POST /1.0/instances/NAME`: a rename (`name`), or with `?target=` a move to another
/// member (`migration`), as LXD's `InstancePost`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstancePost {
    /// The new name (empty or the same: keep it).
    #[serde(default)]
    pub name: String,
    /// A move to another member (or server) rather than a rename.
    #[serde(default)]
    pub migration: bool,
    /// A live move (refused: containers run by runc are not checkpointed).
    #[serde(default)]
    pub live: bool,
}
