//! Instances as system containers run by runc on a three-member loopback cluster: launched
//! from every member and spread by placement, operated (exec, files, stop, start, delete,
//! config) from members that do not hold them, shown as LXD shows them when their member
//! is gone; and, without runc, refused with what to install.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use corral_tests::containers::listing;
use corral_tests::{Cluster, CommandOutput, Member, Pane, corral_bin, test_image, wait_until};

/// Needs root and runc; says why not when either is missing.
fn runc_here() -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let runc = which_runc();
    let missing = match (root, &runc) {
        (false, _) => Some("not running as root".to_owned()),
        (true, None) => Some("runc is not installed (apt-get install runc)".to_owned()),
        _ => None,
    };
    corral_tests::runs_here("root and runc for real containers", missing)
}

fn which_runc() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join("runc"))
        .find(|p| p.is_file())
}

/// Forgets every runc container the members ran (killing what still runs), whatever
/// happened to the test or the daemons: dropped before the members' directories go.
struct Containers {
    roots: Vec<PathBuf>,
}

impl Containers {
    fn of(members: &[Member]) -> Self {
        Self {
            roots: members
                .iter()
                .map(|m| m.dir().join("instances/runc"))
                .collect(),
        }
    }

    fn ids(root: &Path) -> Vec<String> {
        let Some(runc) = which_runc() else {
            return Vec::new();
        };
        let out = Command::new(runc)
            .arg("--root")
            .arg(root)
            .args(["list", "--quiet"])
            .output();
        out.map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        let Some(runc) = which_runc() else { return };
        for root in &self.roots {
            for id in Self::ids(root) {
                let _ = Command::new(&runc)
                    .arg("--root")
                    .arg(root)
                    .args(["delete", "--force", &id])
                    .output();
            }
        }
    }
}

/// Runs `corral ARGS` against `member` with `stdin` fed in.
fn corral_with_stdin(member: &Member, args: &[&str], stdin: &[u8]) -> CommandOutput {
    let mut child = Command::new(corral_bin())
        .args(args)
        .env("CORRAL_DIR", member.dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("corral runs");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(stdin)
        .expect("stdin written");
    let out = child.wait_with_output().expect("corral ends");
    CommandOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Imports the busybox test image through `member` as LXD's API takes it (the tarball as
/// the body), under alias `busybox`; its fingerprint.
fn import_image(member: &Member) -> String {
    let tarball = std::fs::read(test_image()).expect("the test image");
    let fingerprint = corral_tests::fingerprint_of(&test_image());
    let client = member.client();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (status, body) = client
            .raw("POST", "/1.0/images", Some(tarball))
            .await
            .expect("the upload is answered");
        assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let op = answer["operation"].as_str().unwrap().to_owned();
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
    fingerprint
}

fn state_of(member: &Member, name: &str) -> Option<(String, String)> {
    listing(member)
        .into_iter()
        .find(|(n, ..)| n == name)
        .map(|(_, s, l)| (s, l))
}

#[test]
fn instances_run_and_are_operated_from_every_member() {
    if !runc_here() {
        return;
    }
    let mut cluster = Cluster::form(3);
    let containers = Containers::of(cluster.members());
    let fingerprint = import_image(&cluster[0]);

    launches_from_every_member_spread_by_placement(&cluster);
    exec_returns_output_exit_codes_and_reads_stdin(&cluster);
    an_exec_terminal_follows_its_windows_size(&cluster[0]);
    files_round_trip_through_members_that_do_not_hold_them(&cluster);
    config_and_lxd_records_are_kept(&cluster, &fingerprint);
    stop_start_delete_from_members_that_do_not_hold_them(&cluster);
    bad_requests_are_refused_with_what_to_do(&cluster);
    an_offline_members_instance_shows_as_error(&mut cluster);
    drop(containers);
}

fn launches_from_every_member_spread_by_placement(cluster: &Cluster) {
    // Each member launches one: the fewest instances wins, ties to the lowest member id.
    for (i, name) in ["c1", "c2", "c3"].iter().enumerate() {
        let out = cluster[i].corral(&["launch", "busybox", name]);
        assert!(out.ok().contains(&format!("Creating {name}")), "{out:?}");
    }
    let rows = listing(&cluster[1]);
    let want = [("c1", "node1"), ("c2", "node2"), ("c3", "node3")];
    for (name, location) in want {
        let row = rows.iter().find(|(n, ..)| n == name).expect(name);
        assert_eq!(
            (row.1.as_str(), row.2.as_str()),
            ("RUNNING", location),
            "{rows:?}"
        );
    }
    // A target is obeyed; then the least loaded member (node1, by id among the equal).
    cluster[0]
        .corral(&["init", "busybox", "c4", "--target", "node3"])
        .ok();
    cluster[2].corral(&["init", "busybox", "c5"]).ok();
    assert_eq!(
        state_of(&cluster[0], "c4"),
        Some(("STOPPED".into(), "node3".into()))
    );
    assert_eq!(
        state_of(&cluster[0], "c5"),
        Some(("STOPPED".into(), "node1".into()))
    );
    // The REST list follows LXD: URLs, or objects with ?recursion=1.
    let (status, body) = cluster[1].raw("GET", "/1.0/instances", None);
    assert_eq!(status, 200, "{body}");
    let urls: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        urls["metadata"]
            .as_array()
            .unwrap()
            .contains(&"/1.0/instances/c2".into()),
        "{body}"
    );
    let (_, body) = cluster[1].raw("GET", "/1.0/instances?recursion=1", None);
    let all: serde_json::Value = serde_json::from_str(&body).unwrap();
    let c2 = all["metadata"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "c2")
        .expect("c2 listed");
    assert_eq!(c2["status"], "Running");
    assert_eq!(c2["status_code"], 103);
    assert_eq!(c2["location"], "node2");
    assert_eq!(c2["type"], "container");
    // A list can be asked of one member.
    let (_, body) = cluster[0].raw("GET", "/1.0/instances?recursion=1&target=node3", None);
    let on3: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut names: Vec<&str> = on3["metadata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["c3", "c4"]);
}

fn exec_returns_output_exit_codes_and_reads_stdin(cluster: &Cluster) {
    // c2 is on node2; asked through node1.
    let out = cluster[0].corral(&[
        "exec",
        "c2",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 7",
    ]);
    assert_eq!(out.code, 7, "{out:?}");
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
    // Its own hostname, and its own pid namespace with the image's init as pid 1.
    let out = cluster[2].corral(&["exec", "c2", "--", "hostname"]);
    assert_eq!(out.ok(), "c2\n");
    let out = cluster[2].corral(&["exec", "c2", "--", "cat", "/proc/1/comm"]);
    assert_eq!(out.ok(), "init\n");
    // Its own network namespace: only a loopback interface.
    let out = cluster[0].corral(&["exec", "c2", "--", "ls", "/sys/class/net"]);
    assert_eq!(out.ok().split_whitespace().collect::<Vec<_>>(), ["lo"]);
    // Stdin reaches the command, on the holder and through another member.
    let input = b"line one\nline two\n";
    for via in [0, 1] {
        let out = corral_with_stdin(&cluster[via], &["exec", "c2", "--", "cat"], input);
        assert_eq!(out.ok().as_bytes(), input, "via member {via}");
    }
    let out = corral_with_stdin(
        &cluster[0],
        &["exec", "c2", "--", "wc", "-c"],
        &[7u8; 100_000],
    );
    assert_eq!(out.ok().trim(), "100000");
    // A terminal when asked for one.
    let out = corral_with_stdin(
        &cluster[0],
        &["exec", "-t", "c2", "--", "sh", "-c", "tty; exit 3"],
        b"",
    );
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stdout.contains("/dev/pts/"), "{out:?}");
    // Environment and working directory.
    let out = cluster[1].corral(&[
        "exec",
        "c3",
        "--env",
        "GREETING=hi",
        "--cwd",
        "/etc",
        "--",
        "sh",
        "-c",
        "echo $GREETING; pwd",
    ]);
    assert_eq!(out.ok(), "hi\n/etc\n");
}

/// `corral exec -t` in a real terminal (tmux), through a member that does not hold the
/// instance: the shell sees the window's size, and its new size when the window changes.
fn an_exec_terminal_follows_its_windows_size(via: &Member) {
    if !Pane::available() {
        return;
    }
    let command = format!(
        "env CORRAL_DIR={} {} exec -t c2 -- sh",
        via.dir().display(),
        corral_bin().display()
    );
    let pane = Pane::start(&command, 100, 30);
    // Asked again each second: a resize travels to the holder on its own path, so the
    // question typed right after it may still be answered with the old size.
    let size_shows = |want: &str| {
        let mut asked: Option<std::time::Instant> = None;
        wait_until(
            &format!("the shell to see {want}"),
            Duration::from_secs(20),
            || {
                if asked.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                    pane.keys(&["echo size=$(stty size)=", "Enter"]);
                    asked = Some(std::time::Instant::now());
                }
                pane.screen()
                    .contains(&format!("size={want}="))
                    .then_some(())
            },
        );
    };
    size_shows("30 100");
    pane.resize(80, 20);
    size_shows("20 80");
    pane.keys(&["exit", "Enter"]);
}

fn files_round_trip_through_members_that_do_not_hold_them(cluster: &Cluster) {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("blob.bin");
    let content: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&local, &content).unwrap();
    // c1 is on node1: pushed through node3, pulled through node2.
    cluster[2]
        .corral(&[
            "file",
            "push",
            local.to_str().unwrap(),
            "c1/root/blob.bin",
            "--mode",
            "0600",
        ])
        .ok();
    let back = dir.path().join("back.bin");
    cluster[1]
        .corral(&["file", "pull", "c1/root/blob.bin", back.to_str().unwrap()])
        .ok();
    assert_eq!(std::fs::read(&back).unwrap(), content);
    let out = cluster[1].corral(&["exec", "c1", "--", "stat", "-c", "%a %u", "/root/blob.bin"]);
    assert_eq!(out.ok(), "600 0\n");
    // What the instance wrote is read back; `-` is stdout.
    cluster[0]
        .corral(&[
            "exec",
            "c1",
            "--",
            "sh",
            "-c",
            "echo made inside > /tmp/note",
        ])
        .ok();
    let out = cluster[2].corral(&["file", "pull", "c1/tmp/note", "-"]);
    assert_eq!(out.ok(), "made inside\n");
    // A stopped instance's files are there too (c4, on node3, never started).
    let out = corral_with_stdin(
        &cluster[0],
        &["file", "push", "-", "c4/etc/motd"],
        b"hello\n",
    );
    out.ok();
    let out = cluster[1].corral(&["file", "pull", "c4/etc/motd", "-"]);
    assert_eq!(out.ok(), "hello\n");
    // A link cannot lead out of the instance.
    cluster[0]
        .corral(&[
            "exec",
            "c1",
            "--",
            "ln",
            "-s",
            "/../../../../etc",
            "/root/up",
        ])
        .ok();
    let out = cluster[2].corral(&["file", "pull", "c1/root/up/hostname", "-"]);
    let missing_or_own = out.code != 0 || !out.stdout.contains(&host_name());
    assert!(missing_or_own, "the host's file was read: {out:?}");
    let out = cluster[1].corral(&["file", "pull", "c1/no/such/file", "-"]);
    assert!(out.failed().contains("Not found"), "{out:?}");
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn instance_json(member: &Member, name: &str) -> serde_json::Value {
    let (status, body) = member.raw("GET", &format!("/1.0/instances/{name}"), None);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["metadata"].clone()
}

fn config_and_lxd_records_are_kept(cluster: &Cluster, fingerprint: &str) {
    cluster[2]
        .corral(&["config", "set", "c2", "user.role=web"])
        .ok();
    let out = cluster[0].corral(&["config", "get", "c2", "user.role"]);
    assert_eq!(out.ok(), "web\n");
    cluster[1]
        .corral(&["config", "unset", "c2", "user.role"])
        .ok();
    let out = cluster[0].corral(&["config", "get", "c2", "user.role"]);
    assert_eq!(out.ok(), "\n");
    let c2 = instance_json(&cluster[0], "c2");
    assert_eq!(c2["config"]["volatile.base_image"], fingerprint);
    assert_eq!(c2["config"]["volatile.last_state.power"], "RUNNING");
    assert!(
        c2["config"]["volatile.uuid"]
            .as_str()
            .is_some_and(|u| u.len() == 36)
    );
    let c4 = instance_json(&cluster[0], "c4");
    assert_eq!(c4["config"]["volatile.last_state.power"], "STOPPED");
    let out = cluster[0].corral(&["config", "set", "c2", "cluster.evacuate=sideways"]);
    assert!(out.failed().contains("cluster.evacuate"), "{out:?}");
    let out = cluster[1].corral(&["info", "c2"]);
    let info = out.ok();
    assert!(info.contains("Status: RUNNING\n"), "{info}");
    assert!(info.contains("Location: node2\n"), "{info}");
    assert!(info.contains("PID: "), "{info}");
}

fn stop_start_delete_from_members_that_do_not_hold_them(cluster: &Cluster) {
    // c1 is on node1.
    cluster[1].corral(&["stop", "c1"]).ok();
    assert_eq!(state_of(&cluster[2], "c1").unwrap().0, "STOPPED");
    let c1 = instance_json(&cluster[2], "c1");
    assert_eq!(c1["config"]["volatile.last_state.power"], "STOPPED");
    let out = cluster[2].corral(&["stop", "c1"]);
    assert!(out.failed().contains("already stopped"), "{out:?}");
    cluster[2].corral(&["start", "c1"]).ok();
    assert_eq!(state_of(&cluster[0], "c1").unwrap().0, "RUNNING");
    let out = cluster[1].corral(&["start", "c1"]);
    assert!(out.failed().contains("already running"), "{out:?}");
    cluster[1].corral(&["restart", "c1", "--force"]).ok();
    assert_eq!(state_of(&cluster[0], "c1").unwrap().0, "RUNNING");
    let out = cluster[1].corral(&["delete", "c1"]);
    assert!(out.failed().contains("stop it first"), "{out:?}");
    cluster[2].corral(&["delete", "--force", "c1"]).ok();
    assert_eq!(state_of(&cluster[0], "c1"), None);
    // Nothing of it is left on its member: no container, no files.
    let holder = &cluster[0];
    assert!(!Containers::ids(&holder.dir().join("instances/runc")).contains(&"c1".to_owned()));
    assert!(
        !holder
            .dir()
            .join("storage-pools/default/containers/c1")
            .exists()
    );
    // Deleting a stopped one needs no force.
    cluster[1].corral(&["delete", "c5"]).ok();
    assert_eq!(state_of(&cluster[2], "c5"), None);
}

fn bad_requests_are_refused_with_what_to_do(cluster: &Cluster) {
    let out = cluster[0].corral(&["launch", "busybox", "1bad"]);
    assert!(out.failed().contains("Invalid instance name"), "{out:?}");
    let out = cluster[0].corral(&["launch", "no-such-image", "c9"]);
    assert!(out.failed().contains("Image not found"), "{out:?}");
    let out = cluster[1].corral(&["init", "busybox", "c2"]);
    assert!(out.failed().contains("already exists"), "{out:?}");
    let out = cluster[1].corral(&["init", "busybox", "c9", "--target", "node9"]);
    assert!(out.failed().contains("not found"), "{out:?}");
    let out = cluster[1].corral(&["init", "busybox", "c9", "-c", "flavour=x"]);
    assert!(out.failed().contains("\"flavour\""), "{out:?}");
    let out = cluster[2].corral(&["exec", "c4", "--", "true"]);
    assert!(out.failed().contains("not running"), "{out:?}");
    let out = cluster[2].corral(&["start", "c9"]);
    assert!(out.failed().contains("Instance not found"), "{out:?}");
    let (status, body) = cluster[0].raw(
        "PUT",
        "/1.0/instances/c2/state",
        Some("{\"action\":\"jump\"}"),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Unknown action"), "{body}");
    let (status, body) = cluster[0].raw("GET", "/1.0/instances/c9", None);
    assert_eq!(status, 404, "{body}");
    // Nothing was left behind by the refused creations.
    let names: Vec<String> = listing(&cluster[2]).into_iter().map(|r| r.0).collect();
    assert_eq!(names, ["c2", "c3", "c4"]);
}

fn an_offline_members_instance_shows_as_error(cluster: &mut Cluster) {
    cluster[2].kill();
    // c3 and c4 are on node3: shown, with their member, in Error; their config readable.
    let rows = wait_until(
        "node3's instances to show as ERROR",
        Duration::from_secs(30),
        || {
            let rows = listing(&cluster[0]);
            rows.iter()
                .filter(|(n, s, _)| (n == "c3" || n == "c4") && s == "ERROR")
                .count()
                .eq(&2)
                .then_some(rows)
        },
    );
    assert!(
        rows.contains(&("c3".into(), "ERROR".into(), "node3".into())),
        "{rows:?}"
    );
    assert!(
        rows.contains(&("c2".into(), "RUNNING".into(), "node2".into())),
        "{rows:?}"
    );
    let c3 = instance_json(&cluster[1], "c3");
    assert_eq!(c3["status"], "Error");
    assert_eq!(c3["status_code"], 112);
    assert_eq!(c3["location"], "node3");
    let out = cluster[1].corral(&["config", "get", "c3", "volatile.last_state.power"]);
    assert_eq!(out.ok(), "RUNNING\n");
    // Operating it says which member is missing.
    let out = cluster[0].corral(&["exec", "c3", "--", "true"]);
    assert!(out.failed().contains("node3"), "{out:?}");
    let out = cluster[1].corral(&["stop", "c3"]);
    assert!(out.failed().contains("node3"), "{out:?}");
}

#[test]
fn without_runc_the_daemon_runs_and_instances_say_what_to_install() {
    let mut member = Member::new("node1").with_env("CORRAL_RUNC", "/nonexistent/runc");
    member.launch();
    member.bootstrap();
    import_image(&member);
    let out = member.corral(&["launch", "busybox", "c1"]);
    let err = out.failed();
    assert!(err.contains("instances need runc"), "{err}");
    assert!(err.contains("apt-get install runc"), "{err}");
    // Nothing half made is left, and the rest of the daemon works.
    assert!(listing(&member).is_empty());
    member.corral(&["cluster", "list"]).ok();
}
