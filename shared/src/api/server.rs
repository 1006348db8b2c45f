//! `GET /1.0`: the server and its configuration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The API extensions Corral implements, by LXD's names and in LXD's order; `GET /1.0` lists
/// them, and LXD's clients check them before using a feature. Each is here because Corral
/// does what LXD's `doc/api-extensions.md` says it adds; none is claimed that it does not
/// (no networks, storage, images, profiles, evacuation, groups API or certificate update).
pub const API_EXTENSIONS: &[&str] = &[
    // ETags on GET and If-Match on PUT/PATCH (`/1.0`, `/1.0/cluster`, members).
    "etag",
    // PATCH on `/1.0` and on members.
    "patch",
    // Operations have a description.
    "operation_description",
    // `/1.0/cluster` and `/1.0/cluster/members[/NAME]` (GET, PUT, POST rename, DELETE).
    "clustering",
    // `GET /1.0/cluster` lists the member-specific keys a joiner answers; PUT takes them.
    "clustering_join",
    // `server_address` on join, `cluster.https_address` apart from `core.https_address`.
    "clustering_server_address",
    // Members list their `roles`.
    "clustering_roles",
    // Members show their `architecture`.
    "clustering_architecture",
    // `cluster.max_voters` and `cluster.max_standby`.
    "clustering_sizing",
    // PUT/PATCH on a member edits its roles (`lxc cluster edit`, `lxc cluster role`).
    "clustering_edit_roles",
    // `os_name` and `os_version` in the server environment.
    "api_os",
    // A member's `failure_domain` is editable.
    "clustering_failure_domains",
    // `POST /1.0/cluster/members` issues join tokens.
    "clustering_join_token",
    // A member's `description` is editable.
    "clustering_description",
    // A member's `config` (scheduler.instance, user.*) is editable.
    "clustering_config",
    // The `database-leader` role.
    "database_leader",
    // The `event-hub` role and `server_event_mode` in the environment.
    "event_hub",
    // The `ovn-chassis` role.
    "cluster_ovn_chassis",
    // `cluster.join_token_expiry`.
    "cluster_join_token_expiry",
];

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

#[cfg(test)]
mod tests {
    use super::*;

    /// LXD's own list, from `GET /1.0` on a real LXD (the capture kept with the tests).
    fn lxds_extensions() -> Vec<String> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/lxd/query_1.0.json"
        );
        let text = std::fs::read_to_string(path).expect("the LXD capture");
        let server: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        serde_json::from_value(server["api_extensions"].clone()).expect("a list of names")
    }

    #[test]
    fn every_advertised_extension_is_lxds_in_lxds_order() {
        let lxd = lxds_extensions();
        let mut last = None;
        for name in API_EXTENSIONS {
            let at = lxd.iter().position(|l| l == name);
            assert!(at.is_some(), "{name:?} is not one of LXD's API extensions");
            assert!(at > last, "{name:?} is out of LXD's order");
            last = at;
        }
    }

    #[test]
    fn lxcs_cluster_commands_find_what_they_require() {
        // What `lxc cluster list/show/edit/role/add/rename/remove` check before they ask.
        for needed in [
            "clustering",
            "clustering_join",
            "clustering_roles",
            "clustering_edit_roles",
            "clustering_failure_domains",
            "clustering_join_token",
            "clustering_description",
            "clustering_config",
        ] {
            assert!(API_EXTENSIONS.contains(&needed), "{needed} is missing");
        }
        // Nothing Corral has no API for.
        for absent in [
            "network",
            "storage",
            "profile_usedby",
            "clustering_evacuation",
            "clustering_groups",
            "clustering_update_cert",
            "clustering_image_replication",
        ] {
            assert!(!API_EXTENSIONS.contains(&absent), "{absent} is claimed");
        }
    }
}
