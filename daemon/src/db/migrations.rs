//! Schema migrations: an ordered list per database, the version reached recorded in the file
//! itself (`PRAGMA user_version`). Opening a database applies the steps it lacks, each in its
//! own transaction with its version; a file newer than the list is refused, never touched.
//!
//! The replicated database is migrated the same way, at open, by every member on its own
//! replica: each applies the same list at the same code version, so the replicas stay
//! identical, and the upgrade gate (`cluster::versions`) keeps a member whose schema is newer
//! than another's from serving until every member runs its version. A snapshot installed
//! from another member is migrated again after the restore (see `raft::state_machine`).

use std::path::Path;

use rusqlite::Connection;

/// One step: the SQL that takes a database from `version - 1` to `version`.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version this step reaches (the first step reaches 1).
    pub version: u32,
    /// What it changes, for the log and for errors.
    pub what: &'static str,
    /// Statements run in one transaction.
    pub sql: &'static str,
}

/// Why a database could not be brought to the version this daemon knows.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The file was written by a newer Corral.
    #[error(
        "{path} has schema version {found}, newer than this corrald knows (up to {known}): it was written by a newer Corral; upgrade corrald on this member to that version (or restore a copy of the directory made by this version)"
    )]
    Newer {
        /// The database file.
        path: String,
        /// `user_version` found in it.
        found: u32,
        /// The newest version this daemon knows.
        known: u32,
    },
    /// A step failed; the file stays at the version before it.
    #[error(
        "migrating {path} to schema version {version} ({what}) failed: {source}; the database is left at version {}, check the disk and the file's permissions, then start corrald again",
        version - 1
    )]
    Step {
        /// The database file.
        path: String,
        /// The step's version.
        version: u32,
        /// What the step changes.
        what: &'static str,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The version could not be read.
    #[error("cannot read the schema version of {path}: {source}")]
    Read {
        /// The database file.
        path: String,
        /// What SQLite said.
        source: rusqlite::Error,
    },
}

impl From<MigrationError> for rusqlite::Error {
    /// Carried through the `rusqlite::Result` of the open functions, message intact.
    fn from(e: MigrationError) -> Self {
        rusqlite::Error::ToSqlConversionFailure(Box::new(e))
    }
}

/// The newest version `steps` reach (0 for none).
pub const fn latest(steps: &[Migration]) -> u32 {
    match steps.last() {
        Some(m) => m.version,
        None => 0,
    }
}

/// The version recorded in the file (0: never migrated).
pub fn version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// Brings the database to the last step of `steps`, returning the version it was at. Steps
/// are numbered from 1 in order.
pub fn migrate(
    conn: &mut Connection,
    path: &Path,
    steps: &[Migration],
) -> Result<u32, MigrationError> {
    let path = path.display().to_string();
    let found = version(conn).map_err(|source| MigrationError::Read {
        path: path.clone(),
        source,
    })?;
    let known = latest(steps);
    if found > known {
        return Err(MigrationError::Newer { path, found, known });
    }
    for step in steps.iter().filter(|m| m.version > found) {
        let failed = |source| MigrationError::Step {
            path: path.clone(),
            version: step.version,
            what: step.what,
            source,
        };
        let tx = conn.transaction().map_err(failed)?;
        tx.execute_batch(step.sql).map_err(failed)?;
        // user_version lives in the file header: set in the same transaction, it moves
        // with the step's changes or not at all.
        tx.pragma_update(None, "user_version", step.version)
            .map_err(failed)?;
        tx.commit().map_err(failed)?;
        if found > 0 {
            tracing::info!(
                "{path}: migrated to schema version {} ({})",
                step.version,
                step.what
            );
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: &[Migration] = &[
        Migration {
            version: 1,
            what: "a table",
            sql: "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
        },
        Migration {
            version: 2,
            what: "a column",
            sql: "ALTER TABLE kv ADD COLUMN note TEXT NOT NULL DEFAULT ''",
        },
    ];

    fn at(version: u32) -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, Path::new("test.db"), &STEPS[..version as usize]).unwrap();
        conn
    }

    #[test]
    fn each_database_reaches_the_last_step_from_where_it_stands() {
        for from in 0..=2 {
            let mut conn = at(from);
            let was = migrate(&mut conn, Path::new("test.db"), STEPS).unwrap();
            assert_eq!(was, from, "from {from}");
            assert_eq!(version(&conn).unwrap(), 2, "from {from}");
            conn.execute("INSERT INTO kv (k, v, note) VALUES ('a', 'b', 'c')", [])
                .unwrap();
        }
    }

    #[test]
    fn a_file_made_before_versions_were_recorded_keeps_its_rows() {
        // The release before migrations created the tables and left user_version at 0.
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(STEPS[0].sql).unwrap();
        conn.execute("INSERT INTO kv VALUES ('a', 'b')", [])
            .unwrap();
        migrate(&mut conn, Path::new("old.db"), STEPS).unwrap();
        let note: String = conn
            .query_row("SELECT v || note FROM kv WHERE k = 'a'", [], |r| r.get(0))
            .unwrap();
        assert_eq!((note.as_str(), version(&conn).unwrap()), ("b", 2));
    }

    #[test]
    fn a_newer_file_is_refused_untouched() {
        let mut conn = at(2);
        let err = migrate(&mut conn, Path::new("new.db"), &STEPS[..1]).unwrap_err();
        let text = err.to_string();
        for want in ["new.db", "version 2", "up to 1", "upgrade corrald"] {
            assert!(text.contains(want), "{want:?} in {text}");
        }
        assert_eq!(version(&conn).unwrap(), 2);
    }

    #[test]
    fn a_failed_step_leaves_the_version_before_it() {
        let broken = [
            STEPS[0],
            Migration {
                version: 2,
                what: "a broken step",
                sql: "CREATE TABLE extra (x); ALTER TABLE nowhere ADD COLUMN y",
            },
        ];
        let mut conn = at(1);
        let err = migrate(&mut conn, Path::new("t.db"), &broken).unwrap_err();
        assert!(err.to_string().contains("left at version 1"), "{err}");
        assert_eq!(version(&conn).unwrap(), 1);
        let extra: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'extra'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(extra, 0, "the step's first statement was rolled back");
    }
}
