//! `corrald init` as a person runs it: the questions on a real pseudo-terminal (expectrl),
//! answered against real daemons on loopback addresses. Every process a test starts is
//! killed when the test ends, pass or fail.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use expectrl::process::unix::WaitStatus;
use expectrl::{Eof, Expect, Session};

const CORRALD: &str = env!("CARGO_BIN_EXE_corrald");

fn corral_bin() -> PathBuf {
    let path = Path::new(CORRALD).with_file_name("corral");
    assert!(
        path.exists(),
        "{} was not built; build the workspace first (`cargo build --workspace` or \
         `cargo test --workspace`), which builds the `corral` console next to `corrald`",
        path.display()
    );
    path
}

/// A free `127.x.y.z:port`, distinct per test process and per call.
fn free_address() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let pid = std::process::id();
    for _ in 0..50 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let ip = format!("127.{}.{}.{}", (pid >> 8) & 0xff, pid & 0xff, (n % 250) + 2);
        if let Ok(l) = TcpListener::bind((ip.as_str(), 0)) {
            return format!("{ip}:{}", l.local_addr().expect("bound").port());
        }
    }
    panic!("no free loopback address");
}

/// What a command printed and how it ended.
struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Output {
    fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "command failed:\n{}\n{}",
            self.stdout, self.stderr
        );
        &self.stdout
    }
}

fn run(program: &Path, args: &[&str], dir: &Path, stdin: Option<&str>) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .env("CORRAL_DIR", dir)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("the command ends");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A running `corrald`; dropping it kills it and removes its directory.
struct Daemon {
    address: String,
    dir: tempfile::TempDir,
    child: Child,
}

impl Daemon {
    fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("corral-wizard-")
            .tempdir()
            .expect("a directory");
        let log = std::fs::File::create(dir.path().join("corrald.log")).expect("log");
        let child = Command::new(CORRALD)
            .env("CORRAL_DIR", dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("corrald starts");
        let daemon = Self {
            address: free_address(),
            dir,
            child,
        };
        let ready = daemon.corrald(&["waitready", "--timeout", "30"], None);
        assert_eq!(
            ready.code,
            0,
            "not ready: {}\n{}",
            ready.stderr,
            daemon.log()
        );
        daemon
    }

    /// A daemon bootstrapped from `assets/preseed/bootstrap.yaml` as member `name`.
    fn bootstrapped(name: &str) -> Self {
        let d = Self::start();
        let preseed = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/preseed/bootstrap.yaml"),
        )
        .expect("the bootstrap example")
        .replace("127.0.0.1:8443", &d.address)
        .replace("server_name: node1", &format!("server_name: {name}"));
        d.corrald(&["init", "--preseed", "-"], Some(&preseed)).ok();
        d
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("corrald.log")).unwrap_or_default()
    }

    fn corrald(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run(Path::new(CORRALD), args, self.dir(), stdin)
    }

    fn corral(&self, args: &[&str]) -> Output {
        run(&corral_bin(), args, self.dir(), None)
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(self.corral(args).ok()).expect("JSON")
    }

    fn fingerprint(&self) -> String {
        self.json(&["query", "/1.0"])["environment"]["certificate_fingerprint"]
            .as_str()
            .expect("a fingerprint")
            .to_owned()
    }

    fn members(&self) -> Vec<serde_json::Value> {
        self.json(&["cluster", "list", "--format", "json"])
            .as_array()
            .cloned()
            .expect("a list")
    }

    /// Waits until `corral cluster list` on this member shows `name` ONLINE.
    fn wait_online(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let members = self.members();
            if members.iter().any(|m| {
                m["server_name"] == name
                    && m["status"]
                        .as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case("online"))
            }) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} is not ONLINE: {members:#?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn dump(&self) -> String {
        self.corrald(&["init", "--dump"], None).ok().to_owned()
    }

    /// `corrald init` on a pseudo-terminal, for this daemon.
    fn wizard(&self) -> Wizard {
        let mut cmd = Command::new(CORRALD);
        cmd.arg("init")
            .env("CORRAL_DIR", self.dir())
            .env("TERM", "xterm-256color");
        let mut session = Session::spawn(cmd).expect("a pty session");
        // Wide enough that no question or message wraps.
        session
            .get_process_mut()
            .set_window_size(250, 50)
            .expect("a window size");
        session.set_expect_timeout(Some(Duration::from_secs(60)));
        Wizard {
            session,
            transcript: String::new(),
            reaped: false,
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The wizard on its terminal; dropping it kills the process if it still runs.
struct Wizard {
    session: expectrl::session::OsSession,
    transcript: String,
    /// Set once the process has been reaped: its pid may then belong to someone else.
    reaped: bool,
}

impl Wizard {
    /// Waits for `text` on the screen; returns what was printed up to and including it.
    fn expect(&mut self, text: &str) -> String {
        match self.session.expect(text) {
            Ok(found) => {
                let seen = format!(
                    "{}{}",
                    String::from_utf8_lossy(found.before()),
                    String::from_utf8_lossy(found.get(0).unwrap_or_default())
                );
                self.transcript.push_str(&seen);
                seen
            }
            Err(e) => panic!(
                "waiting for {text:?}: {e}\n--- screen so far ---\n{}",
                plain(&self.transcript)
            ),
        }
    }

    /// Types `keys` (then nothing else: include "\r" for Enter).
    fn send(&mut self, keys: &str) {
        // Keys a person types arrive one burst at a time.
        self.session.send(keys).expect("the terminal takes input");
    }

    /// Answers the question showing `question` with `answer` and Enter.
    fn answer(&mut self, question: &str, answer: &str) {
        self.expect(question);
        self.send(answer);
        self.send("\r");
    }

    /// Reads to the end and returns the rest of the output and the exit code.
    fn finish(mut self) -> (String, i32) {
        let rest = match self.session.expect(Eof) {
            Ok(found) => format!(
                "{}{}",
                String::from_utf8_lossy(found.before()),
                String::from_utf8_lossy(found.get(0).unwrap_or_default())
            ),
            Err(e) => panic!("waiting for the end: {e}\n{}", plain(&self.transcript)),
        };
        self.transcript.push_str(&rest);
        let status = self.session.get_process().wait();
        self.reaped = status.is_ok();
        let code = match status {
            Ok(WaitStatus::Exited(_, code)) => code,
            other => panic!("corrald init ended with {other:?}\n{}", self.transcript),
        };
        (rest, code)
    }
}

impl Drop for Wizard {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        let pid = self.session.get_process().pid().as_raw();
        // SAFETY: signalling a child we spawned; harmless if it has already exited.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
        let _ = self.session.get_process().wait();
    }
}

/// Removes escape sequences and carriage returns from terminal output.
fn plain(screen: &str) -> String {
    let mut out = String::new();
    let mut chars = screen.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() || c == '~' {
                            break;
                        }
                    }
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// The common start: clustering, this member's address, joining.
fn start_joining(w: &mut Wizard, address: &str) {
    w.answer("Would you like to use clustering?", "y");
    w.answer("should be used to reach this server?", address);
    w.answer("Are you joining an existing cluster?", "y");
}

#[test]
fn a_person_pastes_a_join_token_and_the_server_joins() {
    let node1 = Daemon::bootstrapped("node1");
    let joiner = Daemon::start();
    let token = node1
        .corral(&["cluster", "add", "node2", "--quiet"])
        .ok()
        .trim()
        .to_owned();

    let mut w = joiner.wizard();
    start_joining(&mut w, &joiner.address);
    w.answer("Do you have a join token?", "yes");
    // A token mangled in the copy is refused on the spot; erase it and paste it whole.
    let mangled = "eyJzZXJ2!";
    w.answer("Please provide join token:", mangled);
    w.expect("illegal base64 data at input byte 8");
    w.send(&"\u{7f}".repeat(mangled.len()));
    w.send(&token);
    w.send("\r");
    let shown = plain(&w.expect("matches the token"));
    assert!(shown.contains("Join token for member \"node2\""), "{shown}");
    assert!(shown.contains(&node1.address), "{shown}");
    w.answer(
        "All existing data is lost when joining a cluster, continue?",
        "y",
    );
    // The member-specific keys of the cluster's pool and bridge (from bootstrap.yaml).
    w.answer(
        "Choose \"source\" property for storage pool \"default\":",
        "",
    );
    w.answer(
        "Choose \"bridge.external_interfaces\" property for network \"corralbr0\":",
        "",
    );
    w.answer("preseed to be printed?", "n");
    let (rest, code) = w.finish();
    assert_eq!(code, 0, "{}", plain(&rest));

    node1.wait_online("node2");
    assert_eq!(node1.members().len(), 2);
}

#[test]
fn a_person_checks_the_fingerprint_and_gives_the_trust_password() {
    let node1 = Daemon::bootstrapped("node1");
    let joiner = Daemon::start();
    let fingerprint = node1.fingerprint();

    let mut w = joiner.wizard();
    start_joining(&mut w, &joiner.address);
    w.answer("Do you have a join token?", "no");
    w.answer("What member name should be used", "node3");
    w.answer(
        "IP address or FQDN of an existing cluster member",
        &node1.address,
    );
    let shown = plain(&w.expect("Is this the correct fingerprint?"));
    assert!(
        shown.contains(&format!("Cluster fingerprint: {fingerprint}")),
        "{shown}"
    );
    assert!(shown.contains("corral query /1.0"), "{shown}");
    w.send("yes\r");
    w.answer("Cluster trust password:", "sekret");
    w.answer(
        "All existing data is lost when joining a cluster, continue?",
        "y",
    );
    w.answer("Choose \"source\" property", "");
    w.answer("Choose \"bridge.external_interfaces\" property", "eth9");
    w.answer("preseed to be printed?", "y");
    let (rest, code) = w.finish();
    let rest = plain(&rest);
    assert_eq!(code, 0, "{rest}");
    // The printed preseed is the one `--preseed` would take to do the same.
    let yaml = &rest[rest.find("cluster:").expect("the preseed is printed")..];
    let preseed = corral_wizard::parse_preseed(yaml).expect("a valid preseed");
    let c = preseed.cluster.expect("a cluster section");
    assert_eq!(c.server_name, "node3");
    assert_eq!(c.cluster_password, "sekret");
    assert_eq!(c.cluster_address, node1.address);
    assert_eq!(c.member_config[1].value, "eth9");

    node1.wait_online("node3");
}

#[test]
fn a_fingerprint_from_another_cluster_is_declined_and_nothing_changes() {
    let node1 = Daemon::bootstrapped("node1");
    let elsewhere = Daemon::bootstrapped("other1");
    let joiner = Daemon::start();
    let before = joiner.dump();

    let mut w = joiner.wizard();
    start_joining(&mut w, &joiner.address);
    w.answer("Do you have a join token?", "no");
    w.answer("What member name should be used", "node4");
    // The person meant node1's cluster but typed the other cluster's address; they compare
    // with what node1 shows and paste that.
    w.answer(
        "IP address or FQDN of an existing cluster member",
        &elsewhere.address,
    );
    w.answer("Is this the correct fingerprint?", &node1.fingerprint());
    let (rest, code) = w.finish();
    let rest = plain(&rest);
    assert_ne!(code, 0, "{rest}");
    assert!(rest.contains("is not the one the server at"), "{rest}");
    assert!(rest.contains("Nothing was changed."), "{rest}");

    assert_eq!(joiner.dump(), before);
    assert_eq!(node1.members().len(), 1);
    assert_eq!(elsewhere.members().len(), 1);
    let cluster = joiner.json(&["query", "/1.0/cluster"]);
    assert_eq!(cluster["enabled"], false, "{cluster}");
}

#[test]
fn esc_at_the_first_question_leaves_the_server_as_it_was() {
    let d = Daemon::start();
    let before = d.dump();
    let mut w = d.wizard();
    w.expect("Would you like to use clustering?");
    w.send("\u{1b}");
    let (rest, code) = w.finish();
    let rest = plain(&rest);
    assert_ne!(code, 0, "{rest}");
    assert!(rest.contains("Nothing was changed."), "{rest}");
    assert_eq!(d.dump(), before);
}

#[test]
fn the_printed_bootstrap_preseed_replayed_on_a_fresh_daemon_gives_the_same_result() {
    let first = Daemon::start();
    let mut w = first.wizard();
    w.answer("Would you like to use clustering?", "y");
    w.answer("should be used to reach this server?", &first.address);
    w.answer("Are you joining an existing cluster?", "n");
    w.answer("What member name should be used", "boot1");
    w.answer("configure a new storage pool?", "");
    w.answer("Name of the new storage pool", "");
    w.answer("Name of the storage backend to use", "");
    w.answer("Source of the storage pool", "");
    w.answer("create a new network bridge?", "y");
    w.answer("What should the new bridge be called?", "");
    // A typo is refused with what is allowed, then fixed.
    w.answer("What IPv4 address should be used?", "10.77.0.1/33");
    w.expect("Value must be auto, none, or an IPv4 address");
    w.send(&"\u{7f}".repeat(2));
    w.send("24\r");
    w.answer("What IPv6 address should be used?", "none");
    w.answer("Trust password for new clients:", "sekret");
    w.answer("Again:", "sekret");
    w.answer("preseed to be printed?", "y");
    let (rest, code) = w.finish();
    let rest = plain(&rest);
    assert_eq!(code, 0, "{rest}");
    let yaml = &rest[rest.find("config:").expect("the preseed is printed")..];
    for line in [
        &format!("core.https_address: {}", first.address),
        "core.trust_password: sekret",
        "ipv4.address: 10.77.0.1/24",
        "driver: dir",
        "server_name: boot1",
    ] {
        assert!(yaml.contains(line), "{line} missing from:\n{yaml}");
    }
    first.wait_online("boot1");

    let second = Daemon::start();
    second
        .corrald(
            &["init", "--preseed", "-"],
            Some(&yaml.replace(&first.address, &second.address)),
        )
        .ok();
    second.wait_online("boot1");
    assert_eq!(
        second.dump().replace(&second.address, "ADDRESS"),
        first.dump().replace(&first.address, "ADDRESS")
    );
    // Same trust password: the hash differs, the password works on both (nothing shows it).
    assert!(!first.dump().contains("trust_password"));
}

/// Answers the bootstrap questions after the member name with no pool, no bridge, no
/// password, and asks for the preseed; returns it as printed.
fn finish_bare_bootstrap(mut w: Wizard) -> (String, i32) {
    w.answer("configure a new storage pool?", "n");
    w.answer("create a new network bridge?", "n");
    w.answer("Trust password for new clients:", "");
    w.answer("Again:", "");
    w.answer("preseed to be printed?", "y");
    let (rest, code) = w.finish();
    (plain(&rest), code)
}

#[test]
fn ctrl_u_ctrl_w_edit_the_line_and_esc_offers_the_earlier_answer() {
    let d = Daemon::start();
    let mut w = d.wizard();
    w.answer("Would you like to use clustering?", "y");
    // Ctrl-U erases the whole line typed so far.
    w.expect("should be used to reach this server?");
    w.send("10.9.9.9 junk");
    w.send("\u{15}");
    w.send(&d.address);
    w.send("\r");
    w.answer("Are you joining an existing cluster?", "n");
    // Ctrl-W erases the last word (and Backspace the space before it).
    w.expect("What member name should be used");
    w.send("boot1 typo");
    w.send("\u{17}");
    w.send("\u{7f}\r");
    // Esc goes back to the name, which is offered again as the default.
    w.expect("configure a new storage pool?");
    w.send("\u{1b}");
    w.expect("What member name should be used");
    w.expect("(boot1)");
    w.send("\r");
    let (rest, code) = finish_bare_bootstrap(w);
    assert_eq!(code, 0, "{rest}");
    let yaml = &rest[rest.find("config:").expect("the preseed is printed")..];
    let preseed = corral_wizard::parse_preseed(yaml).expect("a valid preseed");
    assert_eq!(preseed.config["core.https_address"], d.address);
    assert_eq!(preseed.cluster.expect("clustered").server_name, "boot1");
    d.wait_online("boot1");
}

#[test]
fn a_clustered_server_is_told_so_before_any_question() {
    let d = Daemon::bootstrapped("node1");
    let (rest, code) = d.wizard().finish();
    let rest = plain(&rest);
    assert_ne!(code, 0, "{rest}");
    assert!(rest.contains("already clustered"), "{rest}");
    assert!(rest.contains("Nothing was changed."), "{rest}");
    assert!(
        !rest.contains("Would you like to use clustering?"),
        "{rest}"
    );
}

#[test]
fn an_address_in_use_is_refused_at_its_question_and_nothing_changes() {
    let holder = Daemon::bootstrapped("holder");
    let d = Daemon::start();
    let before = d.dump();
    let mut w = d.wizard();
    w.answer("Would you like to use clustering?", "y");
    w.answer("should be used to reach this server?", &holder.address);
    w.expect(&format!("cannot listen on {}", holder.address));
    // Ctrl-C: stop there.
    w.send("\u{3}");
    let (rest, code) = w.finish();
    let rest = plain(&rest);
    assert_ne!(code, 0, "{rest}");
    assert!(rest.contains("Nothing was changed."), "{rest}");
    assert_eq!(d.dump(), before);
    // Not "already clustered": the questions are asked again, and a free address works.
    let mut w = d.wizard();
    w.answer("Would you like to use clustering?", "y");
    w.answer("should be used to reach this server?", &holder.address);
    w.expect("cannot listen on");
    w.send("\u{15}");
    w.send(&d.address);
    w.send("\r");
    w.answer("Are you joining an existing cluster?", "n");
    w.answer("What member name should be used", "boot1");
    let (rest, code) = finish_bare_bootstrap(w);
    assert_eq!(code, 0, "{rest}");
    d.wait_online("boot1");
}
