//! A Raft entry's payload: the batches of one or more writers committed together. Each
//! batch is applied under its own savepoint, exactly as if it were an entry of its own, so
//! grouping writers changes how often the log is fsynced, never what a write does.

use serde::{Deserialize, Serialize};

use super::batch::{self, Batch, BatchOutcome};

/// Batches proposed as one Raft entry, applied in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Stored")]
pub struct Proposal {
    /// One batch per writer, in the order they were queued.
    pub batches: Vec<Batch>,
}

/// The forms an entry can have on disk: grouped, or one bare batch as entries were
/// written before writes were grouped.
#[derive(Deserialize)]
#[serde(untagged)]
enum Stored {
    Grouped { batches: Vec<Batch> },
    Single(Batch),
}

impl From<Stored> for Proposal {
    fn from(s: Stored) -> Self {
        match s {
            Stored::Grouped { batches } => Self { batches },
            Stored::Single(b) => Self { batches: vec![b] },
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
        ];
        for (name, raw) in cases {
            let read: Proposal = serde_json::from_str(&raw.unwrap()).unwrap();
            assert_eq!(read.batches, vec![batch.clone()], "{name}");
        }
    }
}
