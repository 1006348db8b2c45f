//! `corral rename` and `corral move`, as lxc's, on a real three-member cluster with runc:
//! a stopped instance renamed or moved from a member that does not hold it keeps its files
//! and runs under its new name or on its new member; running instances, taken names and
//! evacuated destinations are refused with what to do; and a holder killed between the
//! database's rename and the files' finishes the rename when it starts again.

use std::time::Duration;

use corral_tests::containers::{Containers, import_busybox, instances_run_here, listing};
use corral_tests::{Cluster, Member, Monitor, wait_until};

/// How long a member may take to come back and settle.
const SETTLE: Duration = Duration::from_secs(60);

fn where_is(member: &Member, name: &str) -> Option<(String, String)> {
    listing(member)
        .into_iter()
        .find(|(n, ..)| n == name)
        .map(|(_, status, location)| (status, location))
}

fn bundle_exists(member: &Member, name: &str) -> bool {
    member
        .dir()
        .join("storage-pools/default/containers")
        .join(name)
        .join("rootfs")
        .is_dir()
}

fn exec(member: &Member, name: &str, script: &str) -> String {
    let out = member.corral(&["exec", name, "--", "sh", "-c", script]);
    out.ok().to_owned()
}

#[test]
fn instances_are_renamed_and_moved_from_any_member() {
    if !instances_run_here() {
        return;
    }
    let mut cluster = Cluster::form(3);
    let _containers = Containers::of(cluster.members());
    import_busybox(&cluster[0]);
    let monitor = Monitor::start(&cluster[0], &["--type", "lifecycle", "--format", "json"]);
    cluster[2]
        .corral(&["launch", "busybox", "c1", "--target", "node1"])
        .ok();
    exec(&cluster[1], "c1", "echo kept > /root/note");

    // Running: neither renamed nor moved; the refusal says what to do.
    let out = cluster[1].corral(&["rename", "c1", "web"]);
    assert!(
        out.failed()
            .contains("Renaming of running instance not allowed"),
        "{out:?}"
    );
    assert!(out.failed().contains("corral stop c1"), "{out:?}");
    let out = cluster[1].corral(&["move", "c1", "--target", "node3"]);
    assert!(
        out.failed().contains("must be stopped to be moved"),
        "{out:?}"
    );
    cluster[1].corral(&["stop", "c1", "--force"]).ok();

    // Renamed from node2; node1 holds it: the files follow the name.
    cluster[1].corral(&["rename", "c1", "web"]).ok();
    assert_eq!(
        where_is(&cluster[2], "web"),
        Some(("STOPPED".into(), "node1".into()))
    );
    assert_eq!(where_is(&cluster[2], "c1"), None);
    assert!(bundle_exists(&cluster[0], "web") && !bundle_exists(&cluster[0], "c1"));
    let event = monitor.line_containing(Duration::from_secs(20), "instance-renamed");
    assert!(event.contains("\"/1.0/instances/web\""), "{event}");
    assert!(event.contains("\"old_name\":\"c1\""), "{event}");
    cluster[2].corral(&["start", "web"]).ok();
    assert_eq!(
        exec(&cluster[2], "web", "cat /proc/sys/kernel/hostname"),
        "web\n"
    );
    assert_eq!(exec(&cluster[2], "web", "cat /root/note"), "kept\n");
    cluster[2].corral(&["stop", "web", "--force"]).ok();

    // Moved from node2 to node3: there and only there, with its files.
    cluster[1]
        .corral(&["move", "web", "--target", "node3"])
        .ok();
    assert_eq!(
        where_is(&cluster[0], "web"),
        Some(("STOPPED".into(), "node3".into()))
    );
    assert!(bundle_exists(&cluster[2], "web"));
    assert!(!bundle_exists(&cluster[0], "web"));
    cluster[0].corral(&["start", "web"]).ok();
    assert_eq!(exec(&cluster[0], "web", "cat /root/note"), "kept\n");
    cluster[0].corral(&["stop", "web", "--force"]).ok();

    // Moved and renamed at once, as `lxc move web db --target node2` asks.
    cluster[0]
        .corral(&["move", "web", "db", "--target", "node2"])
        .ok();
    assert_eq!(
        where_is(&cluster[2], "db"),
        Some(("STOPPED".into(), "node2".into()))
    );
    assert!(bundle_exists(&cluster[1], "db"));
    assert!(!bundle_exists(&cluster[2], "web") && !bundle_exists(&cluster[2], "db"));

    refusals(&cluster);
    a_holder_killed_mid_rename_finishes_it_when_it_starts(&mut cluster);
}

fn refusals(cluster: &Cluster) {
    cluster[0]
        .corral(&["init", "busybox", "c2", "--target", "node1"])
        .ok();
    let out = cluster[2].corral(&["rename", "db", "c2"]);
    assert!(out.failed().contains("\"c2\" already in use"), "{out:?}");
    let out = cluster[2].corral(&["rename", "db", "9x"]);
    assert!(out.failed().contains("Invalid instance name"), "{out:?}");
    let out = cluster[2].corral(&["move", "db", "--target", "node9"]);
    assert!(out.failed().contains("not found"), "{out:?}");
    let out = cluster[2].corral(&["move", "db"]);
    assert!(out.failed().contains("--target MEMBER"), "{out:?}");
    let (status, body) = cluster[2].raw(
        "POST",
        "/1.0/instances/db?target=node1",
        Some(r#"{"migration":true,"live":true}"#),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Live migration is not supported"), "{body}");
    // An evacuated member takes no instance, as LXD words it for a move.
    cluster[0]
        .corral(&["cluster", "evacuate", "node3", "--force"])
        .ok();
    let out = cluster[0].corral(&["move", "db", "--target", "node3"]);
    assert!(
        out.failed()
            .contains("The destination cluster member is evacuated"),
        "{out:?}"
    );
    cluster[0]
        .corral(&["cluster", "restore", "node3", "--force"])
        .ok();
    // Nothing moved or renamed by the refusals.
    assert_eq!(
        where_is(&cluster[0], "db"),
        Some(("STOPPED".into(), "node2".into()))
    );
}

fn a_holder_killed_mid_rename_finishes_it_when_it_starts(cluster: &mut Cluster) {
    // node2 holds db; it aborts once the database says "app", before its files follow.
    cluster.members_mut()[1].kill();
    cluster.members_mut()[1].set_env("CORRAL_TEST_CRASH_AT", "renamed");
    cluster.members_mut()[1].restart();
    cluster[0].corral(&["rename", "db", "app"]).failed();
    wait_until("node2 to abort", Duration::from_secs(30), || {
        (!cluster.members_mut()[1].is_running()).then_some(())
    });
    assert!(bundle_exists(&cluster[1], "db") && !bundle_exists(&cluster[1], "app"));
    cluster.members_mut()[1].kill();
    cluster.members_mut()[1].set_env("CORRAL_TEST_CRASH_AT", "");
    cluster.members_mut()[1].restart();
    wait_until("node2 to finish renaming db to app", SETTLE, || {
        let (status, body) = cluster[0].raw("GET", "/1.0/instances/app", None);
        let done = status == 200
            && !body.contains("volatile.rename.from")
            && bundle_exists(&cluster[1], "app")
            && !bundle_exists(&cluster[1], "db");
        done.then_some(())
    });
    cluster[0].corral(&["start", "app"]).ok();
    assert_eq!(
        exec(&cluster[2], "app", "cat /proc/sys/kernel/hostname"),
        "app\n"
    );
}
