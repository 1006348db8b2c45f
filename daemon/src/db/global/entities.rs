//! Storage pools, networks and profiles (`storage_pools*`, `networks*`, `profiles*`): what
//! a bootstrap preseed creates and a joiner must match; their reads and statements.

use std::collections::BTreeMap;

use rusqlite::Connection;

use corral_shared::preseed::{NetworkPreseed, ProfilePreseed, StoragePoolPreseed};

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

/// Every Created network, by name (a joiner ignores Pending ones, as LXD's does).
pub fn networks(conn: &Connection) -> rusqlite::Result<Vec<NamedEntity>> {
    named(
        conn,
        "SELECT name, type FROM networks WHERE state = 1 ORDER BY name",
    )
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

// The same tables as a preseed gives them (`corrald init --dump`).

/// Rows of (owner id, key, value) grouped by owner.
fn grouped(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<BTreeMap<i64, BTreeMap<String, String>>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(params, |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?.unwrap_or_default(),
        ))
    })?;
    let mut out: BTreeMap<i64, BTreeMap<String, String>> = BTreeMap::new();
    for row in rows {
        let (id, k, v) = row?;
        out.entry(id).or_default().insert(k, v);
    }
    Ok(out)
}

/// Pools with their cluster-wide config and this member's own values.
pub fn pool_preseeds(conn: &Connection, member: i64) -> rusqlite::Result<Vec<StoragePoolPreseed>> {
    let mut config = grouped(
        conn,
        "SELECT storage_pool_id, key, value FROM storage_pools_config
         WHERE node_id IS NULL OR node_id = ?1 ORDER BY node_id IS NOT NULL, key",
        [member],
    )?;
    let mut stmt =
        conn.prepare("SELECT id, name, driver, description FROM storage_pools ORDER BY name")?;
    stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            StoragePoolPreseed {
                name: r.get(1)?,
                driver: r.get(2)?,
                description: r.get(3)?,
                config: BTreeMap::new(),
            },
        ))
    })?
    .map(|row| {
        row.map(|(id, mut pool)| {
            pool.config = config.remove(&id).unwrap_or_default();
            pool
        })
    })
    .collect()
}

/// Networks with their cluster-wide config and this member's own values.
pub fn network_preseeds(conn: &Connection, member: i64) -> rusqlite::Result<Vec<NetworkPreseed>> {
    let mut config = grouped(
        conn,
        "SELECT network_id, key, value FROM networks_config
         WHERE node_id IS NULL OR node_id = ?1 ORDER BY node_id IS NOT NULL, key",
        [member],
    )?;
    let mut stmt = conn.prepare(
        "SELECT id, project, name, type, description FROM networks ORDER BY project, name",
    )?;
    stmt.query_map([], |r| {
        let project: String = r.get(1)?;
        Ok((
            r.get::<_, i64>(0)?,
            NetworkPreseed {
                project: if project == "default" {
                    String::new()
                } else {
                    project
                },
                name: r.get(2)?,
                kind: r.get(3)?,
                description: r.get(4)?,
                config: BTreeMap::new(),
            },
        ))
    })?
    .map(|row| {
        row.map(|(id, mut net)| {
            net.config = config.remove(&id).unwrap_or_default();
            net
        })
    })
    .collect()
}

/// Profiles of the default project (the ones a preseed manages), with config and devices.
pub fn profile_preseeds(conn: &Connection) -> rusqlite::Result<Vec<ProfilePreseed>> {
    let mut config = grouped(
        conn,
        "SELECT c.profile_id, c.key, c.value FROM profiles_config c
         JOIN profiles p ON p.id = c.profile_id WHERE p.project = 'default'",
        [],
    )?;
    let mut devices: BTreeMap<i64, BTreeMap<String, BTreeMap<String, String>>> = BTreeMap::new();
    {
        let mut stmt = conn.prepare(
            "SELECT d.profile_id, d.name, d.type, c.key, c.value FROM profiles_devices d
             JOIN profiles p ON p.id = d.profile_id
             LEFT JOIN profiles_devices_config c ON c.profile_device_id = d.id
             WHERE p.project = 'default'",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?;
        for row in rows {
            let (id, device, kind, key, value) = row?;
            let entry = devices.entry(id).or_default().entry(device).or_default();
            entry.insert("type".into(), kind);
            if let Some(key) = key {
                entry.insert(key, value.unwrap_or_default());
            }
        }
    }
    let mut stmt = conn.prepare(
        "SELECT id, name, description FROM profiles WHERE project = 'default' ORDER BY name",
    )?;
    stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            ProfilePreseed {
                name: r.get(1)?,
                description: r.get(2)?,
                config: BTreeMap::new(),
                devices: BTreeMap::new(),
            },
        ))
    })?
    .map(|row| {
        row.map(|(id, mut profile)| {
            profile.config = config.remove(&id).unwrap_or_default();
            profile.devices = devices.remove(&id).unwrap_or_default();
            profile
        })
    })
    .collect()
}

/// The devices of profile `name` in the default project (none when it does not exist).
pub fn profile_devices(
    conn: &Connection,
    name: &str,
) -> rusqlite::Result<BTreeMap<String, BTreeMap<String, String>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.name, d.type, c.key, c.value FROM profiles_devices d
         JOIN profiles p ON p.id = d.profile_id
         LEFT JOIN profiles_devices_config c ON c.profile_device_id = d.id
         WHERE p.project = 'default' AND p.name = ?",
    )?;
    let rows = stmt.query_map([name], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
        ))
    })?;
    let mut devices: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for row in rows {
        let (device, kind, key, value) = row?;
        let entry = devices.entry(device).or_default();
        entry.insert("type".into(), kind);
        if let Some(key) = key {
            entry.insert(key, value.unwrap_or_default());
        }
    }
    Ok(devices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::global::schema::SCHEMA;

    #[test]
    fn reads_pools_networks_and_profiles_back_as_a_preseed_writes_them() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch(
            "INSERT INTO nodes (id, name, address, schema, api_extensions, heartbeat, arch)
               VALUES (1, 'node1', '10.0.0.1:8443', 1, 1, '', 'x86_64'),
                      (2, 'node2', '10.0.0.2:8443', 1, 1, '', 'x86_64');
             INSERT INTO storage_pools (id, name, driver, state) VALUES (1, 'default', 'dir', 1);
             INSERT INTO storage_pools_config (storage_pool_id, node_id, key, value)
               VALUES (1, NULL, 'size', '10GiB'), (1, 1, 'source', '/mine'), (1, 2, 'source', '/theirs');
             INSERT INTO networks (id, project, name, type, state) VALUES (1, 'default', 'br0', 'bridge', 1);
             INSERT INTO networks_config (network_id, node_id, key, value)
               VALUES (1, NULL, 'ipv4.address', '10.66.0.1/24');
             INSERT INTO profiles (id, project, name, description) VALUES (1, 'default', 'default', 'Default');
             INSERT INTO profiles_config (profile_id, key, value) VALUES (1, 'limits.cpu', '2');
             INSERT INTO profiles_devices (id, profile_id, name, type) VALUES (1, 1, 'root', 'disk'), (2, 1, 'gpu0', 'gpu');
             INSERT INTO profiles_devices_config (profile_device_id, key, value)
               VALUES (1, 'path', '/'), (1, 'pool', 'default');",
        )
        .unwrap();
        let pools = pool_preseeds(&conn, 1).unwrap();
        assert_eq!(pools.len(), 1);
        assert_eq!(pools[0].driver, "dir");
        assert_eq!(
            pools[0].config,
            BTreeMap::from([
                ("size".to_owned(), "10GiB".to_owned()),
                ("source".to_owned(), "/mine".to_owned())
            ])
        );
        let nets = network_preseeds(&conn, 1).unwrap();
        assert_eq!(nets[0].name, "br0");
        assert_eq!(nets[0].project, "");
        assert_eq!(nets[0].config["ipv4.address"], "10.66.0.1/24");
        let profiles = profile_preseeds(&conn).unwrap();
        assert_eq!(profiles[0].description, "Default");
        assert_eq!(profiles[0].config["limits.cpu"], "2");
        assert_eq!(
            profiles[0].devices["root"],
            BTreeMap::from([
                ("path".to_owned(), "/".to_owned()),
                ("pool".to_owned(), "default".to_owned()),
                ("type".to_owned(), "disk".to_owned())
            ])
        );
        assert_eq!(
            profiles[0].devices["gpu0"],
            BTreeMap::from([("type".to_owned(), "gpu".to_owned())])
        );
        assert_eq!(
            profile_devices(&conn, "default").unwrap(),
            profiles[0].devices
        );
        assert!(profile_devices(&conn, "other").unwrap().is_empty());
    }
}
