//! `/1.0/cluster` and its members.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// `GET /1.0/cluster`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// This member's name ("" when not clustered).
    pub server_name: String,
    /// Whether clustering is enabled.
    pub enabled: bool,
    /// The member-specific keys a joiner must answer.
    pub member_config: Vec<MemberConfigKey>,
}

/// One member-specific key a joining member must answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberConfigKey {
    /// "storage-pool" or "network".
    pub entity: String,
    /// The pool or network's name.
    pub name: String,
    /// The key, e.g. `source`.
    pub key: String,
    /// The answer (empty in `GET /1.0/cluster`).
    #[serde(default)]
    pub value: String,
    /// What the key means.
    #[serde(default)]
    pub description: String,
}

/// A database role, as LXD names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// The current Raft leader.
    #[serde(rename = "database-leader")]
    DatabaseLeader,
    /// A voter of the replicated database.
    #[serde(rename = "database")]
    Database,
    /// A non-voting replica, ready to be promoted.
    #[serde(rename = "database-standby")]
    DatabaseStandby,
    /// Exchange point for events.
    #[serde(rename = "event-hub")]
    EventHub,
    /// Uplink gateway candidate for OVN networks.
    #[serde(rename = "ovn-chassis")]
    OvnChassis,
}

impl Role {
    /// The role's name as shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::DatabaseLeader => "database-leader",
            Role::Database => "database",
            Role::DatabaseStandby => "database-standby",
            Role::EventHub => "event-hub",
            Role::OvnChassis => "ovn-chassis",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A member's state as the API words it ("Online"); `corral cluster list` upper-cases it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberStatus {
    /// Answering heartbeats.
    Online,
    /// No heartbeat within `cluster.offline_threshold`.
    Offline,
    /// Its instances were moved away.
    Evacuated,
    /// Waiting for other members to reach its version.
    Blocked,
}

impl fmt::Display for MemberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemberStatus::Online => "Online",
            MemberStatus::Offline => "Offline",
            MemberStatus::Evacuated => "Evacuated",
            MemberStatus::Blocked => "Blocked",
        })
    }
}

/// `GET /1.0/cluster/members/{name}`, with LXD's field order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterMember {
    /// Roles held, automatic ones included.
    pub roles: Vec<Role>,
    /// Failure domain ("default" unless set).
    pub failure_domain: String,
    /// Free text.
    pub description: String,
    /// Member configuration (`scheduler.instance`, `user.*`).
    pub config: BTreeMap<String, String>,
    /// Cluster groups the member belongs to.
    pub groups: Vec<String>,
    /// The member's name.
    pub server_name: String,
    /// `https://ADDRESS`.
    pub url: String,
    /// Whether it holds a database role.
    pub database: bool,
    /// Online, Offline, Evacuated or Blocked.
    pub status: MemberStatus,
    /// Why it has that status ("Fully operational").
    pub message: String,
    /// Its architecture.
    pub architecture: String,
}

/// The writable part of a member: what PUT replaces and PATCH merges, and what its ETag covers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterMemberPut {
    /// Roles (only the non-automatic ones can be changed).
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Failure domain.
    #[serde(default)]
    pub failure_domain: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Member configuration.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Cluster groups.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl ClusterMember {
    /// The part of the member a client may write.
    pub fn writable(&self) -> ClusterMemberPut {
        ClusterMemberPut {
            roles: self.roles.clone(),
            failure_domain: self.failure_domain.clone(),
            description: self.description.clone(),
            config: self.config.clone(),
            groups: self.groups.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_parses_lxds_sample_and_writes_it_back_unchanged() {
        let sample = r#"{"roles":["database-leader","database"],"failure_domain":"default","description":"","config":{},"groups":["default"],"server_name":"node1","url":"https://127.0.0.11:8443","database":true,"status":"Online","message":"Fully operational","architecture":"x86_64"}"#;
        let member: ClusterMember = serde_json::from_str(sample).unwrap();
        assert_eq!(member.roles, vec![Role::DatabaseLeader, Role::Database]);
        assert_eq!(serde_json::to_string(&member).unwrap(), sample);
    }

    #[test]
    fn cluster_parses_lxds_sample() {
        let sample = r#"{"server_name":"node1","enabled":true,"member_config":[{"entity":"storage-pool","name":"default","key":"source","value":"","description":"\"source\" property for storage pool \"default\""}]}"#;
        let cluster: Cluster = serde_json::from_str(sample).unwrap();
        assert_eq!(serde_json::to_string(&cluster).unwrap(), sample);
    }
}
