//! Regressions found by cluster-torture. The short torture itself (three members, a fixed
//! seed, every fault kind) joins this file once the two faults it still finds in about one
//! run in three are fixed: a forwarded write sent again after a failure that left its fate
//! unknown (applied twice), and a read answered older than one before it under faults. Run
//! it by hand: `cargo run --release -p corral-tests --bin cluster-torture -- --duration 50
//! --members 3 --seed 16`.

use std::sync::Barrier;

use corral_tests::Cluster;

/// Found by cluster-torture: the ETag was checked, then the write proposed, so two PATCHes
/// carrying the same If-Match could both pass the check and both commit; a compare-and-set
/// must succeed at most once per value it read.
#[test]
fn compare_and_sets_from_one_read_succeed_at_most_once() {
    let cluster = Cluster::form(3);
    let contenders = 6;
    for round in 0..15 {
        let etag = cluster[0].etag("/1.0").expect("GET /1.0 has an ETag");
        let barrier = Barrier::new(contenders);
        let won: Vec<u16> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..contenders)
                .map(|c| {
                    let (member, barrier, etag) = (&cluster[c % 3], &barrier, &etag);
                    s.spawn(move || {
                        let body = serde_json::json!({
                            "config": { "user.cas": format!("{round}-{c}") }
                        });
                        barrier.wait();
                        member.request_if_match("PATCH", "/1.0", &body, etag)
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
            "round {round}: each answer is 200 or 412: {won:?}"
        );
        assert_eq!(
            ok, 1,
            "round {round}: {ok} of {contenders} compare-and-sets from one ETag succeeded: {won:?}"
        );
    }
}
