//! Quorum loss never hangs: commands answer within 10 s, naming the unreachable database
//! members and the way out.

use std::time::{Duration, Instant};

use corral_tests::{Cluster, wait_for_roles};

#[test]
fn losing_two_of_three_fails_fast_and_names_them() {
    let mut cluster = Cluster::form(3);
    wait_for_roles(&cluster[0], 3, 3, 0);
    cluster[0]
        .corral(&["config", "set", "user.before", "written"])
        .ok();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = cluster[0].client();
    // Reads while the cluster is whole are confirmed current, and not marked.
    let confirmed = runtime
        .block_on(client.request("GET", "/1.0", None, None))
        .expect("GET /1.0");
    assert_eq!(confirmed.stale, None);
    cluster[1].kill();
    cluster[2].kill();

    let started = Instant::now();
    let out = cluster[0].corral(&["config", "set", "user.lost", "quorum"]);
    let took = started.elapsed();
    let err = out.failed();
    assert!(
        took < Duration::from_secs(11),
        "the write hung for {took:?}"
    );
    assert!(err.contains("lost quorum"), "{err}");
    assert!(err.contains("node2 (") && err.contains("node3 ("), "{err}");
    assert!(
        err.contains("corrald cluster recover-from-quorum-loss"),
        "{err}"
    );

    // Membership changes are bounded the same way.
    let started = Instant::now();
    let (status, body) = cluster[0].raw("DELETE", "/1.0/cluster/members/node3?force=1", None);
    assert!(
        started.elapsed() < Duration::from_secs(11),
        "the removal hung"
    );
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("lost quorum"), "{body}");

    // Reads still answer from the local replica, and say so: a header names the copy, and
    // `corral` warns on stderr.
    let started = Instant::now();
    let listed = cluster[0].corral(&["cluster", "list", "--format", "json"]);
    let members: Vec<serde_json::Value> = serde_json::from_str(listed.ok()).expect("JSON");
    assert_eq!(members.len(), 3);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        listed
            .stderr
            .starts_with("Warning: quorum lost: this is node1's local copy as of "),
        "{}",
        listed.stderr
    );
    let got = cluster[0].corral(&["config", "get", "user.before"]);
    assert_eq!(got.ok().trim(), "written");
    assert!(got.stderr.contains("node1's local copy"), "{}", got.stderr);

    for path in [
        "/1.0",
        "/1.0/cluster",
        "/1.0/cluster/members",
        "/1.0/cluster/members/node2",
        "/1.0/certificates",
        "/1.0/operations",
    ] {
        let response = runtime
            .block_on(client.request("GET", path, None, None))
            .expect("an answer");
        let stale = response
            .stale
            .unwrap_or_else(|| panic!("GET {path} is not marked as node1's local copy"));
        assert_eq!(stale.member, "node1", "{path}");
        assert!(stale.applied_index > 0, "{path}: {stale:?}");
        let as_of = stale.as_of.expect("node1 confirmed reads before the loss");
        let age = time::OffsetDateTime::now_utc() - as_of;
        assert!(age < time::Duration::minutes(2), "{path}: as of {as_of}");
    }
    // A lookup that fails on the local copy is marked too: the copy may be what is missing.
    let missing = runtime.block_on(client.request("GET", "/1.0/certificates/feed", None, None));
    assert_eq!(missing.err().and_then(|e| e.status()), Some(404));
    assert_eq!(
        client.take_stale().len(),
        7,
        "every answer above was marked"
    );
}
