//! `corral cluster doctor` and `corrald cluster doctor`: plain words about what is wrong and
//! the command to run next; `corrald cluster list-database` with every daemon stopped.

use std::time::{Duration, Instant};

use corral_tests::{Cluster, wait_for_roles};

#[test]
fn doctor_says_all_is_well_then_names_the_lost_members_and_the_way_out() {
    let mut cluster = Cluster::form(3);
    wait_for_roles(&cluster[0], 3, 3, 0);

    let healthy = cluster[0].corral(&["cluster", "doctor"]);
    let text = healthy.ok();
    assert!(text.starts_with("All is well"), "{text}");
    assert!(!text.contains("What to do next"), "{text}");

    cluster[1].kill();
    cluster[2].kill();
    let started = Instant::now();
    let lost = cluster[0].corral(&["cluster", "doctor"]);
    let took = started.elapsed();
    let text = lost.ok();
    assert!(took < Duration::from_secs(10), "the doctor took {took:?}");
    assert!(text.contains("lost quorum"), "{text}");
    for name in ["node2", "node3"] {
        let address = &cluster.members()[if name == "node2" { 1 } else { 2 }].address;
        assert!(
            text.contains(&format!("{name} ({address}) does not answer")),
            "{name} not named in\n{text}"
        );
        assert!(
            text.contains(&format!("corral cluster remove {name} --force")),
            "{text}"
        );
    }
    assert!(text.contains("node1 has the newest database log"), "{text}");
    let node1 = format!("on node1 ({})", cluster[0].address);
    assert!(
        text.contains(&format!("{node1}: corrald shutdown")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{node1}: corrald cluster recover-from-quorum-loss"
        )),
        "{text}"
    );

    // With node1's daemon gone too, corrald reads its files and says so; no shutdown step.
    cluster[0].kill();
    let offline = cluster[0].corral(&["cluster", "doctor"]);
    assert!(
        offline.failed().contains("corrald cluster doctor"),
        "{offline:?}"
    );
    let started = Instant::now();
    let offline = cluster[0].corrald(&["cluster", "doctor"], None);
    assert!(started.elapsed() < Duration::from_secs(10));
    let text = offline.ok();
    assert!(text.contains("daemon is not running"), "{text}");
    assert!(
        text.contains(&format!(
            "{node1}: corrald cluster recover-from-quorum-loss"
        )),
        "{text}"
    );
    assert!(!text.contains("corrald shutdown"), "{text}");
}

#[test]
fn list_database_works_with_every_daemon_stopped() {
    let mut cluster = Cluster::form(3);
    wait_for_roles(&cluster[0], 3, 3, 0);
    for i in (0..3).rev() {
        cluster[i].shutdown();
    }
    let out = cluster[0].corrald(&["cluster", "list-database"], None);
    let text = out.ok();
    for m in cluster.members() {
        assert!(
            text.contains(&m.address),
            "{} missing from\n{text}",
            m.address
        );
    }
    // Stopping members hands their votes over, so the last one stopped is the voter left.
    assert!(
        text.contains("| node1 |") && text.contains("| voter "),
        "{text}"
    );
    // The alias, as lxd has it.
    assert_eq!(cluster[0].corrald(&["cluster", "ls"], None).ok(), text);
}
