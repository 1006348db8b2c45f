//! Storage volumes (`storage_volumes`, `storage_volumes_config`): custom volumes, each on
//! one member of a pool (`node_id`), so one name may exist once per member. Reads and
//! statements.

use std::collections::BTreeMap;

use rusqlite::Connection;

use crate::db::batch::Batch;

/// The stored type number of custom volumes (LXD's `StoragePoolVolumeTypeCustom`).
pub const TYPE_CUSTOM: i64 = 2;

/// A volume as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeRow {
    /// Its name.
    pub name: String,
    /// Its pool's name.
    pub pool: String,
    /// The id of the member it lives on.
    pub member_id: u64,
    /// That member's name.
    pub member: String,
    /// Free text.
    pub description: String,
    /// Its project.
    pub project: String,
    /// Its config.
    pub config: BTreeMap<String, String>,
}

/// Every custom volume of pool `pool`, by name then member id.
pub fn volumes(conn: &Connection, pool: &str) -> rusqlite::Result<Vec<VolumeRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT v.id, v.name, p.name, n.id, n.name, v.description, v.project
         FROM storage_volumes v
         JOIN storage_pools p ON p.id = v.storage_pool_id
         JOIN nodes n ON n.id = v.node_id
         WHERE p.name = ? AND v.type = ? ORDER BY v.name, n.id",
    )?;
    let rows: Vec<(i64, VolumeRow)> = stmt
        .query_map(rusqlite::params![pool, TYPE_CUSTOM], |r| {
            Ok((
                r.get(0)?,
                VolumeRow {
                    name: r.get(1)?,
                    pool: r.get(2)?,
                    member_id: r.get::<_, i64>(3)? as u64,
                    member: r.get(4)?,
                    description: r.get(5)?,
                    project: r.get(6)?,
                    config: BTreeMap::new(),
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut config = conn.prepare_cached(
        "SELECT key, value FROM storage_volumes_config WHERE storage_volume_id = ?",
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, mut row) in rows {
        row.config = config
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        out.push(row);
    }
    Ok(out)
}

const POOL_ID: &str = "(SELECT id FROM storage_pools WHERE name = ?)";

/// Adds custom volume `name` on member `member` of pool `pool` (the unique key refuses a
/// second one of that name on the same member: the batch fails).
pub fn insert(
    batch: &mut Batch,
    pool: &str,
    member: u64,
    name: &str,
    description: &str,
    config: &BTreeMap<String, String>,
) {
    batch.push(
        format!(
            "INSERT INTO storage_volumes (name, storage_pool_id, node_id, type, description, project, content_type)
             VALUES (?, {POOL_ID}, ?, ?, ?, 'default', 0)"
        ),
        vec![
            name.into(),
            pool.into(),
            member.into(),
            TYPE_CUSTOM.into(),
            description.into(),
        ],
    );
    for (k, v) in config {
        batch.push(
            format!(
                "INSERT INTO storage_volumes_config (storage_volume_id, key, value)
                 VALUES ((SELECT id FROM storage_volumes WHERE storage_pool_id = {POOL_ID}
                          AND node_id = ? AND name = ? AND type = ?), ?, ?)"
            ),
            vec![
                pool.into(),
                member.into(),
                name.into(),
                TYPE_CUSTOM.into(),
                k.into(),
                v.into(),
            ],
        );
    }
}

/// Deletes custom volume `name` on member `member` of pool `pool`.
pub fn delete(batch: &mut Batch, pool: &str, member: u64, name: &str) {
    batch.push(
        format!(
            "DELETE FROM storage_volumes WHERE storage_pool_id = {POOL_ID} AND node_id = ? AND name = ? AND type = ?"
        ),
        vec![pool.into(), member.into(), name.into(), TYPE_CUSTOM.into()],
    );
}

/// Renames custom volume `name` on member `member` of pool `pool` to `to`.
pub fn rename(batch: &mut Batch, pool: &str, member: u64, name: &str, to: &str) {
    batch.push(
        format!(
            "UPDATE storage_volumes SET name = ? WHERE storage_pool_id = {POOL_ID} AND node_id = ? AND name = ? AND type = ?"
        ),
        vec![
            to.into(),
            pool.into(),
            member.into(),
            name.into(),
            TYPE_CUSTOM.into(),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_may_live_once_per_member() {
        let mut conn = Connection::open_in_memory().unwrap();
        let steps = crate::db::global::schema::MIGRATIONS;
        crate::db::migrations::migrate(&mut conn, std::path::Path::new("test"), steps).unwrap();
        conn.execute_batch(
            "INSERT INTO nodes (id, name, address, schema, api_extensions, heartbeat, arch)
               VALUES (1, 'node1', 'a:1', 1, 1, '', 'x86_64'), (2, 'node2', 'b:1', 1, 1, '', 'x86_64');
             INSERT INTO storage_pools (id, name, driver, state) VALUES (1, 'p1', 'dir', 1);",
        )
        .unwrap();
        let run = |conn: &mut Connection, batch: &Batch| {
            let tx = conn.transaction().unwrap();
            let outcome = crate::db::batch::apply(&tx, batch).unwrap();
            tx.commit().unwrap();
            outcome
        };
        let mut batch = Batch::new();
        let cfg = BTreeMap::from([("size".to_owned(), "1GiB".to_owned())]);
        insert(&mut batch, "p1", 1, "v1", "", &cfg);
        insert(&mut batch, "p1", 2, "v1", "", &BTreeMap::new());
        assert_eq!(run(&mut conn, &batch).error, None);
        let mut twice = Batch::new();
        insert(&mut twice, "p1", 2, "v1", "", &BTreeMap::new());
        assert!(run(&mut conn, &twice).error.is_some());

        let vols = volumes(&conn, "p1").unwrap();
        assert_eq!(
            vols.iter()
                .map(|v| (v.name.as_str(), v.member.as_str()))
                .collect::<Vec<_>>(),
            [("v1", "node1"), ("v1", "node2")]
        );
        assert_eq!(vols[0].config, cfg);

        let mut batch = Batch::new();
        rename(&mut batch, "p1", 2, "v1", "v2");
        delete(&mut batch, "p1", 1, "v1");
        run(&mut conn, &batch);
        let vols = volumes(&conn, "p1").unwrap();
        assert_eq!(vols.len(), 1);
        assert_eq!((vols[0].name.as_str(), vols[0].member_id), ("v2", 2));
    }
}
