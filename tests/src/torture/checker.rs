//! Judges a history: is it linearizable against a register model, and was any acknowledged
//! write lost?
//!
//! The search is Wing & Gong's, with Lowe's memoisation (as in Knossos and Porcupine): walk
//! the calls and returns in time order, linearize a pending call when the model allows it,
//! backtrack at a return whose call was not linearized, and never revisit a (set of
//! linearized operations, register value) pair. Registers are independent objects, so each
//! is checked on its own (linearizability is local). An operation whose outcome is unknown
//! has no return: it may take effect at any time after its call, or never.
//!
//! Why not a crate: `stateright`'s `LinearizabilityTester` (the one Rust checker that fits)
//! depends on `tiny_http`, a web server, for its model explorer, and searches every
//! interleaving recursively without memoisation: exponential in the number of concurrent
//! operations and as deep as the history, which thousands of operations would overflow.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::history::{Call, Op, Outcome};

/// A history that cannot be linearized, reduced to a few operations that show it.
#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    /// The register.
    pub register: usize,
    /// A subset of its operations that no order explains, as small as the reduction got it:
    /// removing any one of them (with the writes what remains reads) makes it linearizable.
    pub witness: Vec<Op>,
}

/// A register whose history the search could not finish within its budget.
#[derive(Debug, Clone, Serialize)]
pub struct Inconclusive {
    /// The register.
    pub register: usize,
    /// How many of its operations were judged.
    pub operations: usize,
}

/// What the checker found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Judgement {
    /// Registers whose history is not linearizable.
    pub anomalies: Vec<Anomaly>,
    /// Registers the search gave up on.
    pub inconclusive: Vec<Inconclusive>,
}

/// How many search steps a register may take before the checker gives up on it.
pub const STEP_BUDGET: u64 = 20_000_000;

/// Checks every register of `history`.
pub fn check(history: &[Op]) -> Judgement {
    let mut registers: Vec<usize> = history.iter().map(|op| op.register).collect();
    registers.sort_unstable();
    registers.dedup();
    let mut judgement = Judgement::default();
    for register in registers {
        let ops = judged(history, register);
        match linearizable(&ops, STEP_BUDGET) {
            Some(true) => {}
            Some(false) => judgement.anomalies.push(Anomaly {
                register,
                witness: reduce(ops, Duration::from_secs(30))
                    .into_iter()
                    .cloned()
                    .collect(),
            }),
            None => judgement.inconclusive.push(Inconclusive {
                register,
                operations: ops.len(),
            }),
        }
    }
    judgement
}

/// The operations of `register` that constrain its history: those done, and the writes
/// that may have been done and whose value someone saw. A failed operation did nothing; a
/// read that may not have happened saw nothing; and a write that may not have happened and
/// whose value nobody saw can always be taken as not done (if it was, nothing observed it
/// before the next write), so leaving it out changes no verdict while sparing the search a
/// branch that lasts to the end of the history.
pub fn judged(history: &[Op], register: usize) -> Vec<&Op> {
    let seen: HashSet<&str> = history
        .iter()
        .filter(|op| op.register == register && !matches!(op.outcome, Outcome::Failed(_)))
        .filter_map(|op| match &op.call {
            Call::Read { value } if op.is_ok() => value.as_deref(),
            Call::Cas { expected, .. } => expected.as_deref(),
            _ => None,
        })
        .collect();
    history
        .iter()
        .filter(|op| op.register == register)
        .filter(|op| {
            op.is_ok() || (op.is_unknown() && op.call.written().is_some_and(|v| seen.contains(v)))
        })
        .collect()
}

/// An operation as the search sees it: values numbered (0 is "unset").
#[derive(Debug, Clone, Copy)]
enum Step {
    Read(u32),
    Write(u32),
    Cas(u32, u32),
}

impl Step {
    fn apply(self, state: u32) -> Option<u32> {
        match self {
            Step::Read(v) => (state == v).then_some(state),
            Step::Write(v) => Some(v),
            Step::Cas(expected, v) => (state == expected).then_some(v),
        }
    }
}

fn steps(ops: &[&Op]) -> Vec<Step> {
    let mut numbers: HashMap<String, u32> = HashMap::new();
    let mut number = |v: &Option<String>| match v {
        None => 0,
        Some(v) => {
            let next = numbers.len() as u32 + 1;
            *numbers.entry(v.clone()).or_insert(next)
        }
    };
    ops.iter()
        .map(|op| match &op.call {
            Call::Read { value } => Step::Read(number(value)),
            Call::Write { value } => Step::Write(number(&Some(value.clone()))),
            Call::Cas { expected, value } => {
                Step::Cas(number(expected), number(&Some(value.clone())))
            }
        })
        .collect()
}

/// Whether `ops` (of one register, starting unset) can be linearized; `None` when the
/// search ran out of `budget` steps.
pub fn linearizable(ops: &[&Op], budget: u64) -> Option<bool> {
    let steps = steps(ops);
    let n = ops.len();
    // Events: (time, calls before returns at the same instant, op, is_call). A tie counts as
    // overlap, which can only accept more, never invent an anomaly.
    let mut events: Vec<(u64, u8, usize, bool)> = Vec::with_capacity(2 * n);
    for (i, op) in ops.iter().enumerate() {
        events.push((op.invoked_us, 0, i, true));
        let ret = if op.is_unknown() {
            u64::MAX
        } else {
            op.completed_us
        };
        events.push((ret, 1, i, false));
    }
    events.sort_unstable();
    // A doubly linked list over the events: node 0 is the head, 1..=2n the events, 2n+1 the tail.
    let tail = 2 * n + 1;
    let mut next: Vec<usize> = (1..=tail + 1).collect();
    let mut prev: Vec<usize> = (0..=tail).map(|i| i.saturating_sub(1)).collect();
    let mut node_op = vec![0; tail + 1];
    let mut is_call = vec![false; tail + 1];
    let mut return_node = vec![0; n];
    for (k, &(_, _, op, call)) in events.iter().enumerate() {
        node_op[k + 1] = op;
        is_call[k + 1] = call;
        if !call {
            return_node[op] = k + 1;
        }
    }
    let unlink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, x: usize| {
        next[prev[x]] = next[x];
        prev[next[x]] = prev[x];
    };
    let relink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, x: usize| {
        next[prev[x]] = x;
        prev[next[x]] = x;
    };

    let mut linearized = vec![0u64; n.div_ceil(64)];
    let mut seen: HashSet<(Vec<u64>, u32)> = HashSet::new();
    let mut stack: Vec<(usize, u32)> = Vec::new();
    let mut state = 0u32;
    let mut entry = next[0];
    let mut spent = 0u64;
    loop {
        if entry == tail {
            return Some(true);
        }
        spent += 1;
        if spent > budget {
            return None;
        }
        let op = node_op[entry];
        if is_call[entry] {
            if let Some(after) = steps[op].apply(state) {
                linearized[op / 64] |= 1 << (op % 64);
                if seen.insert((linearized.clone(), after)) {
                    stack.push((entry, state));
                    state = after;
                    unlink(&mut next, &mut prev, entry);
                    unlink(&mut next, &mut prev, return_node[op]);
                    entry = next[0];
                    continue;
                }
                linearized[op / 64] &= !(1 << (op % 64));
            }
            entry = next[entry];
        } else if ops[op].is_unknown() {
            // Only returns "at infinity" are left: every operation that ended is placed.
            return Some(true);
        } else {
            // This operation ended before we could place it: undo the last choice.
            let Some((call, before)) = stack.pop() else {
                return Some(false);
            };
            let op = node_op[call];
            state = before;
            linearized[op / 64] &= !(1 << (op % 64));
            relink(&mut next, &mut prev, return_node[op]);
            relink(&mut next, &mut prev, call);
            entry = next[call];
        }
    }
}

/// Shrinks a non-linearizable `ops` to a subset that still is, removing halves, then
/// quarters, down to single operations, while keeping the writer of every value a remaining
/// operation reads (so what is left is never "a read of a value nobody wrote"). Bounded by
/// `within`: past it, the smallest subset found so far is returned.
pub fn reduce(ops: Vec<&Op>, within: Duration) -> Vec<&Op> {
    let deadline = Instant::now() + within;
    let mut keep = ops;
    let mut chunk = (keep.len() / 2).max(1);
    loop {
        let before = keep.len();
        let mut at = 0;
        while at < keep.len() && Instant::now() < deadline {
            let end = (at + chunk).min(keep.len());
            let candidate: Vec<&Op> = keep[..at].iter().chain(&keep[end..]).copied().collect();
            if readers_have_writers(&candidate)
                && linearizable(&candidate, STEP_BUDGET) == Some(false)
            {
                keep = candidate;
            } else {
                at = end;
            }
        }
        if Instant::now() >= deadline {
            return keep;
        }
        // A write can go only once its readers went: single removals repeat until none works.
        if chunk == 1 {
            if keep.len() == before {
                return keep;
            }
        } else {
            chunk /= 2;
        }
    }
}

fn readers_have_writers(ops: &[&Op]) -> bool {
    let written: HashSet<&str> = ops.iter().filter_map(|op| op.call.written()).collect();
    ops.iter().all(|op| {
        let seen = match &op.call {
            Call::Read { value } => value,
            Call::Cas { expected, .. } => expected,
            Call::Write { .. } => return true,
        };
        seen.as_deref().is_none_or(|v| written.contains(v))
    })
}

/// An acknowledged write a member does not hold at the end although nothing can have
/// overwritten it.
#[derive(Debug, Clone, Serialize)]
pub struct LostWrite {
    /// The acknowledged write.
    pub write: Op,
    /// The member that lacks it.
    pub member: String,
    /// What that member holds instead (None: unset).
    pub holds: Option<String>,
}

/// What one member holds in one register at the end, read once everything healed.
#[derive(Debug, Clone, Serialize)]
pub struct FinalValue {
    /// The member.
    pub member: String,
    /// The register.
    pub register: usize,
    /// Its value there.
    pub value: Option<String>,
}

/// The acknowledged writes lost: a member ends holding a value whose write was acknowledged
/// before an acknowledged write of another value began (so that later write must have
/// replaced it), or holds nothing although a write was acknowledged.
pub fn lost_writes(history: &[Op], finals: &[FinalValue]) -> Vec<LostWrite> {
    let writer: HashMap<(usize, &str), &Op> = history
        .iter()
        .filter_map(|op| Some(((op.register, op.call.written()?), op)))
        .collect();
    let mut lost = Vec::new();
    for end in finals {
        // When the value's own write ended (never, if it may not have happened or the
        // register holds nothing anyone wrote).
        let held_since = end
            .value
            .as_deref()
            .and_then(|v| writer.get(&(end.register, v)))
            .map(|w| if w.is_ok() { w.completed_us } else { u64::MAX });
        for op in history
            .iter()
            .filter(|op| op.register == end.register && op.is_ok() && op.call.written().is_some())
        {
            if op.call.written() == end.value.as_deref() {
                continue;
            }
            let replaced_after = match held_since {
                None => end.value.is_none(),
                Some(done) => done < op.invoked_us,
            };
            if replaced_after {
                lost.push(LostWrite {
                    write: op.clone(),
                    member: end.member.clone(),
                    holds: end.value.clone(),
                });
            }
        }
    }
    lost
}
