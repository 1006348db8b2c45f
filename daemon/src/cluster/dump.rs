//! The current configuration as a preseed (`corrald init --dump`): server config, storage
//! pools, networks and profiles with their config and devices, and the cluster section.
//! The trust password is left out: only its hash is stored.

use std::collections::BTreeMap;

use corral_shared::preseed::{
    ClusterPreseed, NetworkPreseed, Preseed, ProfilePreseed, StoragePoolPreseed,
};
use rusqlite::Connection;

use super::{config, members};
use crate::error::Result;
use crate::node::Node;

/// Config keys never dumped.
const HIDDEN: &[&str] = &["core.trust_password"];

/// This server's configuration as a preseed that would set it up the same way.
pub async fn current(node: &Node) -> Result<Preseed> {
    let config = config::current(node)
        .await?
        .into_iter()
        .filter(|(k, _)| !HIDDEN.contains(&k.as_str()))
        .collect();
    let member = node.id() as i64;
    let (storage_pools, networks, profiles) = node
        .global
        .read(move |c| Ok((pools(c, member)?, networks(c, member)?, profiles(c)?)))
        .await?;
    let cluster = if node.is_clustered() {
        Some(ClusterPreseed {
            server_name: members::own_name(node).await?,
            enabled: true,
            ..Default::default()
        })
    } else {
        None
    };
    Ok(Preseed {
        config,
        networks,
        storage_pools,
        profiles,
        cluster,
    })
}

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
fn pools(conn: &Connection, member: i64) -> rusqlite::Result<Vec<StoragePoolPreseed>> {
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
fn networks(conn: &Connection, member: i64) -> rusqlite::Result<Vec<NetworkPreseed>> {
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
fn profiles(conn: &Connection) -> rusqlite::Result<Vec<ProfilePreseed>> {
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
        let pools = pools(&conn, 1).unwrap();
        assert_eq!(pools.len(), 1);
        assert_eq!(pools[0].driver, "dir");
        assert_eq!(
            pools[0].config,
            BTreeMap::from([
                ("size".to_owned(), "10GiB".to_owned()),
                ("source".to_owned(), "/mine".to_owned())
            ])
        );
        let nets = networks(&conn, 1).unwrap();
        assert_eq!(nets[0].name, "br0");
        assert_eq!(nets[0].project, "");
        assert_eq!(nets[0].config["ipv4.address"], "10.66.0.1/24");
        let profiles = profiles(&conn).unwrap();
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
    }
}
