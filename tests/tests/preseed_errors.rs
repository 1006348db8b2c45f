//! Malformed preseeds are refused with their line, column, key and rule, and change nothing.

use corral_tests::{Member, asset};

fn invalid_assets() -> Vec<(String, String, String)> {
    let dir = asset("preseed/invalid");
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the invalid preseeds") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("readable");
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no '# expect:' first line", path.display()))
            .to_owned();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        cases.push((name, text, expect));
    }
    assert!(cases.len() >= 5, "expected the five malformed preseeds");
    cases
}

#[test]
fn each_malformed_preseed_is_refused_precisely_and_nothing_changes() {
    let node1 = Member::start("node1");
    let before = node1.corral(&["query", "/1.0"]).ok().to_owned();
    for (name, text, expect) in invalid_assets() {
        let out = node1.corrald(&["init", "--preseed", "-"], Some(&text));
        let err = out.failed();
        assert!(
            err.contains(&expect),
            "{name}: expected\n  {expect}\ngot\n  {err}"
        );
        assert!(
            err.contains("standard input"),
            "{name}: the error names its source: {err}"
        );
    }
    let after = node1.corral(&["query", "/1.0"]).ok().to_owned();
    let strip = |s: &str| {
        let mut v: serde_json::Value = serde_json::from_str(s).expect("JSON");
        v["environment"]["server_pid"] = serde_json::Value::Null;
        v
    };
    assert_eq!(
        strip(&before),
        strip(&after),
        "a refused preseed changed the server"
    );
    // Still not clustered.
    let cluster = node1.corral(&["query", "/1.0/cluster"]);
    let cluster: serde_json::Value = serde_json::from_str(cluster.ok()).expect("JSON");
    assert_eq!(cluster["enabled"], false);
}

#[test]
fn a_preseed_file_is_read_from_its_path_and_named_in_errors() {
    let node1 = Member::start("node1");
    let path = asset("preseed/invalid/max-voters-4.yaml");
    let out = node1.corrald(&["init", "--preseed", path.to_str().expect("utf-8")], None);
    let err = out.failed();
    assert!(err.contains("max-voters-4.yaml"), "{err}");
    assert!(err.contains("line 4, column 3"), "{err}");
}

#[test]
fn the_daemon_itself_refuses_an_invalid_preseed_sent_past_the_tool() {
    // A client that skips corrald's own checks still cannot get bad config in.
    let node1 = Member::start("node1");
    let out = node1.corral(&[
        "query",
        "--wait",
        "-X",
        "POST",
        "-d",
        r#"{"config": {"cluster.max_voters": "4"}}"#,
        "/internal/init",
    ]);
    let err = out.failed();
    assert!(
        err.contains("cannot set 'cluster.max_voters' to '4': Value must be an odd number equal to or higher than 3"),
        "{err}"
    );
    assert_eq!(
        node1
            .corral(&["config", "get", "cluster.max_voters"])
            .ok()
            .trim(),
        ""
    );
}
