//! `/1.0/cluster/groups`: cluster groups, sets of members an instance can target with
//! `--target @GROUP`.

use serde::{Deserialize, Serialize};

/// A cluster group, fields in LXD's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterGroup {
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Names of its members.
    #[serde(default)]
    pub members: Vec<String>,
    /// Its name.
    pub name: String,
    /// What refers to it (instances placed through it), as URLs; LXD 5.0 has no such
    /// field, so an unused group is written as LXD 5.0 writes it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub used_by: Vec<String>,
}

/// The writable part of a group: what PUT replaces and PATCH merges, and what its ETag
/// covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterGroupPut {
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Names of its members.
    #[serde(default)]
    pub members: Vec<String>,
}

/// `POST /1.0/cluster/groups`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterGroupsPost {
    /// The new group's name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Members to put in it.
    #[serde(default)]
    pub members: Vec<String>,
}

/// `POST /1.0/cluster/groups/NAME`: a rename.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterGroupPost {
    /// The new name.
    pub name: String,
}

impl ClusterGroup {
    /// The part of the group a client may write.
    pub fn writable(&self) -> ClusterGroupPut {
        ClusterGroupPut {
            description: self.description.clone(),
            members: self.members.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_reads_and_writes_lxds_shape() {
        let sample = r#"{"description":"Default cluster group","members":["node1","node2"],"name":"default"}"#;
        let group: ClusterGroup = serde_json::from_str(sample).unwrap();
        assert_eq!(serde_json::to_string(&group).unwrap(), sample);
        let used = ClusterGroup {
            used_by: vec!["/1.0/instances/c3".into()],
            ..group
        };
        let text = serde_json::to_string(&used).unwrap();
        assert!(
            text.ends_with(r#""used_by":["/1.0/instances/c3"]}"#),
            "{text}"
        );
    }
}
