//! Typed reads over the global database.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension};

/// A row of `nodes`: one cluster member as the database records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    /// Raft node id (also the member id).
    pub id: u64,
    /// Member name ("none" for a server that is not clustered).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Cluster address.
    pub address: String,
    /// Schema version it runs.
    pub schema: i64,
    /// Number of API extensions it runs.
    pub api_extensions: i64,
    /// Last heartbeat, RFC 3339.
    pub heartbeat: String,
    /// 0 created, 1 pending, 2 evacuated.
    pub state: i64,
    /// Architecture name.
    pub arch: String,
    /// Failure domain name.
    pub failure_domain: String,
    /// Database role label: 0 voter, 1 stand-by, 2 spare.
    pub db_role: i64,
    /// How far its clock was from the leader's at the last heartbeat, in milliseconds.
    pub clock_skew_ms: i64,
    /// Member configuration.
    pub config: BTreeMap<String, String>,
    /// Roles that are not automatic (event-hub, ovn-chassis).
    pub roles: Vec<String>,
    /// Cluster groups.
    pub groups: Vec<String>,
}

#[cfg(test)]
impl MemberRow {
    /// A member for unit tests: `node{id}` at 127.0.0.{id}:8443, version (1, 1), voter
    /// label, no heartbeat; tests change the fields they are about.
    pub fn sample(id: u64) -> MemberRow {
        MemberRow {
            id,
            name: format!("node{id}"),
            description: String::new(),
            address: format!("127.0.0.{id}:8443"),
            schema: 1,
            api_extensions: 1,
            heartbeat: String::new(),
            state: 0,
            arch: "x86_64".into(),
            failure_domain: "default".into(),
            db_role: 0,
            clock_skew_ms: 0,
            config: Default::default(),
            roles: vec![],
            groups: vec![],
        }
    }
}

/// Every member, by name, without its config, roles and groups: one query, for hot paths
/// that only look at the row itself (versions, addresses).
pub fn member_rows(conn: &Connection) -> rusqlite::Result<Vec<MemberRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, description, address, schema, api_extensions, heartbeat, state, arch, failure_domain, db_role, clock_skew_ms
         FROM nodes ORDER BY name",
    )?;
    stmt.query_map([], |r| {
        Ok(MemberRow {
            id: r.get::<_, i64>(0)? as u64,
            name: r.get(1)?,
            description: r.get(2)?,
            address: r.get(3)?,
            schema: r.get(4)?,
            api_extensions: r.get(5)?,
            heartbeat: r.get(6)?,
            state: r.get(7)?,
            arch: r.get(8)?,
            failure_domain: r.get(9)?,
            db_role: r.get(10)?,
            clock_skew_ms: r.get(11)?,
            config: BTreeMap::new(),
            roles: Vec::new(),
            groups: Vec::new(),
        })
    })?
    .collect::<rusqlite::Result<Vec<_>>>()
}

/// Every member, by name, with its config, roles and groups.
pub fn members(conn: &Connection) -> rusqlite::Result<Vec<MemberRow>> {
    let mut members = member_rows(conn)?;
    for m in &mut members {
        m.config = pairs(
            conn,
            "SELECT key, value FROM nodes_config WHERE node_id = ?",
            m.id,
        )?
        .into_iter()
        .collect();
        m.roles = strings(
            conn,
            "SELECT role FROM nodes_roles WHERE node_id = ? ORDER BY role",
            m.id,
        )?;
        m.groups = strings(
            conn,
            "SELECT g.name FROM cluster_groups g JOIN nodes_cluster_groups n ON n.group_id = g.id
             WHERE n.node_id = ? ORDER BY g.name",
            m.id,
        )?;
    }
    Ok(members)
}

/// One member by id (its row only).
pub fn member_by_id(conn: &Connection, id: u64) -> rusqlite::Result<Option<MemberRow>> {
    Ok(member_rows(conn)?.into_iter().find(|m| m.id == id))
}

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

fn pairs(conn: &Connection, sql: &str, id: u64) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(sql)?;
    stmt.query_map([id as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

fn strings(conn: &Connection, sql: &str, id: u64) -> rusqlite::Result<Vec<String>> {
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
