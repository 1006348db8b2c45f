//! cluster-bench runs end to end with tiny settings and reports every figure with a number.
//! It asserts no speed: timings belong to the program, never to a test.
//! Also, the daemon's binaries are linked the way its memory figure (10) relies on.

use std::process::Command;

#[test]
fn cluster_bench_reports_every_figure() {
    // An earlier output to compare with: one figure this run also has, one it has not.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let earlier = dir.path().join("earlier.json");
    let figure = |key: &str, median: f64, better: &str| serde_json::json!({"key": key, "name": key, "unit": "s", "median": median, "better": better});
    let earlier_run = serde_json::json!({
        "figures": [figure("failover", 0.38, "lower"), figure("retired", 1.0, "lower")],
        "settings": {"quick": true, "members": 7},
        "machine": {"cores": 2},
    });
    std::fs::write(&earlier, earlier_run.to_string()).expect("write earlier.json");
    let out = Command::new(env!("CARGO_BIN_EXE_cluster-bench"))
        .arg("--compare")
        .arg(&earlier)
        .args([
            "--quick",
            "--runs",
            "1",
            "--members",
            "4",
            "--duration",
            "1",
            "--clients",
            "2",
            "--instances",
            "20",
            "--launches",
            "1",
            "--json",
        ])
        .output()
        .expect("cluster-bench starts");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cluster-bench failed:\n{stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("--json prints one JSON object");
    let figures = report["figures"].as_array().expect("a list of figures");
    // The SSH figures (4c, 4d) are left out, saying why, where sshd is not installed.
    let skipped = report["skipped"]
        .as_array()
        .expect("a list of skipped figures");
    // Figures 13-15 (six numbers) are left out in one line where root or runc is missing.
    let instance_skips = skipped
        .iter()
        .filter(|s| s.as_str().is_some_and(|s| s.starts_with("13-15")))
        .count();
    assert_eq!(
        figures.len() + skipped.len() - instance_skips + 6 * instance_skips,
        35,
        "{report:#}"
    );
    if std::env::var_os("CORRAL_TEST_REQUIRE_ALL").is_some() {
        assert_eq!(instance_skips, 0, "instance figures skipped: {report:#}");
    }
    let keys: Vec<&str> = figures.iter().filter_map(|f| f["key"].as_str()).collect();
    assert!(keys.contains(&"list_https"), "{keys:?}");
    let ssh_skipped = skipped.len() > instance_skips;
    for ssh in ["list_ssh", "ssh_login"] {
        assert_eq!(keys.contains(&ssh), !ssh_skipped, "{report:#}");
    }
    for f in figures {
        for field in ["median", "min", "max"] {
            let v = f[field].as_f64();
            assert!(
                v.is_some_and(f64::is_finite),
                "{} has no {field}: {f}",
                f["name"]
            );
        }
        assert!(f["runs"].as_u64().is_some_and(|r| r >= 1), "{f}");
        assert!(f["name"].is_string() && f["unit"].is_string(), "{f}");
        assert!(f.get("met").is_some(), "{f}");
    }
    assert_eq!(report["settings"]["members"], 4);
    // The machine is named, with the disk's fsync time where the members keep their data.
    let machine = &report["machine"];
    assert!(
        machine["cores"].as_u64().is_some_and(|c| c >= 1),
        "{machine}"
    );
    assert!(
        machine["cpu"].as_str().is_some_and(|c| !c.is_empty()),
        "{machine}"
    );
    assert!(
        machine["memory_mib"].as_u64().is_some_and(|m| m > 0),
        "{machine}"
    );
    let fsync = &machine["fsync"];
    let (p50, p90) = (fsync["p50_ms"].as_f64(), fsync["p90_ms"].as_f64());
    assert!(
        p50.is_some_and(|p| p > 0.0) && p90 >= p50,
        "fsync p50 {p50:?}, p90 {p90:?}: {machine}"
    );
    // And how long a thread takes to wake another, which every hand-off pays.
    let wakeup = &machine["wakeup"];
    let (p50, p90) = (wakeup["p50_us"].as_f64(), wakeup["p90_us"].as_f64());
    assert!(
        p50.is_some_and(|p| p > 0.0) && p90 >= p50,
        "wake-up p50 {p50:?}, p90 {p90:?}: {machine}"
    );
    assert_eq!(machine["idle_poll"], false, "{machine}");
    // Every figure says which way it is good, so that a later run can be compared with it.
    for f in figures {
        let better = f["better"].as_str();
        assert!(
            matches!(better, Some("lower" | "higher" | "near")),
            "{}: better {better:?}",
            f["key"]
        );
    }
    assert!(
        keys.contains(&"elections"),
        "the elections under write load are counted: {keys:?}"
    );
    // --compare with --json: every figure of either run, beside the other run's value.
    let compared = &report["compare"];
    let rows = compared["figures"].as_array().expect("compared figures");
    assert_eq!(rows.len(), figures.len() + 1, "{compared:#}");
    let row = |key: &str| {
        rows.iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("no {key} in {compared:#}"))
    };
    let failover = row("failover");
    assert_eq!(failover["earlier"], 0.38, "{failover}");
    assert!(
        failover["now"].as_f64().is_some() && failover["ratio"].as_f64().is_some(),
        "{failover}"
    );
    assert!(failover["judgement"].is_string(), "{failover}");
    assert_eq!(row("retired")["only_in"], "earlier");
    assert_eq!(row("boot")["only_in"], "now");
    assert_eq!(
        compared["setting_differences"],
        serde_json::json!(["members: earlier 7, now 4"]),
        "{compared:#}"
    );
}

/// `--compare` with a file that is not an earlier `--json` output fails at once, naming the
/// file and what is wrong with it, before any member is started.
#[test]
fn compare_with_a_file_that_is_not_a_bench_output_says_what_is_wrong() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let missing = dir.path().join("missing.json");
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "figure 7: 0.38 s\n").expect("write notes.txt");
    let other = dir.path().join("other.json");
    std::fs::write(&other, r#"{"members": []}"#).expect("write other.json");
    let cases = [
        (missing, "no such file"),
        (text, "not JSON"),
        (
            other,
            "not cluster-bench's output: it has no \"figures\" list",
        ),
    ];
    for (file, words) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_cluster-bench"))
            .arg("--compare")
            .arg(&file)
            .output()
            .expect("cluster-bench starts");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", file.display());
        assert!(
            stderr.contains(&file.display().to_string()) && stderr.contains(words),
            "{}: {stderr}",
            file.display()
        );
        assert!(
            out.stdout.is_empty(),
            "nothing measured: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// Figure 10 follows what the daemon's binaries keep resident: unpacked, their relative
/// relocations were 690 KB read at every start (`daemon/build.rs` packs them).
#[test]
fn the_binaries_that_run_the_daemon_pack_their_relocations() {
    for binary in [corral_tests::corrald_bin(), corral_tests::corral_bin()] {
        let out = Command::new("readelf")
            .arg("--dynamic")
            .arg(&binary)
            .output()
            .expect("readelf (binutils, which linking needs too) starts");
        let dynamic = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "readelf {}: {dynamic}",
            binary.display()
        );
        assert!(
            dynamic.contains("(RELR)"),
            "{} has no packed relocations (DT_RELR):\n{dynamic}",
            binary.display()
        );
    }
}
