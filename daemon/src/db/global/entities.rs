//! Storage pools, networks and profiles (`storage_pools*`, `networks*`, `profiles*`): what
//! a bootstrap preseed creates and a joiner must match; their reads and statements.

use std::collections::BTreeMap;

use rusqlite::Connection;

use crate::db::batch::Batch;

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

/// Adds a storage pool with its cluster-wide config.
pub fn add_storage_pool(
    batch: &mut Batch,
    name: &str,
    driver: &str,
    description: &str,
    config: &BTreeMap<String, String>,
) {
    batch.push(
        "INSERT INTO storage_pools (name, driver, description, state) VALUES (?, ?, ?, 1)",
        vec![name.into(), driver.into(), description.into()],
    );
    for (k, v) in config {
        batch.push(
            "INSERT INTO storage_pools_config (storage_pool_id, node_id, key, value)
                 VALUES ((SELECT id FROM storage_pools WHERE name = ?), NULL, ?, ?)",
            vec![name.into(), k.into(), v.into()],
        );
    }
}

/// Adds a network of `kind` in `project` with its cluster-wide config.
pub fn add_network(
    batch: &mut Batch,
    project: &str,
    name: &str,
    kind: &str,
    description: &str,
    config: &BTreeMap<String, String>,
) {
    batch.push(
        "INSERT INTO networks (project, name, type, description, state) VALUES (?, ?, ?, ?, 1)",
        vec![project.into(), name.into(), kind.into(), description.into()],
    );
    for (k, v) in config {
        batch.push(
            "INSERT INTO networks_config (network_id, node_id, key, value)
                 VALUES ((SELECT id FROM networks WHERE project = ? AND name = ?), NULL, ?, ?)",
            vec![project.into(), name.into(), k.into(), v.into()],
        );
    }
}

/// A profile of the default project as a preseed gives it.
#[derive(Debug, Clone, Copy)]
pub struct Profile<'a> {
    /// Its name.
    pub name: &'a str,
    /// Free text.
    pub description: &'a str,
    /// Its config.
    pub config: &'a BTreeMap<String, String>,
    /// Devices by name, each with its keys (`type` among them).
    pub devices: &'a BTreeMap<String, BTreeMap<String, String>>,
}

/// Creates a profile, or (`exists`) replaces an existing one's description, config and
/// devices in place, as LXD does for `default`.
pub fn put_profile(batch: &mut Batch, exists: bool, p: &Profile<'_>) {
    let profile_id = "(SELECT id FROM profiles WHERE project = 'default' AND name = ?)";
    if exists {
        batch.push(
            "UPDATE profiles SET description = ? WHERE project = 'default' AND name = ?",
            vec![p.description.into(), p.name.into()],
        );
        batch.push(
            format!("DELETE FROM profiles_config WHERE profile_id = {profile_id}"),
            vec![p.name.into()],
        );
        batch.push(
            format!("DELETE FROM profiles_devices WHERE profile_id = {profile_id}"),
            vec![p.name.into()],
        );
    } else {
        batch.push(
            "INSERT INTO profiles (project, name, description) VALUES ('default', ?, ?)",
            vec![p.name.into(), p.description.into()],
        );
    }
    for (k, v) in p.config {
        batch.push(
            format!(
                "INSERT INTO profiles_config (profile_id, key, value) VALUES ({profile_id}, ?, ?)"
            ),
            vec![p.name.into(), k.into(), v.into()],
        );
    }
    for (device, keys) in p.devices {
        let kind = keys.get("type").cloned().unwrap_or_default();
        batch.push(
            format!(
                "INSERT INTO profiles_devices (profile_id, name, type) VALUES ({profile_id}, ?, ?)"
            ),
            vec![p.name.into(), device.into(), kind.into()],
        );
        for (k, v) in keys.iter().filter(|(k, _)| k.as_str() != "type") {
            batch.push(
                format!(
                    "INSERT INTO profiles_devices_config (profile_device_id, key, value)
                         VALUES ((SELECT id FROM profiles_devices WHERE profile_id = {profile_id} AND name = ?), ?, ?)"
                ),
                vec![p.name.into(), device.into(), k.into(), v.into()],
            );
        }
    }
}
