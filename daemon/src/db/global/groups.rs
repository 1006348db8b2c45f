//! The `cluster_groups` and `nodes_cluster_groups` tables: cluster groups and which members
//! belong to them; and the instance counts placement reads per member.

use std::collections::BTreeMap;

use rusqlite::Connection;

use crate::db::batch::{Batch, placeholders};

/// The group every member joins, which always exists (id 1, made with the schema).
pub const DEFAULT_GROUP: &str = "default";

/// A cluster group as stored, with its members (by name, in member id order) and the
/// instances placed through it (`volatile.cluster.group`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    /// Its name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Names of its members.
    pub members: Vec<String>,
    /// Names of the instances placed through it.
    pub instances: Vec<String>,
}

/// Every group, by name.
pub fn groups(conn: &Connection) -> rusqlite::Result<Vec<GroupRow>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, name, description FROM cluster_groups ORDER BY name")?;
    let rows: Vec<(i64, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut members: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT ng.group_id, n.name FROM nodes_cluster_groups ng JOIN nodes n ON n.id = ng.node_id
         ORDER BY ng.group_id, n.id",
    )?;
    let mut found = stmt.query([])?;
    while let Some(r) = found.next()? {
        members.entry(r.get(0)?).or_default().push(r.get(1)?);
    }
    let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT c.value, i.name FROM instances_config c JOIN instances i ON i.id = c.instance_id
         WHERE c.key = 'volatile.cluster.group' ORDER BY i.name",
    )?;
    let mut found = stmt.query([])?;
    while let Some(r) = found.next()? {
        used.entry(r.get(0)?).or_default().push(r.get(1)?);
    }
    Ok(rows
        .into_iter()
        .map(|(id, name, description)| GroupRow {
            members: members.remove(&id).unwrap_or_default(),
            instances: used.remove(&name).unwrap_or_default(),
            name,
            description,
        })
        .collect())
}

/// Creates group `name` with `members` (names of existing members).
pub fn create(batch: &mut Batch, name: &str, description: &str, members: &[String]) {
    batch.push(
        "INSERT INTO cluster_groups (name, description) VALUES (?, ?)",
        vec![name.into(), description.into()],
    );
    for member in members {
        add_member(batch, name, member);
    }
}

/// Adds member `member` to group `group` (nothing if it is in it already). Rows keep the
/// order members were added in, which is the order a member's groups are listed in.
pub fn add_member(batch: &mut Batch, group: &str, member: &str) {
    batch.push(ADD_MEMBER, vec![member.into(), group.into()]);
}

/// Written with a lookup per name rather than a join of the two tables: SQLite plans such a
/// join on the values bound, so it prepared the statement again at every member edit (seen
/// in the leader's write profile).
const ADD_MEMBER: &str = "INSERT OR IGNORE INTO nodes_cluster_groups (node_id, group_id)
     SELECT node, grp FROM (SELECT (SELECT id FROM nodes WHERE name = ?1) AS node,
                                   (SELECT id FROM cluster_groups WHERE name = ?2) AS grp)
      WHERE node IS NOT NULL AND grp IS NOT NULL";

/// Takes member `member` out of group `group`.
pub fn remove_member(batch: &mut Batch, group: &str, member: &str) {
    batch.push(
        "DELETE FROM nodes_cluster_groups
         WHERE node_id = (SELECT id FROM nodes WHERE name = ?)
           AND group_id = (SELECT id FROM cluster_groups WHERE name = ?)",
        vec![member.into(), group.into()],
    );
}

/// Sets member `member`'s groups to `groups`: those it leaves are dropped, those it joins
/// added after the ones it keeps (as LXD keeps them, so its list reads in joining order).
/// Guarded: should a group named be gone by then (renamed meanwhile), the batch fails
/// rather than leave the member in no group.
pub fn set_member_groups(batch: &mut Batch, member: &str, groups: &[String]) {
    let mut params: Vec<crate::db::batch::SqlValue> = vec![member.into()];
    params.extend(groups.iter().map(Into::into));
    let marks = placeholders(groups.len());
    batch.push(
        format!(
            "DELETE FROM nodes_cluster_groups
             WHERE node_id = (SELECT id FROM nodes WHERE name = ?)
               AND group_id NOT IN (SELECT id FROM cluster_groups WHERE name IN ({marks}))"
        ),
        params,
    );
    for group in groups {
        add_member(batch, group, member);
    }
    guard_grouped(batch, &[member.to_owned()]);
}

/// What the database says when [`guard_grouped`] refuses a batch.
pub const UNGROUPED_MEMBER: &str = "NOT NULL constraint failed: nodes_cluster_groups.node_id";

/// Ends a batch with a guard: if any of `members` would be left in no group, the batch
/// fails as a whole (with [`UNGROUPED_MEMBER`]), whatever changed since it was checked.
pub fn guard_grouped(batch: &mut Batch, members: &[String]) {
    for member in members {
        batch.push(
            "INSERT INTO nodes_cluster_groups (node_id, group_id)
             SELECT NULL, NULL FROM nodes n WHERE n.name = ?
                AND NOT EXISTS (SELECT 1 FROM nodes_cluster_groups x WHERE x.node_id = n.id)",
            vec![member.into()],
        );
    }
}

/// Deletes group `name` only if no member belongs to it and no instance was placed
/// through it (the statement affects no row otherwise).
pub fn delete_if_unused(batch: &mut Batch, name: &str) {
    batch.push(
        "DELETE FROM cluster_groups WHERE name = ?
            AND NOT EXISTS (SELECT 1 FROM nodes_cluster_groups ng WHERE ng.group_id = cluster_groups.id)
            AND NOT EXISTS (SELECT 1 FROM instances_config c
                            WHERE c.key = 'volatile.cluster.group' AND c.value = cluster_groups.name)",
        vec![name.into()],
    );
}

/// Changes group `name`'s description.
pub fn set_description(batch: &mut Batch, name: &str, description: &str) {
    batch.push(
        "UPDATE cluster_groups SET description = ? WHERE name = ?",
        vec![description.into(), name.into()],
    );
}

/// Renames group `old` to `new`.
pub fn rename(batch: &mut Batch, old: &str, new: &str) {
    batch.push(
        "UPDATE cluster_groups SET name = ? WHERE name = ?",
        vec![new.into(), old.into()],
    );
}

/// Deletes group `name` (its memberships go with it).
pub fn delete(batch: &mut Batch, name: &str) {
    batch.push(
        "DELETE FROM cluster_groups WHERE name = ?",
        vec![name.into()],
    );
}

/// How many instances each member holds, by member id (members with none are absent).
pub fn instance_counts(conn: &Connection) -> rusqlite::Result<BTreeMap<u64, u64>> {
    let mut stmt =
        conn.prepare_cached("SELECT node_id, COUNT(*) FROM instances GROUP BY node_id")?;
    stmt.query_map([], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
    })?
    .collect()
}

/// The names of the instances member `id` holds, by name.
pub fn instances_on(conn: &Connection, id: u64) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT name FROM instances WHERE node_id = ? ORDER BY name")?;
    stmt.query_map([id as i64], |r| r.get(0))?.collect()
}

/// Forgets what member `id` held, before its row is deleted by a forced removal (LXD's
/// clearing of a member): its instances, and the images only it held.
pub fn clear_member(batch: &mut Batch, id: u64) {
    batch.push("DELETE FROM instances WHERE node_id = ?", vec![id.into()]);
    batch.push(
        "DELETE FROM images WHERE id IN (SELECT image_id FROM images_nodes WHERE node_id = ?)
           AND id NOT IN (SELECT image_id FROM images_nodes WHERE node_id <> ?)",
        vec![id.into(), id.into()],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A global database at the current schema with three members in `default`.
    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        let steps = crate::db::global::schema::MIGRATIONS;
        crate::db::migrations::migrate(&mut conn, std::path::Path::new("test"), steps).unwrap();
        for id in 1..=3 {
            conn.execute(
                "INSERT INTO nodes (id, name, address, schema, api_extensions, heartbeat, arch)
                 VALUES (?, ?, ?, 1, 1, '', 'x86_64')",
                rusqlite::params![id, format!("node{id}"), format!("127.0.0.{id}:8443")],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO nodes_cluster_groups (node_id, group_id) VALUES (?, 1)",
                [id],
            )
            .unwrap();
        }
        conn
    }

    fn apply(conn: &mut Connection, batch: Batch) {
        let tx = conn.transaction().unwrap();
        let outcome = crate::db::batch::apply(&tx, &batch).unwrap();
        assert!(outcome.error.is_none(), "{:?}", outcome.error);
        tx.commit().unwrap();
    }

    fn member_groups(conn: &Connection, member: &str) -> Vec<String> {
        let rows = crate::db::global::nodes::members(conn).unwrap();
        rows.into_iter().find(|m| m.name == member).unwrap().groups
    }

    #[test]
    fn groups_keep_members_and_member_order_as_lxd() {
        let mut conn = db();
        let mut b = Batch::new();
        create(&mut b, "gpu", "", &[]);
        set_member_groups(&mut b, "node1", &["gpu".into()]);
        apply(&mut conn, b);
        let all = groups(&conn).unwrap();
        assert_eq!(
            all.iter()
                .map(|g| (g.name.as_str(), g.members.clone()))
                .collect::<Vec<_>>(),
            [
                ("default", vec!["node2".to_owned(), "node3".to_owned()]),
                ("gpu", vec!["node1".to_owned()])
            ]
        );
        // LXD lists node1's groups as "gpu", "default" after `assign node1 default,gpu`.
        let mut b = Batch::new();
        set_member_groups(&mut b, "node1", &["default".into(), "gpu".into()]);
        apply(&mut conn, b);
        assert_eq!(member_groups(&conn, "node1"), ["gpu", "default"]);

        let mut b = Batch::new();
        remove_member(&mut b, "gpu", "node1");
        add_member(&mut b, "gpu", "node2");
        add_member(&mut b, "gpu", "node2");
        rename(&mut b, "gpu", "fast");
        set_description(&mut b, "fast", "quick ones");
        apply(&mut conn, b);
        let fast = groups(&conn).unwrap().pop().unwrap();
        assert_eq!(
            (fast.name.as_str(), fast.description.as_str(), fast.members),
            ("fast", "quick ones", vec!["node2".to_owned()])
        );
        let mut b = Batch::new();
        delete(&mut b, "fast");
        apply(&mut conn, b);
        assert_eq!(member_groups(&conn, "node2"), ["default"]);
        assert_eq!(groups(&conn).unwrap().len(), 1);
    }

    #[test]
    fn guards_refuse_an_ungrouped_member_and_a_used_group() {
        let mut conn = db();
        let mut b = Batch::new();
        set_member_groups(&mut b, "node1", &[]);
        guard_grouped(&mut b, &["node1".into()]);
        let tx = conn.transaction().unwrap();
        let outcome = crate::db::batch::apply(&tx, &b).unwrap();
        tx.commit().unwrap();
        assert!(
            outcome
                .error
                .as_deref()
                .unwrap_or("")
                .contains(UNGROUPED_MEMBER),
            "{:?}",
            outcome.error
        );
        assert_eq!(member_groups(&conn, "node1"), ["default"]);

        let mut b = Batch::new();
        create(&mut b, "gpu", "", &["node1".into()]);
        delete_if_unused(&mut b, "gpu");
        apply(&mut conn, b);
        assert_eq!(
            groups(&conn).unwrap().len(),
            2,
            "a group with a member stays"
        );
        let mut b = Batch::new();
        remove_member(&mut b, "gpu", "node1");
        delete_if_unused(&mut b, "gpu");
        apply(&mut conn, b);
        assert_eq!(groups(&conn).unwrap().len(), 1);
    }

    #[test]
    fn counts_and_clearing_follow_instances() {
        let mut conn = db();
        for (i, node) in [(1, 2), (2, 2), (3, 3)] {
            conn.execute(
                "INSERT INTO instances (id, node_id, name, architecture, creation_date)
                 VALUES (?, ?, ?, 'x86_64', '')",
                rusqlite::params![i, node, format!("c{i}")],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO instances_config (instance_id, key, value) VALUES (3, 'volatile.cluster.group', 'default')",
            [],
        )
        .unwrap();
        assert_eq!(
            instance_counts(&conn).unwrap(),
            BTreeMap::from([(2, 2), (3, 1)])
        );
        assert_eq!(instances_on(&conn, 2).unwrap(), ["c1", "c2"]);
        assert_eq!(groups(&conn).unwrap()[0].instances, ["c3"]);
        let mut b = Batch::new();
        clear_member(&mut b, 2);
        apply(&mut conn, b);
        assert!(instances_on(&conn, 2).unwrap().is_empty());
        assert_eq!(instances_on(&conn, 3).unwrap(), ["c3"]);
    }

    #[test]
    fn adding_a_member_to_a_group_needs_both_and_is_prepared_once() {
        let mut conn = db();
        let mut b = Batch::new();
        create(&mut b, "gpu", "", &[]);
        apply(&mut conn, b);
        // (group, member, whether a row is added)
        let cases = [
            ("gpu", "node1", true),
            ("gpu", "node1", false),
            ("gpu", "nobody", false),
            ("nothing", "node2", false),
            ("gpu", "node2", true),
        ];
        for (group, member, added) in cases {
            let count = |c: &Connection| -> i64 {
                c.query_row("SELECT count(*) FROM nodes_cluster_groups", [], |r| {
                    r.get(0)
                })
                .unwrap()
            };
            let before = count(&conn);
            let mut b = Batch::new();
            add_member(&mut b, group, member);
            apply(&mut conn, b);
            assert_eq!(count(&conn) - before, i64::from(added), "{group} {member}");
        }
        // Kept prepared across values: a statement planned on its bound values is prepared
        // again at each use.
        let kept = conn.prepare_cached(ADD_MEMBER).unwrap();
        assert_eq!(kept.get_status(rusqlite::StatementStatus::RePrepare), 0);
    }
}
