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

impl Proposal {
    /// Applies every batch inside `tx`, each all or nothing on its own; one outcome per batch.
    pub fn apply(&self, tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<Vec<BatchOutcome>> {
        self.batches.iter().map(|b| batch::apply(tx, b)).collect()
    }
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
        let outcomes = p.apply(&tx).unwrap();
        tx.commit().unwrap();
        let failed: Vec<bool> = outcomes.iter().map(|o| o.error.is_some()).collect();
        assert_eq!(failed, [false, true, false]);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM kv", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
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
