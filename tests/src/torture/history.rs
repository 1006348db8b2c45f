//! What the clients did: each operation on a register with its invocation and completion
//! times and how it ended, kept as JSON lines.
//!
//! A register is the cluster-wide config key `user.torture.<N>` of `/1.0`. Its write is a
//! `PATCH /1.0` changing that one key (one Raft entry, proposed by the member through the
//! leader); its read is `GET /1.0`, which goes through the linearizable read path (lease or
//! read index) and is marked stale when it could not. A compare-and-set is a `GET /1.0` (its
//! ETag covers the whole config, so the register's value read with it is what the ETag
//! vouches for) then a `PATCH` with `If-Match: <that ETag>`: when it succeeds, the register
//! held the value read at the moment the write applied.

use serde::{Deserialize, Serialize};

/// The config key holding register `n`.
pub fn register_key(n: usize) -> String {
    format!("user.torture.{n}")
}

/// What an operation asked for (and, for a read, what it saw).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "lowercase")]
pub enum Call {
    /// Read the register; `value` is what was read (None: unset), meaningful when ok.
    Read {
        /// The value read.
        value: Option<String>,
    },
    /// Set the register to `value`.
    Write {
        /// The new value (unique in a run).
        value: String,
    },
    /// Set the register to `value` if it holds `expected`.
    Cas {
        /// The value the register must hold.
        expected: Option<String>,
        /// The new value (unique in a run).
        value: String,
    },
}

impl Call {
    /// The value this operation writes, if it writes.
    pub fn written(&self) -> Option<&str> {
        match self {
            Call::Read { .. } => None,
            Call::Write { value } | Call::Cas { value, .. } => Some(value),
        }
    }
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "why", rename_all = "lowercase")]
pub enum Outcome {
    /// Done: the daemon said so.
    Ok,
    /// Certainly not done (refused before anything changed, or never sent).
    Failed(String),
    /// Maybe done: no answer in time, or an error after which it may still commit.
    Unknown(String),
}

impl Outcome {
    /// Why it did not end well ("" when it did).
    pub fn why(&self) -> &str {
        match self {
            Outcome::Ok => "",
            Outcome::Failed(why) | Outcome::Unknown(why) => why,
        }
    }
}

/// One operation of one client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history.
    pub id: usize,
    /// The client that ran it (`nemesis` probes and final reads use their own numbers).
    pub client: usize,
    /// The member it was sent to.
    pub member: String,
    /// The register.
    pub register: usize,
    /// What it asked.
    pub call: Call,
    /// When it was sent, in microseconds since the run began.
    pub invoked_us: u64,
    /// When its answer (or the timeout) came.
    pub completed_us: u64,
    /// How it ended.
    pub outcome: Outcome,
}

impl Op {
    /// Whether it ended well.
    pub fn is_ok(&self) -> bool {
        self.outcome == Outcome::Ok
    }

    /// Whether it may or may not have happened.
    pub fn is_unknown(&self) -> bool {
        matches!(self.outcome, Outcome::Unknown(_))
    }

    /// One line of text: `#12 client 3 @node2 write r1 := "3-7" ok [1.204s..1.250s]`.
    pub fn describe(&self) -> String {
        let what = match &self.call {
            Call::Read { value } => format!("read r{} -> {}", self.register, show(value)),
            Call::Write { value } => format!("write r{} := {value:?}", self.register),
            Call::Cas { expected, value } => {
                format!("cas r{} {} -> {value:?}", self.register, show(expected))
            }
        };
        let outcome = match &self.outcome {
            Outcome::Ok => "ok".to_owned(),
            Outcome::Failed(why) => format!("failed ({why})"),
            Outcome::Unknown(why) => format!("unknown ({why})"),
        };
        format!(
            "#{} client {} @{} {what} {outcome} [{:.3}s..{:.3}s]",
            self.id,
            self.client,
            self.member,
            self.invoked_us as f64 / 1e6,
            self.completed_us as f64 / 1e6
        )
    }
}

fn show(value: &Option<String>) -> String {
    match value {
        Some(v) => format!("{v:?}"),
        None => "unset".to_owned(),
    }
}

/// The history as JSON lines, one operation a line.
pub fn to_json_lines(history: &[Op]) -> String {
    history
        .iter()
        .map(|op| serde_json::to_string(op).expect("an operation serialises") + "\n")
        .collect()
}

/// Reads a history written by [`to_json_lines`].
pub fn from_json_lines(text: &str) -> Result<Vec<Op>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}
