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

/// Rolls the whole batch back unless the config holds exactly `expected`: put first in a
/// write made with If-Match, it makes the ETag check and the change one Raft entry, so two
/// writes that read the same config cannot both commit.
pub fn unchanged_since(batch: &mut Batch, expected: &BTreeMap<String, String>) {
    let expected_json = serde_json::to_string(expected).unwrap_or_default();
    // json() of text that is not JSON raises an error, which rolls the batch back.
    batch.push(
        "INSERT INTO config (key, value)
         SELECT 'config changed', json('the configuration changed since it was read')
          WHERE (SELECT count(*) FROM config WHERE value IS NOT NULL) <> ?
             OR EXISTS (SELECT 1 FROM json_each(?) AS j
                         WHERE j.value IS NOT (SELECT value FROM config WHERE key = j.key))",
        vec![(expected.len() as i64).into(), expected_json.into()],
    );
}

/// Removes a key.
pub fn unset(batch: &mut Batch, key: &str) {
    batch.push("DELETE FROM config WHERE key = ?", vec![key.into()]);
}
