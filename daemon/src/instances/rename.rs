//! Renaming a stopped instance on the member holding it, so that a member killed at any
//! point has its files under the name the database gives the instance once it is back:
//! 1. the holder renames the row and records the old name on it (`volatile.rename.from`)
//!    in one Raft entry, which applies only while the instance is on this member, no move
//!    or other rename is under way and the new name is free;
//! 2. it renames the bundle directory, rewrites its `config.json` (hostname, root, cgroup)
//!    and syncs;
//! 3. it removes the record.
//!
//! A member that starts with records naming it finishes steps 2 and 3 for them ([`settle`]).

use std::time::Duration;

use corral_shared::api::Action;
use serde_json::{Map, json};

use super::bundle::Layout;
use super::config as keys;
use super::lifecycle::{self, announce, holder_of};
use super::local;
use super::migration::{MOVE_KEY, sync_filesystem};
use crate::db::batch::Batch;
use crate::db::global::instances::{self as db, InstanceRow};
use crate::error::{Error, Result};
use crate::node::Node;

/// The instance key recording a rename whose files may not have followed yet: the old name.
pub const RENAMED_FROM_KEY: &str = "volatile.rename.from";
/// How long a holder may take to rename an instance.
const RENAME_BOUND: Duration = Duration::from_secs(60);

/// What becomes of the bundle directories of an instance renamed in the database (pure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleStep {
    /// The old directory is there and the new one not: rename it.
    Rename,
    /// The new directory is there: the files followed already (a directory of the old
    /// name beside it belongs to an instance given that name since).
    Followed,
    /// Neither is there: the instance has no files on this member.
    Missing,
}

/// The step for an instance whose old and new bundle directories exist or not.
pub fn bundle_step(old_exists: bool, new_exists: bool) -> BundleStep {
    match (old_exists, new_exists) {
        (_, true) => BundleStep::Followed,
        (true, false) => BundleStep::Rename,
        (false, false) => BundleStep::Missing,
    }
}

/// Renames instance `old` to `new`, from any member: the holder does it.
pub async fn rename(node: &Node, old: &str, new: &str) -> Result<()> {
    check_request(old, new)?;
    // The holder checks the new name as of its rename; asking here too would only repeat it.
    let row = lifecycle::row(node, old).await?;
    match holder_of(node, &row) {
        None => rename_here(node, old, new).await,
        Some(h) => h
            .call::<serde_json::Value>(
                node,
                "POST",
                &format!("/internal/instances/{old}/rename"),
                Some(json!({ "name": new })),
                RENAME_BOUND,
            )
            .await
            .map(drop),
    }
}

/// The checks a rename request passes before anything is read (pure).
pub fn check_request(old: &str, new: &str) -> Result<()> {
    keys::check_name(new)?;
    if old == new {
        return Err(Error::BadRequest(format!(
            "Instance {old:?} already has that name: give a different new name"
        )));
    }
    Ok(())
}

fn name_taken(new: &str) -> Error {
    Error::Conflict(format!(
        "Name {new:?} already in use: choose another name, or delete instance {new} first"
    ))
}

async fn refuse_taken(node: &Node, new: &str) -> Result<()> {
    let owned = new.to_owned();
    let taken = node.read_current(move |c| db::instance(c, &owned)).await?;
    match taken.value {
        Some(_) => Err(name_taken(new)),
        None => Ok(()),
    }
}

/// Holder side: renames stopped instance `old`, held by this member, to `new`.
pub async fn rename_here(node: &Node, old: &str, new: &str) -> Result<()> {
    check_request(old, new)?;
    let row = lifecycle::row(node, old).await?;
    refuse_busy(node, &row)?;
    let runc = local::runc(node)?;
    match runc.state(old).await? {
        Some(c) if c.running() => {
            return Err(Error::BadRequest(format!(
                "Renaming of running instance not allowed: stop it first ('corral stop {old}'), \
                 then rename it"
            )));
        }
        // A container whose init powered off is forgotten under its old name.
        Some(_) => runc.delete(old, true).await?,
        None => {}
    }
    refuse_taken(node, new).await?;
    let layout = local::refresh_layout(node).await;
    // A directory of the new name with no instance is left by a creation that failed.
    local::remove_dir(&layout.bundle(new)).await?;
    let mut batch = Batch::new();
    record(&mut batch, old, new, node.id());
    let outcome = node.propose(batch).await?;
    if outcome.rows_affected.get(1) != Some(&1) {
        return Err(name_taken(new));
    }
    super::migration::crash_point("renamed");
    follow(&layout, old, new)?;
    let mut batch = Batch::new();
    db::unset_config(&mut batch, new, RENAMED_FROM_KEY);
    node.propose(batch).await?;
    let mut context = Map::new();
    context.insert("old_name".into(), old.into());
    announce(Action::InstanceRenamed, new, context);
    Ok(())
}

fn refuse_busy(node: &Node, row: &InstanceRow) -> Result<()> {
    let name = &row.name;
    if row.node_id != node.id() {
        return Err(Error::Conflict(format!(
            "instance {name} is on {}, not on this member; send the rename there",
            row.location
        )));
    }
    if row.config.contains_key(MOVE_KEY) {
        return Err(Error::Conflict(format!(
            "instance {name} is being moved to another member: rename it once the move ends"
        )));
    }
    if let Some(from) = row.config.get(RENAMED_FROM_KEY) {
        return Err(Error::Conflict(format!(
            "instance {name} is still being renamed from {from}: try again in a moment"
        )));
    }
    Ok(())
}

/// Step 1 in one entry: the record first, then the row renamed only where it was made.
fn record(batch: &mut Batch, old: &str, new: &str, member_id: u64) {
    batch.push(
        "INSERT INTO instances_config (instance_id, key, value)
         SELECT i.id, ?, i.name FROM instances i
         WHERE i.project = 'default' AND i.name = ? AND i.node_id = ?
           AND NOT EXISTS (SELECT 1 FROM instances WHERE project = 'default' AND name = ?)
           AND NOT EXISTS (SELECT 1 FROM instances_config c
                           WHERE c.instance_id = i.id AND c.key IN (?, ?))",
        vec![
            RENAMED_FROM_KEY.into(),
            old.into(),
            member_id.into(),
            new.into(),
            MOVE_KEY.into(),
            RENAMED_FROM_KEY.into(),
        ],
    );
    batch.push(
        "UPDATE instances SET name = ? WHERE project = 'default' AND name = ?
         AND EXISTS (SELECT 1 FROM instances_config c WHERE c.instance_id = instances.id
                     AND c.key = ? AND c.value = ?)",
        vec![new.into(), old.into(), RENAMED_FROM_KEY.into(), old.into()],
    );
}

/// Step 2: the files follow the name, durably.
fn follow(layout: &Layout, old: &str, new: &str) -> Result<()> {
    let (from, to) = (layout.bundle(old), layout.bundle(new));
    match bundle_step(from.exists(), to.exists()) {
        BundleStep::Rename => std::fs::rename(&from, &to).map_err(|e| {
            Error::Internal(format!(
                "cannot move {} to {}: {e}",
                from.display(),
                to.display()
            ))
        })?,
        BundleStep::Followed => {}
        BundleStep::Missing => {
            return Err(Error::Internal(format!(
                "instance {new} (renamed from {old}) has no files on this member: neither {} \
                 nor {} exists; delete it and create it again",
                from.display(),
                to.display()
            )));
        }
    }
    local::write_bundle_config(layout, new, &to)?;
    sync_filesystem(&to)
}

/// Finishes the renames this member was making when it stopped; how many it finished.
/// A rename whose files are missing is logged and its record removed, so that it does
/// not hold up the start of the other instances.
pub async fn settle(node: &Node) -> Result<usize> {
    let read = node.read_current(db::instances).await?;
    if read.stale.is_some() {
        return Err(Error::Unavailable(
            "no current read of the instances; finishing renames waits for a quorum".into(),
        ));
    }
    let layout = local::refresh_layout(node).await;
    let mut finished = 0;
    for row in read.value.iter().filter(|r| r.node_id == node.id()) {
        let Some(old) = row.config.get(RENAMED_FROM_KEY) else {
            continue;
        };
        match follow(&layout, old, &row.name) {
            Ok(()) => finished += 1,
            Err(e) => tracing::error!("finishing the rename of {old} to {}: {e}", row.name),
        }
        let mut batch = Batch::new();
        db::unset_config(&mut batch, &row.name, RENAMED_FROM_KEY);
        node.propose(batch).await?;
    }
    Ok(finished)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_follow_the_name_once() {
        let cases = [
            (true, false, BundleStep::Rename),
            (false, true, BundleStep::Followed),
            (true, true, BundleStep::Followed),
            (false, false, BundleStep::Missing),
        ];
        for (old, new, want) in cases {
            assert_eq!(bundle_step(old, new), want, "old {old} new {new}");
        }
    }

    #[test]
    fn a_rename_names_a_valid_different_name() {
        assert!(check_request("c1", "c2").is_ok());
        let same = check_request("c1", "c1").unwrap_err().to_string();
        assert!(same.contains("already has that name"), "{same}");
        let bad = check_request("c1", "2x").unwrap_err().to_string();
        assert!(bad.contains("Invalid instance name \"2x\""), "{bad}");
    }

    /// The shared fixture (members m1 and m2) with instances c1 and c2 on m1, c3 on m2.
    fn db() -> rusqlite::Connection {
        let conn = crate::db::global::instances::tests::db();
        conn.execute_batch(
            "INSERT INTO instances (id, node_id, name, project, type, architecture, ephemeral, description, creation_date)
             VALUES (1, 1, 'c1', 'default', 0, 'x86_64', 0, '', ''),
                    (2, 1, 'c2', 'default', 0, 'x86_64', 0, '', ''),
                    (3, 2, 'c3', 'default', 0, 'x86_64', 0, '', '');",
        )
        .unwrap();
        conn
    }

    /// Applies `batch` as every replica does: one transaction, rows changed per statement.
    fn apply(conn: &mut rusqlite::Connection, batch: &Batch) -> Vec<usize> {
        let tx = conn.transaction().unwrap();
        let outcome = crate::db::batch::apply(&tx, batch).unwrap();
        tx.commit().unwrap();
        outcome.rows_affected
    }

    fn names(conn: &rusqlite::Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM instances ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn the_record_and_the_new_name_apply_together_or_not_at_all() {
        let mut conn = db();
        // Taken name, another member's instance, a move under way: nothing changes.
        let mut moving = Batch::new();
        db::set_config(&mut moving, "c2", MOVE_KEY, "2:t");
        apply(&mut conn, &moving);
        for (old, new, member) in [("c1", "c2", 1), ("c3", "c9", 1), ("c2", "c9", 1)] {
            let mut batch = Batch::new();
            record(&mut batch, old, new, member);
            assert_eq!(apply(&mut conn, &batch), [0, 0], "{old} -> {new}");
            assert_eq!(names(&conn), ["c1", "c2", "c3"]);
        }
        let mut batch = Batch::new();
        record(&mut batch, "c1", "web", 1);
        assert_eq!(apply(&mut conn, &batch), [1, 1]);
        assert_eq!(names(&conn), ["web", "c2", "c3"]);
        let row = db::instance(&conn, "web").unwrap().unwrap();
        assert_eq!(row.config[RENAMED_FROM_KEY], "c1");
        // A second rename waits for the first to be finished.
        let mut again = Batch::new();
        record(&mut again, "web", "db", 1);
        assert_eq!(apply(&mut conn, &again), [0, 0]);
    }
}
