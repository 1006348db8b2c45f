//! What every fuzz target shares (shared, wizard and daemon tests include this file): how
//! many cases to run, mutations of real samples, and the watchdog that bounds each case.
//!
//! Fuzzing runs on stable Rust as property tests (proptest): each target draws inputs that
//! are either generated from scratch or real samples (preseeds, LXD fixtures, tokens)
//! mutated by byte flips, insertions of tricky tokens, deletions, duplications and splices.
//!
//! CI runs a small count per target. The long mode runs as many cases as
//! `CORRAL_FUZZ_CASES` says, for instance a million:
//! `CORRAL_FUZZ_CASES=1000000 cargo test -p corral-shared --test fuzz_tokens`.
#![allow(dead_code)] // Each test crate uses its own part of this file.

use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};

/// The environment variable that sets the number of cases of every target (the long mode).
pub const CASES_VAR: &str = "CORRAL_FUZZ_CASES";

/// The number of cases to run: `CORRAL_FUZZ_CASES` when set, else the target's CI count.
pub fn cases(ci: u32) -> u32 {
    match std::env::var(CASES_VAR) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{CASES_VAR}={v:?} is not a number of cases")),
        Err(_) => ci,
    }
}

/// A runner for `cases` cases; failures are reported (shrunk) but never written to files
/// in the source tree.
pub fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Config::default()
    })
}

/// Runs `test` on `cases` inputs from `strategy`, failing with the smallest failing input
/// found; prints how many cases ran, so the long mode's count shows in the output.
pub fn run<S: Strategy>(
    target: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: Debug,
{
    let started = Instant::now();
    if let Err(e) = runner(cases).run(&strategy, test) {
        panic!("fuzz target {target}: {e}");
    }
    eprintln!(
        "fuzz target {target}: {cases} cases, no failure, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// One change to a sample.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Flips one bit of one byte.
    Flip(Index, u8),
    /// Inserts bytes.
    Insert(Index, Vec<u8>),
    /// Inserts one of [`TRICKY`].
    Tricky(Index, Index),
    /// Removes up to `n` bytes.
    Delete(Index, usize),
    /// Copies up to `n` bytes from one place to another.
    Duplicate(Index, usize, Index),
    /// Cuts the sample short.
    Truncate(Index),
    /// Replaces one byte with another.
    Replace(Index, u8),
}

/// Tokens that often break parsers: delimiters, escapes, huge and odd numbers, YAML anchors
/// and tags, non-ASCII, control characters, and long runs.
pub const TRICKY: &[&str] = &[
    "\"",
    "'",
    "\\",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    ": ",
    "- ",
    "\n",
    "\n  ",
    "\t",
    "\r\n",
    "\0",
    "null",
    "~",
    "true",
    "no",
    "yes",
    "0",
    "-1",
    "1e999",
    "-0",
    "NaN",
    ".inf",
    "0x10",
    "0o7",
    "18446744073709551616",
    "9223372036854775808",
    "-9223372036854775809",
    "1.5",
    "\"\"",
    "[]",
    "{}",
    "&a ",
    "*a",
    "!!binary ",
    "!!str ",
    "<<: ",
    "---\n",
    "...\n",
    "? ",
    "|\n  ",
    ">\n  ",
    "#",
    "%YAML 1.1\n",
    "\\u0000",
    "\\ud800",
    "\u{feff}",
    "é",
    "\u{202e}",
    "🦀",
    "127.0.0.1:8443",
    "[::1]:8443",
    ":0",
    ":65536",
    "0.0.0.0",
    "%",
    "../",
    "/",
    "?",
    "&",
    "=",
    "=",
    "*",
    ";",
    "--",
    "/*",
    "'",
    "\"x\":",
    "\"\":",
    "\"a\":{\"a\":{\"a\":",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Mutation::Tricky(i, t)),
        1 => (any::<Index>(), 1usize..32).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<Index>(), 1usize..64, any::<Index>()).prop_map(|(i, n, to)| Mutation::Duplicate(i, n, to)),
        1 => (any::<Index>()).prop_map(Mutation::Truncate),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
    ]
}

/// Applies `mutations` to `sample`, in order.
pub fn apply(sample: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = sample.to_vec();
    for m in mutations {
        // Positions are taken on the current length, so every mutation lands somewhere.
        let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len + 1) };
        match m {
            Mutation::Flip(i, bit) if !out.is_empty() => {
                let p = i.index(out.len());
                out[p] ^= 1 << bit;
            }
            Mutation::Replace(i, b) if !out.is_empty() => {
                let p = i.index(out.len());
                out[p] = *b;
            }
            Mutation::Insert(i, bytes) => {
                let p = at(i, out.len());
                out.splice(p..p, bytes.iter().copied());
            }
            Mutation::Tricky(i, t) => {
                let p = at(i, out.len());
                let token = TRICKY[t.index(TRICKY.len())].as_bytes();
                out.splice(p..p, token.iter().copied());
            }
            Mutation::Delete(i, n) if !out.is_empty() => {
                let p = i.index(out.len());
                let end = (p + n).min(out.len());
                out.drain(p..end);
            }
            Mutation::Duplicate(i, n, to) if !out.is_empty() => {
                let p = i.index(out.len());
                let end = (p + n).min(out.len());
                let piece = out[p..end].to_vec();
                let dest = at(to, out.len());
                out.splice(dest..dest, piece);
            }
            Mutation::Truncate(i) => {
                let p = at(i, out.len()).min(out.len());
                out.truncate(p);
            }
            _ => {}
        }
    }
    out
}

/// Real samples, each changed by up to eight mutations (sometimes none, so the samples
/// themselves are checked too).
pub fn mutated(samples: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    assert!(!samples.is_empty(), "a mutation target needs samples");
    (
        prop::sample::select(samples),
        prop::collection::vec(mutation(), 0..8),
    )
        .prop_map(|(sample, mutations)| apply(&sample, &mutations))
}

/// [`mutated`] as text: bytes that are not UTF-8 become U+FFFD, as a terminal or a file
/// read with `read_to_string` after a lossy conversion would give them.
pub fn mutated_text(samples: Vec<String>) -> impl Strategy<Value = String> {
    mutated(samples.into_iter().map(String::into_bytes).collect())
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}

static PANICS: AtomicUsize = AtomicUsize::new(0);
static HOOK: Once = Once::new();

/// Counts every panic in the process from now on (any thread, any task), so that a panic in
/// a background task is seen even when nothing propagates it to the test.
pub fn count_panics() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

/// How many panics [`count_panics`] has seen.
pub fn panics() -> usize {
    PANICS.load(Ordering::SeqCst)
}

/// Bounds each case of a synchronous target: if one runs longer than its limit, the input
/// is printed and the process aborts (a hang cannot be interrupted any other way).
pub struct Watchdog {
    current: Arc<Mutex<Option<(Instant, String)>>>,
}

impl Watchdog {
    /// Starts watching; `target` names the target in the message.
    pub fn new(target: &'static str, limit: Duration) -> Self {
        let current: Arc<Mutex<Option<(Instant, String)>>> = Arc::default();
        let watched = Arc::downgrade(&current);
        std::thread::spawn(move || {
            while let Some(current) = watched.upgrade() {
                if let Some((since, input)) = &*current.lock().unwrap_or_else(|p| p.into_inner())
                    && since.elapsed() > limit
                {
                    eprintln!(
                        "fuzz target {target}: one case ran over {limit:?} (a hang); input: {input}"
                    );
                    std::process::abort();
                }
                drop(current);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Self { current }
    }

    /// Runs one case on `input` under the watch.
    pub fn case<R>(&self, input: &impl Debug, f: impl FnOnce() -> R) -> R {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), format!("{input:?}")));
        let result = f();
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
        result
    }
}
