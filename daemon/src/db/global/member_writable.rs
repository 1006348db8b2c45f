//! A member's writable part (description, failure domain, config, roles, groups): replacing
//! it as `PUT /1.0/cluster/members/NAME` does, and the If-Match guard over it.

use std::collections::BTreeMap;

use rusqlite::Connection;

use crate::db::batch::{Batch, SqlValue, placeholders};

/// The writable part of a member, as `PUT /1.0/cluster/members/NAME` replaces it.
#[derive(Debug, Clone, Copy)]
pub struct Writable<'a> {
    /// Free text.
    pub description: &'a str,
    /// Failure domain.
    pub failure_domain: &'a str,
    /// Member configuration.
    pub config: &'a BTreeMap<String, String>,
    /// Roles that are not automatic.
    pub roles: &'a [&'a str],
    /// Cluster groups (by name).
    pub groups: &'a [String],
}

/// Replaces member `name`'s writable part. Each statement writes only what differs from the
/// row as it is when the entry is applied, so the result is the same as deleting and
/// inserting everything, but a typical edit (one key set, the rest sent back as read) leaves
/// most rows and pages untouched on every replica, instead of rewriting them all.
pub fn replace_writable(batch: &mut Batch, name: &str, w: &Writable<'_>) {
    let id_of = "(SELECT id FROM nodes WHERE name = ?)";
    batch.push(
        "UPDATE nodes SET description = ?1, failure_domain = ?2 WHERE name = ?3
            AND (description IS NOT ?1 OR failure_domain IS NOT ?2)",
        vec![w.description.into(), w.failure_domain.into(), name.into()],
    );
    let keys: Vec<&str> = w.config.keys().map(String::as_str).collect();
    batch.push(
        format!(
            "DELETE FROM nodes_config WHERE node_id = {id_of} AND key NOT IN ({})",
            placeholders(keys.len())
        ),
        named_then(name, &keys),
    );
    for (k, v) in w.config {
        batch.push(
            format!(
                "INSERT INTO nodes_config (node_id, key, value) VALUES ({id_of}, ?, ?)
                 ON CONFLICT (node_id, key) DO UPDATE SET value = excluded.value
                 WHERE value IS NOT excluded.value"
            ),
            vec![name.into(), k.into(), v.into()],
        );
    }
    batch.push(
        format!(
            "DELETE FROM nodes_roles WHERE node_id = {id_of} AND role NOT IN ({})",
            placeholders(w.roles.len())
        ),
        named_then(name, w.roles),
    );
    for role in w.roles {
        batch.push(
            format!(
                "INSERT INTO nodes_roles (node_id, role) VALUES ({id_of}, ?)
                 ON CONFLICT (node_id, role) DO NOTHING"
            ),
            vec![name.into(), (*role).into()],
        );
    }
    super::groups::set_member_groups(batch, name, w.groups);
}

/// `name`, then each of `values`, as a statement's parameters.
fn named_then(name: &str, values: &[&str]) -> Vec<SqlValue> {
    std::iter::once(name)
        .chain(values.iter().copied())
        .map(Into::into)
        .collect()
}

/// The stored writable part of member `?1` (description, failure domain, config, the roles
/// that are not automatic, groups) as one canonical JSON text: what an If-Match guards.
const STORED_WRITABLE: &str = "SELECT json_object(
    'description', n.description,
    'failure_domain', n.failure_domain,
    'config', (SELECT json_group_array(json_array(key, value))
                 FROM (SELECT key, value FROM nodes_config WHERE node_id = n.id ORDER BY key)),
    'roles', (SELECT json_group_array(role)
                FROM (SELECT role FROM nodes_roles WHERE node_id = n.id ORDER BY role)),
    'groups', (SELECT json_group_array(name)
                 FROM (SELECT g.name FROM nodes_cluster_groups AS ng
                         JOIN cluster_groups AS g ON g.id = ng.group_id
                        WHERE ng.node_id = n.id ORDER BY g.name)))
  FROM nodes AS n WHERE n.name = ?1";

/// Member `name`'s stored writable part as [`STORED_WRITABLE`] gives it; `None` when there
/// is no such member.
pub fn stored_writable(conn: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    use rusqlite::OptionalExtension;
    // Kept prepared: it is read before every member edit, and parsing it cost more than
    // running it (the leader's profile under one writer).
    Ok(conn
        .prepare_cached(STORED_WRITABLE)?
        .query_row([name], |r| r.get(0))
        .optional()?
        .flatten())
}

/// Rolls the whole batch back unless member `name`'s stored writable part is still
/// `expected`: put first in an edit made with If-Match, it makes the ETag check and the
/// change one Raft entry, so two edits from one read cannot both commit.
pub fn unchanged_since(batch: &mut Batch, name: &str, expected: Option<&str>) {
    // json() of text that is not JSON raises an error, which rolls the batch back. Written
    // as an insert into the member's own table: one into `config` would be announced as a
    // change of the server's configuration (see `events::lifecycle`).
    batch.push(
        format!(
            "INSERT INTO nodes_config (node_id, key, value)
             SELECT 0, 'member changed', json('the member changed since it was read')
              WHERE ({STORED_WRITABLE}) IS NOT ?2"
        ),
        vec![name.into(), expected.into()],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::global::nodes::members;

    /// A replaced writable part is exactly what was sent, whatever the member held before
    /// (and another member's rows stay as they were), and rows that already hold what is
    /// sent are not written again.
    #[test]
    fn a_writable_part_is_replaced_by_writing_only_what_differs() {
        type Config = &'static [(&'static str, &'static str)];
        type Roles = &'static [&'static str];
        /// Held: config, roles; sent: config, roles; rows written besides the groups' guard.
        type Case = (Config, Roles, Config, Roles, usize);
        let cases: &[Case] = &[
            (&[], &[], &[], &[], 0),
            (&[("user.a", "1")], &[], &[("user.a", "1")], &[], 0),
            (&[("user.a", "1")], &[], &[("user.a", "2")], &[], 1),
            (
                &[("user.a", "1"), ("user.b", "x")],
                &[],
                &[("user.a", "1")],
                &[],
                1,
            ),
            (
                &[("user.a", "1")],
                &[],
                &[("user.a", "1"), ("user.c", "y")],
                &[],
                1,
            ),
            (&[("user.a", "1")], &[], &[], &[], 1),
            (&[], &["event-hub"], &[], &["event-hub"], 0),
            (&[], &["event-hub"], &[], &["ovn-chassis"], 2),
            (
                &[("user.a", "1")],
                &["event-hub"],
                &[("user.b", "2")],
                &[],
                3,
            ),
        ];
        for (i, (held, held_roles, sent, sent_roles, written)) in cases.iter().enumerate() {
            let mut conn = Connection::open_in_memory().unwrap();
            conn.execute_batch(crate::db::global::schema::SCHEMA)
                .unwrap();
            for (id, name) in [(1, "a"), (2, "b")] {
                conn.execute(
                    "INSERT INTO nodes (id, name, address, schema, api_extensions, heartbeat, arch)
                     VALUES (?1, ?2, ?2, 1, 1, '', 'x86_64')",
                    rusqlite::params![id, name],
                )
                .unwrap();
                conn.execute(
                    "INSERT INTO nodes_cluster_groups (node_id, group_id) VALUES (?1, 1)",
                    [id],
                )
                .unwrap();
                for (k, v) in held.iter() {
                    conn.execute(
                        "INSERT INTO nodes_config (node_id, key, value) VALUES (?1, ?2, ?3)",
                        rusqlite::params![id, k, v],
                    )
                    .unwrap();
                }
                for role in held_roles.iter() {
                    conn.execute(
                        "INSERT INTO nodes_roles (node_id, role) VALUES (?1, ?2)",
                        rusqlite::params![id, role],
                    )
                    .unwrap();
                }
            }
            let config: BTreeMap<String, String> = sent
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let mut batch = Batch::new();
            replace_writable(
                &mut batch,
                "a",
                &Writable {
                    description: "",
                    failure_domain: "default",
                    config: &config,
                    roles: sent_roles,
                    groups: &["default".to_owned()],
                },
            );
            let tx = conn.transaction().unwrap();
            let outcome = crate::db::batch::apply(&tx, &batch).unwrap();
            tx.commit().unwrap();
            assert_eq!(outcome.error, None, "case {i}");
            let groups_guard = 1;
            let rows: usize = outcome.rows_affected[..outcome.rows_affected.len() - groups_guard]
                .iter()
                .sum();
            assert_eq!(rows, *written, "case {i}: rows written");
            let stored = members(&conn).unwrap();
            let of = |name: &str| {
                let m = stored.iter().find(|m| m.name == name).unwrap();
                let config: Vec<(String, String)> = m.config.clone().into_iter().collect();
                (config, m.roles.clone())
            };
            let pairs = |c: Config| -> Vec<(String, String)> {
                c.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            };
            let names = |r: &[&str]| -> Vec<String> { r.iter().map(|s| s.to_string()).collect() };
            assert_eq!(
                of("a"),
                (pairs(sent), names(sent_roles)),
                "case {i}: the member edited"
            );
            assert_eq!(
                of("b"),
                (pairs(held), names(held_roles)),
                "case {i}: another member"
            );
        }
    }

    /// The guard of an edit made with If-Match: it holds while the member's stored writable
    /// part is as read, and any change to it since (by another edit) rolls the edit back.
    #[test]
    fn a_guarded_edit_commits_only_if_the_member_is_as_read() {
        let changes: [(&str, &str, bool); 7] = [
            ("nothing changed", "", true),
            (
                "description",
                "UPDATE nodes SET description = 'other'",
                false,
            ),
            (
                "failure domain",
                "UPDATE nodes SET failure_domain = 'rack2'",
                false,
            ),
            (
                "config",
                "INSERT INTO nodes_config (node_id, key, value) VALUES (1, 'user.b', '2')",
                false,
            ),
            (
                "role",
                "INSERT INTO nodes_roles (node_id, role) VALUES (1, 'ovn-chassis')",
                false,
            ),
            (
                "group",
                "INSERT INTO cluster_groups (id, name) VALUES (2, 'gpu'); INSERT INTO nodes_cluster_groups VALUES (1, 2)",
                false,
            ),
            (
                "another member",
                "UPDATE nodes SET description = 'x' WHERE name = 'node2'",
                true,
            ),
        ];
        for (what, change, commits) in changes {
            let mut conn = rusqlite::Connection::open_in_memory().unwrap();
            conn.execute_batch(crate::db::global::schema::SCHEMA)
                .unwrap();
            conn.execute_batch(
                "INSERT INTO nodes (id, name, address, schema, api_extensions, heartbeat, arch)
                   VALUES (1, 'node1', 'a1', 1, 1, 0, 'x86_64'), (2, 'node2', 'a2', 1, 1, 0, 'x86_64');
                 INSERT INTO nodes_config (node_id, key, value) VALUES (1, 'user.a', '1');
                 INSERT INTO nodes_roles (node_id, role) VALUES (1, 'event-hub');
                 INSERT INTO nodes_cluster_groups (node_id, group_id) VALUES (1, 1);",
            )
            .unwrap();
            let seen = stored_writable(&conn, "node1").unwrap();
            assert!(seen.is_some(), "{what}");
            conn.execute_batch(change).unwrap();
            let mut batch = Batch::new();
            unchanged_since(&mut batch, "node1", seen.as_deref());
            batch.push(
                "UPDATE nodes SET description = 'edited' WHERE name = 'node1'",
                vec![],
            );
            let tx = conn.transaction().unwrap();
            let outcome = crate::db::batch::apply(&tx, &batch).unwrap();
            tx.commit().unwrap();
            assert_eq!(outcome.error.is_none(), commits, "{what}: {outcome:?}");
            let description: String = conn
                .query_row("SELECT description FROM nodes WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .unwrap();
            assert_eq!(description == "edited", commits, "{what}");
        }
    }
}
