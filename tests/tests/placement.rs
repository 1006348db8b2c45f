//! Placement on a real three-member cluster, through `corral init` (which creates without
//! starting, so the test is quick): the fewest instances wins, ties to the lowest member
//! id; `--target MEMBER` and `--target @GROUP`; `scheduler.instance` manual and group;
//! `volatile.cluster.group` recorded and holding its group; LXD's refusals; an offline
//! member left out; a member holding instances refused removal.

use std::path::PathBuf;
use std::time::Duration;

use corral_tests::{Cluster, Member, test_image, wait_until};
use serde_json::Value;

/// Root and runc, which instances need; CI has both (and must not skip).
fn runc_here() -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let runc = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .any(|d| d.join("runc").is_file());
    let missing = match (root, runc) {
        (false, _) => Some("not running as root".to_owned()),
        (true, false) => Some("runc is not installed (apt-get install runc)".to_owned()),
        _ => None,
    };
    corral_tests::runs_here("root and runc for real containers", missing)
}

/// Imports the busybox test image through `member` as LXD's API takes it, as `busybox`.
fn import_image(member: &Member) {
    let tarball = std::fs::read(test_image()).expect("the test image");
    let fingerprint = corral_tests::fingerprint_of(&test_image());
    let client = member.client();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let (status, body) = client
            .raw("POST", "/1.0/images", Some(tarball))
            .await
            .expect("the upload is answered");
        assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
        let answer: Value = serde_json::from_slice(&body).expect("JSON");
        let op = answer["operation"]
            .as_str()
            .expect("an operation")
            .to_owned();
        client
            .wait_operation(&op, Duration::from_secs(120))
            .await
            .expect("the image is imported");
        let alias = serde_json::json!({ "name": "busybox", "target": fingerprint });
        client
            .post("/1.0/images/aliases", &alias)
            .await
            .expect("the alias is made");
    });
}

/// Where instance `name` is, as the API says.
fn location(member: &Member, name: &str) -> String {
    instance(member, name)["location"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn instance(member: &Member, name: &str) -> Value {
    let out = member.corral(&["query", &format!("/1.0/instances/{name}")]);
    serde_json::from_str(out.ok()).expect("JSON")
}

/// `corral init busybox NAME [ARGS]` from `member`; where it landed.
fn init(member: &Member, name: &str, args: &[&str]) -> String {
    let mut all = vec!["init", "busybox", name];
    all.extend_from_slice(args);
    member.corral(&all).ok();
    location(member, name)
}

fn refused(member: &Member, name: &str, args: &[&str]) -> String {
    let mut all = vec!["init", "busybox", name];
    all.extend_from_slice(args);
    member.corral(&all).failed().to_owned()
}

#[test]
fn instances_are_placed_by_lxds_rule() {
    if !runc_here() {
        return;
    }
    let mut cluster = Cluster::form(3);
    import_image(&cluster[0]);

    // Fewest instances, ties to the lowest id, from whichever member asks.
    assert_eq!(init(&cluster[2], "c1", &[]), "node1");
    assert_eq!(init(&cluster[1], "c2", &[]), "node2");
    assert_eq!(init(&cluster[0], "c3", &[]), "node3");
    assert_eq!(init(&cluster[2], "c4", &[]), "node1");
    // A named member is obeyed whatever its load: node1 2, node2 2, node3 1 after it.
    assert_eq!(init(&cluster[0], "c5", &["--target", "node2"]), "node2");

    // scheduler.instance: a manual member only by name; a bad value names key, value, rule.
    let err = cluster[1]
        .corral(&["cluster", "set", "node3", "scheduler.instance", "sometimes"])
        .failed()
        .to_owned();
    for part in ["scheduler.instance", "sometimes", "all, manual, group"] {
        assert!(err.contains(part), "{part:?} in {err}");
    }
    cluster[1]
        .corral(&["cluster", "set", "node3", "scheduler.instance", "manual"])
        .ok();
    assert_eq!(init(&cluster[2], "c6", &[]), "node1", "node3 is manual");
    assert_eq!(init(&cluster[1], "c7", &["--target", "node3"]), "node3");

    // Groups: a group-only member takes work only through its group, which is recorded.
    let m = &cluster[1];
    m.corral(&["cluster", "group", "create", "gpu"]).ok();
    m.corral(&["cluster", "group", "add", "node3", "gpu"]).ok();
    assert!(
        refused(m, "g0", &["--target", "@gpu"])
            .contains("No suitable cluster member could be found"),
        "node3 is manual: not even its group places on it"
    );
    m.corral(&["cluster", "set", "node3", "scheduler.instance", "group"])
        .ok();
    assert_eq!(init(m, "g1", &["--target", "@gpu"]), "node3");
    assert_eq!(
        instance(m, "g1")["config"]["volatile.cluster.group"],
        "gpu",
        "placed through gpu"
    );
    assert!(
        instance(m, "c6")["config"]
            .get("volatile.cluster.group")
            .is_none()
    );
    // node1 3, node2 2, node3 3 (group-only, skipped): node2.
    assert_eq!(init(m, "c8", &[]), "node2");
    assert!(
        refused(m, "x1", &["--target", "@fpga"]).contains("Cluster group \"fpga\" doesn't exist")
    );
    assert!(refused(m, "x2", &["--target", "node9"]).contains("Cluster member not found"));

    // A group an instance was placed through is not deleted.
    m.corral(&["cluster", "group", "remove", "node3", "gpu"])
        .ok();
    let err = m.corral(&["cluster", "group", "delete", "gpu"]);
    assert!(
        err.failed().contains("Cluster group is currently in use") && err.failed().contains("g1"),
        "{err:?}"
    );
    let group: Value =
        serde_json::from_str(m.corral(&["query", "/1.0/cluster/groups/gpu"]).ok()).unwrap();
    assert_eq!(group["used_by"], serde_json::json!(["/1.0/instances/g1"]));

    // A member holding instances is not removed; LXD's text lists them.
    let err = m.corral(&["cluster", "remove", "node3"]);
    assert!(
        err.failed()
            .contains("Node still has the following instances: c3, c7, g1"),
        "{err:?}"
    );

    // An offline member is left out.
    m.corral(&["cluster", "set", "node3", "scheduler.instance", "all"])
        .ok();
    cluster[2].kill();
    wait_until("node3 to be seen offline", Duration::from_secs(60), || {
        let status = cluster[0].member("node3")["status"].clone();
        (status == "Offline").then_some(())
    });
    // node1 3, node2 3, node3 3 but offline: node1.
    assert_eq!(init(&cluster[1], "c9", &[]), "node1");
    let err = refused(&cluster[0], "x3", &["--target", "node3"]);
    assert!(err.contains("Cluster member \"node3\" is offline"), "{err}");
}
