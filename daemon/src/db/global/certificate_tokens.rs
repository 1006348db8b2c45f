//! The `certificate_add_tokens` table: tokens a new client presents once to have its
//! certificate trusted (`corral config trust add`). Reads and statements.

use rusqlite::Connection;

use crate::db::batch::Batch;

/// A certificate add token waiting to be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateTokenRow {
    /// The operation id it is shown as.
    pub uuid: String,
    /// The name the client's certificate will be trusted under.
    pub name: String,
    /// The secret, hex.
    pub secret: String,
    /// The cluster (or server) certificate's fingerprint when it was issued.
    pub fingerprint: String,
    /// Addresses the client may contact.
    pub addresses: Vec<String>,
    /// RFC 3339 expiry ("" for none).
    pub expires_at: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// The member that issued it.
    pub node_id: u64,
    /// The `POST /1.0/certificates` that asked for it, as JSON.
    pub request: String,
}

/// Every certificate add token, oldest first.
pub fn certificate_tokens(conn: &Connection) -> rusqlite::Result<Vec<CertificateTokenRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT uuid, name, secret, fingerprint, addresses, expires_at, created_at, node_id, request
         FROM certificate_add_tokens ORDER BY created_at, uuid",
    )?;
    stmt.query_map([], |r| {
        let addresses: String = r.get(4)?;
        Ok(CertificateTokenRow {
            uuid: r.get(0)?,
            name: r.get(1)?,
            secret: r.get(2)?,
            fingerprint: r.get(3)?,
            addresses: serde_json::from_str(&addresses).unwrap_or_default(),
            expires_at: r.get(5)?,
            created_at: r.get(6)?,
            node_id: r.get::<_, i64>(7)? as u64,
            request: r.get(8)?,
        })
    })?
    .collect()
}

/// Records a new token (several may wait for the same client name, as in LXD).
pub fn issue(batch: &mut Batch, row: &CertificateTokenRow) {
    batch.push(
        "INSERT INTO certificate_add_tokens (uuid, name, secret, fingerprint, addresses, expires_at, created_at, node_id, request)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            (&row.uuid).into(),
            (&row.name).into(),
            (&row.secret).into(),
            (&row.fingerprint).into(),
            serde_json::to_string(&row.addresses).unwrap_or_default().into(),
            (&row.expires_at).into(),
            (&row.created_at).into(),
            row.node_id.into(),
            (&row.request).into(),
        ],
    );
}

/// Deletes the token shown as operation `uuid` (its row count says whether there was one):
/// a revocation, or a use burning it.
pub fn revoke(batch: &mut Batch, uuid: &str) {
    batch.push(
        "DELETE FROM certificate_add_tokens WHERE uuid = ?",
        vec![uuid.into()],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrations;
    use std::path::Path;

    fn row(uuid: &str) -> CertificateTokenRow {
        CertificateTokenRow {
            uuid: uuid.into(),
            name: "laptop".into(),
            secret: "s".into(),
            fingerprint: "fp".into(),
            addresses: vec!["127.0.0.1:8443".into()],
            expires_at: String::new(),
            created_at: format!("2026-12-01T10:00:0{uuid}Z"),
            node_id: 1,
            request: r#"{"name":"laptop","type":"client"}"#.into(),
        }
    }

    #[test]
    fn tokens_are_stored_listed_and_burned() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrations::migrate(
            &mut conn,
            Path::new("t.db"),
            crate::db::global::schema::MIGRATIONS,
        )
        .unwrap();
        let mut batch = Batch::new();
        issue(&mut batch, &row("1"));
        issue(&mut batch, &row("2"));
        revoke(&mut batch, "1");
        revoke(&mut batch, "9");
        let tx = conn.transaction().unwrap();
        let outcome = crate::db::batch::apply(&tx, &batch).unwrap();
        tx.commit().unwrap();
        assert!(outcome.error.is_none());
        assert_eq!(outcome.rows_affected[2..], [1, 0]);
        assert_eq!(certificate_tokens(&conn).unwrap(), vec![row("2")]);
    }
}
