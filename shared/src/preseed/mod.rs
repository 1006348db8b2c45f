//! The preseed: the YAML document `corrald init --preseed` takes (LXD's `lxd init --preseed`),
//! as plain data. Every section is optional; unknown keys are refused so typos are caught.
//! [`Preseed::validate`] checks what serde cannot: values, names and the cluster section.

pub mod base64;
mod cluster_rules;
mod join_token;
mod scalar;
mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::MemberConfigKey;

pub use join_token::{JoinToken, JoinTokenError};
pub use validate::{
    DEVICE_TYPES, NETWORK_TYPES, PathSegment, STORAGE_DRIVERS, Violation, check_name,
};

/// A whole preseed document.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Preseed {
    /// Server configuration keys (see `crate::config`); scalars are kept as strings.
    #[serde(
        deserialize_with = "scalar::map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub config: BTreeMap<String, String>,
    /// Networks to create.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkPreseed>,
    /// Storage pools to create.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub storage_pools: Vec<StoragePoolPreseed>,
    /// Profiles to create or update.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<ProfilePreseed>,
    /// Clustering: bootstrap a new cluster or join an existing one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterPreseed>,
}

/// A storage pool to create.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoragePoolPreseed {
    /// The pool's name.
    pub name: String,
    /// Storage driver: one of [`STORAGE_DRIVERS`].
    pub driver: String,
    /// Free text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Driver configuration (e.g. `source`, `size`).
    #[serde(
        deserialize_with = "scalar::map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub config: BTreeMap<String, String>,
}

/// A network to create.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkPreseed {
    /// The network's name (for a bridge, also the interface name).
    pub name: String,
    /// Network type: one of [`NETWORK_TYPES`]; empty means `bridge`.
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Free text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The project the network belongs to; empty means `default`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub project: String,
    /// Network configuration (e.g. `ipv4.address`).
    #[serde(
        deserialize_with = "scalar::map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub config: BTreeMap<String, String>,
}

impl NetworkPreseed {
    /// The network type with the default applied: `bridge` when none is given.
    pub fn effective_kind(&self) -> &str {
        if self.kind.is_empty() {
            "bridge"
        } else {
            &self.kind
        }
    }
}

/// A profile to create or update.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProfilePreseed {
    /// The profile's name.
    pub name: String,
    /// Free text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Instance configuration applied through the profile.
    #[serde(
        deserialize_with = "scalar::map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub config: BTreeMap<String, String>,
    /// Devices by name; each is a map of string properties including `type`.
    #[serde(
        deserialize_with = "scalar::devices",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub devices: BTreeMap<String, BTreeMap<String, String>>,
}

/// The `cluster:` section: bootstrap (no `cluster_address`/`cluster_token`) or join.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterPreseed {
    /// This member's name in the cluster (taken from the token when joining with one).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server_name: String,
    /// Whether clustering is wanted at all (`yes`/`no`, `on`/`off` too, as LXD reads them).
    #[serde(deserialize_with = "scalar::boolean")]
    pub enabled: bool,
    /// Answers to the member-specific keys of the cluster's pools and networks (joining).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub member_config: Vec<MemberConfigKey>,
    /// Address of an existing member to join through (password join).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster_address: String,
    /// The cluster's certificate, PEM (password join).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster_certificate: String,
    /// A file holding the cluster's certificate, instead of `cluster_certificate`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster_certificate_path: String,
    /// The address this member will be reached on by the others (joining).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server_address: String,
    /// The cluster's trust password (password join).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster_password: String,
    /// A join token from `corral cluster add <name>` (token join).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster_token: String,
}

impl Preseed {
    /// Whether this preseed joins an existing cluster (by token or by address and password).
    pub fn is_join(&self) -> bool {
        self.cluster.as_ref().is_some_and(|c| {
            c.enabled && !(c.cluster_address.is_empty() && c.cluster_token.is_empty())
        })
    }

    /// Whether this preseed forms a new cluster with this server as its first member.
    pub fn is_bootstrap(&self) -> bool {
        self.cluster.as_ref().is_some_and(|c| c.enabled) && !self.is_join()
    }

    /// Checks every value and cross-reference; returns every problem found, in section order.
    pub fn validate(&self) -> Result<(), Vec<Violation>> {
        let mut found = Vec::new();
        validate::check_sections(self, &mut found);
        cluster_rules::check(self, &mut found);
        if found.is_empty() { Ok(()) } else { Err(found) }
    }
}

#[cfg(test)]
mod tests;
