//! Storage pools (`storage_pools`, `storage_pools_config`, `storage_pools_nodes`): each
//! pool, its cluster-wide config (`node_id` NULL), each member's own keys and state. Reads
//! and statements; the rules live in `storage/` and `cluster/two_phase.rs`.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension};

use super::entities::NamedEntity;
use crate::cluster::two_phase::Resource;
use crate::db::batch::Batch;

/// One member's part of a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolMember {
    /// The member's id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its cluster address.
    pub address: String,
    /// Its own state (0 pending, 1 created, 2 errored).
    pub state: i64,
    /// Its member-specific keys (`source` ...).
    pub config: BTreeMap<String, String>,
}

/// A pool as stored, with every member's part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRecord {
    /// Row id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its driver.
    pub driver: String,
    /// Free text.
    pub description: String,
    /// The global state (0 pending, 1 created, 2 errored).
    pub state: i64,
    /// The cluster-wide config.
    pub config: BTreeMap<String, String>,
    /// Its members' parts, in member id order.
    pub members: Vec<PoolMember>,
}

/// Every pool, by name, with its config and members.
pub fn pools(conn: &Connection) -> rusqlite::Result<Vec<PoolRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, driver, description, state FROM storage_pools ORDER BY name",
    )?;
    let mut out: Vec<PoolRecord> = stmt
        .query_map([], |r| {
            Ok(PoolRecord {
                id: r.get(0)?,
                name: r.get(1)?,
                driver: r.get(2)?,
                description: r.get(3)?,
                state: r.get(4)?,
                config: BTreeMap::new(),
                members: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    for pool in &mut out {
        fill(conn, pool)?;
    }
    Ok(out)
}

/// The pool named `name`, if any.
pub fn pool(conn: &Connection, name: &str) -> rusqlite::Result<Option<PoolRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, driver, description, state FROM storage_pools WHERE name = ?",
    )?;
    let found = stmt
        .query_row([name], |r| {
            Ok(PoolRecord {
                id: r.get(0)?,
                name: r.get(1)?,
                driver: r.get(2)?,
                description: r.get(3)?,
                state: r.get(4)?,
                config: BTreeMap::new(),
                members: Vec::new(),
            })
        })
        .optional()?;
    match found {
        Some(mut pool) => {
            fill(conn, &mut pool)?;
            Ok(Some(pool))
        }
        None => Ok(None),
    }
}

fn fill(conn: &Connection, pool: &mut PoolRecord) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT n.id, n.name, n.address, pn.state FROM storage_pools_nodes pn
         JOIN nodes n ON n.id = pn.node_id WHERE pn.storage_pool_id = ? ORDER BY n.id",
    )?;
    pool.members = stmt
        .query_map([pool.id], |r| {
            Ok(PoolMember {
                id: r.get::<_, i64>(0)? as u64,
                name: r.get(1)?,
                address: r.get(2)?,
                state: r.get(3)?,
                config: BTreeMap::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT node_id, key, value FROM storage_pools_config WHERE storage_pool_id = ?",
    )?;
    let rows = stmt.query_map([pool.id], |r| {
        Ok((
            r.get::<_, Option<i64>>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?.unwrap_or_default(),
        ))
    })?;
    for row in rows {
        let (node, key, value) = row?;
        match node {
            None => {
                pool.config.insert(key, value);
            }
            Some(id) => {
                if let Some(m) = pool.members.iter_mut().find(|m| m.id == id as u64) {
                    m.config.insert(key, value);
                }
            }
        }
    }
    Ok(())
}

/// The pools a joiner must answer member-specific keys for: the Created ones (LXD ignores
/// pending pools during a join).
pub fn created_pools(conn: &Connection) -> rusqlite::Result<Vec<NamedEntity>> {
    let mut stmt = conn
        .prepare_cached("SELECT name, driver FROM storage_pools WHERE state = 1 ORDER BY name")?;
    stmt.query_map([], |r| {
        Ok(NamedEntity {
            name: r.get(0)?,
            kind: r.get(1)?,
        })
    })?
    .collect()
}

/// The profiles with a device on pool `pool`, by name.
pub fn profiles_using(conn: &Connection, pool: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT p.name FROM profiles p
         JOIN profiles_devices d ON d.profile_id = p.id
         JOIN profiles_devices_config c ON c.profile_device_id = d.id
         WHERE c.key = 'pool' AND c.value = ? ORDER BY p.name",
    )?;
    stmt.query_map([pool], |r| r.get(0))?.collect()
}

const POOL_ID: &str = "(SELECT id FROM storage_pools WHERE name = ?)";

/// Adds pool `name` in `state` unless it exists (two members defining it at once both win).
pub fn insert(batch: &mut Batch, name: &str, driver: &str, description: &str, state: i64) {
    batch.push(
        "INSERT OR IGNORE INTO storage_pools (name, driver, description, state) VALUES (?, ?, ?, ?)",
        vec![name.into(), driver.into(), description.into(), state.into()],
    );
}

/// Adds pool `name` Created, with member `member`'s part Created: a preseed's pool on the
/// member bootstrapping (its member-specific keys are its own, the rest cluster-wide).
pub fn add_created(
    batch: &mut Batch,
    name: &str,
    driver: &str,
    description: &str,
    config: &BTreeMap<String, String>,
    member: u64,
) {
    let (global, own): (BTreeMap<_, _>, BTreeMap<_, _>) = config
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| !Resource::StoragePool.is_member_specific(k));
    insert(batch, name, driver, description, 1);
    put_config(batch, name, &global);
    add_member(batch, name, member, 1, &own);
}

/// Adds member `member`'s part of pool `name` in `state` with its own keys, unless it has
/// one already (the first statement's row count says whether it was added).
pub fn add_member(
    batch: &mut Batch,
    name: &str,
    member: u64,
    state: i64,
    config: &BTreeMap<String, String>,
) {
    batch.push(
        format!(
            "INSERT OR IGNORE INTO storage_pools_nodes (storage_pool_id, node_id, state) VALUES ({POOL_ID}, ?, ?)"
        ),
        vec![name.into(), member.into(), state.into()],
    );
    // Keys of a part that existed already stay as they were.
    for (k, v) in config {
        batch.push(
            format!(
                "INSERT OR IGNORE INTO storage_pools_config (storage_pool_id, node_id, key, value) VALUES ({POOL_ID}, ?, ?, ?)"
            ),
            vec![name.into(), member.into(), k.into(), v.into()],
        );
    }
}

/// Replaces member `member`'s own keys of pool `name`.
pub fn put_member_config(
    batch: &mut Batch,
    name: &str,
    member: u64,
    config: &BTreeMap<String, String>,
) {
    batch.push(
        format!(
            "DELETE FROM storage_pools_config WHERE storage_pool_id = {POOL_ID} AND node_id = ?"
        ),
        vec![name.into(), member.into()],
    );
    for (k, v) in config {
        batch.push(
            format!(
                "INSERT INTO storage_pools_config (storage_pool_id, node_id, key, value) VALUES ({POOL_ID}, ?, ?, ?)"
            ),
            vec![name.into(), member.into(), k.into(), v.into()],
        );
    }
}

/// Replaces the cluster-wide config of pool `name`.
pub fn put_config(batch: &mut Batch, name: &str, config: &BTreeMap<String, String>) {
    batch.push(
        format!(
            "DELETE FROM storage_pools_config WHERE storage_pool_id = {POOL_ID} AND node_id IS NULL"
        ),
        vec![name.into()],
    );
    for (k, v) in config {
        batch.push(
            format!(
                "INSERT INTO storage_pools_config (storage_pool_id, node_id, key, value) VALUES ({POOL_ID}, NULL, ?, ?)"
            ),
            vec![name.into(), k.into(), v.into()],
        );
    }
}

/// Sets the description of pool `name`.
pub fn set_description(batch: &mut Batch, name: &str, description: &str) {
    batch.push(
        "UPDATE storage_pools SET description = ? WHERE name = ?",
        vec![description.into(), name.into()],
    );
}

/// Sets the global state of pool `name`.
pub fn set_state(batch: &mut Batch, name: &str, state: i64) {
    batch.push(
        "UPDATE storage_pools SET state = ? WHERE name = ?",
        vec![state.into(), name.into()],
    );
}

/// Marks pool `name` Created, only if every member's part is Created by then (a member
/// that went back meanwhile keeps it Errored).
pub fn set_created_if_complete(batch: &mut Batch, name: &str) {
    batch.push(
        format!(
            "UPDATE storage_pools SET state = 1 WHERE name = ?1 AND NOT EXISTS
               (SELECT 1 FROM storage_pools_nodes WHERE storage_pool_id = {POOL_ID_1} AND state != 1)"
        ),
        vec![name.into()],
    );
}

const POOL_ID_1: &str = "(SELECT id FROM storage_pools WHERE name = ?1)";

/// Sets member `member`'s own state for pool `name`.
pub fn set_member_state(batch: &mut Batch, name: &str, member: u64, state: i64) {
    batch.push(
        format!(
            "UPDATE storage_pools_nodes SET state = ? WHERE storage_pool_id = {POOL_ID} AND node_id = ?"
        ),
        vec![state.into(), name.into(), member.into()],
    );
}

/// Deletes pool `name` with its config, member parts and volumes.
pub fn delete(batch: &mut Batch, name: &str) {
    for table in [
        "storage_volumes",
        "storage_pools_nodes",
        "storage_pools_config",
    ] {
        batch.push(
            format!("DELETE FROM {table} WHERE storage_pool_id = {POOL_ID}"),
            vec![name.into()],
        );
    }
    batch.push(
        "DELETE FROM storage_pools WHERE name = ?",
        vec![name.into()],
    );
}

/// Deletes member `member`'s part of every pool (its own keys and volumes too): the member
/// is leaving the cluster.
pub fn forget_member(batch: &mut Batch, member: u64) {
    for table in [
        "storage_volumes",
        "storage_pools_nodes",
        "storage_pools_config",
    ] {
        batch.push(
            format!("DELETE FROM {table} WHERE node_id = ?"),
            vec![member.into()],
        );
    }
}

/// Gives member `member` a Created part of every Created pool, with the answers it gave
/// when joining (already stored by the join as its own keys).
pub fn join_created(batch: &mut Batch, member: u64) {
    batch.push(
        "INSERT OR IGNORE INTO storage_pools_nodes (storage_pool_id, node_id, state)
           SELECT id, ?, 1 FROM storage_pools WHERE state = 1",
        vec![member.into()],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        let steps = crate::db::global::schema::MIGRATIONS;
        crate::db::migrations::migrate(&mut conn, std::path::Path::new("test"), steps).unwrap();
        conn.execute_batch(
            "INSERT INTO nodes (id, name, address, schema, api_extensions, heartbeat, arch)
               VALUES (1, 'node1', '10.0.0.1:8443', 1, 1, '', 'x86_64'),
                      (2, 'node2', '10.0.0.2:8443', 1, 1, '', 'x86_64');",
        )
        .unwrap();
        conn
    }

    fn apply(conn: &mut Connection, batch: &Batch) -> Vec<usize> {
        let tx = conn.transaction().unwrap();
        let outcome = crate::db::batch::apply(&tx, batch).unwrap();
        tx.commit().unwrap();
        assert_eq!(outcome.error, None);
        outcome.rows_affected
    }

    #[test]
    fn two_phase_rows_are_stored_and_read_back() {
        let mut conn = db();
        let mut batch = Batch::new();
        insert(&mut batch, "p1", "dir", "", 0);
        add_member(
            &mut batch,
            "p1",
            1,
            0,
            &BTreeMap::from([("source".into(), "/a".into())]),
        );
        insert(&mut batch, "p1", "dir", "", 0);
        add_member(&mut batch, "p1", 2, 0, &BTreeMap::new());
        apply(&mut conn, &batch);
        // A second definition for the same member adds nothing.
        let mut again = Batch::new();
        add_member(
            &mut again,
            "p1",
            1,
            0,
            &BTreeMap::from([("source".into(), "/b".into())]),
        );
        assert_eq!(apply(&mut conn, &again)[0], 0);

        let p = pool(&conn, "p1").unwrap().unwrap();
        assert_eq!(p.state, 0);
        assert_eq!(
            p.members
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>(),
            ["node1", "node2"]
        );
        assert_eq!(p.members[0].config["source"], "/a");
        assert!(created_pools(&conn).unwrap().is_empty());

        let mut batch = Batch::new();
        put_config(
            &mut batch,
            "p1",
            &BTreeMap::from([("rsync.bwlimit".into(), "1".into())]),
        );
        set_state(&mut batch, "p1", 2);
        set_member_state(&mut batch, "p1", 1, 1);
        set_created_if_complete(&mut batch, "p1");
        apply(&mut conn, &batch);
        let p = pool(&conn, "p1").unwrap().unwrap();
        assert_eq!(p.state, 2, "node2 is still pending");
        assert_eq!(p.config["rsync.bwlimit"], "1");

        let mut batch = Batch::new();
        set_member_state(&mut batch, "p1", 2, 1);
        set_created_if_complete(&mut batch, "p1");
        apply(&mut conn, &batch);
        assert_eq!(pool(&conn, "p1").unwrap().unwrap().state, 1);
        assert_eq!(created_pools(&conn).unwrap()[0].name, "p1");

        let mut batch = Batch::new();
        forget_member(&mut batch, 2);
        apply(&mut conn, &batch);
        assert_eq!(pool(&conn, "p1").unwrap().unwrap().members.len(), 1);
        let mut batch = Batch::new();
        join_created(&mut batch, 2);
        apply(&mut conn, &batch);
        assert_eq!(pool(&conn, "p1").unwrap().unwrap().members[1].state, 1);

        let mut batch = Batch::new();
        delete(&mut batch, "p1");
        apply(&mut conn, &batch);
        assert!(pool(&conn, "p1").unwrap().is_none());
        assert!(pools(&conn).unwrap().is_empty());
    }
}
