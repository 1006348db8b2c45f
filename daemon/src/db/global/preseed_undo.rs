//! Undoing a preseed applied in part: the rows a preseed may change (cluster config,
//! storage pools, networks, profiles, the member's name and address, AUTOINCREMENT ids),
//! read before the commit as statements that put them back.

use rusqlite::Connection;

use crate::db::batch::{Batch, SqlValue, placeholders};

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

/// The rows a preseed may change on member `member`'s server, as statements that put them
/// back (one read transaction: call it inside [`super::GlobalDb::read`]).
pub fn statements(c: &Connection, member: u64) -> rusqlite::Result<Batch> {
    let member = member as i64;
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
}

/// Appends an INSERT per row `query` returns into `table`.
fn copy_rows(c: &Connection, batch: &mut Batch, table: &str, query: &str) -> rusqlite::Result<()> {
    let mut stmt = c.prepare(query)?;
    let columns: Vec<String> = stmt.column_names().map(str::to_owned).collect();
    let marks = placeholders(columns.len());
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
