//! `corral dashboard` end to end, as a person sees it: `corral demo` runs in a tmux pane of
//! 120x30 and the test reads the screen with `tmux capture-pane`. Three real members come
//! up ONLINE with the leader marked; the offline threshold is lowered from the dashboard's
//! prompt; node2 is killed (SIGKILL) and turns OFFLINE, is started again and turns ONLINE;
//! a join token created from the dashboard lets a fourth member join, and it appears.
//!
//! Every process the test starts (tmux server, the extra daemons, and any demo member
//! still alive) is killed by a guard, on success and on failure alike.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use corral_tests::Pane;

/// Forming the demo's cluster (three debug daemons, one after the other).
const FORMING: Duration = Duration::from_secs(240);
/// A member killed turns OFFLINE within the threshold (11 s) and a heartbeat or two.
const TO_OFFLINE: Duration = Duration::from_secs(30);
/// Anything else the dashboard should show.
const TO_SHOW: Duration = Duration::from_secs(60);

/// The line the token dialog puts above the token (see `dashboard::view::TOKEN_INTRO`).
const TOKEN_INTRO: &str = "Join token (give it to the new server's init):";

/// A daemon the test started itself; dropping it kills it.
struct Daemon(Child);

impl Daemon {
    fn start(corrald: &Path, dir: &Path) -> Daemon {
        std::fs::create_dir_all(dir).expect("the member's directory");
        let log = std::fs::File::create(dir.with_extension("log")).expect("a log file");
        let child = Command::new(corrald)
            .env("CORRAL_DIR", dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("corrald starts");
        Daemon(child)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The pids of running `corrald` processes whose CORRAL_DIR lies under `root`.
fn daemons_under(root: &Path) -> Vec<(i32, PathBuf)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let program = cmdline.split(|b| *b == 0).next()?;
            if !String::from_utf8_lossy(program).ends_with("corrald") {
                return None;
            }
            let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            let dir = environ
                .split(|b| *b == 0)
                .find_map(|v| v.strip_prefix(b"CORRAL_DIR"))
                .and_then(|v| v.strip_prefix(b"="))
                .map(|v| PathBuf::from(String::from_utf8_lossy(v).into_owned()))?;
            dir.starts_with(root).then_some((pid, dir))
        })
        .collect()
}

fn kill(pid: i32) {
    // SAFETY: kill(2) with a pid just read from /proc of a corrald the test started (through
    // the demo); at worst the process is already gone and the call fails.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

/// Kills, on drop, any demo member still running under the test's directory.
struct Leftovers(PathBuf);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for (pid, _) in daemons_under(&self.0) {
            kill(pid);
        }
    }
}

/// Whether `name`'s row in the members table says `status`.
fn row_says(screen: &str, name: &str, status: &str) -> bool {
    screen
        .lines()
        .any(|l| l.starts_with(&format!("│{name} ")) && l.contains(&format!(" {status} ")))
}

/// The token in the token dialog: the lines under the intro, from the intro's column.
fn token_on_screen(screen: &str) -> Option<String> {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let intro: Vec<char> = TOKEN_INTRO.chars().collect();
    let (row, column) = lines.iter().enumerate().find_map(|(row, line)| {
        line.windows(intro.len())
            .position(|w| w == intro.as_slice())
            .map(|column| (row, column))
    })?;
    let token: String = lines[row + 1..]
        .iter()
        .map(|line| {
            line.iter()
                .skip(column)
                .take_while(|c| !c.is_whitespace() && **c != '│')
                .collect::<String>()
        })
        .take_while(|part| !part.is_empty())
        .collect();
    (!token.is_empty()).then_some(token)
}

fn corral(corral: &Path, dir: &Path, args: &[&str]) -> String {
    let out = Command::new(corral)
        .env("CORRAL_DIR", dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("corral runs");
    assert!(out.status.success(), "corral {args:?} failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The preseed that joins a member at `address` with `token`, answering every
/// member-specific key of the cluster (as `GET /1.0/cluster` lists them) with "".
fn token_preseed(address: &str, token: &str, cluster: &serde_json::Value) -> String {
    let mut yaml = format!(
        "config:\n  core.https_address: {address}\ncluster:\n  enabled: true\n  \
         server_address: {address}\n  cluster_token: {token}\n"
    );
    let keys = cluster["member_config"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !keys.is_empty() {
        yaml.push_str("  member_config:\n");
        for k in keys {
            yaml.push_str(&format!(
                "  - entity: {}\n    name: {}\n    key: {}\n    value: \"\"\n",
                k["entity"].as_str().unwrap_or_default(),
                k["name"].as_str().unwrap_or_default(),
                k["key"].as_str().unwrap_or_default()
            ));
        }
    }
    yaml
}

/// `corral demo` in a tmux pane of 120x30, once its three members show ONLINE with a
/// leader: the pane, that screen, and the demo's directory.
fn start_demo(corral_bin: &Path, tmp: &Path) -> (Pane, String, PathBuf) {
    // The demo makes its directory under TMPDIR, so the test knows where the members live.
    // When it ends, the shell says how, and the pane stays for the test to read.
    let command = format!(
        "env TMPDIR={} {} demo; echo \"corral exited: $?\"; sleep 600",
        tmp.display(),
        corral_bin.display()
    );
    let tmux = Pane::start(&command, 120, 30);
    let screen = tmux.wait_for("three ONLINE members and a leader", FORMING, |s| {
        ["node1", "node2", "node3"]
            .iter()
            .all(|n| row_says(s, n, "ONLINE"))
            && s.contains("database (leader)")
            && s.contains("Quorum OK")
    });
    let demo_dir = std::fs::read_dir(tmp)
        .expect("the test directory")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("corral-demo-"))
        })
        .expect("the demo's directory under TMPDIR");
    (tmux, screen, demo_dir)
}

#[test]
fn the_dashboard_follows_a_real_cluster_through_failure_restart_and_join() {
    if !Pane::available() {
        return;
    }
    let corral_bin = PathBuf::from(env!("CARGO_BIN_EXE_corral"));
    let corrald = corral_bin.with_file_name("corrald");
    assert!(
        corrald.is_file(),
        "the demo runs the corrald built next to corral, and {} does not exist; build it \
         first with `cargo build` (or run `cargo test --workspace`)",
        corrald.display()
    );
    let tmp = tempfile::Builder::new()
        .prefix("corral-dash-e2e-")
        .tempdir()
        .expect("a directory");
    let _leftovers = Leftovers(tmp.path().to_path_buf());
    let (tmux, screen, demo_dir) = start_demo(&corral_bin, tmp.path());
    assert!(
        screen.contains("corral dashboard · watching node1"),
        "{screen}"
    );
    let node1_dir = demo_dir.join("node1");
    let node2_dir = demo_dir.join("node2");

    // A short offline threshold, set from the dashboard's prompt (with its confirmation).
    tmux.type_text(":set cluster.offline_threshold 11");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the confirmation", TO_SHOW, |s| {
        s.contains("Change a cluster setting") && s.contains("set to 11.")
    });
    tmux.keys(&["y"]);
    tmux.wait_for("the setting applied", TO_SHOW, |s| {
        s.contains("cluster.offline_threshold set to 11")
    });

    // node2 dies without a word.
    let node2 = daemons_under(&node2_dir);
    assert_eq!(node2.len(), 1, "node2's corrald: {node2:?}");
    kill(node2[0].0);
    tmux.wait_for("node2 OFFLINE", TO_OFFLINE, |s| {
        row_says(s, "node2", "OFFLINE") && row_says(s, "node1", "ONLINE")
    });

    // Started again on the same directory, it comes back.
    let _node2_again = Daemon::start(&corrald, &node2_dir);
    tmux.wait_for("node2 ONLINE again", TO_SHOW, |s| {
        row_says(s, "node2", "ONLINE")
    });

    // A join token from the dashboard.
    tmux.keys(&["a"]);
    tmux.type_text("node4");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the token confirmation", TO_SHOW, |s| {
        s.contains("Create a join token")
    });
    tmux.keys(&["y"]);
    // A capture can catch the dialog half drawn: the token is taken once two captures in a
    // row show the same one, of a whole base64 length.
    let previous = std::cell::RefCell::new(None::<String>);
    let screen = tmux.wait_for("the whole token, twice the same", TO_SHOW, |s| {
        let seen = token_on_screen(s).filter(|t| t.len() % 4 == 0);
        let steady = seen.is_some() && *previous.borrow() == seen;
        *previous.borrow_mut() = seen;
        steady
    });
    let token = token_on_screen(&screen).expect("a token");
    tmux.keys(&["Escape"]);

    // A fourth member joins with it and shows up.
    let node4_dir = tmp.path().join("node4");
    let address = {
        let listener = TcpListener::bind(("127.0.0.4", 0)).expect("a port on 127.0.0.4");
        format!("127.0.0.4:{}", listener.local_addr().expect("bound").port())
    };
    let _node4 = Daemon::start(&corrald, &node4_dir);
    let ready = Command::new(&corrald)
        .env("CORRAL_DIR", &node4_dir)
        .arg("waitready")
        .output()
        .expect("corrald waitready runs");
    assert!(ready.status.success(), "node4 not ready: {ready:?}");
    let cluster: serde_json::Value =
        serde_json::from_str(&corral(&corral_bin, &node1_dir, &["query", "/1.0/cluster"]))
            .expect("GET /1.0/cluster is JSON");
    let mut init = Command::new(&corrald)
        .env("CORRAL_DIR", &node4_dir)
        .args(["init", "--preseed", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("corrald init runs");
    init.stdin
        .take()
        .expect("piped")
        .write_all(token_preseed(&address, &token, &cluster).as_bytes())
        .expect("the preseed is sent");
    let joined = init.wait_with_output().expect("corrald init ends");
    assert!(joined.status.success(), "node4 could not join: {joined:?}");
    // The row and the log line come by two streams (the Watch and the events): wait for both.
    tmux.wait_for("node4 ONLINE, and its join in the log", TO_SHOW, |s| {
        row_says(s, "node4", "ONLINE") && s.contains("node4 joined")
    });

    // q leaves the dashboard, and the demo stops its members and cleans up.
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the demo to end", TO_SHOW, |s| s.contains("corral exited:"));
    assert!(screen.contains("corral exited: 0"), "{screen}");
    assert!(screen.contains("Stopping the cluster"), "{screen}");
}

#[test]
fn killing_the_watched_member_moves_the_dashboard_and_a_lost_quorum_is_marked() {
    if !Pane::available() {
        return;
    }
    let corral_bin = PathBuf::from(env!("CARGO_BIN_EXE_corral"));
    let tmp = tempfile::Builder::new()
        .prefix("corral-dash-truth-")
        .tempdir()
        .expect("a directory");
    let _leftovers = Leftovers(tmp.path().to_path_buf());
    let (tmux, screen, demo_dir) = start_demo(&corral_bin, tmp.path());
    // What `corral demo` printed before the dashboard covered it stays on screen.
    assert!(screen.contains("demo: node1 pid "), "{screen}");
    assert!(
        screen.contains(&format!("CORRAL_DIR={}/node1", demo_dir.display())),
        "{screen}"
    );
    assert!(
        screen.contains("▶ Members 3"),
        "the focused pane is marked:\n{screen}"
    );

    // The watched member dies: the dashboard moves to another one and says so, and Raft's
    // view (from the new member) shows node1 down rather than "3 of 3".
    let node1 = daemons_under(&demo_dir.join("node1"));
    assert_eq!(node1.len(), 1, "node1's corrald: {node1:?}");
    kill(node1[0].0);
    let screen = tmux.wait_for("the dashboard on another member", TO_SHOW, |s| {
        s.contains("node1 cannot be reached")
            && (s.contains("watching node2") || s.contains("watching node3"))
    });
    let survivor = if screen.contains("watching node2") {
        "node2"
    } else {
        "node3"
    };
    let other = if survivor == "node2" {
        "node3"
    } else {
        "node2"
    };
    tmux.wait_for("a degraded quorum with node1 down", TO_SHOW, |s| {
        s.contains("Quorum DEGRADED") && s.contains("down: node1")
    });

    // The last other voter dies too: the survivor has no quorum behind its copy, and the
    // dashboard marks what it shows as not live, with the time it is from.
    let victim = daemons_under(&demo_dir.join(other));
    assert_eq!(victim.len(), 1, "{other}'s corrald: {victim:?}");
    kill(victim[0].0);
    let screen = tmux.wait_for("the data marked not live", TO_SHOW, |s| {
        s.contains("NOT LIVE: as of") && s.contains("no quorum confirms it")
    });
    assert!(
        screen.contains(&format!("watching {survivor}")),
        "still on the survivor:\n{screen}"
    );
    assert!(
        !screen.contains("Quorum OK") && !screen.contains("Quorum DEGRADED"),
        "{screen}"
    );

    // q says what it stops while it stops it.
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the demo to end", TO_SHOW, |s| s.contains("corral exited:"));
    assert!(
        screen.contains(&format!("Stopping {survivor} (pid ")),
        "{screen}"
    );
}
