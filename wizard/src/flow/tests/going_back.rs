//! Esc offers the earlier answer when a question is asked again, and a server that is
//! already clustered is told so before the first question.

use super::*;

#[test]
fn a_question_asked_again_offers_the_earlier_answer() {
    let remote = cluster();
    let (outcome, p) = run(
        &remote,
        vec![
            Y(true),
            T("10.0.0.5"),
            Back, // at "joining?": back to the address, which now defaults to 10.0.0.5
            T(""),
            Y(false),
            T("boot7"),
            Back, // at "storage pool?": back to the name, which now defaults to boot7
            T(""),
            Y(false),
            Back, // at "bridge?": back to "storage pool?", which now defaults to no
            T(""),
            Y(false),
            T(""),
            Y(false),
        ],
    );
    let (preseed, _) = applied(outcome);
    assert_eq!(preseed.config["core.https_address"], "10.0.0.5:8443");
    assert_eq!(preseed.cluster.unwrap().server_name, "boot7");
    assert!(preseed.storage_pools.is_empty(), "the earlier no was kept");
    let asked = p.asked();
    assert_eq!(
        asked[2..4],
        [
            "Are you joining an existing cluster?",
            "What IP address or DNS name should be used to reach this server?"
        ]
    );
}

#[test]
fn a_clustered_server_is_told_before_the_first_question() {
    let remote = cluster();
    let mut environment = env();
    environment.clustered_as = Some("node1".into());
    let mut p = ScriptedPrompter::new(vec![]);
    let why = stopped(Flow::new(environment, &remote).run(&mut p));
    assert!(why.contains("already clustered"), "{why}");
    assert!(why.contains("corral cluster remove node1"), "{why}");
    assert!(p.asked().is_empty(), "{:?}", p.asked());
    assert!(remote.calls.borrow().is_empty());
}
