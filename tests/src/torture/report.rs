//! What a torture run found, as text for people and JSON for programs.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use serde::Serialize;

use super::checker::{Anomaly, Inconclusive, LostWrite};
use super::history::{Call, Op, Outcome};
use super::nemesis::{Fault, Injected};

/// Operations by kind and outcome.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Every operation.
    pub total: usize,
    /// Reads, writes and compare-and-sets.
    pub reads: usize,
    /// Writes.
    pub writes: usize,
    /// Compare-and-sets.
    pub cas: usize,
    /// Done.
    pub ok: usize,
    /// Certainly not done.
    pub failed: usize,
    /// Maybe done.
    pub unknown: usize,
    /// Compare-and-sets refused because the config changed since their read (412).
    pub cas_refused: usize,
}

impl Counts {
    /// Counts `history`.
    pub fn of(history: &[Op]) -> Self {
        let mut c = Counts {
            total: history.len(),
            ..Counts::default()
        };
        for op in history {
            match op.call {
                Call::Read { .. } => c.reads += 1,
                Call::Write { .. } => c.writes += 1,
                Call::Cas { .. } => c.cas += 1,
            }
            match &op.outcome {
                Outcome::Ok => c.ok += 1,
                Outcome::Failed(why) => {
                    c.failed += 1;
                    if matches!(op.call, Call::Cas { .. }) && why.contains("ETag") {
                        c.cas_refused += 1;
                    }
                }
                Outcome::Unknown(_) => c.unknown += 1,
            }
        }
        c
    }
}

/// The result of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The seed that drew the schedule and the clients' choices.
    pub seed: u64,
    /// Members at the start.
    pub members: usize,
    /// Clients.
    pub clients: usize,
    /// How long clients ran, in seconds.
    pub duration_s: f64,
    /// Whether members ran in network namespaces.
    pub namespaces: bool,
    /// The operations.
    pub operations: Counts,
    /// How many faults of each kind were injected.
    pub faults_by_kind: BTreeMap<Fault, usize>,
    /// Each fault.
    pub faults: Vec<Injected>,
    /// Fault kinds asked for but not possible here, and why.
    pub skipped_faults: Vec<String>,
    /// Acknowledged writes a member lacks at the end.
    pub lost_writes: Vec<LostWrite>,
    /// Registers whose history no order explains.
    pub anomalies: Vec<Anomaly>,
    /// Registers the checker could not finish.
    pub inconclusive: Vec<Inconclusive>,
    /// Members that disagree on a register at the end.
    pub disagreements: Vec<String>,
    /// Faults that could not be injected or undone, a cluster that did not settle.
    pub problems: Vec<String>,
    /// Members that stopped by themselves (and were restarted), with why.
    pub crashes: Vec<String>,
    /// Where the history and every member's log were kept, if they were.
    pub kept: Option<PathBuf>,
}

impl Report {
    /// Whether the run found nothing wrong.
    pub fn passed(&self) -> bool {
        self.lost_writes.is_empty()
            && self.anomalies.is_empty()
            && self.inconclusive.is_empty()
            && self.disagreements.is_empty()
            && self.problems.is_empty()
            && self.crashes.is_empty()
    }

    /// The report as text.
    pub fn text(&self) -> String {
        let mut t = String::new();
        let c = &self.operations;
        let _ = writeln!(
            t,
            "cluster-torture: seed {}, {} members{}, {} clients, {:.0} s",
            self.seed,
            self.members,
            if self.namespaces {
                " in network namespaces"
            } else {
                " on loopback"
            },
            self.clients,
            self.duration_s
        );
        let _ = writeln!(
            t,
            "operations: {} ({} reads, {} writes, {} cas): {} ok, {} failed ({} cas refused by ETag), {} unknown",
            c.total, c.reads, c.writes, c.cas, c.ok, c.failed, c.cas_refused, c.unknown
        );
        let kinds: Vec<String> = self
            .faults_by_kind
            .iter()
            .map(|(k, n)| format!("{} {n}", k.name()))
            .collect();
        let _ = writeln!(
            t,
            "faults injected: {} ({})",
            self.faults.len(),
            kinds.join(", ")
        );
        for f in &self.faults {
            let _ = writeln!(t, "  {:>7.1}s {:<9} {}", f.from_s, f.kind.name(), f.what);
            for seen in &f.observed {
                let _ = writeln!(t, "            {seen}");
            }
        }
        for s in &self.skipped_faults {
            let _ = writeln!(t, "skipped: {s}");
        }
        let _ = writeln!(t, "acknowledged writes lost: {}", self.lost_writes.len());
        for l in &self.lost_writes {
            let _ = writeln!(
                t,
                "  {} lacks {} (holds {:?})",
                l.member,
                l.write.describe(),
                l.holds
            );
        }
        let _ = writeln!(t, "anomalies: {}", self.anomalies.len());
        for a in &self.anomalies {
            let _ = writeln!(
                t,
                "  register {}: no order explains these {} operations:",
                a.register,
                a.witness.len()
            );
            for op in &a.witness {
                let _ = writeln!(t, "    {}", op.describe());
            }
        }
        for i in &self.inconclusive {
            let _ = writeln!(
                t,
                "inconclusive: register {} ({} operations) exceeded the search budget",
                i.register, i.operations
            );
        }
        for d in &self.disagreements {
            let _ = writeln!(t, "disagreement: {d}");
        }
        for c in &self.crashes {
            let _ = writeln!(t, "crash: {c}");
        }
        for p in &self.problems {
            let _ = writeln!(t, "problem: {p}");
        }
        if let Some(dir) = &self.kept {
            let _ = writeln!(t, "history and member logs kept in {}", dir.display());
        }
        let _ = writeln!(t, "{}", if self.passed() { "PASS" } else { "FAIL" });
        t
    }
}
