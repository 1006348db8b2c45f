//! The global database (`database/global.db`): the replica of the cluster's shared state.
//! Writes arrive only through Raft (see `raft::state_machine`); this handle reads.

pub mod certificate_tokens;
pub mod certificates;
pub mod config;
pub mod entities;
pub mod groups;
pub mod images;
pub mod instances;
pub mod member_writable;
pub mod networks;
pub mod nodes;
pub mod preseed_undo;
pub mod queries;
pub mod schema;
pub mod storage_pools;
pub mod tokens;
pub mod volumes;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::{Durability, migrations, open};

/// The most read connections a replica has: reads run in parallel up to this many (SQLite's
/// WAL lets readers proceed beside the state machine's writer). Fewer on a machine with
/// fewer cores, since each connection keeps a page cache of its own.
const MAX_READERS: usize = 4;

/// How many read connections to open here: one per core, between 2 and [`MAX_READERS`].
fn readers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, MAX_READERS))
}

/// Read handle on the local replica of the global database: a small pool of read-only
/// connections; clones share it.
#[derive(Clone)]
pub struct GlobalDb {
    path: PathBuf,
    readers: Arc<Readers>,
}

/// The read connections, each used by one read at a time. Only the first is opened at
/// once; the others when reads first overlap, so an idle member keeps one page cache.
struct Readers {
    path: PathBuf,
    conns: Vec<Mutex<Option<Connection>>>,
    next: AtomicUsize,
}

impl Readers {
    /// Runs `f` on a connection free now, if one is; gives `f` back otherwise.
    fn with_free<T, F>(&self, f: F) -> Result<rusqlite::Result<T>, F>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<T>,
    {
        for conn in &self.conns {
            if let Ok(mut guard) = conn.try_lock() {
                return Ok(self.opened(&mut guard).and_then(f));
            }
        }
        Err(f)
    }

    /// Runs `f` on a free connection, or waits for one, taking turns.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        for conn in &self.conns {
            if let Ok(mut guard) = conn.try_lock() {
                return f(self.opened(&mut guard)?);
            }
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        let mut guard = self.conns[turn].lock().unwrap_or_else(|p| p.into_inner());
        f(self.opened(&mut guard)?)
    }

    /// The connection in `slot`, opened now if it never was.
    fn opened<'a>(&self, slot: &'a mut Option<Connection>) -> rusqlite::Result<&'a Connection> {
        if slot.is_none() {
            *slot = Some(open_reader(&self.path)?);
        }
        Ok(slot.as_ref().expect("just opened"))
    }
}

/// Statements a connection keeps prepared: every read the API makes fits, so none is parsed
/// again while reads keep coming, and so do the statements of the writes.
const CACHED_STATEMENTS: usize = 64;

/// A read connection: writes arrive only through Raft, so it never writes.
fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = open(path, Durability::Relaxed)?;
    conn.pragma_update(None, "query_only", "ON")?;
    conn.set_prepared_statement_cache_capacity(CACHED_STATEMENTS);
    Ok(conn)
}

/// Runs `f` in one read transaction on `conn`.
fn in_snapshot<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let snapshot = Snapshot::begin(conn)?;
    let read = f(conn)?;
    snapshot.end()?;
    Ok(read)
}

/// One read transaction, begun and ended with cached statements (reads come thousands of
/// times a second; parsing BEGIN and ROLLBACK each time shows). Ended on drop too, so a
/// failed or panicking read leaves its connection free of it.
struct Snapshot<'a>(&'a Connection);

impl<'a> Snapshot<'a> {
    fn begin(conn: &'a Connection) -> rusqlite::Result<Self> {
        conn.prepare_cached("BEGIN DEFERRED")?.execute([])?;
        Ok(Self(conn))
    }

    /// Ends the transaction. Nothing was written: ending it either way only releases it.
    fn end(self) -> rusqlite::Result<()> {
        self.rollback()
    }

    fn rollback(&self) -> rusqlite::Result<()> {
        self.0.prepare_cached("ROLLBACK")?.execute([]).map(drop)
    }
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        if !self.0.is_autocommit() {
            let _ = self.rollback();
        }
    }
}

/// Why a read of the global database failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// SQLite refused.
    #[error("database read failed: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The blocking task died.
    #[error("database read task failed: {0}")]
    Task(String),
}

impl GlobalDb {
    /// Opens the replica for reading, creating or migrating its schema first.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        drop(open_writer(path)?);
        // The first connection is opened here, so that a replica that cannot be read is
        // refused at once; the others wait until reads overlap.
        let conns = (0..readers())
            .map(|i| {
                Ok(Mutex::new(if i == 0 {
                    Some(open_reader(path)?)
                } else {
                    None
                }))
            })
            .collect::<rusqlite::Result<_>>()?;
        Ok(Self {
            path: path.to_owned(),
            readers: Arc::new(Readers {
                path: path.to_owned(),
                conns,
                next: AtomicUsize::new(0),
            }),
        })
    }

    /// The file this replica lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs a read in one read transaction: every query in `f` sees the same state of the
    /// replica. On a connection free now it runs at once, on the calling worker: the API's
    /// reads take tens of microseconds (a thousand instances, a few milliseconds), less than
    /// handing them to a blocking thread and back costs in wake-ups. When every connection
    /// is busy it waits for one off the async workers.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ReadError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let f = match self.readers.with_free(|conn| in_snapshot(conn, f)) {
            Ok(read) => return read.map_err(ReadError::from),
            Err(f) => f,
        };
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || readers.with(f))
            .await
            .map_err(|e| ReadError::Task(e.to_string()))?
            .map_err(ReadError::from)
    }
}

impl GlobalDb {
    /// Empties every table (a member about to receive another cluster's database), leaving
    /// the schema and its built-in rows.
    pub async fn wipe(&self) -> Result<(), ReadError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            // A connection of its own: the pool's are read-only.
            let mut guard = open_writer(&path)?;
            let tables: Vec<String> = guard
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            guard.pragma_update(None, "foreign_keys", "OFF")?;
            let tx = guard.transaction()?;
            for table in &tables {
                tx.execute(&format!("DELETE FROM \"{table}\""), [])?;
            }
            tx.commit()?;
            guard.pragma_update(None, "foreign_keys", "ON")?;
            guard.execute_batch(schema::BUILT_IN_ROWS)?;
            Ok(())
        })
        .await
        .map_err(|e| ReadError::Task(e.to_string()))?
    }
}

/// Opens a connection to the global database with its schema migrated to this version (a
/// file newer than this daemon is refused, see [`migrations`]).
pub fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    let mut conn = open(path, Durability::Relaxed)?;
    migrations::migrate(&mut conn, path, schema::MIGRATIONS)?;
    // One write (a member edit: its guard, row, config, roles and groups, with the apply's
    // own bookkeeping) runs about sixteen distinct statements, rusqlite's default capacity;
    // past it, the least recent is parsed again at every write.
    conn.set_prepared_statement_cache_capacity(CACHED_STATEMENTS);
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(db: &GlobalDb) -> i64 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(db.read(|c| c.query_row("SELECT count(*) FROM config", [], |r| r.get(0))))
            .unwrap()
    }

    #[test]
    fn every_read_connection_sees_writes_and_a_restored_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("global.db");
        let db = GlobalDb::open(&path).unwrap();
        let writer = open_writer(&path).unwrap();
        writer
            .execute("INSERT INTO config (key, value) VALUES ('a', '1')", [])
            .unwrap();
        // Hold every reader but one, in turn, so each connection of the pool answers.
        let each_answers = |want: i64, when: &str| {
            let readers = db.readers.conns.len();
            for free in 0..readers {
                let _held: Vec<_> = (0..readers)
                    .filter(|i| *i != free)
                    .map(|i| db.readers.conns[i].lock().unwrap())
                    .collect();
                assert_eq!(count(&db), want, "{when}, on reader {free}");
            }
        };
        each_answers(1, "after a write");
        // A snapshot install restores another replica's file over this one.
        let other = dir.path().join("other.db");
        let source = open_writer(&other).unwrap();
        source
            .execute_batch("INSERT INTO config (key, value) VALUES ('b', '2'), ('c', '3')")
            .unwrap();
        drop(source);
        let mut writer = writer;
        writer
            .restore(
                rusqlite::MAIN_DB,
                &other,
                None::<fn(rusqlite::backup::Progress)>,
            )
            .unwrap();
        each_answers(2, "after a restore");
    }

    #[test]
    fn a_read_runs_at_once_on_a_free_connection_and_waits_for_a_busy_one() {
        let dir = tempfile::tempdir().unwrap();
        let db = GlobalDb::open(&dir.path().join("global.db")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let thread_of_read = |db: &GlobalDb| {
            rt.block_on(db.read(|_| Ok(std::thread::current().id())))
                .unwrap()
        };
        let caller = std::thread::current().id();
        assert_eq!(thread_of_read(&db), caller, "a free connection: at once");
        // Every connection busy: nothing runs at once; the read waits (off the worker)
        // for one to come free.
        let held: Vec<_> = db.readers.conns.iter().map(|c| c.lock().unwrap()).collect();
        assert!(db.readers.with_free(|_| Ok(())).is_err());
        let waiting = {
            let db = db.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                rt.block_on(db.read(|c| c.query_row("SELECT 7", [], |r| r.get::<_, i64>(0))))
                    .unwrap()
            })
        };
        drop(held);
        assert_eq!(waiting.join().unwrap(), 7);
    }

    #[test]
    fn a_failed_read_leaves_its_connection_ready_for_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let db = GlobalDb::open(&dir.path().join("global.db")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for _ in 0..3 {
            let failed =
                rt.block_on(db.read(|c| c.query_row("SELECT nothing", [], |r| r.get::<_, i64>(0))));
            assert!(failed.is_err());
        }
        // Every connection of the pool still reads (none is left inside a transaction).
        for _ in 0..db.readers.conns.len() {
            assert_eq!(count(&db), 0);
        }
    }

    #[test]
    fn read_connections_never_write() {
        let dir = tempfile::tempdir().unwrap();
        let db = GlobalDb::open(&dir.path().join("global.db")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let err = rt
            .block_on(
                db.read(|c| c.execute("INSERT INTO config (key, value) VALUES ('a', '1')", [])),
            )
            .unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
    }
}
