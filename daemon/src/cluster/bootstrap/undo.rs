//! Undoing a preseed applied in part: the rows it may change are read before the commit
//! as statements that put them back, and [`restore`] replays them with the rest of what a
//! failed apply changed.

use std::collections::BTreeMap;
use std::sync::Arc;

use openraft::{BasicNode, ChangeMembers};

use crate::db::batch::{Batch, SqlValue};
use crate::error::Result;
use crate::node::Node;

/// Tables a preseed writes, children after their parents.
const TABLES: &[&str] = &[
    "config",
    "storage_pools",
    "storage_pools_config",
    "networks",
    "networks_config",
    "profiles",
    "profiles_config",
    "profiles_devices",
    "profiles_devices_config",
];

/// The rows a preseed may change, as statements that put them back.
pub(super) async fn snapshot(node: &Node) -> Result<Batch> {
    let member = node.id() as i64;
    let batch = node
        .global
        .read(move |c| {
            let mut batch = Batch::new();
            for table in TABLES.iter().rev() {
                batch.push(format!("DELETE FROM {table}"), vec![]);
            }
            for table in TABLES {
                copy_rows(c, &mut batch, table, &format!("SELECT * FROM {table}"))?;
            }
            let (name, address): (String, String) = c.query_row(
                "SELECT name, address FROM nodes WHERE id = ?",
                [member],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            batch.push(
                "UPDATE nodes SET name = ?, address = ? WHERE id = ?",
                vec![name.into(), address.into(), member.into()],
            );
            // Ids handed out by AUTOINCREMENT are part of the state too.
            batch.push("DELETE FROM sqlite_sequence", vec![]);
            copy_rows(
                c,
                &mut batch,
                "sqlite_sequence",
                "SELECT * FROM sqlite_sequence",
            )?;
            Ok(batch)
        })
        .await?;
    Ok(batch)
}

/// Appends an INSERT per row `query` returns into `table`.
fn copy_rows(
    c: &rusqlite::Connection,
    batch: &mut Batch,
    table: &str,
    query: &str,
) -> rusqlite::Result<()> {
    let mut stmt = c.prepare(query)?;
    let columns: Vec<String> = stmt.column_names().map(str::to_owned).collect();
    let marks = vec!["?"; columns.len()].join(", ");
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({marks})",
        columns.join(", ")
    );
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let mut params = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            params.push(match row.get_ref(i)? {
                rusqlite::types::ValueRef::Null => SqlValue::Null,
                rusqlite::types::ValueRef::Integer(v) => SqlValue::Integer(v),
                rusqlite::types::ValueRef::Real(v) => SqlValue::Real(v),
                rusqlite::types::ValueRef::Text(t) => {
                    SqlValue::Text(String::from_utf8_lossy(t).into_owned())
                }
                rusqlite::types::ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
            });
        }
        batch.push(sql.clone(), params);
    }
    Ok(())
}

/// Where Raft records this member to be, before a bootstrap changes it.
pub(super) fn own_raft_address(node: &Node) -> Option<String> {
    let id = node.id();
    let metrics = node.raft().metrics().borrow().clone();
    metrics
        .membership_config
        .membership()
        .get_node(&id)
        .map(|n| n.addr.clone())
}

/// Puts back what a failed apply changed: the replicated rows, the local config, the
/// cluster certificate, Raft's record of this member and the listeners. Best effort: each
/// step is tried even if one before it failed, and failures are logged.
pub(super) async fn restore(
    node: &Arc<Node>,
    rows: Batch,
    local: &BTreeMap<String, String>,
    raft_address: Option<String>,
    drop_identity: bool,
) {
    if drop_identity {
        let _ = std::fs::remove_file(node.dirs.root().join("cluster.crt"));
        let _ = std::fs::remove_file(node.dirs.root().join("cluster.key"));
        node.clear_cluster_identity();
    }
    if let Some(address) = raft_address.filter(|a| Some(a) != own_raft_address(node).as_ref()) {
        let nodes = BTreeMap::from([(node.id(), BasicNode::new(address))]);
        if let Err(e) = node
            .change_membership(ChangeMembers::SetNodes(nodes), false, "undo a failed init")
            .await
        {
            tracing::error!("undoing a failed init: Raft address: {e}");
        }
    }
    if let Err(e) = node.propose(rows).await {
        tracing::error!("undoing a failed init: database rows: {e}");
    }
    if !local.is_empty()
        && let Err(e) = node.local.write_config(local.clone()).await
    {
        tracing::error!("undoing a failed init: local config: {e}");
    }
    if let Err(e) = node.reconcile_listeners().await {
        tracing::error!("undoing a failed init: listeners: {e}");
    }
}
