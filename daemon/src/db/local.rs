//! The local database (`database/local.db`): this member's Raft log and vote, its
//! `raft_nodes` view of the database members, and member-local config such as
//! `core.https_address`. Every commit is fsynced: the log must survive a crash.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

use super::global::nodes::DbRole;
use super::migrations::{self, Migration};
use super::{Durability, open};

/// The local database's migrations, in order; append, never edit a released step.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    what: "the schema as first released",
    sql: SCHEMA,
}];

/// Version 1, as the release before migrations made it (`IF NOT EXISTS`: such a file, at
/// `user_version` 0, is taken to version 1 unchanged).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log (
    idx   INTEGER PRIMARY KEY NOT NULL,
    term  INTEGER NOT NULL,
    entry BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS raft_state (
    key   TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS config (
    id    INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    key   VARCHAR(255) NOT NULL,
    value TEXT,
    UNIQUE (key)
);
CREATE TABLE IF NOT EXISTS raft_nodes (
    id      INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    address TEXT NOT NULL,
    role    INTEGER NOT NULL DEFAULT 0,
    name    TEXT NOT NULL DEFAULT '',
    UNIQUE (address)
);
";

/// A database member as this member last saw it (LXD's `raft_nodes` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftNode {
    /// Raft node id.
    pub id: u64,
    /// Cluster address.
    pub address: String,
    /// Its database role (stored as LXD numbers it).
    pub role: DbRole,
    /// Member name.
    pub name: String,
}

/// Handle to the local database; clones share its connections: the writer (which the Raft
/// log store holds while it fsyncs) and a reader, so that reads never wait for an fsync.
#[derive(Clone)]
pub struct LocalDb {
    conn: Arc<Mutex<Connection>>,
    reader: Arc<Mutex<Connection>>,
}

impl LocalDb {
    /// Opens (and creates, or migrates) the local database.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let mut conn = open(path, Durability::Fsync)?;
        migrations::migrate(&mut conn, path, MIGRATIONS)?;
        let reader = open(path, Durability::Fsync)?;
        reader.pragma_update(None, "query_only", "ON")?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            reader: Arc::new(Mutex::new(reader)),
        })
    }

    /// The connection, for the Raft log store. It blocks while the log is fsynced: never
    /// call it on an async worker (see [`LocalDb::blocking`]).
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on a clone of this handle off the async workers: for async callers of the
    /// blocking methods below.
    pub async fn blocking<T, F>(&self, f: F) -> rusqlite::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&LocalDb) -> rusqlite::Result<T> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?
    }

    /// Member-local configuration, off the async workers.
    pub async fn read_config(&self) -> rusqlite::Result<BTreeMap<String, String>> {
        self.blocking(LocalDb::config).await
    }

    /// [`LocalDb::set_config`] off the async workers.
    pub async fn write_config(&self, changes: BTreeMap<String, String>) -> rusqlite::Result<()> {
        self.blocking(move |db| db.set_config(&changes)).await
    }

    /// [`LocalDb::replace_raft_nodes`] off the async workers.
    pub async fn write_raft_nodes(&self, nodes: Vec<RaftNode>) -> rusqlite::Result<()> {
        self.blocking(move |db| db.replace_raft_nodes(&nodes)).await
    }

    /// Member-local configuration (blocking).
    pub fn config(&self) -> rusqlite::Result<BTreeMap<String, String>> {
        let conn = self.read();
        let mut stmt = conn.prepare("SELECT key, value FROM config WHERE value IS NOT NULL")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    /// Sets (or, with "", removes) member-local keys in one transaction.
    pub fn set_config(&self, changes: &BTreeMap<String, String>) -> rusqlite::Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for (k, v) in changes {
            if v.is_empty() {
                tx.execute("DELETE FROM config WHERE key = ?", [k])?;
            } else {
                tx.execute(
                    "INSERT INTO config (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [k, v],
                )?;
            }
        }
        tx.commit()
    }

    /// One member-local key.
    pub fn config_value(&self, key: &str) -> rusqlite::Result<Option<String>> {
        read_config_value(&self.read(), key)
    }

    /// Forgets the Raft log and vote (a member about to join another cluster or leave one).
    pub fn wipe_raft(&self) -> rusqlite::Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM log", [])?;
        tx.execute("DELETE FROM raft_state", [])?;
        tx.execute("DELETE FROM raft_nodes", [])?;
        tx.commit()
    }

    /// The database members as last recorded.
    pub fn raft_nodes(&self) -> rusqlite::Result<Vec<RaftNode>> {
        read_raft_nodes(&self.read())
    }

    /// Replaces the recorded database members.
    pub fn replace_raft_nodes(&self, nodes: &[RaftNode]) -> rusqlite::Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM raft_nodes", [])?;
        for n in nodes {
            tx.execute(
                "INSERT INTO raft_nodes (id, address, role, name) VALUES (?1, ?2, ?3, ?4)",
                params![n.id as i64, n.address, n.role, n.name],
            )?;
        }
        tx.commit()
    }
}

/// One member-local key, on any connection to a local database.
pub fn read_config_value(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM config WHERE key = ?", [key], |r| {
        r.get(0)
    })
    .optional()
}

/// The database members a local database records, on any connection to it (the doctor and
/// `corrald cluster list-database` read a stopped member's file read-only).
pub fn read_raft_nodes(conn: &Connection) -> rusqlite::Result<Vec<RaftNode>> {
    let mut stmt = conn.prepare("SELECT id, address, role, name FROM raft_nodes ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(RaftNode {
            id: r.get::<_, i64>(0)? as u64,
            address: r.get(1)?,
            role: r.get(2)?,
            name: r.get(3)?,
        })
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_do_not_wait_for_the_log_writer() {
        let dir = tempfile::tempdir().unwrap();
        let db = LocalDb::open(&dir.path().join("local.db")).unwrap();
        db.set_config(&BTreeMap::from([(
            "core.https_address".into(),
            "a:1".into(),
        )]))
        .unwrap();
        // The log store holds this lock while it fsyncs; a config read must not queue on it.
        let _writer = db.lock();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = db.clone();
        std::thread::spawn(move || {
            let _ = tx.send((reader.config(), reader.config_value("core.https_address")));
        });
        let (config, value) = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the read finished while the writer held its lock");
        assert_eq!(config.unwrap()["core.https_address"], "a:1");
        assert_eq!(value.unwrap().as_deref(), Some("a:1"));
    }

    #[test]
    fn async_writes_are_read_back_and_the_reader_never_writes() {
        let dir = tempfile::tempdir().unwrap();
        let db = LocalDb::open(&dir.path().join("local.db")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(db.write_config(BTreeMap::from([("k".into(), "v".into())])))
            .unwrap();
        let read = rt.block_on(db.read_config()).unwrap();
        assert_eq!(read.get("k").map(String::as_str), Some("v"));
        let refused = db.read().execute("DELETE FROM config", []).unwrap_err();
        assert!(refused.to_string().contains("readonly"), "{refused}");
    }
}
