//! The global database (`database/global.db`): the replica of the cluster's shared state.
//! Writes arrive only through Raft (see `raft::state_machine`); this handle reads.

pub mod queries;
pub mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::{Durability, open};

/// Read handle on the local replica of the global database.
#[derive(Clone)]
pub struct GlobalDb {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
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
    /// Opens the replica for reading, creating the schema if it is new.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = open_writer(path)?;
        Ok(Self {
            path: path.to_owned(),
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The file this replica lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs a read off the async workers, in one read transaction: every query in `f` sees
    /// the same state of the replica.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ReadError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            let snapshot = guard.unchecked_transaction()?;
            let read = f(&snapshot)?;
            // Nothing was written: ending the transaction either way only releases it.
            snapshot.rollback()?;
            Ok(read)
        })
        .await
        .map_err(|e| ReadError::Task(e.to_string()))?
    }
}

impl GlobalDb {
    /// Empties every table (a member about to receive another cluster's database), leaving
    /// the schema and its built-in rows.
    pub async fn wipe(&self) -> Result<(), ReadError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
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
            guard.execute_batch(schema::SCHEMA)?;
            Ok(())
        })
        .await
        .map_err(|e| ReadError::Task(e.to_string()))?
    }
}

/// Opens a connection to the global database with its schema in place.
pub fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    let conn = open(path, Durability::Relaxed)?;
    conn.execute_batch(schema::SCHEMA)?;
    Ok(conn)
}
