//! `/1.0/storage-pools` and their custom volumes: pools are defined once for the cluster and
//! created on every member (LXD's two-phase creation: `?target=` per member, then
//! cluster-wide); custom volumes live on one member each.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// LXD's `NodeSpecificStorageConfig`: the pool keys set per member (`--target`, a joiner's
/// `member_config`); every other key is cluster-wide.
pub const POOL_MEMBER_KEYS: &[&str] = &[
    "size",
    "source",
    "source.wipe",
    "volatile.initial_source",
    "zfs.pool_name",
    "lvm.thinpool_name",
    "lvm.vg_name",
];

/// `GET /1.0/storage-pools/NAME` (and each element of `?recursion=1`), with LXD's field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoragePool {
    /// Cluster-wide config; with `?target=`, that member's own keys as well.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Its name.
    pub name: String,
    /// Its driver (`dir`).
    pub driver: String,
    /// What uses it (URLs).
    #[serde(default)]
    pub used_by: Vec<String>,
    /// `Pending`, `Created` or `Errored` (with `?target=`, that member's own state).
    #[serde(default)]
    pub status: String,
    /// The members it is defined on.
    #[serde(default)]
    pub locations: Vec<String>,
}

/// `POST /1.0/storage-pools`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoragePoolsPost {
    /// The new pool's name.
    pub name: String,
    /// Its driver.
    #[serde(default)]
    pub driver: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Its config.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

/// `PUT`/`PATCH /1.0/storage-pools/NAME`: the writable part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoragePoolPut {
    /// Its config (with `?target=`, that member's own keys).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// `GET /1.0/storage-pools/POOL/volumes/custom/NAME`, with LXD's field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageVolume {
    /// Its config.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Its name.
    pub name: String,
    /// `custom` for the volumes users create.
    #[serde(rename = "type")]
    pub kind: String,
    /// What uses it (URLs).
    #[serde(default)]
    pub used_by: Vec<String>,
    /// The member it lives on.
    #[serde(default)]
    pub location: String,
    /// `filesystem` (the `dir` driver has no block volumes).
    #[serde(default)]
    pub content_type: String,
    /// Its project.
    #[serde(default)]
    pub project: String,
    /// When it was made (LXD 5.0 shows the zero time for custom volumes).
    #[serde(default)]
    pub created_at: String,
}

/// `POST /1.0/storage-pools/POOL/volumes/custom`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageVolumesPost {
    /// The new volume's name.
    pub name: String,
    /// `custom` (the only type users create).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Its config.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// `filesystem` when empty.
    #[serde(default)]
    pub content_type: String,
}

/// `POST /1.0/storage-pools/POOL/volumes/custom/NAME`: a rename.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageVolumePost {
    /// The new name.
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_lxds() {
        let vol = StorageVolume {
            name: "v1".into(),
            kind: "custom".into(),
            location: "node3".into(),
            content_type: "filesystem".into(),
            project: "default".into(),
            ..StorageVolume::default()
        };
        let v = serde_json::to_value(&vol).unwrap();
        assert_eq!(v["type"], "custom");
        assert_eq!(v["location"], "node3");
        let pool: StoragePool = serde_json::from_str(
            r#"{"config":{},"description":"","driver":"dir","locations":["node2","node3","node1"],
                "name":"p1","status":"Created","used_by":[]}"#,
        )
        .unwrap();
        assert_eq!(pool.locations.len(), 3);
        assert_eq!(pool.status, "Created");
    }
}
