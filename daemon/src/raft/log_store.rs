//! The Raft log and vote in the local SQLite database. One writer thread applies every change
//! in the order openraft made it; an append is reported flushed to openraft only after its
//! transaction is committed with `synchronous=FULL` (fsynced), and a vote is saved before
//! `save_vote` returns. Appended entries are readable at once from the in-memory tail.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};
use rusqlite::{OptionalExtension, params};

use super::log_tail::LogTail;
use super::{NodeId, TypeConfig};
use crate::db::local::LocalDb;

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const LAST_PURGED: &str = "last_purged";

type Done = tokio::sync::oneshot::Sender<Result<(), StorageError<NodeId>>>;

/// Told when an append is on disk, or why it is not (openraft's `LogFlushed`).
type Flushed = Box<dyn FnOnce(Result<(), std::io::Error>) + Send>;

/// A change to the log, in the order openraft asked for it.
enum Write {
    Append {
        rows: Vec<(LogId<NodeId>, Vec<u8>)>,
        last: u64,
        flushed: Flushed,
    },
    Vote(Vote<NodeId>, Done),
    Truncate(u64, Done),
    Purge(LogId<NodeId>, Done),
}

/// The committed index openraft last reported and the writer has not written yet. It is
/// handed over in this slot, not as a job: a job woke the writer thread at every write only
/// to note a value that waits for the next append anyway.
type PendingCommit = Mutex<Option<Option<LogId<NodeId>>>>;

/// The log store; clones share the database, the tail and the writer.
#[derive(Clone)]
pub struct LogStore {
    db: LocalDb,
    tail: Arc<Mutex<LogTail>>,
    committed: Arc<PendingCommit>,
    writer: mpsc::Sender<Write>,
}

impl LogStore {
    /// A log store over the local database, with its writer thread (which ends when the last
    /// clone is dropped).
    pub fn new(db: LocalDb) -> Self {
        let tail = Arc::new(Mutex::new(LogTail::default()));
        let committed = Arc::new(PendingCommit::default());
        let (writer, jobs) = mpsc::channel();
        let (thread_db, thread_tail, thread_committed) =
            (db.clone(), tail.clone(), committed.clone());
        std::thread::Builder::new()
            .name("raft-log-writer".into())
            .spawn(move || write_in_order(&thread_db, &thread_tail, &thread_committed, jobs))
            .expect("a thread for the Raft log writer");
        Self {
            db,
            tail,
            committed,
            writer,
        }
    }

    fn tail(&self) -> MutexGuard<'_, LogTail> {
        self.tail.lock().unwrap_or_else(|p| p.into_inner())
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

    /// Hands `make(done)` to the writer and waits until it is written.
    async fn write(&self, make: impl FnOnce(Done) -> Write) -> Result<(), StorageError<NodeId>> {
        let (done, written) = tokio::sync::oneshot::channel();
        self.writer.send(make(done)).map_err(|_| writer_gone())?;
        written.await.map_err(|_| writer_gone())?
    }
}

fn writer_gone() -> StorageError<NodeId> {
    StorageIOError::write_logs(&std::io::Error::other("the Raft log writer stopped")).into()
}

/// The writer thread: every change in order, each in its own transaction. The committed
/// index rides along with the next append that reaches it (see [`committed_within`]). After
/// a write fails (a full disk, an I/O error) it refuses every later one: a later append that
/// succeeded once space returned would leave a hole where the failed one was, and openraft
/// stops this log anyway.
fn write_in_order(
    db: &LocalDb,
    tail: &Mutex<LogTail>,
    committed: &PendingCommit,
    jobs: mpsc::Receiver<Write>,
) {
    let tail = || tail.lock().unwrap_or_else(|p| p.into_inner());
    let mut failed: Option<String> = None;
    for job in jobs {
        if let Some(why) = &failed {
            refuse(job, why);
            continue;
        }
        let mut conn = db.lock();
        let outcome = match job {
            Write::Append {
                rows,
                last,
                flushed,
            } => match append_rows(&mut conn, &rows, committed_within(committed, last)) {
                Ok(()) => {
                    tail().flushed(last);
                    flushed(Ok(()));
                    Ok(())
                }
                Err(e) => {
                    flushed(Err(std::io::Error::other(e.to_string())));
                    Err(e)
                }
            },
            Write::Vote(vote, done) => answer(done, write_state(&conn, VOTE, &vote)),
            Write::Truncate(index, done) => {
                tail().truncated_on_disk(index);
                answer(
                    done,
                    conn.execute("DELETE FROM log WHERE idx >= ?", [index as i64])
                        .map(|_| ())
                        .map_err(|e| StorageIOError::write_logs(&e).into()),
                )
            }
            Write::Purge(log_id, done) => answer(done, purge_rows(&mut conn, log_id)),
        };
        if let Err(e) = outcome {
            failed = Some(e.to_string());
        }
    }
}

/// Sends `result` to whoever waits for it, and returns it.
fn answer(
    done: Done,
    result: Result<(), StorageError<NodeId>>,
) -> Result<(), StorageError<NodeId>> {
    let _ = done.send(result.clone());
    result
}

/// Answers a change the writer no longer makes, after an earlier one failed.
fn refuse(job: Write, why: &str) {
    let error = || {
        std::io::Error::other(format!(
            "the Raft log takes no more writes after an earlier one failed: {why}"
        ))
    };
    match job {
        Write::Append { flushed, .. } => flushed(Err(error())),
        Write::Vote(_, done) | Write::Truncate(_, done) | Write::Purge(_, done) => {
            let _ = done.send(Err(StorageIOError::write_logs(&error()).into()));
        }
    }
}

/// Takes the pending committed index if the log on disk will hold it once an append ending
/// at `last` is written; otherwise leaves it for a later append. openraft reports an index
/// only after appending its entry, but the writer may still be on an earlier append: a
/// committed index written ahead of the log would, after a crash, ask openraft to apply
/// entries the log lacks.
fn committed_within(pending: &PendingCommit, last: u64) -> Option<Option<LogId<NodeId>>> {
    let mut pending = pending.lock().unwrap_or_else(|p| p.into_inner());
    match *pending {
        Some(Some(c)) if c.index > last => None,
        _ => pending.take(),
    }
}

/// Appends `rows` in one fsynced transaction, recording `committed` with them when given.
/// The committed index is a hint that may trail the truth (openraft re-learns it from the
/// leader, and a lone voter commits again when elected), so it costs no transaction or
/// fsync of its own: it is written with the next append.
fn append_rows(
    conn: &mut rusqlite::Connection,
    rows: &[(LogId<NodeId>, Vec<u8>)],
    committed: Option<Option<LogId<NodeId>>>,
) -> Result<(), StorageError<NodeId>> {
    let tx = conn
        .transaction()
        .map_err(|e| StorageIOError::write_logs(&e))?;
    if let Some(committed) = committed {
        write_state(&tx, COMMITTED, &committed)?;
    }
    {
        let mut stmt = tx
            .prepare_cached("INSERT OR REPLACE INTO log (idx, term, entry) VALUES (?1, ?2, ?3)")
            .map_err(|e| StorageIOError::write_logs(&e))?;
        for (id, raw) in rows {
            stmt.execute(params![id.index as i64, id.leader_id.term as i64, raw])
                .map_err(|e| StorageIOError::write_logs(&e))?;
        }
    }
    // The commit is the fsync (synchronous=FULL): only then is the append durable.
    tx.commit()
        .map_err(|e| StorageIOError::write_logs(&e).into())
}

fn purge_rows(
    conn: &mut rusqlite::Connection,
    log_id: LogId<NodeId>,
) -> Result<(), StorageError<NodeId>> {
    let tx = conn
        .transaction()
        .map_err(|e| StorageIOError::write_logs(&e))?;
    write_state(&tx, LAST_PURGED, &log_id)?;
    tx.execute("DELETE FROM log WHERE idx <= ?", [log_id.index as i64])
        .map_err(|e| StorageIOError::write_logs(&e))?;
    tx.commit()
        .map_err(|e| StorageIOError::write_logs(&e).into())
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
    // Cached: the committed index rides with most appends, so this runs once per write.
    conn.prepare_cached(
        "INSERT INTO raft_state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .and_then(|mut stmt| stmt.execute(params![key, raw]))
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
        let lo = bound(range.start_bound(), true).unwrap_or(0).max(0) as u64;
        let hi = bound(range.end_bound(), false).unwrap_or(i64::MAX).max(0) as u64;
        let wanted = lo..hi.max(lo);
        // The tail's part is copied first, in one look: the writer may evict entries from it
        // at any moment, but only ones already on disk, below where this copy starts.
        let (split, held) = self.tail().serve(&wanted);
        let (lowest_on_disk, mut entries) = if split > lo {
            self.blocking(move |conn| read_rows(conn, lo, split))
                .await?
        } else {
            (None, Vec::new())
        };
        entries.extend(held);
        contiguous(lo, lowest_on_disk, &entries)?;
        Ok(entries)
    }
}

/// A read must return the range with no hole: openraft applies and replicates by position.
/// It may begin above `lo` only where the log holds nothing below its first entry (purged,
/// or never written): openraft's contract allows entries that are not found there, and its
/// own readers ask from index 0 when nothing was purged.
fn contiguous(
    lo: u64,
    lowest_on_disk: Option<u64>,
    entries: &[Entry<TypeConfig>],
) -> Result<(), StorageError<NodeId>> {
    let Some(first) = entries.first().map(|e| e.log_id.index) else {
        return Ok(());
    };
    let start = if lowest_on_disk.is_none_or(|l| l >= first) {
        first.max(lo)
    } else {
        lo
    };
    let hole = entries
        .iter()
        .zip(start..)
        .find(|(e, want)| e.log_id.index != *want);
    match hole {
        None => Ok(()),
        Some((e, want)) => Err(StorageIOError::read_logs(&std::io::Error::other(format!(
            "the Raft log has a hole: entry {want} was expected, {} was found",
            e.log_id.index
        )))
        .into()),
    }
}

/// The lowest index the disk holds, and the entries asked for.
type RowsRead = (Option<u64>, Vec<Entry<TypeConfig>>);

/// The entries in `[lo, hi)` on disk, and the lowest index the disk holds at all, read
/// together.
fn read_rows(
    conn: &mut rusqlite::Connection,
    lo: u64,
    hi: u64,
) -> Result<RowsRead, StorageError<NodeId>> {
    // One transaction: a purge between the two reads cannot make a hole appear.
    let tx = conn
        .transaction()
        .map_err(|e| StorageIOError::read_logs(&e))?;
    let lowest: Option<i64> = tx
        .query_row("SELECT min(idx) FROM log", [], |r| r.get(0))
        .map_err(|e| StorageIOError::read_logs(&e))?;
    let entries = entries_in(&tx, lo, hi)?;
    Ok((lowest.map(|l| l as u64), entries))
}

fn entries_in(
    conn: &rusqlite::Connection,
    lo: u64,
    hi: u64,
) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
    let mut stmt = conn
        .prepare_cached("SELECT entry FROM log WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")
        .map_err(|e| StorageIOError::read_logs(&e))?;
    let rows = stmt
        .query_map(params![lo as i64, hi.min(i64::MAX as u64) as i64], |r| {
            r.get::<_, Vec<u8>>(0)
        })
        .map_err(|e| StorageIOError::read_logs(&e))?;
    let mut entries = Vec::new();
    for raw in rows {
        let raw = raw.map_err(|e| StorageIOError::read_logs(&e))?;
        entries.push(serde_json::from_slice(&raw).map_err(|e| StorageIOError::read_logs(&e))?);
    }
    Ok(entries)
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
        self.write(|done| Write::Vote(vote, done)).await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        self.blocking(|conn| read_state(conn, VOTE)).await
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        // Not waited for: a hint, written with the next append that reaches it.
        *self.committed.lock().unwrap_or_else(|p| p.into_inner()) = Some(committed);
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(self
            .blocking(|conn| read_state::<Option<LogId<NodeId>>>(conn, COMMITTED))
            .await?
            .flatten())
    }

    /// Returns once the entries are readable; openraft hears they are durable through
    /// `flushed`, from the writer, after the fsync.
    async fn append<I>(
        &mut self,
        entries: I,
        flushed: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let rows = entries
            .iter()
            .map(|e| Ok((e.log_id, serde_json::to_vec(e)?)))
            .collect::<Result<Vec<_>, serde_json::Error>>()
            .map_err(|e| StorageIOError::write_logs(&e))?;
        let Some(last) = entries.last().map(|e| e.log_id.index) else {
            flushed.log_io_completed(Ok(()));
            return Ok(());
        };
        // Readable first, then queued: replication may read them before they reach the disk.
        self.tail().append(entries);
        self.writer
            .send(Write::Append {
                rows,
                last,
                flushed: Box::new(move |r| flushed.log_io_completed(r)),
            })
            .map_err(|_| writer_gone())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.tail().truncate(log_id.index);
        self.write(|done| Write::Truncate(log_id.index, done)).await
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.tail().purge(log_id.index);
        self.write(|done| Write::Purge(log_id, done)).await
    }
}

/// The log's layout for tools that read or rewrite a member's files directly (the doctor,
/// `corrald cluster edit`, `recover-from-quorum-loss`): only this module knows its tables.
pub mod layout {
    use openraft::{Entry, LogId};
    use rusqlite::{Connection, OptionalExtension, params};

    use super::{COMMITTED, LAST_PURGED, NodeId, TypeConfig};

    /// Why the stored log could not be read.
    #[derive(Debug, thiserror::Error)]
    pub enum StoredLogError {
        /// SQLite refused.
        #[error("database: {0}")]
        Sql(#[from] rusqlite::Error),
        /// An entry or a state value did not decode.
        #[error("stored Raft data: {0}")]
        Decode(#[from] serde_json::Error),
    }

    /// Where a log ends: its last entry's term and index.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct LogEnd {
        /// Term of the last entry.
        pub term: u64,
        /// Index of the last entry.
        pub index: u64,
    }

    fn state<T: serde::de::DeserializeOwned>(
        conn: &Connection,
        key: &str,
    ) -> Result<Option<T>, StoredLogError> {
        let raw: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM raft_state WHERE key = ?", [key], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(raw.map(|b| serde_json::from_slice(&b)).transpose()?)
    }

    /// The last entry purged into a snapshot.
    pub fn last_purged(conn: &Connection) -> Result<Option<LogId<NodeId>>, StoredLogError> {
        state(conn, LAST_PURGED)
    }

    /// Where the log ends: its last entry, else the last one purged into a snapshot.
    pub fn end(conn: &Connection) -> Result<Option<LogEnd>, StoredLogError> {
        let last = conn
            .query_row(
                "SELECT term, idx FROM log ORDER BY idx DESC LIMIT 1",
                [],
                |r| {
                    Ok(LogEnd {
                        term: r.get::<_, i64>(0)? as u64,
                        index: r.get::<_, i64>(1)? as u64,
                    })
                },
            )
            .optional()?;
        if last.is_some() {
            return Ok(last);
        }
        Ok(last_purged(conn)?.map(|id| LogEnd {
            term: id.leader_id.term,
            index: id.index,
        }))
    }

    /// Every entry after `index`, in order.
    pub fn entries_after(
        conn: &Connection,
        index: u64,
    ) -> Result<Vec<Entry<TypeConfig>>, StoredLogError> {
        let mut stmt = conn.prepare("SELECT entry FROM log WHERE idx > ? ORDER BY idx")?;
        let raw: Vec<Vec<u8>> = stmt
            .query_map([index as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        raw.iter()
            .map(|b| serde_json::from_slice(b).map_err(StoredLogError::from))
            .collect()
    }

    /// Empties the log as if everything up to `last` had been purged into a snapshot and
    /// committed (a rewrite of the Raft configuration ends with this).
    pub fn reset_to(conn: &Connection, last: LogId<NodeId>) -> Result<(), StoredLogError> {
        conn.execute("DELETE FROM log", [])?;
        for (key, value) in [
            (LAST_PURGED, serde_json::to_vec(&last)?),
            (COMMITTED, serde_json::to_vec(&Some(last))?),
        ] {
            conn.execute(
                "INSERT INTO raft_state (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
