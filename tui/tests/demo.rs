//! `corral demo` end to end: three real daemons (`corral` itself, run as `corrald`, with no
//! `corrald` binary beside it), a cluster formed by token and by trust password, and nothing
//! left behind afterwards.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long forming, listing and stopping the demo cluster may take in all.
const DEADLINE: Duration = Duration::from_secs(300);

/// What a finished `corral` printed.
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `program ARGS` to its end (killing it after [`DEADLINE`]).
fn run(program: &Path, args: &[&str]) -> Run {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("corral starts");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("corral can be waited for") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "corral {args:?} did not finish within {}s; output so far:\n{}",
                DEADLINE.as_secs(),
                stdout.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Run {
        success: status.success(),
        stdout: stdout.join().expect("stdout read"),
        stderr: stderr.join().expect("stderr read"),
    }
}

/// The pids printed by the `Starting nodeN on ADDR (pid P) ...` lines.
fn pids(stdout: &str) -> Vec<u32> {
    stdout
        .lines()
        .filter(|l| l.starts_with("Starting node"))
        .filter_map(|l| l.split("(pid ").nth(1))
        .filter_map(|rest| rest.split(')').next())
        .map(|pid| pid.parse().expect("a pid"))
        .collect()
}

/// The demo directory, from the `CORRAL_DIR=<dir>/node1 corral cluster list` hint.
fn demo_dir(stdout: &str) -> PathBuf {
    let hint = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("CORRAL_DIR="))
        .expect("the output says how to reach the cluster");
    let node1 = hint.split_whitespace().next().expect("a directory");
    Path::new(node1).parent().expect("node1's parent").into()
}

/// Whether `pid` is a live corrald (a reused pid running something else does not count).
fn is_corrald(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|cmd| String::from_utf8_lossy(&cmd).contains("corrald"))
        .unwrap_or(false)
}

/// A `corral` alone in a directory of its own (a hard link when possible), as after
/// `cargo build --bin corral` on a fresh clone: no `corrald` beside it.
fn lonely_corral() -> (tempfile::TempDir, PathBuf) {
    let built = Path::new(env!("CARGO_BIN_EXE_corral"));
    let dir = tempfile::Builder::new()
        .prefix("lonely-corral-")
        .tempdir_in(built.parent().expect("the target directory"))
        .expect("a directory beside the build");
    let lonely = dir.path().join("corral");
    if std::fs::hard_link(built, &lonely).is_err() {
        std::fs::copy(built, &lonely).expect("corral copied");
    }
    assert!(!dir.path().join("corrald").exists());
    (dir, lonely)
}

#[test]
fn demo_forms_three_online_members_and_leaves_nothing_behind() {
    let (_dir, corral) = lonely_corral();
    let out = run(&corral, &["demo", "--exit-after-formation"]);
    let report = format!(
        "--- stdout ---\n{}--- stderr ---\n{}",
        out.stdout, out.stderr
    );
    assert!(out.success, "corral demo failed\n{report}");

    let started = pids(&out.stdout);
    assert_eq!(started.len(), 3, "three daemons were started\n{report}");
    for step in [
        "Bootstrapped node1",
        "Joined node2 by token",
        "Joined node3 by trust password",
    ] {
        assert!(out.stdout.contains(step), "missing {step:?}\n{report}");
    }

    // The member table: one first line per member, each ONLINE, node1 leading.
    let rows: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("| node"))
        .collect();
    assert_eq!(rows.len(), 3, "three members listed\n{report}");
    for (row, name) in rows.iter().zip(["node1", "node2", "node3"]) {
        assert!(row.starts_with(&format!("| {name} ")), "{row}\n{report}");
        assert!(row.contains("| ONLINE "), "{name} is not online\n{report}");
    }
    assert!(
        rows[0].contains("database-leader"),
        "node1 leads the database\n{report}"
    );

    // Stopped and cleaned up.
    let dir = demo_dir(&out.stdout);
    assert!(!dir.exists(), "{} was not removed\n{report}", dir.display());
    for pid in started {
        assert!(!is_corrald(pid), "corrald {pid} still runs\n{report}");
    }
}
