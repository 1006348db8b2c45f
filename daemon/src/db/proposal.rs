//! A Raft entry's payload: the batches of one or more writers committed together. Each
//! batch is applied under its own savepoint, exactly as if it were an entry of its own, so
//! grouping writers changes how often the log is fsynced, never what a write does.

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize};

use super::batch::{self, Batch, BatchOutcome};

/// The format of the entries this daemon writes, and the newest it reads. Entries before
/// formats were numbered carry none and read as 0. A new format comes with a new schema
/// version, so the upgrade gate (`cluster::versions`) holds a member that writes it Blocked
/// until every member can read it; a member that still meets one refuses it by name
/// ([`Proposal`] fails to decode, saying which format and what to do) rather than
/// misapplying it.
pub const ENTRY_FORMAT: u32 = 1;

/// Batches proposed as one Raft entry, applied in order.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(try_from = "Stored")]
pub struct Proposal {
    /// One batch per writer, in the order they were queued.
    pub batches: Vec<Batch>,
}

/// Written as `{"format": ENTRY_FORMAT, "batches": [...]}`: members before formats were
/// numbered read it too (they ignore the field).
impl Serialize for Proposal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut entry = s.serialize_struct("Proposal", 2)?;
        entry.serialize_field("format", &ENTRY_FORMAT)?;
        entry.serialize_field("batches", &self.batches)?;
        entry.end()
    }
}

/// The forms an entry can have on disk: grouped (with its format from format 1 on), or one
/// bare batch as entries were written before writes were grouped.
#[derive(Deserialize)]
#[serde(untagged)]
enum Stored {
    Grouped {
        #[serde(default)]
        format: u32,
        batches: Vec<Batch>,
    },
    Single(Batch),
}

/// Why an entry cannot be read by this member.
#[derive(Debug, thiserror::Error)]
#[error(
    "this Raft entry has format {found}, but this corrald reads formats up to {ENTRY_FORMAT}: it was written by a newer Corral; upgrade corrald on this member to the version the other members run, then start it again"
)]
pub struct NewerFormat {
    /// The format the entry carries.
    pub found: u32,
}

impl TryFrom<Stored> for Proposal {
    type Error = NewerFormat;

    fn try_from(s: Stored) -> Result<Self, NewerFormat> {
        match s {
            Stored::Grouped { format, .. } if format > ENTRY_FORMAT => {
                Err(NewerFormat { found: format })
            }
            Stored::Grouped { batches, .. } => Ok(Self { batches }),
            Stored::Single(b) => Ok(Self { batches: vec![b] }),
        }
    }
}

/// How many log entries a batch id is remembered for: a batch is sent again only within
/// one write's bounded wait (seconds), far fewer entries than this. Judged by log index, so
/// every replica forgets an id at the same entry, however its applies were grouped.
pub const REMEMBERED_ENTRIES: u64 = 20_000;

/// The batch ids applied within the last [`REMEMBERED_ENTRIES`] entries, and what applying
/// them did. Part of the replica, so snapshots carry it; made when first needed.
const BATCH_IDS: &str = "CREATE TABLE IF NOT EXISTS raft_batch_ids (
    id TEXT PRIMARY KEY,
    log_index INTEGER NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS raft_batch_ids_log_index ON raft_batch_ids (log_index);";

/// Why an entry was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The database failed (not the batch: its SQL errors are outcomes).
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    /// The batch at this position ran past the step bound while writing, and SQLite rolled
    /// back the whole transaction: start it again refusing that batch.
    #[error(
        "batch {0} of the entry ran past the step bound while writing, and the transaction was rolled back"
    )]
    StepBound(usize),
}

/// What applying an entry did, batch by batch.
#[derive(Debug, Default, PartialEq)]
pub struct Applied {
    /// One outcome per batch: for a batch applied before (same id), the first outcome.
    pub outcomes: Vec<BatchOutcome>,
    /// Whether each batch was such a repeat, which changed nothing.
    pub repeated: Vec<bool>,
}

impl Proposal {
    /// Applies every batch inside `tx`, each all or nothing on its own, as the entry at log
    /// `index`. A batch whose id was applied within the last [`REMEMBERED_ENTRIES`] entries
    /// is not applied again: it was sent again after an answer was lost.
    pub fn apply(&self, tx: &rusqlite::Transaction<'_>, index: u64) -> rusqlite::Result<Applied> {
        self.apply_refusing(tx, index, &[]).map_err(|e| match e {
            ApplyError::Sql(e) => e,
            e @ ApplyError::StepBound(_) => rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_INTERRUPT),
                Some(e.to_string()),
            ),
        })
    }

    /// [`Proposal::apply`], with the batches at positions `refused` refused unrun as past
    /// the step bound (found so by an earlier attempt, see [`ApplyError::StepBound`]).
    pub fn apply_refusing(
        &self,
        tx: &rusqlite::Transaction<'_>,
        index: u64,
        refused: &[usize],
    ) -> Result<Applied, ApplyError> {
        let mut applied = Applied::default();
        let identified = self.batches.iter().any(|b| b.id.is_some());
        if identified {
            tx.execute_batch(BATCH_IDS)?;
            // Older ids are ignored below whether pruned or not: pruning changes no outcome.
            let horizon = index.saturating_sub(REMEMBERED_ENTRIES) as i64;
            tx.prepare_cached("DELETE FROM raft_batch_ids WHERE log_index < ?")?
                .execute([horizon])?;
        }
        for (n, b) in self.batches.iter().enumerate() {
            let run = |b: &Batch| -> Result<BatchOutcome, ApplyError> {
                if refused.contains(&n) {
                    return Ok(batch::past_step_bound());
                }
                batch::apply(tx, b).map_err(|e| {
                    if batch::rolled_back_by_step_bound(&e) {
                        ApplyError::StepBound(n)
                    } else {
                        ApplyError::Sql(e)
                    }
                })
            };
            let Some(id) = &b.id else {
                applied.outcomes.push(run(b)?);
                applied.repeated.push(false);
                continue;
            };
            if let Some(first) = first_outcome(tx, id, index)? {
                applied.outcomes.push(first);
                applied.repeated.push(true);
                continue;
            }
            let outcome = run(b)?;
            let stored = serde_json::to_string(&outcome).unwrap_or_default();
            tx.prepare_cached(
                "INSERT OR REPLACE INTO raft_batch_ids (id, log_index, outcome) VALUES (?, ?, ?)",
            )?
            .execute(rusqlite::params![id, index as i64, stored])?;
            applied.outcomes.push(outcome);
            applied.repeated.push(false);
        }
        Ok(applied)
    }
}

/// The outcome of batch `id` if it was applied within the window before entry `index`.
fn first_outcome(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    index: u64,
) -> rusqlite::Result<Option<BatchOutcome>> {
    use rusqlite::OptionalExtension;
    let horizon = index.saturating_sub(REMEMBERED_ENTRIES) as i64;
    let stored: Option<String> = tx
        .prepare_cached("SELECT outcome FROM raft_batch_ids WHERE id = ? AND log_index >= ?")?
        .query_row(rusqlite::params![id, horizon], |r| r.get(0))
        .optional()?;
    Ok(stored.map(|s| serde_json::from_str(&s).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(k: &str) -> Batch {
        let mut b = Batch::new();
        b.push("INSERT INTO kv VALUES (?, 'v')", vec![k.into()]);
        b
    }

    #[test]
    fn each_batch_stands_alone() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
            .unwrap();
        // The second writer repeats the first's key: only its batch is refused.
        let p = Proposal {
            batches: vec![insert("a"), insert("a"), insert("b")],
        };
        let tx = conn.transaction().unwrap();
        let outcomes = p.apply(&tx, 1).unwrap().outcomes;
        tx.commit().unwrap();
        let failed: Vec<bool> = outcomes.iter().map(|o| o.error.is_some()).collect();
        assert_eq!(failed, [false, true, false]);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM kv", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
    }

    fn counter_db() -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE n (v INTEGER NOT NULL); INSERT INTO n VALUES (0)")
            .unwrap();
        conn
    }

    fn increment(id: Option<&str>) -> Batch {
        let mut b = Batch::new();
        b.push("UPDATE n SET v = v + 1", vec![]);
        b.id = id.map(str::to_owned);
        b
    }

    fn counter(conn: &rusqlite::Connection) -> i64 {
        conn.query_row("SELECT v FROM n", [], |r| r.get(0)).unwrap()
    }

    /// A forwarded write whose answer was lost is sent again with the same id: whether the
    /// first copy was committed or not, the write takes effect once, and the repeat answers
    /// what the first did.
    #[test]
    fn a_batch_sent_again_with_its_id_is_applied_once() {
        let mut conn = counter_db();
        // (entries as (log index, batch ids), counter after, repeats seen)
        type Entries = Vec<(u64, Vec<Option<&'static str>>)>;
        let cases: [(&str, Entries, i64, usize); 5] = [
            (
                "sent again in a later entry",
                vec![(5, vec![Some("a")]), (9, vec![Some("a")])],
                1,
                1,
            ),
            (
                "twice in one entry",
                vec![(5, vec![Some("a"), Some("a")])],
                1,
                1,
            ),
            (
                "different ids",
                vec![(5, vec![Some("a")]), (6, vec![Some("b")])],
                2,
                0,
            ),
            (
                "local writes carry no id",
                vec![(5, vec![None]), (6, vec![None])],
                2,
                0,
            ),
            (
                "an id older than the window is a new write",
                vec![
                    (5, vec![Some("a")]),
                    (5 + REMEMBERED_ENTRIES + 1, vec![Some("a")]),
                ],
                2,
                0,
            ),
        ];
        for (name, entries, want, repeats) in cases {
            conn.execute("UPDATE n SET v = 0", []).unwrap();
            conn.execute_batch("DROP TABLE IF EXISTS raft_batch_ids")
                .unwrap();
            let mut seen = 0;
            for (index, ids) in entries {
                let p = Proposal {
                    batches: ids.into_iter().map(increment).collect(),
                };
                let tx = conn.transaction().unwrap();
                let applied = p.apply(&tx, index).unwrap();
                tx.commit().unwrap();
                assert!(applied.outcomes.iter().all(|o| o.error.is_none()), "{name}");
                assert_eq!(
                    applied
                        .outcomes
                        .iter()
                        .map(|o| o.rows_affected.clone())
                        .collect::<Vec<_>>(),
                    vec![vec![1]; applied.outcomes.len()],
                    "{name}"
                );
                seen += applied.repeated.iter().filter(|r| **r).count();
            }
            assert_eq!(counter(&conn), want, "{name}");
            assert_eq!(seen, repeats, "{name}");
        }
    }

    /// Replicas group entries into applies differently; what an id decides must not depend
    /// on that (pruning runs per apply, the window is judged per entry).
    #[test]
    fn remembering_ids_does_not_depend_on_how_applies_are_grouped() {
        let w = REMEMBERED_ENTRIES;
        // a at w + 1 is still within a window of 1; at w + 2, b is, a is not.
        let entries = [
            (1, "a"),
            (w / 2, "b"),
            (w + 1, "a"),
            (w + 2, "a"),
            (w + 3, "b"),
            (w + w / 2 + 1, "b"),
        ];
        let mut results = Vec::new();
        for split in [false, true] {
            let mut conn = counter_db();
            let mut repeats = Vec::new();
            let mut tx = conn.transaction().unwrap();
            for (index, id) in entries {
                let p = Proposal {
                    batches: vec![increment(Some(id))],
                };
                repeats.extend(p.apply(&tx, index).unwrap().repeated);
                if split {
                    tx.commit().unwrap();
                    tx = conn.transaction().unwrap();
                }
            }
            tx.commit().unwrap();
            results.push((counter(&conn), repeats));
        }
        assert_eq!(results[0], results[1]);
        assert_eq!(
            results[0],
            (4, vec![false, false, true, false, true, false])
        );
    }

    #[test]
    fn an_entry_of_a_newer_format_is_refused_by_name() {
        let raw = r#"{"format": 2, "batches": [], "columns": "new"}"#;
        let err = serde_json::from_str::<Proposal>(raw)
            .unwrap_err()
            .to_string();
        for want in ["format 2", "up to 1", "upgrade corrald on this member"] {
            assert!(err.contains(want), "{want:?} in {err}");
        }
        // Inside a whole log entry, as the log store and the network decode it.
        let entry = format!(
            r#"{{"log_id": {{"leader_id": {{"term": 1, "node_id": 1}}, "index": 7}}, "payload": {{"Normal": {raw}}}}}"#
        );
        let err = serde_json::from_str::<openraft::Entry<crate::raft::TypeConfig>>(&entry)
            .unwrap_err()
            .to_string();
        assert!(err.contains("format 2"), "{err}");
    }

    #[test]
    fn entries_carry_the_format_they_were_written_in() {
        let raw = serde_json::to_value(Proposal {
            batches: vec![insert("a")],
        })
        .unwrap();
        assert_eq!(raw["format"], ENTRY_FORMAT);
    }

    #[test]
    fn reads_both_stored_forms() {
        let batch = insert("a");
        let cases = [
            (
                "grouped",
                serde_json::to_string(&Proposal {
                    batches: vec![batch.clone()],
                }),
            ),
            (
                "a bare batch, as before grouping",
                serde_json::to_string(&batch),
            ),
            (
                "grouped, before formats were numbered",
                serde_json::to_string(&serde_json::json!({ "batches": [batch.clone()] })),
            ),
        ];
        for (name, raw) in cases {
            let read: Proposal = serde_json::from_str(&raw.unwrap()).unwrap();
            assert_eq!(read.batches, vec![batch.clone()], "{name}");
        }
    }
}
