//! The state machine: applies committed SQL batches to the global database, recording
//! `last_applied` and the membership in the same transaction. Snapshots are copies of the
//! database made with SQLite's online backup API.

use std::collections::BTreeSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openraft::storage::{RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, StorageError, StorageIOError,
    StoredMembership,
};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{NodeId, TypeConfig};
use crate::db::batch::BatchOutcome;
use crate::db::global::open_writer;
use crate::db::proposal::{ApplyError, Proposal};

pub(crate) type Membership = StoredMembership<NodeId, openraft::BasicNode>;

pub(crate) const LAST_APPLIED: &str = "last_applied";
pub(crate) const MEMBERSHIP: &str = "membership";

/// Test setting: applying a batch whose SQL contains this setting's value fails as a disk
/// error would, so tests can see what a member does when its Raft stops.
pub const FAIL_APPLY_ENV: &str = "CORRAL_TEST_FAIL_APPLY";

/// The most entries an apply runs at once on the async worker that asked for it. Applying
/// one member edit takes about a tenth of a millisecond, less than handing it to the blocking
/// pool and back costs in thread wake-ups (each member applies every write); a long run
/// (a catch-up, a joiner fed its backlog) goes to the blocking pool. As with reads of the
/// replica, every batch is bounded (`db::batch::MAX_BATCH_STEPS`).
const APPLY_AT_ONCE: usize = 4;

/// The state machine over the global database's writer connection.
pub struct StateMachine {
    conn: Arc<Mutex<Connection>>,
    db_path: PathBuf,
    snapshots: PathBuf,
    applied: tokio::sync::watch::Sender<u64>,
    fail_on: Option<String>,
}

/// Builds snapshots from the shared writer connection.
pub struct SnapshotBuilder {
    conn: Arc<Mutex<Connection>>,
    snapshots: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct StoredSnapshotMeta {
    meta: SnapshotMeta<NodeId, openraft::BasicNode>,
}

fn io<E: std::error::Error + 'static>(e: E) -> StorageError<NodeId> {
    StorageIOError::write_state_machine(&e).into()
}

impl StateMachine {
    /// Opens the state machine on `db_path`, keeping snapshots in `snapshots`.
    pub fn open(db_path: &Path, snapshots: &Path) -> rusqlite::Result<Self> {
        std::fs::create_dir_all(snapshots)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let mut conn = open_writer(db_path)?;
        crate::db::batch::bound_steps(&mut conn)?;
        let applied = read_applied(&conn)
            .ok()
            .flatten()
            .map_or(0, |l: LogId<NodeId>| l.index);
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            db_path: db_path.to_owned(),
            snapshots: snapshots.to_owned(),
            applied: tokio::sync::watch::channel(applied).0,
            fail_on: std::env::var(FAIL_APPLY_ENV).ok().filter(|v| !v.is_empty()),
        })
    }

    /// A watch of the last applied log index, for waiting until a write is visible here.
    pub fn applied_index(&self) -> tokio::sync::watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// Runs `f` at once on the calling worker when `inline` and the connection is free
    /// (nothing else holds it: no snapshot is being copied), or else on the blocking pool.
    async fn now_or_blocking<T, F>(&self, inline: bool, f: F) -> Result<T, StorageError<NodeId>>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StorageError<NodeId>> + Send + 'static,
    {
        if inline && let Ok(mut conn) = self.conn.try_lock() {
            return f(&mut conn);
        }
        self.blocking(f).await
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, StorageError<NodeId>>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StorageError<NodeId>> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || f(&mut conn.lock().unwrap_or_else(|p| p.into_inner())))
            .await
            .map_err(io)?
    }
}

fn read_json<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    key: &str,
) -> rusqlite::Result<Option<T>> {
    // Cached: every read of the replica asks where it stands.
    let raw: Option<String> = conn
        .prepare_cached("SELECT value FROM raft_applied WHERE key = ?")?
        .query_row([key], |r| r.get(0))
        .optional()?;
    Ok(raw.and_then(|s| serde_json::from_str(&s).ok()))
}

pub(crate) fn write_json<T: Serialize>(
    conn: &Connection,
    key: &str,
    value: &T,
) -> rusqlite::Result<()> {
    let raw = serde_json::to_string(value).unwrap_or_default();
    // Cached: every applied run writes its position, and parsing it each time showed in
    // the write path's profile.
    conn.prepare_cached(
        "INSERT INTO raft_applied (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, &raw])?;
    Ok(())
}

pub(crate) fn read_applied(conn: &Connection) -> rusqlite::Result<Option<LogId<NodeId>>> {
    read_json(conn, LAST_APPLIED)
}

pub(crate) fn read_membership(conn: &Connection) -> rusqlite::Result<Membership> {
    Ok(read_json(conn, MEMBERSHIP)?.unwrap_or_default())
}

/// Whether a statement of `p` contains `marker` (the [`FAIL_APPLY_ENV`] test setting).
fn names(p: &Proposal, marker: Option<&str>) -> bool {
    marker.is_some_and(|m| {
        p.batches
            .iter()
            .flat_map(|b| &b.statements)
            .any(|s| s.sql.contains(m))
    })
}

fn current_paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("current.db"), dir.join("current.json"))
}

fn fsync_file(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

/// The current snapshot kept in `dir`, if one was taken or received.
pub(crate) fn current_snapshot(
    dir: &Path,
) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
    let (db, meta) = current_paths(dir);
    if !meta.exists() || !db.exists() {
        return Ok(None);
    }
    let meta: StoredSnapshotMeta =
        serde_json::from_slice(&std::fs::read(&meta).map_err(io)?).map_err(io)?;
    let data = std::fs::read(&db).map_err(io)?;
    Ok(Some(Snapshot {
        meta: meta.meta,
        snapshot: Box::new(Cursor::new(data)),
    }))
}

/// Stores `db_file` as the current snapshot with `meta`, durably, replacing the old one.
pub(crate) fn store_current(
    dir: &Path,
    db_file: &Path,
    meta: &SnapshotMeta<NodeId, openraft::BasicNode>,
) -> Result<(), StorageError<NodeId>> {
    let (db, meta_path) = current_paths(dir);
    fsync_file(db_file).map_err(io)?;
    std::fs::rename(db_file, &db).map_err(io)?;
    let tmp = dir.join("current.json.tmp");
    let raw = serde_json::to_vec(&StoredSnapshotMeta { meta: meta.clone() }).map_err(io)?;
    std::fs::write(&tmp, raw).map_err(io)?;
    fsync_file(&tmp).map_err(io)?;
    std::fs::rename(&tmp, &meta_path).map_err(io)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io)
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let conn = self.conn.clone();
        let dir = self.snapshots.clone();
        tokio::task::spawn_blocking(move || {
            let building = dir.join("building.db");
            let _ = std::fs::remove_file(&building);
            // Holding the lock keeps the copy and its log position consistent.
            let guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            let last_applied = read_applied(&guard).map_err(io)?;
            let membership = read_membership(&guard).map_err(io)?;
            guard
                .backup(
                    rusqlite::MAIN_DB,
                    &building,
                    None::<fn(rusqlite::backup::Progress)>,
                )
                .map_err(io)?;
            drop(guard);
            let snapshot_id = match last_applied {
                Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, uuid::Uuid::new_v4()),
                None => format!("0-0-{}", uuid::Uuid::new_v4()),
            };
            let meta = SnapshotMeta {
                last_log_id: last_applied,
                last_membership: membership,
                snapshot_id,
            };
            store_current(&dir, &building, &meta)?;
            current_snapshot(&dir)?.ok_or_else(|| io(std::io::Error::other("snapshot vanished")))
        })
        .await
        .map_err(io)?
    }
}

/// What applying a run of entries gives: each entry's outcomes, the last index, the events.
type RunApplied = (
    Vec<Vec<BatchOutcome>>,
    Option<u64>,
    Vec<corral_shared::api::Event>,
);

/// Applies `entries` in one transaction (one commit, same effect as one each), refusing the
/// batches in `refused` (log index, position) unrun; `Err(batch)` when another batch was
/// stopped by the step bound while writing and the transaction is gone.
fn apply_run(
    conn: &mut Connection,
    entries: &[Entry<TypeConfig>],
    fail_on: Option<&str>,
    refused: &BTreeSet<(u64, usize)>,
) -> Result<Result<RunApplied, (u64, usize)>, StorageError<NodeId>> {
    let tx = conn.transaction().map_err(io)?;
    let mut outcomes = Vec::with_capacity(entries.len());
    let mut last = None;
    let mut lifecycle = crate::events::lifecycle::Pending::default();
    let naming = crate::events::lifecycle::LISTENERS.any();
    for entry in entries {
        let index = entry.log_id.index;
        let outcome = match &entry.payload {
            EntryPayload::Blank => Vec::new(),
            EntryPayload::Normal(p) if names(p, fail_on) => {
                return Err(io(std::io::Error::other(
                    "applying this entry failed (test setting)",
                )));
            }
            EntryPayload::Normal(p) => {
                let here: Vec<usize> = refused
                    .range((index, 0)..=(index, usize::MAX))
                    .map(|(_, n)| *n)
                    .collect();
                let applied = match p.apply_refusing(&tx, index, &here) {
                    Ok(applied) => applied,
                    Err(ApplyError::StepBound(n)) => return Ok(Err((index, n))),
                    Err(ApplyError::Sql(e)) => return Err(io(e)),
                };
                if naming {
                    // A repeat changed nothing: nothing to announce again.
                    let (batches, fresh): (Vec<_>, Vec<_>) = p
                        .batches
                        .iter()
                        .cloned()
                        .zip(applied.outcomes.iter().cloned())
                        .zip(&applied.repeated)
                        .filter(|(_, repeated)| !**repeated)
                        .map(|(pair, _)| pair)
                        .unzip();
                    lifecycle.applied(
                        entry.log_id.leader_id.node_id,
                        &Proposal { batches },
                        &fresh,
                    );
                }
                applied.outcomes
            }
            EntryPayload::Membership(m) => {
                let stored = StoredMembership::new(Some(entry.log_id), m.clone());
                write_json(&tx, MEMBERSHIP, &stored).map_err(io)?;
                Vec::new()
            }
        };
        write_json(&tx, LAST_APPLIED, &entry.log_id).map_err(io)?;
        last = Some(index);
        outcomes.push(outcome);
    }
    let events = lifecycle.events(&tx);
    tx.commit().map_err(io)?;
    Ok(Ok((outcomes, last, events)))
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, Membership), StorageError<NodeId>> {
        self.blocking(|conn| {
            Ok((
                read_applied(conn).map_err(io)?,
                read_membership(conn).map_err(io)?,
            ))
        })
        .await
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Vec<BatchOutcome>>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<_> = entries.into_iter().collect();
        let fail_on = self.fail_on.clone();
        let inline = entries.len() <= APPLY_AT_ONCE;
        let (outcomes, last, events) = self
            .now_or_blocking(inline, move |conn| {
                // A batch stopped by the step bound while writing rolls back the whole
                // transaction: start again with it refused unrun, as every replica does. Each
                // round refuses one more batch, so this ends.
                let mut refused = BTreeSet::new();
                loop {
                    match apply_run(conn, &entries, fail_on.as_deref(), &refused)? {
                        Ok(done) => return Ok(done),
                        Err(batch) => {
                            tracing::warn!(
                                "a change at log index {} ran past the step bound; it is refused",
                                batch.0
                            );
                            refused.insert(batch);
                        }
                    }
                }
            })
            .await?;
        if let Some(index) = last {
            self.applied.send_replace(index);
            crate::events::bus::applied(index, events);
        }
        Ok(outcomes)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            conn: self.conn.clone(),
            snapshots: self.snapshots.clone(),
        }
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, openraft::BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let dir = self.snapshots.clone();
        let meta = meta.clone();
        let data = snapshot.into_inner();
        let index = meta.last_log_id.map_or(0, |l| l.index);
        let db_path = self.db_path.clone();
        self.blocking(move |conn| {
            let incoming = dir.join("incoming.db");
            std::fs::write(&incoming, &data).map_err(io)?;
            conn.restore(
                rusqlite::MAIN_DB,
                &incoming,
                None::<fn(rusqlite::backup::Progress)>,
            )
            .map_err(io)?;
            // The copy carries the sender's schema version: bring it to this member's (the
            // upgrade gate keeps members of different versions from serving together).
            crate::db::migrations::migrate(conn, &db_path, crate::db::global::schema::MIGRATIONS)
                .map_err(io)?;
            // The copy carries its own raft_applied rows; make sure they match the meta.
            write_json(conn, MEMBERSHIP, &meta.last_membership).map_err(io)?;
            if let Some(l) = meta.last_log_id {
                write_json(conn, LAST_APPLIED, &l).map_err(io)?;
            }
            store_current(&dir, &incoming, &meta)
        })
        .await?;
        self.applied.send_replace(index);
        crate::events::bus::applied(index, Vec::new());
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let dir = self.snapshots.clone();
        tokio::task::spawn_blocking(move || current_snapshot(&dir))
            .await
            .map_err(io)?
    }
}

impl StateMachine {
    /// The database file this state machine writes.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }
}

#[cfg(test)]
mod tests {
    use openraft::storage::RaftStateMachine;

    use super::*;
    use crate::db::migrations;

    /// A replica file at schema `version` with one config row, as bytes a leader would send.
    fn replica_at(dir: &Path, version: u32) -> Vec<u8> {
        let path = dir.join(format!("sent-{version}.db"));
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(crate::db::global::schema::SCHEMA)
            .unwrap();
        conn.execute("INSERT INTO config (key, value) VALUES ('k', 'v')", [])
            .unwrap();
        conn.pragma_update(None, "user_version", version).unwrap();
        drop(conn);
        std::fs::read(&path).unwrap()
    }

    fn install(sm: &mut StateMachine, data: Vec<u8>) -> Result<(), StorageError<NodeId>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let meta = SnapshotMeta {
            snapshot_id: "1-1-test".into(),
            ..Default::default()
        };
        rt.block_on(sm.install_snapshot(&meta, Box::new(Cursor::new(data))))
    }

    fn entry(index: u64, sql: &[&str]) -> Entry<TypeConfig> {
        let batches = sql
            .iter()
            .map(|q| {
                let mut b = crate::db::batch::Batch::new();
                b.push(*q, vec![]);
                b
            })
            .collect();
        Entry {
            log_id: LogId::new(openraft::CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Proposal { batches }),
        }
    }

    /// A batch stopped by the step bound while writing makes SQLite roll back the whole
    /// apply transaction: the entries before and after it in the same run must still be
    /// applied, exactly once, and the batch refused with the bound's error.
    #[test]
    fn a_write_past_the_step_bound_is_refused_and_its_neighbours_applied() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("global.db");
        let mut sm = StateMachine::open(&db, &dir.path().join("snapshots")).unwrap();
        let endless = "INSERT INTO config (key, value) WITH RECURSIVE c(x) AS \
                       (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT 'k' || x, 'v' FROM c";
        let entries = vec![
            entry(
                1,
                &["INSERT INTO config (key, value) VALUES ('before', '1')"],
            ),
            entry(
                2,
                &[
                    "INSERT INTO config (key, value) VALUES ('same entry', '1')",
                    endless,
                    "UPDATE config SET value = '2' WHERE key = 'before'",
                ],
            ),
            entry(
                3,
                &["INSERT INTO config (key, value) VALUES ('after', '1')"],
            ),
        ];
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let outcomes = rt.block_on(sm.apply(entries)).unwrap();
        let errors: Vec<Vec<bool>> = outcomes
            .iter()
            .map(|e| e.iter().map(|o| o.error.is_some()).collect())
            .collect();
        assert_eq!(
            errors,
            vec![vec![false], vec![false, true, false], vec![false]]
        );
        let error = outcomes[1][1].error.as_deref().unwrap();
        assert!(error.contains("SQLite steps"), "{error}");
        let conn = Connection::open(&db).unwrap();
        let rows: Vec<(String, String)> = conn
            .prepare("SELECT key, value FROM config ORDER BY key")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let want = [("after", "1"), ("before", "2"), ("same entry", "1")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(rows, want);
        assert_eq!(read_applied(&conn).unwrap().map(|l| l.index), Some(3));
    }

    #[test]
    fn an_installed_snapshot_is_brought_to_this_members_schema() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("global.db");
        let mut sm = StateMachine::open(&db, &dir.path().join("snapshots")).unwrap();
        // Sent by a member of the release before migrations: user_version 0.
        install(&mut sm, replica_at(dir.path(), 0)).unwrap();
        let conn = Connection::open(&db).unwrap();
        assert_eq!(
            migrations::version(&conn).unwrap(),
            migrations::latest(crate::db::global::schema::MIGRATIONS)
        );
        let value: String = conn
            .query_row("SELECT value FROM config WHERE key = 'k'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(value, "v");
    }

    #[test]
    fn a_snapshot_newer_than_this_member_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("global.db");
        let mut sm = StateMachine::open(&db, &dir.path().join("snapshots")).unwrap();
        let err = install(&mut sm, replica_at(dir.path(), 9)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "schema version 9, newer than this corrald knows (up to {})",
                migrations::latest(crate::db::global::schema::MIGRATIONS)
            )),
            "{text}"
        );
    }
}
