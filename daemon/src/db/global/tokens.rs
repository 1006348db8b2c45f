//! The `join_tokens` table: reads and statements.

use rusqlite::Connection;

use crate::db::batch::Batch;

/// A join token waiting to be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// The operation id it is shown as.
    pub uuid: String,
    /// The member name it admits.
    pub name: String,
    /// The secret, hex.
    pub secret: String,
    /// The cluster certificate's fingerprint when it was issued.
    pub fingerprint: String,
    /// Member addresses the joiner may contact.
    pub addresses: Vec<String>,
    /// RFC 3339 expiry ("" for none).
    pub expires_at: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// The member that issued it.
    pub node_id: u64,
}

/// Every join token.
pub fn tokens(conn: &Connection) -> rusqlite::Result<Vec<TokenRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT uuid, name, secret, fingerprint, addresses, expires_at, created_at, node_id
         FROM join_tokens ORDER BY created_at",
    )?;
    stmt.query_map([], |r| {
        let addresses: String = r.get(4)?;
        Ok(TokenRow {
            uuid: r.get(0)?,
            name: r.get(1)?,
            secret: r.get(2)?,
            fingerprint: r.get(3)?,
            addresses: serde_json::from_str(&addresses).unwrap_or_default(),
            expires_at: r.get(5)?,
            created_at: r.get(6)?,
            node_id: r.get::<_, i64>(7)? as u64,
        })
    })?
    .collect()
}

/// Records a new token for its member name, replacing an older one for the same name.
pub fn issue(batch: &mut Batch, row: &TokenRow) {
    batch.push(
        "DELETE FROM join_tokens WHERE name = ?",
        vec![(&row.name).into()],
    );
    batch.push(
        "INSERT INTO join_tokens (uuid, name, secret, fingerprint, addresses, expires_at, created_at, node_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            (&row.uuid).into(),
            (&row.name).into(),
            (&row.secret).into(),
            (&row.fingerprint).into(),
            serde_json::to_string(&row.addresses).unwrap_or_default().into(),
            (&row.expires_at).into(),
            (&row.created_at).into(),
            row.node_id.into(),
        ],
    );
}

/// Deletes the token shown as operation `uuid` (its row count says whether there was one).
pub fn revoke(batch: &mut Batch, uuid: &str) {
    batch.push("DELETE FROM join_tokens WHERE uuid = ?", vec![uuid.into()]);
}

/// Deletes member `name`'s token.
pub fn revoke_for(batch: &mut Batch, name: &str) {
    batch.push("DELETE FROM join_tokens WHERE name = ?", vec![name.into()]);
}
