//! The local database (`database/local.db`): this member's Raft log and vote, its
//! `raft_nodes` view of the database members, and member-local config such as
//! `core.https_address`. Every commit is fsynced: the log must survive a crash.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

use super::{Durability, open};

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
    /// 0 voter, 1 stand-by, 2 spare (LXD's numbering).
    pub role: i64,
    /// Member name.
    pub name: String,
}

/// Handle to the local database; clones share one connection.
#[derive(Clone)]
pub struct LocalDb {
    conn: Arc<Mutex<Connection>>,
}

impl LocalDb {
    /// Opens (and creates) the local database.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = open(path, Durability::Fsync)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The connection, for the Raft log store.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Member-local configuration.
    pub fn config(&self) -> rusqlite::Result<BTreeMap<String, String>> {
        let conn = self.lock();
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
        self.lock()
            .query_row("SELECT value FROM config WHERE key = ?", [key], |r| {
                r.get(0)
            })
            .optional()
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
        let conn = self.lock();
        let mut stmt =
            conn.prepare("SELECT id, address, role, name FROM raft_nodes ORDER BY id")?;
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
