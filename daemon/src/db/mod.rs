//! Storage: the local database (this member only) and the replicated global database.

pub mod batch;
pub mod global;
pub mod local;
pub mod migrations;
pub mod proposal;

use std::path::Path;

use rusqlite::Connection;

/// How hard a database insists on reaching the disk before a commit returns.
#[derive(Debug, Clone, Copy)]
pub enum Durability {
    /// fsync on every commit: the Raft log and vote.
    Fsync,
    /// Flushed by the OS: state that can be rebuilt from the fsynced log.
    Relaxed,
}

/// Opens an SQLite file in WAL mode with the given durability.
pub fn open(path: &Path, durability: Durability) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let sync = match durability {
        Durability::Fsync => "FULL",
        Durability::Relaxed => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}
