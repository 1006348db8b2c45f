//! The torture checker judges histories: a stale read and a lost write are rejected (and
//! shown by the few operations that prove them), valid concurrent histories accepted.

use corral_tests::torture::checker::{self, FinalValue};
use corral_tests::torture::history::{Call, Op, Outcome};

/// An operation on register 0 from `client`, over `[from, to]` (milliseconds).
fn op(client: usize, call: Call, from: u64, to: u64, outcome: Outcome) -> Op {
    Op {
        id: 0,
        client,
        member: "node1".into(),
        register: 0,
        call,
        invoked_us: from * 1000,
        completed_us: to * 1000,
        outcome,
    }
}

fn write(v: &str) -> Call {
    Call::Write { value: v.into() }
}

fn read(v: Option<&str>) -> Call {
    Call::Read {
        value: v.map(str::to_owned),
    }
}

fn cas(expected: Option<&str>, v: &str) -> Call {
    Call::Cas {
        expected: expected.map(str::to_owned),
        value: v.into(),
    }
}

fn numbered(mut ops: Vec<Op>) -> Vec<Op> {
    for (i, op) in ops.iter_mut().enumerate() {
        op.id = i;
    }
    ops
}

fn unknown() -> Outcome {
    Outcome::Unknown("timed out".into())
}

#[test]
fn histories_are_judged_as_linearizable_or_not() {
    use Outcome::Ok;
    let cases: Vec<(&str, Vec<Op>, bool)> = vec![
        (
            "sequential write then read",
            vec![
                op(1, write("a"), 0, 10, Ok),
                op(2, read(Some("a")), 20, 30, Ok),
            ],
            true,
        ),
        (
            "a stale read: the old value after a newer write completed",
            vec![
                op(1, write("a"), 0, 10, Ok),
                op(1, write("b"), 20, 30, Ok),
                op(2, read(Some("a")), 40, 50, Ok),
            ],
            false,
        ),
        (
            "a read concurrent with a write may see either value",
            vec![
                op(1, write("a"), 0, 10, Ok),
                op(1, write("b"), 20, 60, Ok),
                op(2, read(Some("a")), 30, 40, Ok),
                op(3, read(Some("b")), 35, 45, Ok),
            ],
            true,
        ),
        (
            "but once one reader saw the new value, a later reader cannot see the old",
            vec![
                op(1, write("a"), 0, 10, Ok),
                op(1, write("b"), 20, 100, Ok),
                op(2, read(Some("b")), 30, 40, Ok),
                op(3, read(Some("a")), 50, 60, Ok),
            ],
            false,
        ),
        (
            "a lost write: a later read sees the register unset",
            vec![op(1, write("a"), 0, 10, Ok), op(2, read(None), 20, 30, Ok)],
            false,
        ),
        (
            "a write whose outcome is unknown may have happened",
            vec![
                op(1, write("a"), 0, 10, Ok),
                op(1, write("b"), 20, 25, unknown()),
                op(2, read(Some("b")), 100, 110, Ok),
            ],
            true,
        ),
        (
            "or not",
            vec![
                op(1, write("a"), 0, 10, Ok),
                op(1, write("b"), 20, 25, unknown()),
                op(2, read(Some("a")), 100, 110, Ok),
            ],
            true,
        ),
        (
            "a failed write did nothing",
            vec![
                op(1, write("a"), 0, 10, Ok),
                op(1, write("b"), 20, 25, Outcome::Failed("412".into())),
                op(2, read(Some("b")), 100, 110, Ok),
            ],
            false,
        ),
        (
            "compare-and-set from the value held",
            vec![
                op(1, write("a"), 0, 10, Ok),
                op(2, cas(Some("a"), "b"), 20, 30, Ok),
                op(3, read(Some("b")), 40, 50, Ok),
            ],
            true,
        ),
        (
            "two compare-and-sets from the same value cannot both succeed",
            vec![
                op(1, write("a"), 0, 10, Ok),
                op(2, cas(Some("a"), "b"), 20, 30, Ok),
                op(3, cas(Some("a"), "c"), 20, 30, Ok),
            ],
            false,
        ),
    ];
    for (name, history, expected) in cases {
        let history = numbered(history);
        let ops: Vec<&Op> = history
            .iter()
            .filter(|o| o.is_ok() || (o.is_unknown() && o.call.written().is_some()))
            .collect();
        assert_eq!(
            checker::linearizable(&ops, checker::STEP_BUDGET),
            Some(expected),
            "{name}"
        );
        assert_eq!(
            checker::check(&history).anomalies.is_empty(),
            expected,
            "{name}: check agrees"
        );
    }
}

/// A stale read buried among many valid operations is shown by the three that prove it.
#[test]
fn an_anomaly_is_shown_by_the_fewest_operations_that_prove_it() {
    use Outcome::Ok;
    let mut history = Vec::new();
    for i in 0..200u64 {
        let v = format!("v{i}");
        history.push(op(1, write(&v), i * 100, i * 100 + 10, Ok));
        history.push(op(2, read(Some(&v)), i * 100 + 20, i * 100 + 30, Ok));
    }
    // At 150: a read sees v120, long overwritten.
    history.push(op(3, read(Some("v120")), 15_040, 15_050, Ok));
    let history = numbered(history);
    let judgement = checker::check(&history);
    assert_eq!(judgement.anomalies.len(), 1, "{judgement:#?}");
    let witness: Vec<String> = judgement.anomalies[0]
        .witness
        .iter()
        .map(|o| format!("{:?}", o.call))
        .collect();
    assert_eq!(witness.len(), 3, "{witness:#?}");
    assert!(witness[0].contains("v120"), "{witness:#?}");
    assert!(witness.last().unwrap().contains("v120"), "{witness:#?}");
}

#[test]
fn an_acknowledged_write_missing_at_the_end_is_lost() {
    use Outcome::Ok;
    let history = numbered(vec![
        op(1, write("a"), 0, 10, Ok),
        op(1, write("b"), 20, 30, Ok),
        op(2, write("c"), 25, 35, unknown()),
    ]);
    let at_end = |member: &str, value: Option<&str>| FinalValue {
        member: member.into(),
        register: 0,
        value: value.map(str::to_owned),
    };
    // "b" is last; the unknown "c" may have replaced it; "a" ended before "b" began.
    let cases = [
        (at_end("node1", Some("b")), 0),
        (at_end("node1", Some("c")), 0),
        (at_end("node2", Some("a")), 1),
        (at_end("node3", None), 2),
    ];
    for (end, lost) in cases {
        let found = checker::lost_writes(&history, std::slice::from_ref(&end));
        assert_eq!(found.len(), lost, "{end:?}: {found:#?}");
    }
}
