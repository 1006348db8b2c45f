//! A short torture in CI: three members in network namespaces, eight clients, a fixed seed,
//! every fault kind; nothing acknowledged may be lost and the history must be linearizable.
//! And the regressions found by it: compare-and-sets made from one read succeed at most
//! once, for the server's config and for a member.

use std::sync::Barrier;
use std::time::Duration;

use corral_tests::torture::nemesis::Fault;
use corral_tests::torture::{self, Options};
use corral_tests::{Cluster, Net};

#[test]
fn a_short_torture_with_every_fault_loses_nothing_and_stays_linearizable() {
    if !Net::available() {
        return;
    }
    let report = torture::run(&Options {
        duration: Duration::from_secs(50),
        members: 3,
        clients: 8,
        seed: 16,
        faults: Fault::ALL.to_vec(),
        ..Options::default()
    });
    let text = report.text();
    eprintln!("{text}");
    assert!(report.operations.ok > 100, "too few operations:\n{text}");
    for kind in Fault::ALL {
        assert!(
            report.faults_by_kind.get(&kind).copied().unwrap_or(0) >= 1,
            "{} was never injected:\n{text}",
            kind.name()
        );
    }
    assert!(report.lost_writes.is_empty(), "lost writes:\n{text}");
    assert!(report.anomalies.is_empty(), "anomalies:\n{text}");
    assert!(report.inconclusive.is_empty(), "inconclusive:\n{text}");
    assert!(report.disagreements.is_empty(), "disagreements:\n{text}");
    assert!(report.problems.is_empty(), "problems:\n{text}");
    assert!(report.crashes.is_empty(), "crashes:\n{text}");
}

/// `contenders` requests sent at once to the members of `cluster` in turn, each carrying
/// the ETag read from `path` just before; each round, at most (and here exactly) one may win.
fn at_most_one_wins(
    cluster: &Cluster,
    path: &str,
    body: impl Fn(usize, usize) -> serde_json::Value + Sync,
) {
    let contenders = 6;
    for round in 0..15 {
        let etag = cluster[0].etag(path).expect("the resource has an ETag");
        let barrier = Barrier::new(contenders);
        let won: Vec<u16> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..contenders)
                .map(|c| {
                    let (member, barrier, etag) = (&cluster[c % 3], &barrier, &etag);
                    let body = body(round, c);
                    s.spawn(move || {
                        barrier.wait();
                        member.request_if_match("PATCH", path, &body, etag)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a contender"))
                .collect()
        });
        let ok = won.iter().filter(|s| **s == 200).count();
        assert!(
            won.iter().all(|s| *s == 200 || *s == 412),
            "{path}, round {round}: each answer is 200 or 412: {won:?}"
        );
        assert_eq!(
            ok, 1,
            "{path}, round {round}: {ok} of {contenders} compare-and-sets from one ETag succeeded: {won:?}"
        );
    }
}

/// Found by cluster-torture: the ETag was checked, then the write proposed, so two PATCHes
/// carrying the same If-Match could both pass the check and both commit; a compare-and-set
/// must succeed at most once per value it read.
#[test]
fn compare_and_sets_from_one_read_succeed_at_most_once() {
    let cluster = Cluster::form(3);
    at_most_one_wins(
        &cluster,
        "/1.0",
        |round, c| serde_json::json!({ "config": { "user.cas": format!("{round}-{c}") } }),
    );
}

/// The same race on a member: `PATCH /1.0/cluster/members/NAME` checked its If-Match, then
/// proposed the edit, so edits from one read could all commit, each undoing the others.
#[test]
fn member_edits_from_one_read_succeed_at_most_once() {
    let cluster = Cluster::form(3);
    let path = format!("/1.0/cluster/members/{}", cluster[1].name);
    at_most_one_wins(
        &cluster,
        &path,
        |round, c| serde_json::json!({ "description": format!("edit {round}-{c}") }),
    );
}
