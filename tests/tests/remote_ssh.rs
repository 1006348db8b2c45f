//! SSH remotes end to end: a real `sshd` started by the test (its own loopback address,
//! port, host key and authorized keys), the system `ssh` client, and `corral dial-stdio` on
//! the far side joined to a real member's socket. REST, writes and the gRPC Watch stream
//! travel through it; the `corral` CLI and the dashboard use it as a remote; and each way
//! it fails says what to do.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use corral_shared::api::WatchEvent;
use corral_shared::client::{Client, ClientError, Connector, SshTarget};
use corral_tests::{Cluster, CommandOutput, Member, Pane, Sshd, corral_bin, wait_until};

/// A request through ssh: a login and a relay, on a debug build.
const THROUGH_SSH: Duration = Duration::from_secs(30);

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(f)
}

/// A client of the daemon in `dir`, through `sshd`, starting ssh as `ssh_command` says.
fn ssh_client(sshd: &Sshd, dir: &Path, ssh_command: &str) -> Client {
    let target = SshTarget::parse(&sshd.url(dir))
        .expect("the harness's address parses")
        .with_ssh_command(ssh_command.split(' ').map(str::to_owned).collect());
    Client::new(Connector::Ssh(target)).with_timeout(THROUGH_SSH)
}

/// The reason a request through `client` failed, as a person reads it.
fn failure(client: &Client) -> String {
    let error = block_on(client.request("GET", "/1.0", None, None)).expect_err("the request fails");
    assert!(
        matches!(error, ClientError::Connect { .. }),
        "a failure of ssh is a failure to reach the daemon, not a broken answer: {error:?}"
    );
    error.to_string()
}

#[test]
fn the_api_a_write_and_the_watch_stream_travel_through_ssh() {
    if !Sshd::available() {
        return;
    }
    let cluster = Cluster::form(3);
    let sshd = Sshd::start();
    let client = ssh_client(&sshd, cluster[0].dir(), &sshd.ssh_command());
    block_on(async {
        let members: Vec<serde_json::Value> = client
            .get("/1.0/cluster/members?recursion=1")
            .await
            .unwrap_or_else(|e| panic!("GET through ssh: {e}\nsshd's log:\n{}", sshd.log()));
        let mut names: Vec<&str> = members
            .iter()
            .filter_map(|m| m["server_name"].as_str())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["node1", "node2", "node3"]);

        let (_, etag) = client
            .get_with_etag::<serde_json::Value>("/1.0/cluster/members/node2")
            .await
            .expect("node2 through ssh");
        let change = serde_json::json!({"description": "reached through ssh"});
        client
            .patch("/1.0/cluster/members/node2", &change, etag.as_deref())
            .await
            .expect("a write through ssh");

        let mut watch = client.watch().await.expect("the Watch stream through ssh");
        let first = tokio::time::timeout(THROUGH_SSH, watch.next())
            .await
            .expect("the first Watch message in time")
            .expect("a Watch message")
            .expect("the stream is open");
        let WatchEvent::Snapshot(snapshot) = first else {
            panic!("the Watch stream starts with a snapshot, not {first:?}");
        };
        assert_eq!(snapshot.server_name, "node1");
        let node2 = snapshot
            .members
            .iter()
            .find(|m| m.server_name == "node2")
            .expect("node2 in the snapshot");
        assert_eq!(node2.description, "reached through ssh");
    });
    // The write went to the cluster, not only through the pipe: another member sees it.
    assert_eq!(
        cluster[2].member("node2")["description"],
        "reached through ssh"
    );
}

#[test]
fn a_far_side_without_corral_says_it_is_not_installed_or_not_on_path() {
    if !Sshd::available() {
        return;
    }
    let member = Member::start("node1");
    let sshd = Sshd::start();
    let client = ssh_client(&sshd, member.dir(), &sshd.ssh_command_without_corral());
    let message = failure(&client);
    let expected = format!(
        "corral is not installed on {}, or not on the PATH of {}'s non-interactive shell: \
         ssh said \"",
        sshd.ip, sshd.user
    );
    assert!(message.contains(&expected), "{message}");
    assert!(
        message.contains("corral: command not found") || message.contains("corral: not found"),
        "{message}"
    );
}

#[test]
fn an_unknown_host_key_without_a_terminal_says_how_to_accept_it() {
    if !Sshd::available() {
        return;
    }
    let member = Member::start("node1");
    let sshd = Sshd::start();
    let client = ssh_client(
        &sshd,
        member.dir(),
        &sshd.ssh_command_not_knowing_the_host(),
    );
    let message = failure(&client);
    assert!(
        message.contains(&format!(
            "the host key of {} is not known here, and with no terminal ssh cannot ask",
            sshd.ip
        )),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "connect once with 'ssh -p {} {}@{}'",
            sshd.port, sshd.user, sshd.ip
        )),
        "{message}"
    );
    assert!(
        message.contains("Host key verification failed"),
        "{message}"
    );
}

#[test]
fn a_directory_without_a_daemon_says_to_start_one() {
    if !Sshd::available() {
        return;
    }
    let sshd = Sshd::start();
    let empty = tempfile::tempdir().expect("an empty directory");
    let client = ssh_client(&sshd, empty.path(), &sshd.ssh_command());
    let message = failure(&client);
    let expected = format!(
        "on {}: no Corral daemon at {dir} (no socket at {dir}/unix.socket): start it with \
         'corrald'",
        sshd.ip,
        dir = empty.path().display()
    );
    assert!(message.contains(&expected), "{message}");
    // The watch reports the same words.
    let watch = block_on(async { client.watch().await.err().map(|e| e.to_string()) })
        .expect("the Watch stream cannot open either");
    assert!(watch.contains("no Corral daemon at"), "{watch}");
}

#[test]
fn dial_stdio_relays_a_request_and_says_when_the_socket_is_missing() {
    let member = Member::start("node1");
    let mut relay = Command::new(corral_bin())
        .args(["dial-stdio", "--dir"])
        .arg(member.dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("corral dial-stdio starts");
    {
        use std::io::Write;
        let mut stdin = relay.stdin.take().expect("piped");
        stdin
            .write_all(b"GET /1.0 HTTP/1.1\r\nHost: corral\r\nConnection: close\r\n\r\n")
            .expect("the request is written");
    }
    wait_until(
        "dial-stdio to end once both sides closed",
        THROUGH_SSH,
        || relay.try_wait().expect("dial-stdio's status"),
    );
    let out = relay.wait_with_output().expect("dial-stdio's output");
    assert!(out.status.success(), "{out:?}");
    let answer = String::from_utf8_lossy(&out.stdout);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("\"api_status\""), "{answer}");
    assert!(out.stderr.is_empty(), "{out:?}");

    let empty = tempfile::tempdir().expect("an empty directory");
    let out = Command::new(corral_bin())
        .args(["dial-stdio", "--dir"])
        .arg(empty.path())
        .stdin(Stdio::null())
        .output()
        .expect("corral dial-stdio runs");
    let out = CommandOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout.is_empty(),
        "nothing but relayed bytes on stdout: {out:?}"
    );
    assert!(
        out.stderr
            .contains(&format!("no Corral daemon at {}", empty.path().display())),
        "{out:?}"
    );
}

/// The operator's machine for the CLI: a config directory of its own, a CORRAL_DIR where
/// no daemon lives (so only the remote can answer), and ssh started as `sshd` wants.
struct Laptop {
    conf: tempfile::TempDir,
    no_daemon: tempfile::TempDir,
    ssh_command: String,
}

impl Laptop {
    fn new(sshd: &Sshd) -> Laptop {
        Laptop {
            conf: tempfile::tempdir().expect("a config directory"),
            no_daemon: tempfile::tempdir().expect("an empty CORRAL_DIR"),
            ssh_command: sshd.ssh_command(),
        }
    }

    /// `VAR=VALUE ...` for a shell (the dashboard runs in a tmux pane).
    fn env_words(&self) -> String {
        format!(
            "CORRAL_CONF={} CORRAL_DIR={} HOME={} CORRAL_SSH_COMMAND='{}'",
            self.conf.path().join("corral").display(),
            self.no_daemon.path().display(),
            self.conf.path().display(),
            self.ssh_command
        )
    }

    /// Runs `corral ARGS` here, with no terminal.
    fn corral(&self, args: &[&str]) -> CommandOutput {
        let mut child = Command::new(corral_bin())
            .args(args)
            .env("CORRAL_CONF", self.conf.path().join("corral"))
            .env("CORRAL_DIR", self.no_daemon.path())
            .env("HOME", self.conf.path())
            .env("CORRAL_SSH_COMMAND", &self.ssh_command)
            .env_remove("XDG_CONFIG_HOME")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("corral starts");
        // Every request is bounded inside corral; this bounds the whole run on top.
        let status = wait_until(&format!("corral {args:?} to end"), COMMAND_LIMIT, || {
            child.try_wait().expect("corral's status")
        });
        let out = child.wait_with_output().expect("corral's output");
        CommandOutput {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// How long one `corral` run may take.
const COMMAND_LIMIT: Duration = Duration::from_secs(90);

#[test]
fn the_cli_lists_writes_and_issues_a_token_through_an_ssh_remote() {
    if !Sshd::available() {
        return;
    }
    let cluster = Cluster::form(3);
    let sshd = Sshd::start();
    let laptop = Laptop::new(&sshd);
    let url = sshd.url(cluster[0].dir());
    laptop.corral(&["remote", "add", "lab", &url]).ok();
    let remotes = laptop.corral(&["remote", "list"]);
    assert!(remotes.ok().contains(&url), "{remotes:?}");

    let list = laptop.corral(&["cluster", "list", "lab:"]);
    for name in ["node1", "node2", "node3"] {
        assert!(list.ok().contains(name), "{list:?}");
    }
    assert_eq!(list.stdout.matches("ONLINE").count(), 3, "{list:?}");

    // A write through ssh reaches the whole cluster. It is two requests (a read for the
    // ETag, then the change) on one ssh login: a command logs in once.
    let logins = |sshd: &Sshd| sshd.log().matches("Accepted publickey").count();
    let before = logins(&sshd);
    let change = [
        "cluster",
        "set",
        "lab:node2",
        "-p",
        "description",
        "set over ssh",
    ];
    laptop.corral(&change).ok();
    assert_eq!(cluster[2].member("node2")["description"], "set over ssh");
    assert_eq!(logins(&sshd), before + 1, "{}", sshd.log());

    // A join token issued through ssh is one the cluster knows.
    let add = laptop.corral(&["cluster", "add", "lab:node4"]);
    let token = add
        .ok()
        .lines()
        .last()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    assert!(add.stdout.contains("node4"), "{add:?}");
    assert!(token.len() > 40, "a token on the last line: {add:?}");
    let tokens = cluster[1].corral(&["cluster", "list-tokens", "--format", "csv"]);
    assert!(tokens.ok().contains("node4"), "{tokens:?}");
    assert!(
        tokens.stdout.contains(&token),
        "{tokens:?}\nthe token: {token}"
    );
}

#[test]
fn the_cli_says_what_is_wrong_with_an_ssh_remote() {
    if !Sshd::available() {
        return;
    }
    let sshd = Sshd::start();
    let laptop = Laptop::new(&sshd);
    let empty = tempfile::tempdir().expect("an empty directory");
    laptop
        .corral(&["remote", "add", "empty", &sshd.url(empty.path())])
        .ok();
    let out = laptop.corral(&["cluster", "list", "empty:"]);
    let says = format!(
        "Error: cannot reach the Corral daemon at {}: on {}: no Corral daemon at {}",
        sshd.url(empty.path()),
        sshd.ip,
        empty.path().display()
    );
    assert!(out.failed().contains(&says), "{out:?}");
}

/// Whether `name`'s row in the members table says `status`.
fn row_says(screen: &str, name: &str, status: &str) -> bool {
    screen
        .lines()
        .any(|l| l.starts_with(&format!("│{name} ")) && l.contains(&format!(" {status} ")))
}

#[test]
fn the_dashboard_through_an_ssh_remote_shows_a_killed_member_go_offline() {
    if !Sshd::available() {
        return;
    }
    if !Pane::available() {
        return;
    }
    let mut cluster = Cluster::form(3);
    cluster[0]
        .corral(&["config", "set", "cluster.offline_threshold", "11"])
        .ok();
    let sshd = Sshd::start();
    let laptop = Laptop::new(&sshd);
    let url = sshd.url(cluster[0].dir());
    laptop.corral(&["remote", "add", "lab", &url]).ok();
    let command = format!(
        "env {} {} dashboard lab:",
        laptop.env_words(),
        corral_bin().display()
    );
    let pane = Pane::start(&command, 120, 30);
    let screen = pane.wait_for("three members ONLINE", Duration::from_secs(60), |s| {
        ["node1", "node2", "node3"]
            .iter()
            .all(|name| row_says(s, name, "ONLINE"))
    });
    // Under the title, for as long as it runs (a log line saying so would scroll away).
    assert!(
        screen.contains("remote lab: ssh://"),
        "the dashboard names the remote:\n{screen}"
    );

    // node3 dies without a word; the dashboard, through ssh, shows it.
    cluster[2].kill();
    pane.wait_for("node3 OFFLINE", Duration::from_secs(45), |s| {
        row_says(s, "node3", "OFFLINE") && row_says(s, "node1", "ONLINE")
    });

    // The member behind the remote dies: the dashboard says it is disconnected (dial-stdio
    // on the far side says why, through ssh) and comes back to the same remote with it.
    cluster[0].kill();
    pane.wait_for("the outage banner", Duration::from_secs(30), |s| {
        s.contains("disconnected since") && s.contains("retrying")
    });
    cluster[0].restart();
    pane.wait_for("the remote back", Duration::from_secs(60), |s| {
        !s.contains("disconnected since") && row_says(s, "node1", "ONLINE")
    });
}

#[test]
fn a_daemon_that_stops_under_an_open_watch_is_named_through_ssh() {
    if !Sshd::available() {
        return;
    }
    let mut member = Member::start("node1");
    member.bootstrap();
    let sshd = Sshd::start();
    let client = ssh_client(&sshd, member.dir(), &sshd.ssh_command());
    let error = block_on(async {
        let mut watch = client.watch().await.expect("the Watch stream through ssh");
        let first = tokio::time::timeout(THROUGH_SSH, watch.next()).await;
        assert!(
            matches!(first, Ok(Ok(Some(WatchEvent::Snapshot(_))))),
            "{first:?}"
        );
        member.kill();
        // The stream ends with an error, not quietly, and says who hung up.
        loop {
            match tokio::time::timeout(THROUGH_SSH, watch.next()).await {
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None)) => panic!("the stream ended as if the daemon had closed it"),
                Ok(Err(e)) => break e.to_string(),
                Err(_) => panic!("the stream stayed open after the daemon died"),
            }
        }
    });
    let says = format!(
        "on {}: the Corral daemon at {} closed the connection: it stopped or restarted",
        sshd.ip,
        member.dir().display()
    );
    assert!(error.contains(&says), "{error}");
}

#[test]
fn a_key_the_server_refuses_names_the_user_and_where_keys_go() {
    if !Sshd::available() {
        return;
    }
    let member = Member::start("node1");
    let sshd = Sshd::start();
    let client = ssh_client(&sshd, member.dir(), &sshd.ssh_command_with_a_stranger_key());
    let message = failure(&client);
    let says = format!("{} refused to log {} in: ssh said", sshd.ip, sshd.user);
    assert!(message.contains(&says), "{message}");
    assert!(
        message.contains("Permission denied (publickey)"),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "~{}/.ssh/authorized_keys on {}",
            sshd.user, sshd.ip
        )),
        "{message}"
    );
}

#[test]
fn a_port_where_no_sshd_listens_says_so() {
    if !Sshd::available() {
        return;
    }
    let member = Member::start("node1");
    let sshd = Sshd::start();
    // A port the kernel just gave out and took back: nothing listens there.
    let closed = std::net::TcpListener::bind((sshd.ip.as_str(), 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = sshd
        .url(member.dir())
        .replace(&format!(":{}/", sshd.port), &format!(":{closed}/"));
    let target = SshTarget::parse(&url)
        .expect("the address parses")
        .with_ssh_command(sshd.ssh_command().split(' ').map(str::to_owned).collect());
    let client = Client::new(Connector::Ssh(target)).with_timeout(THROUGH_SSH);
    let message = failure(&client);
    let says = format!(
        "{} refused the SSH connection on port {closed}: ssh said",
        sshd.ip
    );
    assert!(message.contains(&says), "{message}");
    assert!(message.contains("check that sshd runs there"), "{message}");
}
