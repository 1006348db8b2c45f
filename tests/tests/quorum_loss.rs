//! Quorum loss never hangs: commands answer within 10 s, naming the unreachable database
//! members and the way out.

use std::time::{Duration, Instant};

use corral_tests::{Cluster, wait_for_roles};

#[test]
fn losing_two_of_three_fails_fast_and_names_them() {
    let mut cluster = Cluster::form(3);
    wait_for_roles(&cluster[0], 3, 3, 0);
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

    // Reads still answer from the local replica.
    let started = Instant::now();
    assert_eq!(cluster[0].members().len(), 3);
    assert!(started.elapsed() < Duration::from_secs(10));
}
