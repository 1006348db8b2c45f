//! The cluster-wide `config` table: reads and statements.

use std::collections::BTreeMap;

use rusqlite::Connection;

use crate::db::batch::Batch;

/// The cluster-wide configuration.
pub fn config(conn: &Connection) -> rusqlite::Result<BTreeMap<String, String>> {
    let mut stmt = conn.prepare_cached("SELECT key, value FROM config WHERE value IS NOT NULL")?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// Sets a key.
pub fn set(batch: &mut Batch, key: &str, value: &str) {
    batch.push(
        "INSERT INTO config (key, value) VALUES (?, ?)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        vec![key.into(), value.into()],
    );
}

/// Removes a key.
pub fn unset(batch: &mut Batch, key: &str) {
    batch.push("DELETE FROM config WHERE key = ?", vec![key.into()]);
}
