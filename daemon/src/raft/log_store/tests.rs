//! The log store's own tests: reads around the first entry held, and the writer after a
//! failed write.

use openraft::{CommittedLeaderId, EntryPayload};

use super::*;

fn entries(indexes: &[u64]) -> Vec<Entry<TypeConfig>> {
    indexes
        .iter()
        .map(|i| Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), *i),
            payload: EntryPayload::Blank,
        })
        .collect()
}

/// Appends entries `indexes` through the writer and says how it went.
fn append(store: &LogStore, indexes: &[u64]) -> Result<(), String> {
    let rows = entries(indexes)
        .iter()
        .map(|e| (e.log_id, serde_json::to_vec(e).unwrap()))
        .collect();
    let (tx, rx) = std::sync::mpsc::channel();
    store
        .writer
        .send(Write::Append {
            rows,
            last: *indexes.last().unwrap(),
            flushed: Box::new(move |r| tx.send(r.map_err(|e| e.to_string())).unwrap()),
        })
        .unwrap();
    rx.recv().unwrap()
}

#[test]
fn after_a_failed_append_the_log_takes_no_more_so_it_keeps_no_hole() {
    let dir = tempfile::tempdir().unwrap();
    let db = LocalDb::open(&dir.path().join("local.db")).unwrap();
    let store = LogStore::new(db.clone());
    append(&store, &[1, 2]).unwrap();
    // The disk refuses (as a full one would), then takes writes again.
    db.lock().pragma_update(None, "query_only", true).unwrap();
    append(&store, &[3]).unwrap_err();
    db.lock().pragma_update(None, "query_only", false).unwrap();
    let refused = append(&store, &[4]).unwrap_err();
    assert!(refused.contains("takes no more writes"), "{refused}");
    let on_disk: Vec<i64> = db
        .lock()
        .prepare("SELECT idx FROM log ORDER BY idx")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(on_disk, vec![1, 2]);
}

#[test]
fn a_read_may_start_late_only_where_the_log_holds_nothing_below() {
    // (asked from, lowest index on disk, entries found, accepted)
    let cases: [(u64, Option<u64>, &[u64], bool); 10] = [
        (0, None, &[], true),
        (0, Some(0), &[0, 1, 2], true),
        // Nothing written below 1, or purged up to 5: the rest is what the log holds.
        (0, Some(1), &[1, 2], true),
        (0, Some(6), &[6, 7], true),
        (0, None, &[4, 5], true),
        // Entries below exist, so a late start is a lost entry.
        (3, Some(1), &[4, 5], false),
        (0, Some(0), &[1, 2], false),
        // A hole in the middle is never accepted.
        (0, Some(0), &[0, 2], false),
        (0, None, &[4, 6], false),
        (2, Some(1), &[2, 3, 4], true),
    ];
    for (lo, lowest, found, ok) in cases {
        assert_eq!(
            contiguous(lo, lowest, &entries(found)).is_ok(),
            ok,
            "from {lo}, lowest {lowest:?}, found {found:?}"
        );
    }
}

/// The committed index reported to the store is written with the first append that brings
/// the log on disk up to it, never ahead of it.
#[test]
fn a_committed_index_is_written_only_with_an_append_that_reaches_it() {
    let id = |i| Some(LogId::new(CommittedLeaderId::new(1, 1), i));
    /// A committed index as the slot holds it: none reported, or the one reported.
    type Slot = Option<Option<LogId<NodeId>>>;
    // What is pending, the last index of the append; what it writes, what stays pending.
    let cases: [(Slot, u64, Slot, Slot); 5] = [
        (None, 5, None, None),
        (Some(None), 5, Some(None), None),
        (Some(id(3)), 5, Some(id(3)), None),
        (Some(id(5)), 5, Some(id(5)), None),
        (Some(id(6)), 5, None, Some(id(6))),
    ];
    for (pending, last, expected_written, left) in cases {
        let slot = PendingCommit::new(pending);
        let written = committed_within(&slot, last);
        assert_eq!(
            (written, *slot.lock().unwrap()),
            (expected_written, left),
            "pending {pending:?}, append up to {last}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let db = LocalDb::open(&dir.path().join("local.db")).unwrap();
    let mut store = LogStore::new(db.clone());
    let stored = |db: &LocalDb| read_state::<Option<LogId<NodeId>>>(&db.lock(), COMMITTED).unwrap();
    append(&store, &[1, 2]).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(store.save_committed(id(4))).unwrap();
    append(&store, &[3]).unwrap();
    assert_eq!(stored(&db), None, "the log on disk ends at 3, before 4");
    append(&store, &[4, 5]).unwrap();
    assert_eq!(stored(&db), Some(id(4)));
}
