//! The `corral` command line when no daemon is there.

use std::process::Command;

#[test]
fn commands_say_how_to_reach_a_daemon_when_none_answers() {
    let dir = tempfile::tempdir().expect("dir");
    let out = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["cluster", "list"])
        .env("CORRAL_DIR", dir.path())
        .output()
        .expect("corral runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("Error: cannot reach the Corral daemon"),
        "{err}"
    );
    assert!(err.contains("Is corrald running?"), "{err}");
}

#[test]
fn version_works_without_a_daemon() {
    let dir = tempfile::tempdir().expect("dir");
    let out = Command::new(env!("CARGO_BIN_EXE_corral"))
        .arg("version")
        .env("CORRAL_DIR", dir.path())
        .output()
        .expect("corral runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Client version:"), "{text}");
    assert!(text.contains("Server version: unreachable"), "{text}");
}

/// Runs `corral ARGS` with no daemon and standard input closed (not a terminal).
fn corral_without_daemon(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().expect("dir");
    Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(args)
        .env("CORRAL_DIR", dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("corral runs")
}

#[test]
fn edit_without_a_terminal_refuses_empty_standard_input() {
    let out = corral_without_daemon(&["cluster", "edit", "node1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("Error: No YAML on standard input"), "{err}");
}

#[test]
fn forced_removal_without_a_terminal_needs_yes() {
    let out = corral_without_daemon(&["cluster", "remove", "node2", "--force"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("add --yes if you mean it"), "{err}");
    // With --yes it goes ahead and asks the daemon (absent here).
    let out = corral_without_daemon(&["cluster", "remove", "node2", "--force", "--yes"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("Error: cannot reach the Corral daemon"),
        "{err}"
    );
}
