//! The newest log entries in memory. Replication reads them from here the moment they are
//! appended, while the writer is still fsyncing them, so the leader's own fsync overlaps the
//! round trip to its followers. Entries not yet on disk are never evicted, so anything the
//! tail does not hold is in the database.

use std::collections::BTreeMap;
use std::ops::Range;

use openraft::Entry;

use super::TypeConfig;

/// How many flushed entries are kept for replication beyond those still being written.
const KEEP_FLUSHED: usize = 256;

/// The newest entries, by index.
#[derive(Default)]
pub struct LogTail {
    entries: BTreeMap<u64, Entry<TypeConfig>>,
    /// Every entry up to this index is on disk.
    flushed: u64,
}

impl LogTail {
    /// Records entries handed to the writer.
    pub fn append(&mut self, entries: impl IntoIterator<Item = Entry<TypeConfig>>) {
        for e in entries {
            self.entries.insert(e.log_id.index, e);
        }
        self.evict();
    }

    /// Notes that every entry up to `index` is on disk.
    pub fn flushed(&mut self, index: u64) {
        self.flushed = self.flushed.max(index);
        self.evict();
    }

    /// Drops entries from `index` on (a conflicting suffix).
    pub fn truncate(&mut self, index: u64) {
        self.entries.split_off(&index);
    }

    /// Notes that the disk no longer holds entries from `index` on. The writer calls this in
    /// turn with [`LogTail::flushed`], so an append written before the truncation cannot
    /// count entries appended after it as flushed.
    pub fn truncated_on_disk(&mut self, index: u64) {
        self.flushed = self.flushed.min(index.saturating_sub(1));
    }

    /// Drops entries up to and including `index` (purged after a snapshot).
    pub fn purge(&mut self, index: u64) {
        self.entries = self.entries.split_off(&(index + 1));
    }

    /// The part of `range` this tail serves, as one copy: where it starts (its first index
    /// held, or `range.end` when it holds none of the range) and its entries up to the end.
    /// Entries below the start are on disk, and stay there while the copy is used.
    pub fn serve(&self, range: &Range<u64>) -> (u64, Vec<Entry<TypeConfig>>) {
        let start = match self.entries.keys().next() {
            Some(&first) => first.clamp(range.start, range.end),
            None => range.end,
        };
        let held = self
            .entries
            .range(start..range.end)
            .map(|(_, e)| e.clone())
            .collect();
        (start, held)
    }

    fn evict(&mut self) {
        while self.entries.len() > KEEP_FLUSHED {
            match self.entries.first_key_value() {
                Some((&first, _)) if first <= self.flushed => {
                    self.entries.pop_first();
                }
                _ => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, EntryPayload, LogId};

    use super::*;

    fn entry(index: u64) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Blank,
        }
    }

    fn indexes(v: &[Entry<TypeConfig>]) -> Vec<u64> {
        v.iter().map(|e| e.log_id.index).collect()
    }

    #[test]
    fn unflushed_entries_stay_and_flushed_ones_go_past_the_limit() {
        let mut tail = LogTail::default();
        let n = KEEP_FLUSHED as u64 + 10;
        tail.append((1..=n).map(entry));
        // Nothing is on disk yet: all are held.
        assert_eq!(tail.serve(&(1..n + 1)).0, 1);
        tail.flushed(n);
        let (start, held) = tail.serve(&(1..14));
        assert_eq!((start, indexes(&held)), (11, vec![11, 12, 13]));
    }

    #[test]
    fn truncate_and_purge_drop_what_they_name() {
        let mut tail = LogTail::default();
        tail.append((1..=10).map(entry));
        tail.truncate(8);
        tail.truncated_on_disk(8);
        assert_eq!(
            indexes(&tail.serve(&(1..20)).1),
            (1..=7).collect::<Vec<_>>()
        );
        tail.purge(3);
        assert_eq!(tail.serve(&(1..20)).0, 4);
        // A range wholly below the tail is read from disk; one above it is empty.
        assert_eq!(tail.serve(&(1..3)), (3, vec![]));
        assert!(tail.serve(&(30..40)).1.is_empty());
    }
}
