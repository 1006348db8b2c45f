//! Typed reads over the global database.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension};

pub use super::nodes::{MemberRow, member_by_id, member_rows, members};

/// The cluster-wide configuration.
pub fn config(conn: &Connection) -> rusqlite::Result<BTreeMap<String, String>> {
    let mut stmt = conn.prepare_cached("SELECT key, value FROM config WHERE value IS NOT NULL")?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// Whether a client certificate with this fingerprint is in the trust store.
pub fn certificate_trusted(conn: &Connection, fingerprint: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM certificates WHERE fingerprint = ?",
            [fingerprint],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// A storage pool or network and its cluster-wide config: what a joiner must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedEntity {
    /// Pool or network name.
    pub name: String,
    /// Pool driver or network type.
    pub kind: String,
}

/// Every storage pool, by name.
pub fn storage_pools(conn: &Connection) -> rusqlite::Result<Vec<NamedEntity>> {
    named(conn, "SELECT name, driver FROM storage_pools ORDER BY name")
}

/// Every network, by name.
pub fn networks(conn: &Connection) -> rusqlite::Result<Vec<NamedEntity>> {
    named(conn, "SELECT name, type FROM networks ORDER BY name")
}

/// Every profile name.
pub fn profiles(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT name FROM profiles ORDER BY name")?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

fn named(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<NamedEntity>> {
    let mut stmt = conn.prepare_cached(sql)?;
    stmt.query_map([], |r| {
        Ok(NamedEntity {
            name: r.get(0)?,
            kind: r.get(1)?,
        })
    })?
    .collect()
}

pub(super) fn pairs(
    conn: &Connection,
    sql: &str,
    id: u64,
) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(sql)?;
    stmt.query_map([id as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

pub(super) fn strings(conn: &Connection, sql: &str, id: u64) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(sql)?;
    stmt.query_map([id as i64], |r| r.get(0))?.collect()
}

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

/// A row of the trust store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRow {
    /// SHA-256 of the DER, hex.
    pub fingerprint: String,
    /// 1 client, 2 server (LXD's numbering).
    pub kind: i64,
    /// Its name.
    pub name: String,
    /// PEM.
    pub certificate: String,
}

/// Every trusted certificate.
pub fn certificates(conn: &Connection) -> rusqlite::Result<Vec<CertificateRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT fingerprint, type, name, certificate FROM certificates ORDER BY name, fingerprint",
    )?;
    stmt.query_map([], |r| {
        Ok(CertificateRow {
            fingerprint: r.get(0)?,
            kind: r.get(1)?,
            name: r.get(2)?,
            certificate: r.get(3)?,
        })
    })?
    .collect()
}
