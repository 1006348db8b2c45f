//! `corral remote` over HTTPS, end to end: a laptop (its own CORRAL_CONF, and a CORRAL_DIR
//! where no daemon lives, so only a remote can answer) adds real members as remotes,
//! trusting them on first contact, and runs commands through `REMOTE:`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use corral_tests::{Cluster, CommandOutput, HttpsClient, Member, corral_bin, wait_until};

/// How long one `corral` run may take before the test gives up on it.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// The operator's machine: a config directory of its own and no local daemon.
struct Laptop {
    conf: tempfile::TempDir,
    no_daemon: tempfile::TempDir,
}

impl Laptop {
    fn new() -> Laptop {
        Laptop {
            conf: tempfile::tempdir().expect("a config directory"),
            no_daemon: tempfile::tempdir().expect("an empty CORRAL_DIR"),
        }
    }

    /// The config directory (CORRAL_CONF) corral uses.
    fn conf(&self) -> PathBuf {
        self.conf.path().join("corral")
    }

    /// Runs `corral ARGS` here, answering its questions with `stdin`.
    fn corral(&self, args: &[&str], stdin: &str) -> CommandOutput {
        let mut child = Command::new(corral_bin())
            .args(args)
            .env("CORRAL_CONF", self.conf())
            .env("CORRAL_DIR", self.no_daemon.path())
            .env("HOME", self.conf.path())
            .env_remove("XDG_CONFIG_HOME")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("corral starts");
        let mut input = child.stdin.take().expect("piped stdin");
        // corral may stop reading early (it refused): a broken pipe is its answer, not ours.
        let _ = input.write_all(stdin.as_bytes());
        drop(input);
        let reader = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        };
        let stdout = reader(Box::new(child.stdout.take().expect("piped stdout")));
        let stderr = reader(Box::new(child.stderr.take().expect("piped stderr")));
        let what = format!("corral {} to finish", args.join(" "));
        let status = wait_until(&what, COMMAND_LIMIT, || child.try_wait().expect("wait"));
        CommandOutput {
            code: status.code().unwrap_or(-1),
            stdout: stdout.join().expect("stdout"),
            stderr: stderr.join().expect("stderr"),
        }
    }

    /// config.yml as written, or "" when there is none.
    fn config_yml(&self) -> String {
        std::fs::read_to_string(self.conf().join("config.yml")).unwrap_or_default()
    }

    /// The fingerprint of this laptop's client certificate.
    fn client_fingerprint(&self) -> String {
        pem_fingerprint(
            &std::fs::read_to_string(self.conf().join("client.crt")).expect("client.crt"),
        )
    }
}

/// The fingerprint of the certificate in PEM `text`.
fn pem_fingerprint(text: &str) -> String {
    let body: String = text
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = corral_shared::preseed::base64::decode(&body).expect("base64 DER");
    corral_shared::fingerprint::of_der(&der)
}

/// The fingerprint of the certificate the member at `address` presents.
fn server_fingerprint(address: &str) -> String {
    HttpsClient::new()
        .request(address, "GET", "/1.0", None)
        .server_fingerprint
}

/// The fingerprints in `member`'s trust store.
fn trust_store(member: &Member) -> Vec<String> {
    let out = member.corral(&["config", "trust", "list", "--format", "json"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(out.ok()).expect("JSON");
    let mut fingerprints: Vec<String> = list
        .iter()
        .map(|c| c["fingerprint"].as_str().expect("a fingerprint").to_owned())
        .collect();
    fingerprints.sort();
    fingerprints
}

/// A one-member cluster of its own (its own cluster certificate) with a trust password.
fn standalone(name: &str, password: &str) -> Member {
    let member = Member::start(name);
    member.bootstrap();
    member
        .corral(&["config", "set", "core.trust_password", password])
        .ok();
    member
}

fn names(members_json: &str) -> Vec<String> {
    let members: Vec<serde_json::Value> = serde_json::from_str(members_json).expect("JSON");
    let mut names: Vec<String> = members
        .iter()
        .map(|m| m["server_name"].as_str().expect("a name").to_owned())
        .collect();
    names.sort();
    names
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_cluster_added_with_the_password_answers_every_command_through_its_prefix() {
    let cluster = Cluster::form(3);
    cluster[0]
        .corral(&["config", "set", "core.trust_password", "laptop-secret"])
        .ok();
    let laptop = Laptop::new();
    let address = cluster[1].address.clone();
    let expected = server_fingerprint(&address);

    let url = format!("https://{address}");
    let added = laptop.corral(
        &["remote", "add", "prod", &url, "--password", "laptop-secret"],
        "y\n",
    );
    let out = added.ok();
    assert!(
        out.contains(&format!(
            "Certificate fingerprint: {expected}\nok (y/n/[fingerprint])? "
        )),
        "{out}"
    );
    assert!(
        out.contains("Client certificate now trusted by server: prod"),
        "{out}"
    );
    assert!(
        added.stderr.contains("Generating a client certificate"),
        "{added:?}"
    );
    // The key is private, the pinned certificate is the one shown, the server trusts us.
    assert_eq!(mode(&laptop.conf()), 0o700);
    assert_eq!(mode(&laptop.conf().join("client.key")), 0o600);
    let pinned = std::fs::read_to_string(laptop.conf().join("servercerts/prod.crt")).unwrap();
    assert_eq!(pem_fingerprint(&pinned), expected);
    assert!(trust_store(&cluster[0]).contains(&laptop.client_fingerprint()));
    assert!(
        laptop.config_yml().contains(&format!(
            "  prod:\n    addr: https://{address}\n    auth_type: tls\n"
        )),
        "{}",
        laptop.config_yml()
    );

    // Through the prefix, while the default stays local (which has no daemon here).
    let listed = laptop.corral(&["cluster", "list", "prod:", "--format", "json"], "");
    assert_eq!(names(listed.ok()), ["node1", "node2", "node3"]);
    let local = laptop.corral(&["cluster", "list"], "");
    assert!(local.failed().contains("Is corrald running?"), "{local:?}");
    let shown = laptop.corral(&["cluster", "show", "prod:node3"], "");
    assert!(shown.ok().contains("server_name: node3\n"), "{shown:?}");
    let server = laptop.corral(&["query", "prod:/1.0"], "");
    let server: serde_json::Value = serde_json::from_str(server.ok()).unwrap();
    assert_eq!(server["auth"], "trusted");
    let config = laptop.corral(&["config", "show", "prod:"], "");
    assert!(
        config.ok().contains("core.trust_password: true"),
        "{config:?}"
    );
    laptop
        .corral(&["config", "set", "prod:", "user.laptop", "was-here"], "")
        .ok();
    let value = cluster[2].corral(&["config", "get", "user.laptop"]);
    assert_eq!(value.ok(), "was-here\n");
    let token = laptop.corral(&["cluster", "add", "prod:node4", "--quiet"], "");
    let token = token.ok().trim().to_owned();
    let node4 = Member::start("node4");
    node4.init(&node4.token_preseed(&cluster[0], &token)).ok();
    let listed = laptop.corral(&["cluster", "list", "prod:", "-f", "json"], "");
    assert_eq!(names(listed.ok()), ["node1", "node2", "node3", "node4"]);

    // Switched to, it is what commands without a prefix reach.
    laptop.corral(&["remote", "switch", "prod"], "").ok();
    let version = laptop.corral(&["version"], "");
    assert!(!version.ok().contains("unreachable"), "{version:?}");
    let listed = laptop.corral(&["cluster", "list", "-f", "csv"], "");
    assert_eq!(listed.ok().lines().count(), 4, "{listed:?}");
    // Renamed, its pinned certificate follows it.
    laptop
        .corral(&["remote", "rename", "prod", "live"], "")
        .ok();
    let listed = laptop.corral(&["cluster", "list", "live:", "-f", "csv"], "");
    assert_eq!(listed.ok().lines().count(), 4, "{listed:?}");
    let gone = laptop.corral(&["cluster", "list", "prod:"], "");
    assert!(
        gone.failed().contains("The remote \"prod\" doesn't exist"),
        "{gone:?}"
    );
}

#[test]
fn a_wrong_fingerprint_pasted_at_the_prompt_refuses_before_anything_is_sent() {
    let member = standalone("solo1", "pw");
    let laptop = Laptop::new();
    let store_before = trust_store(&member);
    let real = server_fingerprint(&member.address);
    let wrong = "ab".repeat(32);
    assert_ne!(real, wrong);

    for (answer, says) in [
        (format!("{wrong}\n"), "Certificate fingerprint mismatch"),
        ("n\n".to_owned(), "Server certificate NACKed by user"),
        (String::new(), "Server certificate NACKed by user"),
    ] {
        let refused = laptop.corral(
            &["remote", "add", "prod", &member.address, "--password", "pw"],
            &answer,
        );
        let error = refused.failed();
        assert!(error.contains(says), "{answer:?}: {error}");
        assert!(error.contains("nothing was sent"), "{error}");
        assert!(refused.stdout.contains(&real), "{refused:?}");
    }
    // The server's trust store is as it was, and the laptop remembers nothing of it.
    assert_eq!(trust_store(&member), store_before);
    assert!(!laptop.config_yml().contains("prod"));
    assert!(!laptop.conf().join("servercerts/prod.crt").exists());

    // Pasting the right fingerprint (any case, with colons) accepts it.
    let pasted = real
        .as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).unwrap().to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    laptop
        .corral(
            &["remote", "add", "prod", &member.address, "--password", "pw"],
            &format!("{pasted}\n"),
        )
        .ok();
    assert!(trust_store(&member).contains(&laptop.client_fingerprint()));
}

#[test]
fn accept_certificate_asks_nothing_and_a_wrong_password_says_what_to_check() {
    let member = standalone("solo2", "right");
    let laptop = Laptop::new();
    let store_before = trust_store(&member);

    let wrong = laptop.corral(
        &[
            "remote",
            "add",
            "prod",
            &member.address,
            "--accept-certificate",
            "--password",
            "wrong",
        ],
        "",
    );
    let error = wrong.failed();
    assert!(error.contains("not authorized"), "{error}");
    assert!(error.contains("core.trust_password"), "{error}");
    assert!(
        !wrong.stdout.contains("Certificate fingerprint"),
        "{wrong:?}"
    );
    assert_eq!(trust_store(&member), store_before);
    assert!(!laptop.config_yml().contains("prod"));

    // Without --password, the password is asked for (and read from a pipe here).
    let added = laptop.corral(
        &[
            "remote",
            "add",
            "prod",
            &member.address,
            "--accept-certificate",
        ],
        "right\n",
    );
    let out = added.ok();
    assert!(
        out.contains("Admin password (or token) for prod: "),
        "{out}"
    );
    assert!(!out.contains("Certificate fingerprint"), "{out}");
    let listed = laptop.corral(&["cluster", "list", "prod:", "-f", "csv"], "");
    assert!(listed.ok().starts_with("solo2,"), "{listed:?}");
    // Adding it again is refused as lxc refuses it.
    let again = laptop.corral(&["remote", "add", "prod", &member.address], "");
    let url = format!("https://{}", member.address);
    assert!(
        again
            .failed()
            .contains(&format!("Remote prod exists as <{url}>")),
        "{again:?}"
    );
}

#[test]
fn a_known_remote_presenting_another_certificate_is_refused_loudly() {
    let first = standalone("solo3", "pw");
    let other = standalone("solo4", "pw");
    let laptop = Laptop::new();
    let pinned = server_fingerprint(&first.address);
    let presented = server_fingerprint(&other.address);
    assert_ne!(pinned, presented, "two clusters, two certificates");
    laptop
        .corral(
            &[
                "remote",
                "add",
                "prod",
                &first.address,
                "--accept-certificate",
                "--password",
                "pw",
            ],
            "",
        )
        .ok();
    let other_store = trust_store(&other);

    // The same name now leads to another server.
    let url = format!("https://{}", other.address);
    laptop.corral(&["remote", "set-url", "prod", &url], "").ok();
    let refused = laptop.corral(&["cluster", "list", "prod:"], "");
    let error = refused.failed();
    for says in [
        "The server certificate of remote \"prod\"",
        "has changed, so nothing was sent to it",
        &format!("pinned:    {pinned}"),
        &format!("presented: {presented}"),
        "corral remote remove prod",
    ] {
        assert!(error.contains(says), "{says}: {error}");
    }
    assert_eq!(trust_store(&other), other_store);

    // Expected change: remove, add again, and it works.
    laptop.corral(&["remote", "remove", "prod"], "").ok();
    assert!(!laptop.conf().join("servercerts/prod.crt").exists());
    laptop
        .corral(
            &[
                "remote",
                "add",
                "prod",
                &url,
                "--accept-certificate",
                "--password",
                "pw",
            ],
            "",
        )
        .ok();
    let listed = laptop.corral(&["cluster", "list", "prod:", "-f", "csv"], "");
    assert!(listed.ok().starts_with("solo4,"), "{listed:?}");
}

#[test]
fn remotes_are_listed_switched_renamed_pointed_elsewhere_and_removed_as_lxc_does() {
    let laptop = Laptop::new();
    // No config yet: only the built-in local, and it is the default.
    assert_eq!(
        laptop.corral(&["remote", "get-default"], "").ok(),
        "local\n"
    );
    let listed = laptop.corral(&["remote", "list", "-f", "csv"], "");
    assert_eq!(
        listed.ok(),
        "local (current),unix://,lxd,file access,NO,YES,NO\n"
    );

    laptop
        .corral(
            &[
                "remote",
                "add",
                "lab",
                "ssh://admin@lab.example:2222/srv/corral",
            ],
            "",
        )
        .ok();
    laptop.corral(&["remote", "switch", "lab"], "").ok();
    assert_eq!(laptop.corral(&["remote", "get-default"], "").ok(), "lab\n");
    let table = laptop.corral(&["remote", "list"], "");
    let table = table.ok();
    for column in [
        "NAME",
        "URL",
        "PROTOCOL",
        "AUTH TYPE",
        "PUBLIC",
        "STATIC",
        "GLOBAL",
    ] {
        assert!(table.contains(column), "{table}");
    }
    assert!(table.contains("lab (current)"), "{table}");

    let refused = laptop.corral(&["remote", "remove", "lab"], "");
    assert!(
        refused.failed().contains("Can't remove the default remote"),
        "{refused:?}"
    );
    for args in [
        &["remote", "remove", "local"][..],
        &["remote", "rename", "local", "mine"],
        &["remote", "set-url", "local", "unix:///elsewhere"],
    ] {
        let refused = laptop.corral(args, "");
        assert!(
            refused
                .failed()
                .contains("Remote local is static and cannot be modified"),
            "{args:?}: {refused:?}"
        );
    }
    let refused = laptop.corral(&["remote", "add", "pw", "ssh://lab", "--password", "x"], "");
    assert!(
        refused
            .failed()
            .contains("--password and --token are for HTTPS remotes"),
        "{refused:?}"
    );
    let refused = laptop.corral(&["remote", "add", "bad", "ssh://@lab"], "");
    assert!(refused.failed().contains("empty user"), "{refused:?}");
    let refused = laptop.corral(&["remote", "switch", "nope"], "");
    assert!(
        refused.failed().contains("Remote nope doesn't exist"),
        "{refused:?}"
    );
    let refused = laptop.corral(&["cluster", "list", "nope:"], "");
    assert!(
        refused
            .failed()
            .contains("The remote \"nope\" doesn't exist"),
        "{refused:?}"
    );

    laptop.corral(&["remote", "rename", "lab", "lab2"], "").ok();
    assert_eq!(laptop.corral(&["remote", "get-default"], "").ok(), "lab2\n");
    laptop
        .corral(
            &["remote", "set-url", "lab2", "ssh://root@other.example"],
            "",
        )
        .ok();
    laptop.corral(&["remote", "switch", "local"], "").ok();
    laptop.corral(&["remote", "remove", "lab2"], "").ok();
    let listed = laptop.corral(&["remote", "list", "-f", "csv"], "");
    assert_eq!(
        listed.ok(),
        "local (current),unix://,lxd,file access,NO,YES,NO\n"
    );
    let yml = laptop.config_yml();
    assert!(yml.starts_with("default-remote: local\n"), "{yml}");
    assert!(!yml.contains("lab"), "{yml}");
}

/// tmux on PATH, if installed.
fn find_tmux() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("tmux"))
        .find(|path| path.is_file())
}

/// A private tmux server (own socket, no user configuration) running one command in a
/// 120x30 pane; dropping it kills the server and so the dashboard in it.
struct Pane {
    tmux: PathBuf,
    socket: String,
}

impl Pane {
    fn start(tmux: PathBuf, command: &str) -> Pane {
        let pane = Pane {
            tmux,
            socket: format!("corral-remote-https-{}", std::process::id()),
        };
        let out = pane.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "dash",
            "-x",
            "120",
            "-y",
            "30",
            command,
        ]);
        assert!(out.status.success(), "tmux new-session failed: {out:?}");
        pane
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.tmux)
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("tmux runs")
    }

    /// Reads the screen until `done` holds; fails after `limit` showing the last screen.
    fn wait_for(&self, what: &str, limit: Duration, done: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_until(what, limit, || {
                let out = self.run(&["capture-pane", "-p", "-t", "dash"]);
                let screen = String::from_utf8_lossy(&out.stdout).into_owned();
                let hit = done(&screen).then(|| screen.clone());
                last = screen;
                hit
            })
        }));
        found.unwrap_or_else(|_| panic!("waited for {what}; the screen:\n{last}"))
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// Whether `name`'s row in the members table says `status`.
fn row_says(screen: &str, name: &str, status: &str) -> bool {
    screen
        .lines()
        .any(|l| l.starts_with(&format!("│{name} ")) && l.contains(&format!(" {status} ")))
}

#[test]
fn the_dashboard_watches_a_remote_and_reconnects_to_it() {
    let missing = find_tmux().is_none().then(|| {
        "not on PATH; install it (e.g. `apt-get install tmux`) to run this test".to_owned()
    });
    if !corral_tests::runs_here("tmux", missing) {
        return;
    }
    let mut cluster = Cluster::form(3);
    cluster[0]
        .corral(&["config", "set", "core.trust_password", "pw"])
        .ok();
    cluster[0]
        .corral(&["config", "set", "cluster.offline_threshold", "11"])
        .ok();
    let laptop = Laptop::new();
    let address = cluster[0].address.clone();
    laptop
        .corral(
            &[
                "remote",
                "add",
                "prod",
                &address,
                "--accept-certificate",
                "--password",
                "pw",
            ],
            "",
        )
        .ok();
    let command = format!(
        "env CORRAL_CONF={} CORRAL_DIR={} {} dashboard prod:",
        laptop.conf().display(),
        laptop.no_daemon.path().display(),
        corral_bin().display()
    );
    let pane = Pane::start(find_tmux().expect("checked above"), &command);
    let screen = pane.wait_for("three members ONLINE", Duration::from_secs(60), |s| {
        ["node1", "node2", "node3"]
            .iter()
            .all(|name| row_says(s, name, "ONLINE"))
    });
    assert!(screen.contains(&format!("https://{address}")), "{screen}");

    // A member dies: the remote says so.
    cluster[2].kill();
    pane.wait_for("node3 OFFLINE", Duration::from_secs(45), |s| {
        row_says(s, "node3", "OFFLINE")
    });

    // The member behind the remote itself dies: the dashboard says it is disconnected and
    // keeps retrying the same remote, and comes back when it does.
    cluster[2].restart();
    pane.wait_for("node3 ONLINE again", Duration::from_secs(45), |s| {
        row_says(s, "node3", "ONLINE")
    });
    cluster[0].kill();
    pane.wait_for("the outage banner", Duration::from_secs(30), |s| {
        s.contains("disconnected since") && s.contains("retrying")
    });
    cluster[0].restart();
    let screen = pane.wait_for("the remote back", Duration::from_secs(60), |s| {
        !s.contains("disconnected since") && row_says(s, "node1", "ONLINE")
    });
    assert!(screen.contains(&format!("https://{address}")), "{screen}");
}

/// A certificate add token for client `name`, issued on `member` (`config trust add`).
fn trust_token(member: &Member, name: &str) -> String {
    let out = member.corral(&["config", "trust", "add", name, "--quiet"]);
    out.ok().trim().to_owned()
}

/// The names in `member`'s trust store by fingerprint.
fn trusted_as(member: &Member, fingerprint: &str) -> Option<String> {
    let out = member.corral(&["config", "trust", "list", "--format", "json"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(out.ok()).expect("JSON");
    list.iter()
        .find(|c| c["fingerprint"] == fingerprint)
        .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
}

#[test]
fn a_token_adds_the_remote_without_questions_and_works_once() {
    let cluster = Cluster::form(3);
    let token = trust_token(&cluster[0], "laptop");

    // `remote add NAME TOKEN`: the addresses and fingerprint come from the token.
    let laptop = Laptop::new();
    let added = laptop.corral(&["remote", "add", "prod", &token], "");
    let out = added.ok();
    assert!(!out.contains("Certificate fingerprint"), "{out}");
    assert!(!out.contains("password"), "{out}");
    assert!(
        out.contains("Client certificate now trusted by server: prod"),
        "{out}"
    );
    // Trusted under the token's name, on every member.
    assert_eq!(
        trusted_as(&cluster[2], &laptop.client_fingerprint()).as_deref(),
        Some("laptop")
    );
    let listed = laptop.corral(&["cluster", "list", "prod:", "-f", "json"], "");
    assert_eq!(names(listed.ok()), ["node1", "node2", "node3"]);
    let yml = laptop.config_yml();
    assert!(
        cluster
            .members()
            .iter()
            .any(|m| yml.contains(&format!("addr: https://{}\n", m.address))),
        "{yml}"
    );

    // The same token again, from another laptop: refused, with what to do.
    let other = Laptop::new();
    let reused = other.corral(&["remote", "add", "prod", &token], "");
    let error = reused.failed();
    assert!(error.contains("A token works once and expires"), "{error}");
    assert!(
        !other.config_yml().contains("prod"),
        "{}",
        other.config_yml()
    );
    assert_eq!(trusted_as(&cluster[0], &other.client_fingerprint()), None);

    // `--token` with an address checks the token's fingerprint instead of asking.
    let fresh = trust_token(&cluster[1], "laptop-2");
    other
        .corral(
            &[
                "remote",
                "add",
                "prod",
                &cluster[1].address,
                "--token",
                &fresh,
            ],
            "",
        )
        .ok();
    assert_eq!(
        trusted_as(&cluster[0], &other.client_fingerprint()).as_deref(),
        Some("laptop-2")
    );

    // A token pasted where the password is asked for works too.
    let third = Laptop::new();
    let pasted = trust_token(&cluster[2], "laptop-3");
    let added = third.corral(
        &[
            "remote",
            "add",
            "prod",
            &cluster[2].address,
            "--accept-certificate",
        ],
        &format!("{pasted}\n"),
    );
    assert!(
        added.ok().contains("Admin password (or token) for prod: "),
        "{added:?}"
    );
    third.corral(&["cluster", "list", "prod:"], "").ok();

    // Removed from the trust store, the client is refused at once, and told why.
    cluster[0]
        .corral(&["config", "trust", "remove", &third.client_fingerprint()])
        .ok();
    let refused = third.corral(&["cluster", "list", "prod:"], "");
    let error = refused.failed();
    assert!(
        error.contains("remote \"prod\" does not trust this client"),
        "{error}"
    );
}

#[test]
fn a_token_of_another_cluster_is_refused_before_anything_is_sent() {
    let ours = standalone("solo5", "pw");
    let theirs = standalone("solo6", "pw");
    let token = trust_token(&theirs, "laptop");
    let store = trust_store(&ours);
    let laptop = Laptop::new();
    let refused = laptop.corral(
        &["remote", "add", "prod", &ours.address, "--token", &token],
        "",
    );
    let error = refused.failed();
    assert!(
        error.contains("Certificate fingerprint mismatch between certificate token and server"),
        "{error}"
    );
    assert!(error.contains("nothing was sent"), "{error}");
    assert_eq!(trust_store(&ours), store);
    // The token was not spent: it still admits a client where it was issued.
    laptop.corral(&["remote", "add", "theirs", &token], "").ok();
    assert!(trusted_as(&theirs, &laptop.client_fingerprint()).is_some());
}
