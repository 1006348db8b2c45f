//! The `corrald` command line, without a running daemon.

use std::process::{Command, Stdio};

fn corrald(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_corrald"))
        .args(args)
        .env("CORRAL_DIR", dir)
        .stdin(Stdio::null())
        .output()
        .expect("corrald runs")
}

#[test]
fn help_lists_the_subcommands() {
    let dir = tempfile::tempdir().expect("dir");
    let out = corrald(&["--help"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    for sub in ["serve", "init", "waitready", "shutdown"] {
        assert!(text.contains(sub), "{sub} missing from:\n{text}");
    }
}

#[test]
fn a_bad_preseed_is_refused_before_the_daemon_is_asked() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "config:\n  cluster.max_voters: 4\n").expect("write");
    let out = corrald(
        &["init", "--preseed", file.to_str().expect("utf-8")],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("Error: invalid preseed"), "{err}");
    assert!(err.contains("line 2, column 3"), "{err}");
}

#[test]
fn waitready_gives_up_in_time_and_says_on_what() {
    let dir = tempfile::tempdir().expect("dir");
    let out = corrald(&["waitready", "--timeout", "1"], dir.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("was not ready within 1s"), "{err}");
    assert!(err.contains("unix.socket"), "{err}");
}
