//! The Raft log and vote in the local SQLite database. An append is acknowledged to
//! openraft only after its transaction is committed with `synchronous=FULL` (fsynced).

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};
use rusqlite::{OptionalExtension, params};

use super::{NodeId, TypeConfig};
use crate::db::local::LocalDb;

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const LAST_PURGED: &str = "last_purged";

/// The log store; clones share the database.
#[derive(Clone)]
pub struct LogStore {
    db: LocalDb,
}

impl LogStore {
    /// A log store over the local database.
    pub fn new(db: LocalDb) -> Self {
        Self { db }
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, StorageError<NodeId>>
    where
        T: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> Result<T, StorageError<NodeId>> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&mut db.lock()))
            .await
            .map_err(|e| StorageIOError::read_logs(&e).into())
            .and_then(|r| r)
    }
}

fn read_state<T: serde::de::DeserializeOwned>(
    conn: &rusqlite::Connection,
    key: &str,
) -> Result<Option<T>, StorageError<NodeId>> {
    let raw: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM raft_state WHERE key = ?", [key], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| StorageIOError::read(&e))?;
    raw.map(|b| serde_json::from_slice(&b).map_err(|e| StorageIOError::read(&e).into()))
        .transpose()
}

fn write_state<T: serde::Serialize>(
    conn: &rusqlite::Connection,
    key: &str,
    value: &T,
) -> Result<(), StorageError<NodeId>> {
    let raw = serde_json::to_vec(value).map_err(|e| StorageIOError::write(&e))?;
    conn.execute(
        "INSERT INTO raft_state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, raw],
    )
    .map_err(|e| StorageIOError::write(&e))?;
    Ok(())
}

fn bound(b: Bound<&u64>, inclusive_start: bool) -> Option<i64> {
    match b {
        Bound::Included(v) => Some(if inclusive_start { *v } else { *v + 1 } as i64),
        Bound::Excluded(v) => Some(if inclusive_start { *v + 1 } else { *v } as i64),
        Bound::Unbounded => None,
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
        // Start is inclusive; end is exclusive, so both become a half-open [lo, hi).
        let lo = bound(range.start_bound(), true).unwrap_or(0);
        let hi = bound(range.end_bound(), false).unwrap_or(i64::MAX);
        self.blocking(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT entry FROM log WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")
                .map_err(|e| StorageIOError::read_logs(&e))?;
            let rows = stmt
                .query_map(params![lo, hi], |r| r.get::<_, Vec<u8>>(0))
                .map_err(|e| StorageIOError::read_logs(&e))?;
            let mut entries = Vec::new();
            for raw in rows {
                let raw = raw.map_err(|e| StorageIOError::read_logs(&e))?;
                entries
                    .push(serde_json::from_slice(&raw).map_err(|e| StorageIOError::read_logs(&e))?);
            }
            Ok(entries)
        })
        .await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        self.blocking(|conn| {
            let last_purged: Option<LogId<NodeId>> = read_state(conn, LAST_PURGED)?;
            let last_raw: Option<Vec<u8>> = conn
                .query_row("SELECT entry FROM log ORDER BY idx DESC LIMIT 1", [], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(|e| StorageIOError::read_logs(&e))?;
            let last = last_raw
                .map(|raw| serde_json::from_slice::<Entry<TypeConfig>>(&raw).map(|e| e.log_id))
                .transpose()
                .map_err(|e| StorageIOError::read_logs(&e))?;
            Ok(LogState {
                last_purged_log_id: last_purged,
                last_log_id: last.or(last_purged),
            })
        })
        .await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        let vote = *vote;
        self.blocking(move |conn| write_state(conn, VOTE, &vote))
            .await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        self.blocking(|conn| read_state(conn, VOTE)).await
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        self.blocking(move |conn| write_state(conn, COMMITTED, &committed))
            .await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(self
            .blocking(|conn| read_state::<Option<LogId<NodeId>>>(conn, COMMITTED))
            .await?
            .flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let encoded = entries
            .into_iter()
            .map(|e| Ok((e.log_id, serde_json::to_vec(&e)?)))
            .collect::<Result<Vec<_>, serde_json::Error>>()
            .map_err(|e| StorageIOError::write_logs(&e))?;
        let result = self
            .blocking(move |conn| {
                let tx = conn
                    .transaction()
                    .map_err(|e| StorageIOError::write_logs(&e))?;
                {
                    let mut stmt = tx
                        .prepare_cached(
                            "INSERT OR REPLACE INTO log (idx, term, entry) VALUES (?1, ?2, ?3)",
                        )
                        .map_err(|e| StorageIOError::write_logs(&e))?;
                    for (id, raw) in &encoded {
                        stmt.execute(params![id.index as i64, id.leader_id.term as i64, raw])
                            .map_err(|e| StorageIOError::write_logs(&e))?;
                    }
                }
                // The commit is the fsync (synchronous=FULL): only then is the append durable.
                tx.commit()
                    .map_err(|e| StorageIOError::write_logs(&e).into())
            })
            .await;
        match &result {
            Ok(()) => callback.log_io_completed(Ok(())),
            Err(e) => callback.log_io_completed(Err(std::io::Error::other(e.to_string()))),
        }
        result
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.blocking(move |conn| {
            conn.execute("DELETE FROM log WHERE idx >= ?", [log_id.index as i64])
                .map_err(|e| StorageIOError::write_logs(&e))?;
            Ok(())
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.blocking(move |conn| {
            let tx = conn
                .transaction()
                .map_err(|e| StorageIOError::write_logs(&e))?;
            write_state(&tx, LAST_PURGED, &log_id)?;
            tx.execute("DELETE FROM log WHERE idx <= ?", [log_id.index as i64])
                .map_err(|e| StorageIOError::write_logs(&e))?;
            tx.commit()
                .map_err(|e| StorageIOError::write_logs(&e).into())
        })
        .await
    }
}
