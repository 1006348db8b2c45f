//! `GET /1.0`: the server and its configuration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What `GET /1.0` tells a trusted client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Server {
    /// The extensions this server implements.
    pub api_extensions: Vec<String>,
    /// Always "stable".
    pub api_status: String,
    /// Always "1.0".
    pub api_version: String,
    /// "trusted" or "untrusted".
    pub auth: String,
    /// Always `["tls"]`.
    pub auth_methods: Vec<String>,
    /// Server configuration; `core.trust_password` shows only as `true` when set.
    pub config: BTreeMap<String, serde_json::Value>,
    /// Facts about this member.
    pub environment: ServerEnvironment,
    /// Whether the server is public.
    pub public: bool,
}

/// What `GET /1.0` tells an untrusted client: no config, no environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerUntrusted {
    /// The extensions this server implements.
    pub api_extensions: Vec<String>,
    /// Always "stable".
    pub api_status: String,
    /// Always "1.0".
    pub api_version: String,
    /// "untrusted".
    pub auth: String,
    /// Whether the server is public.
    pub public: bool,
    /// Always `["tls"]`.
    pub auth_methods: Vec<String>,
}

/// Facts about the member answering `GET /1.0`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerEnvironment {
    /// The addresses clients reach this member on.
    pub addresses: Vec<String>,
    /// Architectures this member runs.
    pub architectures: Vec<String>,
    /// The certificate this member presents (the cluster's, once clustered), PEM.
    pub certificate: String,
    /// SHA-256 fingerprint of that certificate.
    pub certificate_fingerprint: String,
    /// "Linux".
    pub kernel: String,
    /// Machine architecture.
    pub kernel_architecture: String,
    /// Kernel release.
    pub kernel_version: String,
    /// Operating system name.
    pub os_name: String,
    /// Operating system version.
    pub os_version: String,
    /// "default".
    pub project: String,
    /// "corral".
    pub server: String,
    /// Whether this member belongs to a cluster.
    pub server_clustered: bool,
    /// "full-mesh".
    pub server_event_mode: String,
    /// This member's name.
    pub server_name: String,
    /// The daemon's process id.
    pub server_pid: u32,
    /// The daemon's version.
    pub server_version: String,
}

/// The writable part of `/1.0`: what PUT replaces and PATCH merges.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerPut {
    /// Server configuration keys and values.
    #[serde(default)]
    pub config: BTreeMap<String, serde_json::Value>,
}
