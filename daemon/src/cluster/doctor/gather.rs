//! Gathering the doctor's facts: from the running daemon (its Raft metrics and replica), or
//! from a stopped member's files; in both cases every other member is asked, in parallel
//! and briefly, where its log ends. Nothing here decides anything.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use corral_shared::api::MemberStatus;
use rusqlite::{Connection, OpenFlags};
use time::OffsetDateTime;

use super::{Certificate, DbRole, Facts, LogPosition, LogReport, MemberFacts, Reach};
use crate::cluster::{members, versions};
use crate::db::global::queries::{self, MemberRow};
use crate::db::local::RaftNode;
use crate::error::{Error, Result};
use crate::node::{DataDir, Node};
use crate::peers::Peers;
use crate::raft::NodeId;
use crate::raft::log_store::layout::{self, StoredLogError};
use crate::tls::Identity;

/// How long each member gets to answer: the doctor must answer fast when members are gone.
pub const PROBE: Duration = Duration::from_secs(1);

/// The path members answer the log probe on.
pub const LOG_PATH: &str = crate::peers::calls::LOG_POSITION_PATH;

/// Why a stopped member's files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// No member lives in the directory.
    #[error(
        "{0} holds no Corral member (no database/local.db); point CORRAL_DIR at the member's directory"
    )]
    NoMember(PathBuf),
    /// A database could not be read.
    #[error("cannot read {path}: {source}; check that you may read it (run as root?)")]
    Sql {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
}

/// Where this member's log ends: the last entry, else the last one purged into a snapshot
/// (an unreadable purge record counts as no log, as the log store would start from none).
pub fn last_log(conn: &Connection) -> rusqlite::Result<Option<LogPosition>> {
    let end = match layout::end(conn) {
        Ok(end) => end,
        Err(StoredLogError::Sql(e)) => return Err(e),
        Err(StoredLogError::Decode(_)) => None,
    };
    Ok(end.map(|e| LogPosition {
        term: e.term,
        index: e.index,
    }))
}

fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// What this member answers on the log probe.
pub async fn log_report(node: &Node) -> Result<LogReport> {
    let local = node.local.clone();
    let log = tokio::task::spawn_blocking(move || last_log(&local.lock()))
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
    let (schema, api_extensions) = versions::own();
    Ok(LogReport {
        id: node.id(),
        log,
        schema,
        api_extensions,
        time_ms: now_ms(),
    })
}

/// The members a stopped (or running) member's `raft_nodes` records, read without taking
/// the daemon's lock or writing anything, so it works whether the daemon runs or not.
pub fn recorded_raft_nodes(dirs: &DataDir) -> std::result::Result<Vec<RaftNode>, OfflineError> {
    let conn = open_read_only(&dirs.local_db(), dirs)?;
    crate::db::local::read_raft_nodes(&conn).map_err(|source| OfflineError::Sql {
        path: dirs.local_db(),
        source,
    })
}

fn open_read_only(path: &Path, dirs: &DataDir) -> std::result::Result<Connection, OfflineError> {
    if !path.exists() {
        return Err(OfflineError::NoMember(dirs.root().to_owned()));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| OfflineError::Sql {
        path: path.to_owned(),
        source,
    })?;
    // A daemon killed mid-write leaves its WAL behind; wait for a live one rather than fail.
    let _ = conn.busy_timeout(Duration::from_secs(2));
    Ok(conn)
}

/// Joins the member list with the Raft configuration: listed members with their roles,
/// then Raft members the list lacks. Reach is filled in later.
fn known(rows: &[MemberRow], raft: &[RaftNode], self_id: NodeId) -> Vec<MemberFacts> {
    let mut out: Vec<MemberFacts> = rows
        .iter()
        .map(|r| MemberFacts {
            id: r.id,
            name: r.name.clone(),
            address: r.address.clone(),
            is_self: r.id == self_id,
            role: raft
                .iter()
                .find(|n| n.id == r.id)
                .map_or(DbRole::Spare, |n| n.role),
            listed: true,
            reach: Reach::Unreachable("not asked".into()),
            log: None,
            version: Some((r.schema, r.api_extensions)),
            clock_skew_ms: None,
            heartbeat_offline: false,
        })
        .collect();
    for n in raft.iter().filter(|n| rows.iter().all(|r| r.id != n.id)) {
        out.push(MemberFacts {
            id: n.id,
            name: if n.name.is_empty() {
                format!("member {}", n.id)
            } else {
                n.name.clone()
            },
            address: n.address.clone(),
            is_self: n.id == self_id,
            role: n.role,
            listed: false,
            reach: Reach::Unreachable("not asked".into()),
            log: None,
            version: None,
            clock_skew_ms: None,
            heartbeat_offline: false,
        });
    }
    out
}

/// Asks every member but this one where its log ends, in parallel, each for at most [`PROBE`].
async fn probe(peers: Option<Peers>, members: &mut [MemberFacts]) {
    let targets: Vec<(usize, String)> = members
        .iter()
        .enumerate()
        .filter(|(_, m)| !m.is_self)
        .map(|(i, m)| (i, m.address.clone()))
        .collect();
    let Some(peers) = peers else {
        for (i, _) in targets {
            members[i].reach =
                Reach::Unreachable("this member has no cluster certificate to ask it with".into());
        }
        return;
    };
    let answers = peers
        .fan_out(targets, PROBE, |member| async move {
            let sent = now_ms();
            let answer = member.log_position::<LogReport>().await;
            let received = now_ms();
            // Its clock is compared with ours at the middle of the round trip.
            answer.map(|report| (report.clone(), report.time_ms - (sent + received) / 2))
        })
        .await;
    for (i, answer) in answers {
        let m = &mut members[i];
        match answer {
            Ok((report, skew)) => {
                m.reach = Reach::Up;
                m.log = report.log;
                m.version = Some((report.schema, report.api_extensions));
                m.clock_skew_ms = Some(skew);
            }
            Err(e) => m.reach = Reach::Unreachable(e.reason()),
        }
    }
}

fn certificate_of(identity: Option<&Identity>) -> Certificate {
    match identity {
        None => Certificate::Unreadable("this member has no cluster certificate".into()),
        Some(id) => match corral_shared::x509::parse_der(&id.cert_der()) {
            Ok(info) => Certificate::Expires(info.not_after),
            Err(e) => Certificate::Unreadable(e),
        },
    }
}

/// The facts as the running daemon sees them.
pub async fn online(node: &Node) -> Result<Facts> {
    let now = OffsetDateTime::now_utc();
    let identity = node.cluster_identity();
    if !node.is_clustered() {
        return Ok(Facts {
            clustered: false,
            members: Vec::new(),
            leader: None,
            certificate: certificate_of(None),
            now,
        });
    }
    let rows = node.global.read(queries::members).await?;
    let metrics = node.raft().metrics().borrow().clone();
    let membership = metrics.membership_config.membership();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    // Spares are outside Raft; a learner labelled spare (on its way out) holds no role either,
    // as `cluster list` shows it.
    let raft: Vec<RaftNode> = membership
        .nodes()
        .map(|(id, n)| {
            let row = rows.iter().find(|r| r.id == *id);
            RaftNode {
                id: *id,
                address: n.addr.clone(),
                role: if voters.contains(id) {
                    DbRole::Voter
                } else if row.is_none_or(|r| r.db_role == DbRole::StandBy) {
                    DbRole::StandBy
                } else {
                    DbRole::Spare
                },
                name: row.map(|r| r.name.clone()).unwrap_or_default(),
            }
        })
        .collect();
    let mut facts_members = known(&rows, &raft, node.id());
    let offline: BTreeSet<String> = members::list(node)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.status == MemberStatus::Offline)
        .map(|m| m.server_name)
        .collect();
    let own = log_report(node).await?;
    for m in &mut facts_members {
        m.heartbeat_offline = offline.contains(&m.name);
        if m.is_self {
            m.reach = Reach::Up;
            m.log = own.log;
            m.version = Some((own.schema, own.api_extensions));
            m.clock_skew_ms = Some(0);
        }
    }
    probe(Peers::of(node).ok(), &mut facts_members).await;
    Ok(Facts {
        clustered: true,
        members: facts_members,
        leader: metrics.current_leader,
        certificate: certificate_of(identity.as_ref()),
        now,
    })
}

/// The facts from a stopped member's files, and from asking the other members.
pub async fn offline(dir: &Path) -> std::result::Result<Facts, OfflineError> {
    let dirs = DataDir::new(dir);
    let local = open_read_only(&dirs.local_db(), &dirs)?;
    let sql = |source| OfflineError::Sql {
        path: dirs.local_db(),
        source,
    };
    let raft = crate::db::local::read_raft_nodes(&local).map_err(sql)?;
    let log = last_log(&local).map_err(sql)?;
    let self_id: Option<NodeId> = crate::db::local::read_config_value(&local, "raft.node_id")
        .map_err(sql)?
        .and_then(|v| v.parse().ok());
    drop(local);
    // Identity::load reads cluster.crt and cluster.key; without them this is no cluster.
    let loaded = Identity::load(dirs.root(), "cluster");
    let now = OffsetDateTime::now_utc();
    if matches!(loaded, Ok(None)) {
        return Ok(Facts {
            clustered: false,
            members: Vec::new(),
            leader: None,
            certificate: certificate_of(None),
            now,
        });
    }
    // The replica may be missing on a member that never held the database; go on without.
    let rows = open_read_only(&dirs.global_db(), &dirs)
        .ok()
        .and_then(|conn| queries::members(&conn).ok())
        .unwrap_or_default();
    let mut facts_members = known(&rows, &raft, self_id.unwrap_or(0));
    for m in facts_members.iter_mut().filter(|m| m.is_self) {
        m.reach = Reach::Stopped;
        m.log = log;
    }
    let (client, certificate) = match &loaded {
        Ok(identity) => (
            identity.as_ref().and_then(|i| Peers::with_identity(i).ok()),
            certificate_of(identity.as_ref()),
        ),
        Err(e) => (None, Certificate::Unreadable(e.to_string())),
    };
    probe(client, &mut facts_members).await;
    Ok(Facts {
        clustered: true,
        members: facts_members,
        leader: None,
        certificate,
        now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_log_position_comes_from_the_log_then_the_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::local::LocalDb::open(&dir.path().join("local.db")).unwrap();
        let conn = db.lock();
        assert_eq!(last_log(&conn).unwrap(), None);
        let purged = serde_json::json!({"leader_id": {"term": 2, "node_id": 1}, "index": 9});
        conn.execute(
            "INSERT INTO raft_state (key, value) VALUES ('last_purged', ?)",
            [serde_json::to_vec(&purged).unwrap()],
        )
        .unwrap();
        assert_eq!(
            last_log(&conn).unwrap(),
            Some(LogPosition { term: 2, index: 9 })
        );
        for (idx, term) in [(10, 2), (11, 3)] {
            conn.execute(
                "INSERT INTO log (idx, term, entry) VALUES (?, ?, x'00')",
                [idx, term],
            )
            .unwrap();
        }
        assert_eq!(
            last_log(&conn).unwrap(),
            Some(LogPosition { term: 3, index: 11 })
        );
    }

    #[test]
    fn raft_members_missing_from_the_list_are_kept_apart() {
        let row = MemberRow {
            address: "a:1".into(),
            api_extensions: 2,
            arch: String::new(),
            failure_domain: String::new(),
            ..MemberRow::sample(1)
        };
        let raft = [
            RaftNode {
                id: 1,
                address: "a:1".into(),
                role: DbRole::Voter,
                name: "node1".into(),
            },
            RaftNode {
                id: 7,
                address: "b:1".into(),
                role: DbRole::StandBy,
                name: String::new(),
            },
        ];
        let got = known(&[row], &raft, 1);
        assert_eq!(got.len(), 2);
        assert!(got[0].is_self && got[0].listed && got[0].role == DbRole::Voter);
        assert_eq!(got[1].name, "member 7");
        assert!(!got[1].listed);
        assert_eq!(got[1].role, DbRole::StandBy);
    }
}
