//! Networks (`networks`, `networks_config`, `networks_nodes`): each network's cluster-wide
//! row and config, and each member's own keys and state (LXD's two-phase creation).

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension};

use crate::db::batch::{Batch, SqlValue};

/// One member's part of a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberPart {
    /// The member's id.
    pub id: u64,
    /// The member's name.
    pub name: String,
    /// Its own state (`cluster::two_phase::State::to_db`).
    pub state: i64,
    /// Its member-specific keys.
    pub config: BTreeMap<String, String>,
}

/// A network with everything the two-phase rules and the API need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRow {
    /// Row id.
    pub id: i64,
    /// Project (`default`).
    pub project: String,
    /// Its name.
    pub name: String,
    /// Its type (`bridge`).
    pub kind: String,
    /// Free text.
    pub description: String,
    /// The cluster-wide state (`cluster::two_phase::State::to_db`).
    pub state: i64,
    /// Cluster-wide config (rows without a member).
    pub config: BTreeMap<String, String>,
    /// Members it is defined on, by member id.
    pub members: Vec<MemberPart>,
    /// Profiles (of its project) with a device on it, by name.
    pub profiles: Vec<String>,
}

impl NetworkRow {
    /// The part of member `name`, if the network is defined there.
    pub fn member(&self, name: &str) -> Option<&MemberPart> {
        self.members.iter().find(|m| m.name == name)
    }
}

/// Every network of `project`, by name.
pub fn list(conn: &Connection, project: &str) -> rusqlite::Result<Vec<NetworkRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, project, name, type, description, state FROM networks
         WHERE project = ? ORDER BY name",
    )?;
    let rows: Vec<NetworkRow> = stmt
        .query_map([project], |r| {
            Ok(NetworkRow {
                id: r.get(0)?,
                project: r.get(1)?,
                name: r.get(2)?,
                kind: r.get(3)?,
                description: r.get(4)?,
                state: r.get(5)?,
                config: BTreeMap::new(),
                members: Vec::new(),
                profiles: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter().map(|row| filled(conn, row)).collect()
}

/// Network `name` of `project`, if it exists.
pub fn get(conn: &Connection, project: &str, name: &str) -> rusqlite::Result<Option<NetworkRow>> {
    let row = conn
        .query_row(
            "SELECT id, project, name, type, description, state FROM networks
             WHERE project = ? AND name = ?",
            [project, name],
            |r| {
                Ok(NetworkRow {
                    id: r.get(0)?,
                    project: r.get(1)?,
                    name: r.get(2)?,
                    kind: r.get(3)?,
                    description: r.get(4)?,
                    state: r.get(5)?,
                    config: BTreeMap::new(),
                    members: Vec::new(),
                    profiles: Vec::new(),
                })
            },
        )
        .optional()?;
    row.map(|row| filled(conn, row)).transpose()
}

/// Adds a network's config and member parts to its row.
fn filled(conn: &Connection, mut row: NetworkRow) -> rusqlite::Result<NetworkRow> {
    let mut stmt = conn.prepare_cached(
        "SELECT n.id, n.name, nn.state FROM networks_nodes nn JOIN nodes n ON n.id = nn.node_id
         WHERE nn.network_id = ? ORDER BY n.id",
    )?;
    row.members = stmt
        .query_map([row.id], |r| {
            Ok(MemberPart {
                id: r.get::<_, i64>(0)? as u64,
                name: r.get(1)?,
                state: r.get(2)?,
                config: BTreeMap::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT node_id, key, value FROM networks_config WHERE network_id = ? ORDER BY key",
    )?;
    let config = stmt.query_map([row.id], |r| {
        Ok((
            r.get::<_, Option<i64>>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?.unwrap_or_default(),
        ))
    })?;
    for entry in config {
        let (member, key, value) = entry?;
        match member {
            None => {
                row.config.insert(key, value);
            }
            Some(id) => {
                if let Some(part) = row.members.iter_mut().find(|m| m.id == id as u64) {
                    part.config.insert(key, value);
                }
            }
        }
    }
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT p.name FROM profiles p
         JOIN profiles_devices d ON d.profile_id = p.id
         JOIN profiles_devices_config c ON c.profile_device_id = d.id
         WHERE p.project = ? AND c.key IN ('network', 'parent') AND c.value = ?
         ORDER BY p.name",
    )?;
    row.profiles = stmt
        .query_map([row.project.as_str(), row.name.as_str()], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(row)
}

const NETWORK_ID: &str = "(SELECT id FROM networks WHERE project = ? AND name = ?)";

/// Defines network `name` on member `member` (Pending) with that member's own keys, adding
/// the network itself (Pending) if this is its first member.
pub fn define_on_member(
    batch: &mut Batch,
    project: &str,
    name: &str,
    kind: &str,
    member: u64,
    config: &BTreeMap<String, String>,
) {
    batch.push(
        "INSERT INTO networks (project, name, type, description, state) VALUES (?, ?, ?, '', 0)
         ON CONFLICT (project, name) DO NOTHING",
        vec![project.into(), name.into(), kind.into()],
    );
    batch.push(
        format!(
            "INSERT INTO networks_nodes (network_id, node_id, state) VALUES ({NETWORK_ID}, ?, 0)"
        ),
        vec![project.into(), name.into(), member.into()],
    );
    for (k, v) in config {
        batch.push(
            format!(
                "INSERT INTO networks_config (network_id, node_id, key, value) VALUES ({NETWORK_ID}, ?, ?, ?)"
            ),
            vec![project.into(), name.into(), member.into(), k.into(), v.into()],
        );
    }
}

/// Adds network `name` (as a direct create on a one-member cluster: no member defined it
/// first) with no member part yet.
pub fn add(batch: &mut Batch, project: &str, name: &str, kind: &str, description: &str) {
    batch.push(
        "INSERT INTO networks (project, name, type, description, state) VALUES (?, ?, ?, ?, 0)",
        vec![project.into(), name.into(), kind.into(), description.into()],
    );
}

/// Replaces the cluster-wide config and description (member keys stay).
pub fn set_global(
    batch: &mut Batch,
    id: i64,
    description: &str,
    config: &BTreeMap<String, String>,
) {
    batch.push(
        "UPDATE networks SET description = ? WHERE id = ?",
        vec![description.into(), id.into()],
    );
    batch.push(
        "DELETE FROM networks_config WHERE network_id = ? AND node_id IS NULL",
        vec![id.into()],
    );
    for (k, v) in config {
        batch.push(
            "INSERT INTO networks_config (network_id, node_id, key, value) VALUES (?, NULL, ?, ?)",
            vec![id.into(), k.into(), v.into()],
        );
    }
}

/// Replaces member `member`'s own keys.
pub fn set_member_config(
    batch: &mut Batch,
    id: i64,
    member: u64,
    config: &BTreeMap<String, String>,
) {
    batch.push(
        "DELETE FROM networks_config WHERE network_id = ? AND node_id = ?",
        vec![id.into(), member.into()],
    );
    for (k, v) in config {
        batch.push(
            "INSERT INTO networks_config (network_id, node_id, key, value) VALUES (?, ?, ?, ?)",
            vec![id.into(), member.into(), k.into(), v.into()],
        );
    }
}

/// Sets the cluster-wide state.
pub fn set_state(batch: &mut Batch, id: i64, state: i64) {
    batch.push(
        "UPDATE networks SET state = ? WHERE id = ?",
        vec![state.into(), id.into()],
    );
}

/// Records that network `id`'s members make it as a bridge (the API's cluster-wide create).
pub fn mark_realised(batch: &mut Batch, id: i64) {
    batch.push(
        "UPDATE networks SET realised = 1 WHERE id = ?",
        vec![id.into()],
    );
}

/// The networks of `project` made as bridges in which member `member` has a Created part,
/// by name: the bridges that member must have.
pub fn realised_on(conn: &Connection, project: &str, member: u64) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT n.name FROM networks n JOIN networks_nodes nn ON nn.network_id = n.id
         WHERE n.project = ? AND n.realised = 1 AND nn.node_id = ? AND nn.state = 1
         ORDER BY n.name",
    )?;
    stmt.query_map(rusqlite::params![project, member as i64], |r| r.get(0))?
        .collect()
}

/// Sets member `member`'s own state, adding its part if it had none.
pub fn set_member_state(batch: &mut Batch, id: i64, member: u64, state: i64) {
    batch.push(
        "INSERT INTO networks_nodes (network_id, node_id, state) VALUES (?, ?, ?)
         ON CONFLICT (network_id, node_id) DO UPDATE SET state = excluded.state",
        vec![id.into(), SqlValue::from(member), state.into()],
    );
}

/// Deletes a network with its config and member parts.
pub fn delete(batch: &mut Batch, id: i64) {
    batch.push(
        "DELETE FROM networks_config WHERE network_id = ?",
        vec![id.into()],
    );
    batch.push(
        "DELETE FROM networks_nodes WHERE network_id = ?",
        vec![id.into()],
    );
    batch.push("DELETE FROM networks WHERE id = ?", vec![id.into()]);
}

/// Takes member `member`'s part out of every network (it leaves the cluster).
pub fn forget_member(batch: &mut Batch, member: u64) {
    batch.push(
        "DELETE FROM networks_config WHERE node_id = ?",
        vec![member.into()],
    );
    batch.push(
        "DELETE FROM networks_nodes WHERE node_id = ?",
        vec![member.into()],
    );
}

/// Gives member `member` (joining, or bootstrapping) a Created part of every Created
/// network: a joiner answered their member-specific keys.
pub fn created_everywhere_on(batch: &mut Batch, member: u64) {
    batch.push(
        "INSERT OR IGNORE INTO networks_nodes (network_id, node_id, state)
         SELECT id, ?, 1 FROM networks WHERE state = 1",
        vec![member.into()],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::two_phase::State;
    use crate::db::migrations;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        migrations::migrate(
            &mut conn,
            std::path::Path::new("t.db"),
            crate::db::global::schema::MIGRATIONS,
        )
        .unwrap();
        conn.execute_batch(
            "INSERT INTO nodes (id, name, address, schema, api_extensions, heartbeat, arch)
               VALUES (1, 'node1', 'a:1', 1, 1, '', 'x86_64'), (2, 'node2', 'b:1', 1, 1, '', 'x86_64');",
        )
        .unwrap();
        conn
    }

    fn apply(conn: &mut Connection, batch: Batch) {
        let tx = conn.transaction().unwrap();
        crate::db::batch::apply(&tx, &batch).unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn the_two_phases_are_stored_and_read_back() {
        let mut conn = db();
        let mut b = Batch::new();
        let keys = BTreeMap::from([("bridge.external_interfaces".to_owned(), "eth1".to_owned())]);
        define_on_member(&mut b, "default", "n1", "bridge", 1, &keys);
        define_on_member(&mut b, "default", "n1", "bridge", 2, &BTreeMap::new());
        apply(&mut conn, b);
        let row = get(&conn, "default", "n1").unwrap().unwrap();
        assert_eq!(row.state, State::Pending.to_db());
        assert_eq!(row.members.len(), 2);
        assert_eq!(row.member("node1").unwrap().config, keys);
        assert!(row.config.is_empty());

        let mut b = Batch::new();
        let global = BTreeMap::from([("ipv4.address".to_owned(), "10.9.0.1/24".to_owned())]);
        set_global(&mut b, row.id, "d", &global);
        set_state(&mut b, row.id, State::Errored.to_db());
        set_member_state(&mut b, row.id, 1, State::Created.to_db());
        apply(&mut conn, b);
        let row = get(&conn, "default", "n1").unwrap().unwrap();
        assert_eq!(row.state, State::Errored.to_db());
        assert_eq!(row.config, global);
        assert_eq!(row.description, "d");
        assert_eq!(row.member("node1").unwrap().state, State::Created.to_db());
        assert_eq!(row.member("node2").unwrap().state, State::Pending.to_db());

        let mut b = Batch::new();
        forget_member(&mut b, 1);
        apply(&mut conn, b);
        let row = get(&conn, "default", "n1").unwrap().unwrap();
        assert_eq!(row.members.len(), 1);

        let mut b = Batch::new();
        delete(&mut b, row.id);
        apply(&mut conn, b);
        assert!(list(&conn, "default").unwrap().is_empty());
    }

    #[test]
    fn a_joiner_gets_created_networks_only() {
        let mut conn = db();
        conn.execute_batch(
            "INSERT INTO networks (id, project, name, type, state) VALUES
               (1, 'default', 'made', 'bridge', 1), (2, 'default', 'waiting', 'bridge', 0);",
        )
        .unwrap();
        let mut b = Batch::new();
        created_everywhere_on(&mut b, 2);
        apply(&mut conn, b);
        let made = get(&conn, "default", "made").unwrap().unwrap();
        assert_eq!(made.member("node2").unwrap().state, State::Created.to_db());
        let waiting = get(&conn, "default", "waiting").unwrap().unwrap();
        assert!(waiting.members.is_empty());
    }

    #[test]
    fn only_networks_made_through_the_api_are_bridges_a_joiner_makes() {
        let mut conn = db();
        conn.execute_batch(
            "INSERT INTO networks (id, project, name, type, state) VALUES
               (1, 'default', 'preseed', 'bridge', 1), (2, 'default', 'made', 'bridge', 1),
               (3, 'default', 'waiting', 'bridge', 0);",
        )
        .unwrap();
        let mut b = Batch::new();
        mark_realised(&mut b, 2);
        mark_realised(&mut b, 3);
        created_everywhere_on(&mut b, 2);
        apply(&mut conn, b);
        assert_eq!(realised_on(&conn, "default", 2).unwrap(), vec!["made"]);
        assert!(realised_on(&conn, "default", 1).unwrap().is_empty());
        assert!(realised_on(&conn, "other", 2).unwrap().is_empty());
    }
}
