//! `/1.0/networks`: networks defined once for the cluster, each created on every member
//! (LXD's two-phase creation: `?target=` per member, then cluster-wide).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// LXD's `NodeSpecificNetworkConfig`: the network keys set per member (`--target`, a
/// joiner's `member_config`); every other key is cluster-wide.
pub const NETWORK_MEMBER_KEYS: &[&str] = &[
    "bgp.ipv4.nexthop",
    "bgp.ipv6.nexthop",
    "bridge.external_interfaces",
    "parent",
    "acceleration.parent",
];

/// `GET /1.0/networks/NAME` (and each element of `?recursion=1`), with LXD's field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// Cluster-wide config; with `?target=`, that member's own keys as well.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Its name.
    pub name: String,
    /// Its type (`bridge`).
    #[serde(rename = "type")]
    pub kind: String,
    /// What uses it (URLs).
    #[serde(default)]
    pub used_by: Vec<String>,
    /// Whether Corral manages it (always, for networks it lists).
    #[serde(default)]
    pub managed: bool,
    /// `Pending`, `Created` or `Errored` (with `?target=`, that member's own state).
    #[serde(default)]
    pub status: String,
    /// The members it is defined on.
    #[serde(default)]
    pub locations: Vec<String>,
}

/// `POST /1.0/networks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworksPost {
    /// The new network's name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Its type; `bridge` when empty.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Its config.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

/// `PUT`/`PATCH /1.0/networks/NAME`: the writable part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkPut {
    /// Its config (with `?target=`, that member's own keys).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_lxds() {
        let net = Network {
            config: BTreeMap::from([("ipv4.address".into(), "10.1.0.1/24".into())]),
            description: String::new(),
            name: "n1".into(),
            kind: "bridge".into(),
            used_by: vec![],
            managed: true,
            status: "Created".into(),
            locations: vec!["node1".into()],
        };
        let v = serde_json::to_value(&net).unwrap();
        assert_eq!(v["type"], "bridge");
        assert_eq!(v["managed"], true);
        assert_eq!(v["locations"][0], "node1");
        let post: NetworksPost = serde_json::from_str(r#"{"name":"n1"}"#).unwrap();
        assert_eq!(post.kind, "");
    }
}
