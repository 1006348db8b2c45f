//! The `instances` and `instances_config` tables: which member holds each instance, and
//! its configuration (`volatile.*` included, as LXD keeps it). Reads and statements.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;

use crate::db::batch::{Batch, SqlValue};

/// The one project Corral has.
pub const PROJECT: &str = "default";

/// One instance, with the member that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRow {
    /// Row id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The member holding it.
    pub node_id: u64,
    /// That member's name.
    pub location: String,
    /// That member's cluster address.
    pub address: String,
    /// Its architecture.
    pub architecture: String,
    /// Deleted when stopped.
    pub ephemeral: bool,
    /// Free text.
    pub description: String,
    /// RFC 3339 creation time.
    pub creation_date: String,
    /// RFC 3339 time of its last start ("" if never).
    pub last_use_date: String,
    /// Its configuration.
    pub config: BTreeMap<String, String>,
}

/// What a new instance's row holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInstance {
    /// Its name.
    pub name: String,
    /// The member chosen for it.
    pub node_id: u64,
    /// Its architecture.
    pub architecture: String,
    /// Free text.
    pub description: String,
    /// RFC 3339 creation time (computed before proposing).
    pub creation_date: String,
    /// Its configuration.
    pub config: BTreeMap<String, String>,
}

const SELECT: &str =
    "SELECT i.id, i.name, i.node_id, n.name, n.address, i.architecture, i.ephemeral,
        i.description, i.creation_date, i.last_use_date
 FROM instances i JOIN nodes n ON n.id = i.node_id
 WHERE i.project = 'default'";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<InstanceRow> {
    Ok(InstanceRow {
        id: r.get(0)?,
        name: r.get(1)?,
        node_id: r.get::<_, i64>(2)? as u64,
        location: r.get(3)?,
        address: r.get(4)?,
        architecture: r.get(5)?,
        ephemeral: r.get::<_, i64>(6)? != 0,
        description: r.get(7)?,
        creation_date: r.get(8)?,
        last_use_date: r.get(9)?,
        config: BTreeMap::new(),
    })
}

/// How many instances each member holds, by member name (members holding none absent).
pub fn counts(conn: &Connection) -> rusqlite::Result<BTreeMap<String, u64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT n.name, count(*) FROM instances i JOIN nodes n ON n.id = i.node_id GROUP BY n.name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
    })?;
    rows.collect()
}

/// Every instance, by name, with its configuration.
pub fn instances(conn: &Connection) -> rusqlite::Result<Vec<InstanceRow>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} ORDER BY i.name"))?;
    let mut rows: Vec<InstanceRow> = stmt.query_map([], row)?.collect::<Result<_, _>>()?;
    let mut config: BTreeMap<i64, BTreeMap<String, String>> = BTreeMap::new();
    let mut stmt = conn.prepare_cached("SELECT instance_id, key, value FROM instances_config")?;
    let pairs = stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get(2)?))
    })?;
    for pair in pairs {
        let (id, key, value) = pair?;
        config.entry(id).or_default().insert(key, value);
    }
    for r in &mut rows {
        r.config = config.remove(&r.id).unwrap_or_default();
    }
    Ok(rows)
}

/// The MAC addresses (`volatile.*.hwaddr`) of the instances member `node` holds.
pub fn member_hwaddrs(conn: &Connection, node: u64) -> rusqlite::Result<BTreeSet<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.value FROM instances_config c JOIN instances i ON i.id = c.instance_id
         WHERE i.node_id = ? AND c.key LIKE 'volatile.%.hwaddr'",
    )?;
    stmt.query_map([node as i64], |r| r.get(0))?.collect()
}

/// One instance by name.
pub fn instance(conn: &Connection, name: &str) -> rusqlite::Result<Option<InstanceRow>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} AND i.name = ?"))?;
    let mut found: Option<InstanceRow> = stmt.query_map([name], row)?.next().transpose()?;
    if let Some(r) = &mut found {
        let mut stmt =
            conn.prepare_cached("SELECT key, value FROM instances_config WHERE instance_id = ?")?;
        r.config = stmt
            .query_map([r.id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
    }
    Ok(found)
}

/// The cluster groups of every member, by member id.
pub fn member_groups(conn: &Connection) -> rusqlite::Result<BTreeMap<u64, Vec<String>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT ng.node_id, g.name FROM nodes_cluster_groups ng
         JOIN cluster_groups g ON g.id = ng.group_id ORDER BY g.name",
    )?;
    let mut out: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for pair in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
        let (id, name) = pair?;
        out.entry(id as u64).or_default().push(name);
    }
    Ok(out)
}

/// Every cluster group's name.
pub fn group_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT name FROM cluster_groups ORDER BY name")?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

fn instance_id(name: &str) -> (String, SqlValue) {
    (
        "(SELECT id FROM instances WHERE project = 'default' AND name = ?)".to_owned(),
        name.into(),
    )
}

/// Records a new instance and its configuration; the first statement affects no row when
/// an instance of that name exists already (the caller checks it, so a name taken between
/// its read and this write is told apart from success).
pub fn create(batch: &mut Batch, new: &NewInstance) {
    batch.push(
        "INSERT INTO instances (node_id, name, project, type, architecture, ephemeral, description, creation_date)
         SELECT ?, ?, 'default', 0, ?, 0, ?, ?
         WHERE NOT EXISTS (SELECT 1 FROM instances WHERE project = 'default' AND name = ?)",
        vec![
            new.node_id.into(),
            (&new.name).into(),
            (&new.architecture).into(),
            (&new.description).into(),
            (&new.creation_date).into(),
            (&new.name).into(),
        ],
    );
    for (key, value) in &new.config {
        set_config(batch, &new.name, key, value);
    }
}

/// Sets one configuration key.
pub fn set_config(batch: &mut Batch, name: &str, key: &str, value: &str) {
    let (id, param) = instance_id(name);
    batch.push(
        format!(
            "INSERT INTO instances_config (instance_id, key, value) VALUES ({id}, ?, ?)
             ON CONFLICT (instance_id, key) DO UPDATE SET value = excluded.value"
        ),
        vec![param, key.into(), value.into()],
    );
}

/// Removes one configuration key.
pub fn unset_config(batch: &mut Batch, name: &str, key: &str) {
    let (id, param) = instance_id(name);
    batch.push(
        format!("DELETE FROM instances_config WHERE instance_id = {id} AND key = ?"),
        vec![param, key.into()],
    );
}

/// Records the time it was last started.
pub fn set_last_use(batch: &mut Batch, name: &str, when: &str) {
    batch.push(
        "UPDATE instances SET last_use_date = ? WHERE project = 'default' AND name = ?",
        vec![when.into(), name.into()],
    );
}

/// Sets its description.
pub fn set_description(batch: &mut Batch, name: &str, description: &str) {
    batch.push(
        "UPDATE instances SET description = ? WHERE project = 'default' AND name = ?",
        vec![description.into(), name.into()],
    );
}

/// Deletes an instance (its configuration goes with it).
pub fn delete(batch: &mut Batch, name: &str) {
    let (id, param) = instance_id(name);
    batch.push(
        format!("DELETE FROM instances_config WHERE instance_id = {id}"),
        vec![param],
    );
    batch.push(
        "DELETE FROM instances WHERE project = 'default' AND name = ?",
        vec![name.into()],
    );
}

/// Moves an instance's row to another member (after its root filesystem moved there).
pub fn relocate(batch: &mut Batch, name: &str, node_id: u64) {
    batch.push(
        "UPDATE instances SET node_id = ? WHERE project = 'default' AND name = ?",
        vec![node_id.into(), name.into()],
    );
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A database with the instance tables and two members, m1 and m2.
    pub(crate) fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(crate::db::global::schema::SCHEMA)
            .unwrap();
        conn.execute_batch(crate::db::global::schema::IMAGES_AND_INSTANCES)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO nodes (id, name, address, schema, api_extensions, heartbeat, arch)
             VALUES (1, 'm1', '127.0.0.1:8443', 1, 1, '', 'x86_64'),
                    (2, 'm2', '127.0.0.2:8443', 1, 1, '', 'x86_64');
             INSERT INTO nodes_cluster_groups (node_id, group_id) VALUES (1, 1), (2, 1);",
        )
        .unwrap();
        conn
    }

    fn apply(conn: &Connection, batch: &Batch) -> Vec<usize> {
        batch
            .statements
            .iter()
            .map(|s| {
                conn.execute(&s.sql, rusqlite::params_from_iter(s.params.iter()))
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn an_instance_is_recorded_configured_moved_and_deleted() {
        let conn = db();
        let mut batch = Batch::new();
        let new = NewInstance {
            name: "c1".into(),
            node_id: 2,
            architecture: "x86_64".into(),
            description: String::new(),
            creation_date: "2026-12-01T00:00:00Z".into(),
            config: BTreeMap::from([("volatile.base_image".into(), "abc".into())]),
        };
        create(&mut batch, &new);
        assert_eq!(apply(&conn, &batch)[0], 1);
        // The same name again affects no row.
        assert_eq!(apply(&conn, &batch)[0], 0);
        let mut batch = Batch::new();
        set_config(&mut batch, "c1", "limits.cpu", "1");
        set_config(&mut batch, "c1", "volatile.base_image", "def");
        apply(&conn, &batch);
        let row = instance(&conn, "c1").unwrap().unwrap();
        assert_eq!(row.location, "m2");
        assert_eq!(row.config["limits.cpu"], "1");
        assert_eq!(row.config["volatile.base_image"], "def");
        let mut batch = Batch::new();
        unset_config(&mut batch, "c1", "limits.cpu");
        relocate(&mut batch, "c1", 1);
        apply(&conn, &batch);
        let all = instances(&conn).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].location, "m1");
        assert!(!all[0].config.contains_key("limits.cpu"));
        assert_eq!(member_groups(&conn).unwrap()[&1], ["default"]);
        let mut batch = Batch::new();
        delete(&mut batch, "c1");
        apply(&conn, &batch);
        assert!(instance(&conn, "c1").unwrap().is_none());
        let left: i64 = conn
            .query_row("SELECT count(*) FROM instances_config", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }
}
