//! The `nodes` table and its satellites (`nodes_config`, `nodes_roles`,
//! `nodes_cluster_groups`): the typed codes of its columns, its reads, and the statements
//! that change it. Domain code calls these instead of writing SQL; the statements' text is
//! what `events::lifecycle` recognises, so it changes here or not at all.

use std::collections::BTreeMap;

use rusqlite::Connection;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::db::batch::{Batch, SqlValue};

/// A member's database role: LXD's `database`, `database-standby`, or neither; stored as
/// LXD numbers it in `nodes.db_role` and `raft_nodes.role` (0, 1, 2). Voters are whatever
/// Raft's membership says; the `nodes` label tells stand-bys (promoted first) from spares
/// among the non-voters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DbRole {
    /// Replicates the log and votes (a Raft voter).
    Voter,
    /// Replicates the log without voting (a Raft learner), ready to take over a vote.
    StandBy,
    /// Outside the Raft membership.
    Spare,
}

impl DbRole {
    /// LXD's number for it.
    pub const fn code(self) -> i64 {
        match self {
            DbRole::Voter => 0,
            DbRole::StandBy => 1,
            DbRole::Spare => 2,
        }
    }

    /// The role a stored number stands for: anything unknown holds no role.
    pub const fn from_code(code: i64) -> DbRole {
        match code {
            0 => DbRole::Voter,
            1 => DbRole::StandBy,
            _ => DbRole::Spare,
        }
    }

    /// As `corrald cluster list-database` shows it.
    pub const fn word(self) -> &'static str {
        match self {
            DbRole::Voter => "voter",
            DbRole::StandBy => "stand-by",
            DbRole::Spare => "spare",
        }
    }
}

impl From<DbRole> for SqlValue {
    fn from(r: DbRole) -> Self {
        SqlValue::Integer(r.code())
    }
}

impl ToSql for DbRole {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.code()))
    }
}

impl FromSql for DbRole {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        i64::column_result(v).map(DbRole::from_code)
    }
}

/// `nodes.state`: LXD's 0 created, 1 pending, 2 evacuated, and Corral's own two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberState {
    /// A member in service.
    Created,
    /// Being added (LXD's; Corral adds members in one step).
    Pending,
    /// Evacuated.
    Evacuated,
    /// Shutting down gracefully; cleared when it starts again.
    Stopping,
    /// Left out of the database by `recover-from-quorum-loss`: offline whatever its last
    /// heartbeat says, until it is removed.
    Lost,
}

impl MemberState {
    /// The number stored for it.
    pub const fn code(self) -> i64 {
        match self {
            MemberState::Created => 0,
            MemberState::Pending => 1,
            MemberState::Evacuated => 2,
            MemberState::Stopping => 3,
            MemberState::Lost => 4,
        }
    }

    /// The state a stored number stands for.
    pub const fn from_code(code: i64) -> Option<MemberState> {
        Some(match code {
            0 => MemberState::Created,
            1 => MemberState::Pending,
            2 => MemberState::Evacuated,
            3 => MemberState::Stopping,
            4 => MemberState::Lost,
            _ => return None,
        })
    }
}

impl From<MemberState> for SqlValue {
    fn from(s: MemberState) -> Self {
        SqlValue::Integer(s.code())
    }
}

impl ToSql for MemberState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.code()))
    }
}

impl FromSql for MemberState {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        let code = i64::column_result(v)?;
        MemberState::from_code(code).ok_or(FromSqlError::OutOfRange(code))
    }
}

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
    /// Its state (created, evacuated, stopping...).
    pub state: MemberState,
    /// Architecture name.
    pub arch: String,
    /// Failure domain name.
    pub failure_domain: String,
    /// Database role label the rebalance rule gave it.
    pub db_role: DbRole,
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
            state: MemberState::Created,
            arch: "x86_64".into(),
            failure_domain: "default".into(),
            db_role: DbRole::Voter,
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

/// Every member, by name, with its config, roles and groups. Each table is read once for
/// all members: statements without a bound member id are planned once and kept (SQLite
/// plans a `node_id = ?` statement again at every run), and the cost does not grow with a
/// statement per member.
pub fn members(conn: &Connection) -> rusqlite::Result<Vec<MemberRow>> {
    let mut members = member_rows(conn)?;
    let mut config: BTreeMap<u64, BTreeMap<String, String>> = BTreeMap::new();
    let mut stmt = conn.prepare_cached("SELECT node_id, key, value FROM nodes_config")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let id = r.get::<_, i64>(0)? as u64;
        config.entry(id).or_default().insert(r.get(1)?, r.get(2)?);
    }
    let mut roles = by_member(
        conn,
        "SELECT node_id, role FROM nodes_roles ORDER BY node_id, role",
    )?;
    let mut groups = by_member(
        conn,
        // In the order the member joined them, as LXD lists a member's groups.
        "SELECT n.node_id, g.name FROM cluster_groups g JOIN nodes_cluster_groups n ON n.group_id = g.id
         ORDER BY n.node_id, n.rowid",
    )?;
    for m in &mut members {
        m.config = config.remove(&m.id).unwrap_or_default();
        m.roles = roles.remove(&m.id).unwrap_or_default();
        m.groups = groups.remove(&m.id).unwrap_or_default();
    }
    Ok(members)
}

/// One member by id (its row only).
pub fn member_by_id(conn: &Connection, id: u64) -> rusqlite::Result<Option<MemberRow>> {
    Ok(member_rows(conn)?.into_iter().find(|m| m.id == id))
}

/// `(node_id, text)` rows gathered per member, in the order the statement gives.
fn by_member(conn: &Connection, sql: &str) -> rusqlite::Result<BTreeMap<u64, Vec<String>>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query([])?;
    let mut gathered: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    while let Some(r) = rows.next()? {
        let id = r.get::<_, i64>(0)? as u64;
        gathered.entry(id).or_default().push(r.get(1)?);
    }
    Ok(gathered)
}

/// Every cluster group's name.
pub fn cluster_groups(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT name FROM cluster_groups ORDER BY name")?;
    stmt.query_map([], |r| r.get(0))?.collect()
}

/// Labels member `id` with database role `role` (the rebalance rule's and handovers' record).
pub fn set_db_role(batch: &mut Batch, id: u64, role: DbRole) {
    batch.push(
        "UPDATE nodes SET db_role = ? WHERE id = ?",
        vec![role.into(), id.into()],
    );
}

/// Records one heartbeat round: time `heartbeat` (RFC 3339) for every member that answered,
/// each with its clock skew. One statement whatever the member count: the round is a Raft
/// entry that every database member applies and every spare is sent, so at 100 members a
/// statement per member made it some 11 KB, each time.
pub fn record_heartbeats(batch: &mut Batch, heartbeat: &str, answers: &[(u64, i64)]) {
    let skews: serde_json::Map<String, serde_json::Value> = answers
        .iter()
        .map(|(id, skew)| (id.to_string(), (*skew).into()))
        .collect();
    batch.push(
        "UPDATE nodes SET heartbeat = ?1, clock_skew_ms = answer.value \
         FROM json_each(?2) AS answer WHERE nodes.id = CAST(answer.key AS INTEGER)",
        vec![
            heartbeat.into(),
            serde_json::Value::Object(skews).to_string().into(),
        ],
    );
}

/// Marks member `id` as `state` if it is in service (not evacuated, lost or stopping).
pub fn set_state_if_created(batch: &mut Batch, id: u64, state: MemberState) {
    batch.push(
        "UPDATE nodes SET state = ? WHERE id = ? AND state = 0",
        vec![state.into(), id.into()],
    );
}

/// Moves member `id` from state `from` to `to` (evacuation, restore); changes nothing
/// when it is not in `from`, which the outcome's row count tells.
pub fn set_state_from(batch: &mut Batch, id: u64, from: MemberState, to: MemberState) {
    batch.push(
        "UPDATE nodes SET state = ? WHERE id = ? AND state = ?",
        vec![to.into(), id.into(), from.into()],
    );
}

/// A member being admitted: its row as the leader records it on accepting the join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted<'a> {
    /// Raft id given to it.
    pub id: u64,
    /// Its name.
    pub name: &'a str,
    /// Its cluster address.
    pub address: &'a str,
    /// Schema version it runs.
    pub schema: i64,
    /// API extensions it runs.
    pub api_extensions: i64,
    /// RFC 3339 time of admission (its first heartbeat).
    pub heartbeat: &'a str,
    /// Its architecture.
    pub arch: &'a str,
}

/// Adds an admitted member (a spare until the rebalance rule says otherwise) to the default
/// cluster group.
pub fn admit(batch: &mut Batch, m: &Admitted<'_>) {
    batch.push(
        "INSERT INTO nodes (id, name, address, schema, api_extensions, heartbeat, arch, db_role)
         VALUES (?, ?, ?, ?, ?, ?, ?, 2)",
        vec![
            m.id.into(),
            m.name.into(),
            m.address.into(),
            m.schema.into(),
            m.api_extensions.into(),
            m.heartbeat.into(),
            m.arch.into(),
        ],
    );
    batch.push(
        "INSERT INTO nodes_cluster_groups (node_id, group_id) VALUES (?, 1)",
        vec![m.id.into()],
    );
}

/// Records member `id`'s answer to a member-specific key of a storage pool or network
/// (`entity` is `storage-pool` or `network`, as the join request names it).
pub fn answer_member_config(
    batch: &mut Batch,
    id: u64,
    entity: &str,
    name: &str,
    key: &str,
    value: &str,
) {
    let (table, owner, key_col) = match entity {
        "storage-pool" => (
            "storage_pools_config",
            "(SELECT id FROM storage_pools WHERE name = ?)",
            "storage_pool_id",
        ),
        _ => (
            "networks_config",
            "(SELECT id FROM networks WHERE name = ?)",
            "network_id",
        ),
    };
    batch.push(
        format!("INSERT INTO {table} ({key_col}, node_id, key, value) VALUES ({owner}, ?, ?, ?)"),
        vec![name.into(), SqlValue::from(id), key.into(), value.into()],
    );
}

/// Removes member `id` (its config, roles and groups go with it).
pub fn remove(batch: &mut Batch, id: u64) {
    batch.push("DELETE FROM nodes WHERE id = ?", vec![id.into()]);
}

/// Removes the member named `name`.
pub fn remove_named(batch: &mut Batch, name: &str) {
    batch.push("DELETE FROM nodes WHERE name = ?", vec![name.into()]);
}

/// Gives member `id` its cluster name and address (a server becoming a cluster's first member).
pub fn set_identity(batch: &mut Batch, id: u64, name: &str, address: &str) {
    batch.push(
        "UPDATE nodes SET name = ?, address = ? WHERE id = ?",
        vec![name.into(), address.into(), SqlValue::from(id)],
    );
}

/// Records member `id`'s new cluster address (a running member moved).
pub fn set_address(batch: &mut Batch, id: u64, address: &str) {
    batch.push(
        "UPDATE nodes SET address = ? WHERE id = ?",
        vec![address.into(), SqlValue::from(id)],
    );
}

/// Records a rewrite of the Raft configuration on a stopped member's replica (outside
/// Raft: `corrald cluster edit`, `recover-from-quorum-loss`): the members `kept` get their
/// address and role label; the others are declared lost, offline however recent their last
/// heartbeat, which is kept so that their status still says when they were last heard of.
pub fn record_recovery(conn: &Connection, kept: &[(u64, &str, DbRole)]) -> rusqlite::Result<()> {
    for (id, address, role) in kept {
        conn.execute(
            "UPDATE nodes SET address = ?, db_role = ? WHERE id = ?",
            rusqlite::params![address, role, *id as i64],
        )?;
    }
    let ids: Vec<String> = kept.iter().map(|(id, _, _)| id.to_string()).collect();
    conn.execute(
        &format!(
            "UPDATE nodes SET state = ?, db_role = ? WHERE id NOT IN ({})",
            ids.join(",")
        ),
        rusqlite::params![MemberState::Lost, DbRole::Spare],
    )?;
    Ok(())
}

/// Renames member `old` to `new`.
pub fn rename(batch: &mut Batch, old: &str, new: &str) {
    batch.push(
        "UPDATE nodes SET name = ? WHERE name = ?",
        vec![new.into(), old.into()],
    );
}

/// Records a standalone server's own row (id `id`, named `name`), if it has none.
pub fn add_standalone(
    batch: &mut Batch,
    id: u64,
    name: &str,
    version: (i64, i64),
    heartbeat: &str,
) {
    batch.push(
        "INSERT OR IGNORE INTO nodes (id, name, address, schema, api_extensions, heartbeat, arch)
         VALUES (?, ?, '0.0.0.0', ?, ?, ?, ?)",
        vec![
            id.into(),
            name.into(),
            version.0.into(),
            version.1.into(),
            heartbeat.into(),
            std::env::consts::ARCH.into(),
        ],
    );
    batch.push(
        "INSERT OR IGNORE INTO nodes_cluster_groups (node_id, group_id) VALUES (?, 1)",
        vec![id.into()],
    );
}

/// Records that member `id` runs `version`, heard from it at `heartbeat`, and is no longer
/// stopping.
pub fn announce(batch: &mut Batch, id: u64, version: (i64, i64), heartbeat: &str) {
    batch.push(
        "UPDATE nodes SET schema = ?, api_extensions = ?, heartbeat = ?,
         state = CASE WHEN state = 3 THEN 0 ELSE state END WHERE id = ?",
        vec![
            version.0.into(),
            version.1.into(),
            heartbeat.into(),
            id.into(),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_lxds_and_read_back() {
        for (role, code) in [(DbRole::Voter, 0), (DbRole::StandBy, 1), (DbRole::Spare, 2)] {
            assert_eq!((role.code(), DbRole::from_code(code)), (code, role));
        }
        assert_eq!(DbRole::from_code(9), DbRole::Spare, "unknown holds no role");
        for code in 0..=4 {
            assert_eq!(
                MemberState::from_code(code).map(MemberState::code),
                Some(code)
            );
        }
        assert_eq!(MemberState::from_code(5), None);
    }

    #[test]
    fn rows_read_their_typed_columns() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(crate::db::global::schema::SCHEMA)
            .unwrap();
        let mut batch = Batch::new();
        batch.push(
            "INSERT INTO nodes (id, name, address, schema, api_extensions, heartbeat, arch, state, db_role)
             VALUES (1, 'a', 'x:1', 1, 1, '', 'x86_64', 2, 1)",
            vec![],
        );
        set_db_role(&mut batch, 1, DbRole::Voter);
        let mut conn = conn;
        let tx = conn.transaction().unwrap();
        assert!(
            crate::db::batch::apply(&tx, &batch)
                .unwrap()
                .error
                .is_none()
        );
        tx.commit().unwrap();
        let row = &member_rows(&conn).unwrap()[0];
        assert_eq!(
            (row.state, row.db_role),
            (MemberState::Evacuated, DbRole::Voter)
        );
    }

    /// A heartbeat round is one statement: each member that answered gets the round's time
    /// and its own skew; one that did not keeps what it had.
    #[test]
    fn a_heartbeat_round_records_each_answer_in_one_statement() {
        /// The answers of a round (member id, skew).
        type Answers = &'static [(u64, i64)];
        /// What each of the three members holds after the round: heartbeat, skew.
        type Held = [(&'static str, i64); 3];
        let cases: [(&str, Answers, Held); 4] = [
            ("nobody", &[], [("old", 5), ("old", 5), ("old", 5)]),
            ("one", &[(2, -40)], [("old", 5), ("new", -40), ("old", 5)]),
            (
                "all, with a stranger",
                &[(1, 0), (2, 7), (3, 7_200_000), (9, 1)],
                [("new", 0), ("new", 7), ("new", 7_200_000)],
            ),
            (
                "negative and large ids",
                &[(3, i64::MIN), (u64::MAX, 0)],
                [("old", 5), ("old", 5), ("new", i64::MIN)],
            ),
        ];
        for (what, answers, want) in cases {
            let mut conn = Connection::open_in_memory().unwrap();
            conn.execute_batch(crate::db::global::schema::SCHEMA)
                .unwrap();
            conn.execute_batch(
                "INSERT INTO nodes (id, name, address, schema, api_extensions, heartbeat, arch, clock_skew_ms)
                 VALUES (1, 'a', 'x:1', 1, 1, 'old', 'x86_64', 5),
                        (2, 'b', 'x:2', 1, 1, 'old', 'x86_64', 5),
                        (3, 'c', 'x:3', 1, 1, 'old', 'x86_64', 5)",
            )
            .unwrap();
            let mut batch = Batch::new();
            record_heartbeats(&mut batch, "new", answers);
            assert_eq!(batch.statements.len(), 1, "{what}");
            let tx = conn.transaction().unwrap();
            let outcome = crate::db::batch::apply(&tx, &batch).unwrap();
            assert!(outcome.error.is_none(), "{what}: {:?}", outcome.error);
            tx.commit().unwrap();
            let got: Vec<(String, i64)> = member_rows(&conn)
                .unwrap()
                .into_iter()
                .map(|r| (r.heartbeat, r.clock_skew_ms))
                .collect();
            let want: Vec<(String, i64)> = want.iter().map(|(h, s)| (h.to_string(), *s)).collect();
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn each_member_gets_its_own_config_roles_and_groups_in_order() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(crate::db::global::schema::SCHEMA)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO nodes (id, name, address, schema, api_extensions, heartbeat, arch)
               VALUES (3, 'a', 'x:3', 1, 1, '', 'x86_64'), (1, 'c', 'x:1', 1, 1, '', 'x86_64'),
                      (2, 'b', 'x:2', 1, 1, '', 'x86_64');
             INSERT INTO cluster_groups (id, name) VALUES (2, 'zeta'), (3, 'alpha');
             INSERT INTO nodes_cluster_groups (node_id, group_id) VALUES (1, 2), (1, 1), (1, 3), (3, 1);
             INSERT INTO nodes_roles (node_id, role) VALUES (3, 'ovn-chassis'), (3, 'event-hub');
             INSERT INTO nodes_config (node_id, key, value) VALUES (1, 'k2', 'v2'), (3, 'k', 'v'),
                                                                   (1, 'k1', 'v1');",
        )
        .unwrap();
        let got: Vec<_> = members(&conn)
            .unwrap()
            .into_iter()
            .map(|m| {
                (
                    m.name,
                    m.config.into_iter().collect::<Vec<_>>(),
                    m.roles,
                    m.groups,
                )
            })
            .collect();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let kv = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            got,
            vec![
                (
                    "a".to_string(),
                    kv(&[("k", "v")]),
                    s(&["event-hub", "ovn-chassis"]),
                    s(&["default"])
                ),
                ("b".to_string(), kv(&[]), s(&[]), s(&[])),
                (
                    "c".to_string(),
                    kv(&[("k1", "v1"), ("k2", "v2")]),
                    s(&[]),
                    s(&["zeta", "default", "alpha"])
                ),
            ]
        );
    }
}
