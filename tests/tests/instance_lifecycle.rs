//! An instance's life as LXD tells it and as a member's restart leaves it, on a real
//! three-member cluster with runc: `corral monitor` on one member prints the lifecycle
//! events of an instance held by another and operated from the third, each once, located
//! where it happened; and a member that was killed (its containers gone, as after a reboot)
//! starts again what ran, unless `boot.autostart` says otherwise; so does a server alone.

use std::time::{Duration, Instant};

use corral_shared::api::Event;
use corral_tests::containers::{
    Containers, forget_containers, import_busybox, instances_run_here, runc_root,
};
use corral_tests::{Cluster, Member, Monitor, wait_until};

/// How long one action's event may take to reach the monitor.
const WITHIN: Duration = Duration::from_secs(20);
/// A clean shutdown's bound for the test's instances: busybox's init may ignore the
/// signal, and the forced stop after it is what the rule says.
const SHUTDOWN: &str = "boot.host_shutdown_timeout=2";

/// The next lifecycle event of instance `name` the monitor prints (other sources are
/// skipped), as (action, location, metadata).
fn next_of(monitor: &Monitor, name: &str, within: Duration) -> (String, String, serde_json::Value) {
    let source = format!("\"/1.0/instances/{name}\"");
    let line = monitor.line(within, |l| l.contains(&source));
    let event: Event = serde_json::from_str(&line).expect("one JSON event per line");
    (
        event.metadata["action"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        event.location,
        event.metadata,
    )
}

/// Asserts the next event of `name` is `action` at `location`; its metadata.
fn expect(
    monitor: &Monitor,
    name: &str,
    action: &str,
    location: &str,
    after: &str,
) -> serde_json::Value {
    let (got, at, metadata) = next_of(monitor, name, WITHIN);
    assert_eq!(
        (got.as_str(), at.as_str()),
        (action, location),
        "the event after {after}"
    );
    metadata
}

/// Waits until node1's monitor follows node2 and node3: an event made on each after the
/// monitor started reaches it (members follow each other only once someone listens).
/// `probe2` is held by node2 and `probe3` by node3; each announces the execs in its own.
fn follow(monitor: &Monitor, via: &Member, probe2: &str, probe3: &str) {
    let (mut from2, mut from3) = (false, false);
    wait_until("the monitor to follow node2 and node3", WITHIN, || {
        via.corral(&["exec", probe2, "--", "true"]).ok();
        via.corral(&["exec", probe3, "--", "true"]).ok();
        let deadline = Instant::now() + Duration::from_millis(500);
        while let Some(line) = monitor.next_line(deadline.saturating_duration_since(Instant::now()))
        {
            let exec = line.contains("\"instance-exec\"");
            from2 |= exec && line.contains("\"node2\"");
            from3 |= exec && line.contains("\"node3\"");
        }
        (from2 && from3).then_some(())
    });
}

fn status_of(member: &Member, name: &str) -> String {
    let (status, body) = member.raw("GET", &format!("/1.0/instances/{name}"), None);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    v["metadata"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn lifecycle_events_reach_any_member_and_a_restarted_member_starts_what_ran() {
    if !instances_run_here() {
        return;
    }
    let mut cluster = Cluster::form(3);
    let _containers = Containers::of(cluster.members());
    import_busybox(&cluster[0]);
    let (node1, node3) = (&cluster[0], &cluster[2]);
    for (probe, member) in [("probe2", "node2"), ("probe3", "node3")] {
        node3
            .corral(&["launch", "busybox", probe, "--target", member])
            .ok();
    }

    let monitor = Monitor::start(node1, &["--type", "lifecycle", "--format", "json"]);
    follow(&monitor, node3, "probe2", "probe3");

    // Created and started where it lives (node2), though asked of node3.
    node3
        .corral(&[
            "launch", "busybox", "c1", "--target", "node2", "-c", SHUTDOWN,
        ])
        .ok();
    let created = expect(&monitor, "c1", "instance-created", "node2", "launch");
    let root = serde_json::json!({"username": "root", "protocol": "unix", "address": "@"});
    assert_eq!(
        created["requestor"], root,
        "node3's requestor, passed to node2"
    );
    expect(&monitor, "c1", "instance-started", "node2", "created");

    node3.corral(&["exec", "c1", "--", "true"]).ok();
    let exec = expect(&monitor, "c1", "instance-exec", "node2", "exec");
    assert_eq!(exec["context"]["command"], serde_json::json!(["true"]));
    // Announced by node2, asked by root on node3's socket: node3 passed on who asked.
    assert_eq!(exec["requestor"], root);

    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("note");
    std::fs::write(&local, "hello\n").unwrap();
    node3
        .corral(&["file", "push", local.to_str().unwrap(), "c1/root/note"])
        .ok();
    let pushed = expect(&monitor, "c1", "instance-file-pushed", "node2", "push");
    assert_eq!(pushed["context"]["path"], "/root/note");
    node3.corral(&["file", "pull", "c1/root/note", "-"]).ok();
    expect(&monitor, "c1", "instance-file-retrieved", "node2", "pull");
    node3.corral(&["file", "delete", "c1/root/note"]).ok();
    expect(
        &monitor,
        "c1",
        "instance-file-deleted",
        "node2",
        "file delete",
    );

    // A configuration change is announced by the member that recorded it.
    node3.corral(&["config", "set", "c1", "user.role=web"]).ok();
    // Asked of node3, recorded and announced by node2, which holds c1 (as LXD forwards it).
    expect(&monitor, "c1", "instance-updated", "node2", "config set");

    // A restart is one event, not a stop and a start.
    node3.corral(&["restart", "c1"]).ok();
    expect(&monitor, "c1", "instance-restarted", "node2", "restart");
    // A clean stop is a shutdown; a forced one a stop.
    node3.corral(&["stop", "c1"]).ok();
    expect(&monitor, "c1", "instance-shutdown", "node2", "restarted");
    node3.corral(&["start", "c1"]).ok();
    expect(&monitor, "c1", "instance-started", "node2", "shutdown");
    node3.corral(&["stop", "c1", "--force"]).ok();
    expect(&monitor, "c1", "instance-stopped", "node2", "started");
    node3.corral(&["delete", "c1"]).ok();
    expect(&monitor, "c1", "instance-deleted", "node2", "stopped");

    // A member's evacuation and restore are announced by that member, once done.
    node1
        .corral(&["cluster", "evacuate", "node3", "--force"])
        .ok();
    let line = monitor.line(WITHIN, |l| l.contains("cluster-member-evacuated"));
    assert!(line.contains("\"/1.0/cluster/members/node3\""), "{line}");
    assert!(line.contains("\"location\":\"node3\""), "{line}");
    node1
        .corral(&["cluster", "restore", "node3", "--force"])
        .ok();
    let line = monitor.line(WITHIN, |l| l.contains("cluster-member-restored"));
    assert!(line.contains("\"location\":\"node3\""), "{line}");
    drop(monitor);

    starts_again_what_ran_after_a_crash(&mut cluster);
}

/// node2 is killed and its containers forgotten, as a reboot leaves them: on its return it
/// starts what ran (`volatile.last_state.power` RUNNING) and what says `boot.autostart`
/// true, and leaves stopped what says false and what was stopped.
fn starts_again_what_ran_after_a_crash(cluster: &mut Cluster) {
    let via = &cluster[0];
    let launch = |name: &str, verb: &str, extra: &[&str]| {
        let mut args = vec![verb, "busybox", name, "--target", "node2", "-c", SHUTDOWN];
        args.extend_from_slice(extra);
        via.corral(&args).ok();
    };
    launch("a1", "launch", &[]);
    launch("a2", "launch", &["-c", "boot.autostart=false"]);
    launch("a3", "init", &["-c", "boot.autostart=true"]);
    launch("a4", "init", &[]);
    for (name, want) in [
        ("a1", "Running"),
        ("a2", "Running"),
        ("a3", "Stopped"),
        ("a4", "Stopped"),
    ] {
        assert_eq!(
            status_of(&cluster[0], name),
            want,
            "{name} before the crash"
        );
    }

    cluster[1].kill();
    forget_containers(&runc_root(&cluster[1]));
    cluster[1].restart();

    // By name among equals: a1, a2 (not started), a3; once a3 runs, a2's fate is known.
    wait_until(
        "node2 to start a1 and a3 again",
        Duration::from_secs(60),
        || {
            (status_of(&cluster[0], "a1") == "Running" && status_of(&cluster[0], "a3") == "Running")
                .then_some(())
        },
    );
    assert_eq!(
        status_of(&cluster[0], "a2"),
        "Stopped",
        "boot.autostart=false"
    );
    assert_eq!(status_of(&cluster[0], "a4"), "Stopped", "it was stopped");
    // What started records it ran, so it starts again next time too.
    let (_, body) = cluster[0].raw("GET", "/1.0/instances/a3", None);
    assert!(
        body.contains("\"volatile.last_state.power\":\"RUNNING\""),
        "{body}"
    );
}

/// A server that is not clustered starts again what ran, as a member does (it has no moves
/// to settle first), and leaves stopped what was stopped.
#[test]
fn a_server_alone_starts_again_what_ran_after_a_crash() {
    if !instances_run_here() {
        return;
    }
    let mut solo = Member::start("solo");
    let _containers = Containers::of([&solo]);
    import_busybox(&solo);
    solo.corral(&["launch", "busybox", "s1", "-c", SHUTDOWN])
        .ok();
    solo.corral(&["init", "busybox", "s2", "-c", SHUTDOWN]).ok();
    assert_eq!(status_of(&solo, "s1"), "Running", "s1 before the crash");

    solo.kill();
    forget_containers(&runc_root(&solo));
    solo.restart();

    wait_until(
        "the server alone to start s1 again",
        Duration::from_secs(60),
        || (status_of(&solo, "s1") == "Running").then_some(()),
    );
    assert_eq!(status_of(&solo, "s2"), "Stopped", "it was stopped");
}
