//! Typed reads over the global database.

use rusqlite::Connection;

pub use super::certificates::{CertificateRow, certificate_trusted, certificates};
pub use super::config::config;
pub use super::nodes::{MemberRow, member_by_id, member_rows, members};
pub use super::tokens::{TokenRow, tokens};

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
