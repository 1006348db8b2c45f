//! The Raft configuration of a stopped member, as YAML an operator can read and edit
//! (`corrald cluster show|edit`), and rewriting it (`edit`, `recover-from-quorum-loss`).
//!
//! A rewrite first applies every entry still in the log, so nothing written before is lost,
//! then records the new membership in the replica, snapshots it and empties the log. Each
//! surviving member applies the same edit to its own copy; a member that lags behind gets
//! the leader's snapshot when it returns, so no recovery file has to be copied around.

use std::collections::{BTreeMap, BTreeSet};

use openraft::{BasicNode, EntryPayload, Membership, SnapshotMeta, StoredMembership};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::db::global::nodes::{self, DbRole};
use crate::node::DataDir;
use crate::raft::log_store::layout::{self, StoredLogError};
use crate::raft::state_machine::{
    LAST_APPLIED, MEMBERSHIP, read_applied, read_membership, store_current, write_json,
};

/// A database role in the YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftRole {
    /// Votes.
    #[serde(rename = "voter")]
    Voter,
    /// Replicates, promoted first.
    #[serde(rename = "stand-by")]
    StandBy,
    /// Holds no database role.
    #[serde(rename = "spare")]
    Spare,
}

/// One member of the Raft configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftMember {
    /// Raft id.
    pub id: u64,
    /// Member name.
    #[serde(default)]
    pub name: String,
    /// Cluster address.
    pub address: String,
    /// Its role.
    pub role: RaftRole,
}

/// The document `show` prints and `edit` reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftConfig {
    /// The members.
    pub members: Vec<RaftMember>,
}

/// Why a configuration cannot be read, checked or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The edit breaks a rule.
    #[error("{0}")]
    Invalid(String),
    /// A database could not be read or written.
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A stored entry could not be decoded.
    #[error("stored Raft data: {0}")]
    Decode(#[from] serde_json::Error),
    /// The snapshot could not be written.
    #[error("snapshot: {0}")]
    Snapshot(String),
}

/// Where the log stands, for the header comment and the doctor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogPosition {
    /// Index of the last entry.
    pub index: u64,
    /// Its term.
    pub term: u64,
}

fn open(dirs: &DataDir) -> Result<(Connection, Connection), ConfigError> {
    let local = crate::db::open(&dirs.local_db(), crate::db::Durability::Fsync)?;
    let global = crate::db::global::open_writer(&dirs.global_db())?;
    Ok((local, global))
}

impl From<StoredLogError> for ConfigError {
    fn from(e: StoredLogError) -> Self {
        match e {
            StoredLogError::Sql(e) => ConfigError::Sql(e),
            StoredLogError::Decode(e) => ConfigError::Decode(e),
        }
    }
}

impl RaftRole {
    /// The database role it stands for.
    pub fn db_role(self) -> DbRole {
        match self {
            RaftRole::Voter => DbRole::Voter,
            RaftRole::StandBy => DbRole::StandBy,
            RaftRole::Spare => DbRole::Spare,
        }
    }
}

/// The last position in this member's log (or its snapshot, when the log is empty).
pub fn position(dirs: &DataDir) -> Result<LogPosition, ConfigError> {
    let (local, global) = open(dirs)?;
    let end = match layout::end(&local)? {
        Some(end) => Some((end.term, end.index)),
        None => read_applied(&global)?.map(|l| (l.leader_id.term, l.index)),
    };
    Ok(
        end.map_or(LogPosition { index: 0, term: 0 }, |(term, index)| {
            LogPosition { index, term }
        }),
    )
}

/// The configuration in force: the last membership in the log, else the replica's.
pub fn current(dirs: &DataDir) -> Result<RaftConfig, ConfigError> {
    let (local, global) = open(dirs)?;
    // The newest membership wins: a membership entry in the log is newer than the replica's.
    let in_log = layout::entries_after(&local, 0)?
        .into_iter()
        .rev()
        .find_map(|e| match e.payload {
            EntryPayload::Membership(m) => Some(m),
            _ => None,
        });
    let membership = in_log.unwrap_or_else(|| {
        read_membership(&global)
            .map(|m| m.membership().clone())
            .unwrap_or_default()
    });
    let rows = nodes::member_rows(&global)?;
    let labels: BTreeMap<u64, (String, DbRole)> = rows
        .iter()
        .map(|r| (r.id, (r.name.clone(), r.db_role)))
        .collect();
    let voters: BTreeSet<u64> = membership.voter_ids().collect();
    let mut members: Vec<RaftMember> = membership
        .nodes()
        .map(|(id, node)| {
            let (name, label) = labels
                .get(id)
                .cloned()
                .unwrap_or((String::new(), DbRole::Spare));
            let role = if voters.contains(id) {
                RaftRole::Voter
            } else if label == DbRole::StandBy {
                RaftRole::StandBy
            } else {
                RaftRole::Spare
            };
            RaftMember {
                id: *id,
                name,
                address: node.addr.clone(),
                role,
            }
        })
        .collect();
    // Spares are outside Raft; they are listed (as LXD lists them) so that an edit keeps
    // them. Members a recovery left out are not: they wait to be removed.
    members.extend(
        rows.iter()
            .filter(|r| membership.get_node(&r.id).is_none())
            .filter(|r| r.state != nodes::MemberState::Lost)
            .map(|r| RaftMember {
                id: r.id,
                name: r.name.clone(),
                address: r.address.clone(),
                role: RaftRole::Spare,
            }),
    );
    members.sort_by_key(|m| m.id);
    Ok(RaftConfig { members })
}

/// The YAML `corrald cluster show` prints.
pub fn render(config: &RaftConfig, at: LogPosition) -> String {
    let body = serde_yaml::to_string(config).unwrap_or_default();
    format!(
        "# Raft configuration of this member. Roles: voter (votes), stand-by (replicates, promoted\n\
         # first), spare. Edit addresses and roles here; members cannot be added or removed.\n\
         # Latest Raft log entry: index {}, term {}\n\n{body}",
        at.index, at.term
    )
}

/// Checks an edited configuration against the current one (as LXD's rules are).
pub fn check(before: &RaftConfig, after: &RaftConfig) -> Result<(), ConfigError> {
    let invalid = |m: String| Err(ConfigError::Invalid(m));
    if after.members.len() < before.members.len() {
        return invalid(
            "Removing cluster members is not supported; edit addresses and roles only".into(),
        );
    }
    if after.members.len() > before.members.len() {
        return invalid(
            "Adding cluster members is not supported; edit addresses and roles only".into(),
        );
    }
    for (old, new) in before.members.iter().zip(&after.members) {
        if old.id != new.id {
            return invalid(format!(
                "Member IDs must stay as they are and in order: expected {}, found {}",
                old.id, new.id
            ));
        }
        if !new.name.is_empty() && new.name != old.name {
            return invalid(format!(
                "Member {} cannot be renamed here ({:?} to {:?}); use 'corral cluster rename'",
                old.id, old.name, new.name
            ));
        }
        if old.role == RaftRole::Spare && new.role == RaftRole::Voter {
            return invalid(format!(
                "Member {} ({}) is a spare and cannot become a voter; make it a stand-by",
                old.id, old.name
            ));
        }
        corral_shared::config::canonical_address(&new.address).map_err(|e| {
            ConfigError::Invalid(format!("member {}: address {:?}: {e}", new.id, new.address))
        })?;
    }
    let voters = after
        .members
        .iter()
        .filter(|m| m.role == RaftRole::Voter)
        .count();
    let needed = if after.members.len() > 2 { 2 } else { 1 };
    if voters < needed {
        return invalid(format!(
            "There must be at least {needed} voter(s) among {} members; {voters} given",
            after.members.len()
        ));
    }
    Ok(())
}

/// Rewrites this member's Raft state to `config`: applies what the log still holds, records
/// the new membership and addresses in the replica, snapshots it, and empties the log.
pub fn rewrite(dirs: &DataDir, config: &RaftConfig) -> Result<LogPosition, ConfigError> {
    let (mut local, mut global) = open(dirs)?;
    crate::db::batch::bound_steps(&mut global)?;
    let applied = read_applied(&global)?;
    let pending = layout::entries_after(&local, applied.map_or(0, |l| l.index))?;
    let tx = global.transaction()?;
    let mut last = applied;
    for entry in &pending {
        if let EntryPayload::Normal(p) = &entry.payload {
            p.apply(&tx, entry.log_id.index)?;
        }
        write_json(&tx, LAST_APPLIED, &entry.log_id)?;
        last = Some(entry.log_id);
    }
    let last = last.ok_or_else(|| {
        ConfigError::Invalid("this member's database is empty: it never joined a cluster".into())
    })?;
    let voters: BTreeSet<u64> = config
        .members
        .iter()
        .filter(|m| m.role == RaftRole::Voter)
        .map(|m| m.id)
        .collect();
    // Spares stay out of the membership: the leader feeds them.
    let in_raft = || config.members.iter().filter(|m| m.role != RaftRole::Spare);
    let nodes: BTreeMap<u64, BasicNode> = in_raft()
        .map(|m| (m.id, BasicNode::new(&m.address)))
        .collect();
    let membership = StoredMembership::new(Some(last), Membership::new(vec![voters], nodes));
    write_json(&tx, MEMBERSHIP, &membership)?;
    let kept: Vec<(u64, &str, DbRole)> = config
        .members
        .iter()
        .map(|m| (m.id, m.address.as_str(), m.role.db_role()))
        .collect();
    nodes::record_recovery(&tx, &kept)?;
    tx.commit()?;

    let snapshots = dirs.snapshots();
    std::fs::create_dir_all(&snapshots).map_err(|e| ConfigError::Snapshot(e.to_string()))?;
    let building = snapshots.join("building.db");
    let _ = std::fs::remove_file(&building);
    global.backup(
        rusqlite::MAIN_DB,
        &building,
        None::<fn(rusqlite::backup::Progress)>,
    )?;
    let meta = SnapshotMeta {
        last_log_id: Some(last),
        last_membership: membership,
        snapshot_id: format!("{}-{}-recovered", last.leader_id.term, last.index),
    };
    store_current(&snapshots, &building, &meta)
        .map_err(|e| ConfigError::Snapshot(e.to_string()))?;

    let tx = local.transaction()?;
    layout::reset_to(&tx, last)?;
    tx.execute("DELETE FROM raft_nodes", [])?;
    for m in in_raft() {
        tx.execute(
            "INSERT INTO raft_nodes (id, address, role, name) VALUES (?, ?, ?, ?)",
            params![m.id as i64, m.address, m.role.db_role(), m.name],
        )?;
    }
    tx.commit()?;
    Ok(LogPosition {
        index: last.index,
        term: last.leader_id.term,
    })
}

/// This member's Raft id, from its local config.
pub fn own_id(dirs: &DataDir) -> Result<u64, ConfigError> {
    let (local, _) = open(dirs)?;
    let raw: Option<String> = local
        .query_row(
            "SELECT value FROM config WHERE key = 'raft.node_id'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    raw.and_then(|v| v.parse().ok()).ok_or_else(|| {
        ConfigError::Invalid("this member has no Raft id yet: it was never started".into())
    })
}

/// Records this member's new address in its local config (`core.https_address`, and
/// `cluster.https_address` when set).
pub fn set_own_address(dirs: &DataDir, address: &str) -> Result<(), ConfigError> {
    let (local, _) = open(dirs)?;
    local.execute(
        "UPDATE config SET value = ? WHERE key IN ('core.https_address', 'cluster.https_address')",
        [address],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: u64, role: RaftRole) -> RaftMember {
        RaftMember {
            id,
            name: format!("node{id}"),
            address: format!("127.0.0.{id}:8443"),
            role,
        }
    }

    fn config(roles: &[RaftRole]) -> RaftConfig {
        RaftConfig {
            members: roles
                .iter()
                .enumerate()
                .map(|(i, r)| member(i as u64 + 1, *r))
                .collect(),
        }
    }

    #[test]
    fn edits_follow_lxds_rules() {
        use RaftRole::*;
        let before = config(&[Voter, Voter, Voter, Spare]);
        let with = |f: &dyn Fn(&mut RaftConfig)| {
            let mut c = before.clone();
            f(&mut c);
            c
        };
        let cases: Vec<(&str, RaftConfig, Option<&str>)> = vec![
            ("unchanged", before.clone(), None),
            (
                "new ports",
                with(&|c| {
                    c.members
                        .iter_mut()
                        .for_each(|m| m.address = m.address.replace("8443", "9443"))
                }),
                None,
            ),
            (
                "removed",
                with(&|c| {
                    c.members.pop();
                }),
                Some("Removing cluster members is not supported"),
            ),
            (
                "added",
                with(&|c| c.members.push(member(9, Spare))),
                Some("Adding cluster members is not supported"),
            ),
            (
                "reordered",
                with(&|c| c.members.swap(0, 1)),
                Some("must stay as they are"),
            ),
            (
                "renamed",
                with(&|c| c.members[0].name = "x".into()),
                Some("cannot be renamed"),
            ),
            ("name left out", with(&|c| c.members[0].name.clear()), None),
            (
                "spare to voter",
                with(&|c| c.members[3].role = Voter),
                Some("is a spare and cannot become a voter"),
            ),
            (
                "one voter of four",
                with(&|c| {
                    c.members[1].role = StandBy;
                    c.members[2].role = StandBy;
                }),
                Some("at least 2 voter"),
            ),
            (
                "bad address",
                with(&|c| c.members[0].address = "nowhere:99999".into()),
                Some("address"),
            ),
        ];
        for (what, after, want) in cases {
            match (check(&before, &after), want) {
                (Ok(()), None) => {}
                (Err(e), Some(text)) => assert!(e.to_string().contains(text), "{what}: {e}"),
                (got, want) => panic!("{what}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn the_yaml_round_trips_with_its_header() {
        let c = config(&[RaftRole::Voter, RaftRole::StandBy]);
        let text = render(&c, LogPosition { index: 42, term: 3 });
        assert!(text.starts_with("# Raft configuration"));
        assert!(text.contains("# Latest Raft log entry: index 42, term 3"));
        assert!(text.contains("role: stand-by"));
        let back: RaftConfig = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, c);
    }
}
