//! The whole flow with scripted answers and a scripted network.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};

use corral_shared::api::MemberConfigKey;
use corral_shared::preseed::JoinToken;
use time::macros::datetime;

use super::*;
use crate::prompt::{Confirm, Password, Select, Text};
use crate::remote::Certificate;

mod clock;
mod going_back;
mod listen;

/// One scripted keystroke sequence.
#[derive(Debug, Clone)]
enum Say {
    /// Typed text then Enter ("" takes the default).
    T(&'static str),
    /// Owned text (tokens, fingerprints).
    S(String),
    /// Yes or no.
    Y(bool),
    /// Esc.
    Back,
    /// Ctrl-C.
    Quit,
}

/// Answers questions from a script, applying defaults and checks as the terminal does:
/// a refused answer is logged with its message and the next scripted answer is tried.
struct ScriptedPrompter {
    script: VecDeque<Say>,
    /// Every question asked, message said and refusal, in order.
    log: Vec<String>,
}

impl ScriptedPrompter {
    fn new(script: Vec<Say>) -> Self {
        Self {
            script: script.into(),
            log: Vec::new(),
        }
    }

    fn pop(&mut self, question: &str) -> Say {
        self.log.push(format!("? {question}"));
        self.script
            .pop_front()
            .unwrap_or_else(|| panic!("no scripted answer for {question:?}; log: {:#?}", self.log))
    }

    fn typed(&mut self, question: &str) -> Reply<String> {
        match self.pop(question) {
            Say::T(t) => Reply::Answer(t.to_owned()),
            Say::S(s) => Reply::Answer(s),
            Say::Back => Reply::Back,
            Say::Quit => Reply::Quit,
            Say::Y(b) => panic!("{question:?} wants text, the script says {b}"),
        }
    }

    fn remaining(&self) -> usize {
        self.script.len()
    }

    fn refusals(&self) -> Vec<&str> {
        self.log
            .iter()
            .filter_map(|l| l.strip_prefix("! "))
            .collect()
    }

    fn said(&self) -> String {
        self.log
            .iter()
            .filter_map(|l| l.strip_prefix("> "))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn asked(&self) -> Vec<&str> {
        self.log
            .iter()
            .filter_map(|l| l.strip_prefix("? "))
            .collect()
    }
}

impl Prompter for ScriptedPrompter {
    fn text(&mut self, q: &Text) -> Reply<String> {
        loop {
            let reply = self.typed(&q.message).map(|t| {
                if t.is_empty() {
                    q.default.clone().unwrap_or_default()
                } else {
                    t
                }
            });
            if let (Reply::Answer(t), Some(check)) = (&reply, &q.check)
                && let Err(e) = check(t)
            {
                self.log.push(format!("! {e}"));
                continue;
            }
            return reply;
        }
    }

    fn confirm(&mut self, q: &Confirm) -> Reply<bool> {
        match self.pop(&q.message) {
            Say::Y(b) => Reply::Answer(b),
            Say::T("") => Reply::Answer(q.default),
            Say::Back => Reply::Back,
            Say::Quit => Reply::Quit,
            other => panic!("{:?} wants yes/no, the script says {other:?}", q.message),
        }
    }

    fn password(&mut self, q: &Password) -> Reply<String> {
        loop {
            let reply = self.typed(&q.message);
            if let (Reply::Answer(t), Some(check)) = (&reply, &q.check)
                && let Err(e) = check(t)
            {
                self.log.push(format!("! {e}"));
                continue;
            }
            return reply;
        }
    }

    fn select(&mut self, q: &Select) -> Reply<String> {
        loop {
            match self.typed(&q.message) {
                Reply::Answer(t) if t.is_empty() => {
                    return Reply::Answer(q.options[q.default].clone());
                }
                Reply::Answer(t) if q.options.contains(&t) => return Reply::Answer(t),
                Reply::Answer(t) => self.log.push(format!("! no option {t}")),
                other => return other,
            }
        }
    }

    fn say(&mut self, text: &str) {
        self.log.push(format!("> {text}"));
    }
}

/// A network of scripted members: address -> certificate (or why it can't be reached).
#[derive(Default)]
struct ScriptedRemote {
    certificates: BTreeMap<String, Result<Certificate, String>>,
    member_config: Vec<MemberConfigKey>,
    member_config_error: Option<String>,
    calls: RefCell<Vec<String>>,
}

impl Remote for ScriptedRemote {
    fn certificate(&self, address: &str) -> Result<Certificate, String> {
        self.calls
            .borrow_mut()
            .push(format!("certificate {address}"));
        self.certificates
            .get(address)
            .cloned()
            .unwrap_or_else(|| Err("connection refused".into()))
    }

    fn member_config(
        &self,
        address: &str,
        fingerprint: &str,
    ) -> Result<Vec<MemberConfigKey>, String> {
        self.calls
            .borrow_mut()
            .push(format!("member_config {address} {fingerprint}"));
        match &self.member_config_error {
            Some(e) => Err(e.clone()),
            None => Ok(self.member_config.clone()),
        }
    }
}

fn env() -> Environment {
    Environment {
        hostname: "host7".into(),
        default_address: "10.1.1.7:8443".into(),
        clock: Clock::new(|| datetime!(2026-01-01 00:00 UTC)),
        clustered_as: None,
        // Every scripted address may be listened on, unless a test says otherwise.
        can_listen: ListenCheck::new(|_| Ok(())),
    }
}

fn cluster_cert() -> Certificate {
    Certificate::from_der(b"the cluster".to_vec())
}

fn other_cert() -> Certificate {
    Certificate::from_der(b"another cluster".to_vec())
}

fn token(expires_at: &str) -> String {
    JoinToken {
        server_name: "node2".into(),
        fingerprint: cluster_cert().fingerprint,
        addresses: vec!["10.0.0.1:8443".into(), "10.0.0.3:8443".into()],
        secret: "5e".repeat(32),
        expires_at: expires_at.into(),
    }
    .encode()
}

fn source_key() -> MemberConfigKey {
    MemberConfigKey {
        entity: "storage-pool".into(),
        name: "default".into(),
        key: "source".into(),
        value: String::new(),
        description: "\"source\" property for storage pool \"default\"".into(),
    }
}

/// A cluster reachable at 10.0.0.1, asking for the default pool's source.
fn cluster() -> ScriptedRemote {
    ScriptedRemote {
        certificates: BTreeMap::from([("10.0.0.1:8443".into(), Ok(cluster_cert()))]),
        member_config: vec![source_key()],
        ..Default::default()
    }
}

fn run(remote: &ScriptedRemote, script: Vec<Say>) -> (Outcome, ScriptedPrompter) {
    let mut p = ScriptedPrompter::new(script);
    let outcome = Flow::new(env(), remote).run(&mut p);
    assert_eq!(p.remaining(), 0, "unused answers; log: {:#?}", p.log);
    (outcome, p)
}

fn applied(outcome: Outcome) -> (Preseed, bool) {
    match outcome {
        Outcome::Apply { preseed, print } => (*preseed, print),
        Outcome::Stopped(why) => panic!("stopped: {why}"),
    }
}

fn stopped(outcome: Outcome) -> String {
    match outcome {
        Outcome::Stopped(why) => {
            assert!(why.ends_with(NOTHING_CHANGED), "{why}");
            why
        }
        Outcome::Apply { preseed, .. } => panic!("applied {preseed:?}"),
    }
}

use Say::*;

#[test]
fn joins_with_a_token_taking_the_name_from_it() {
    let remote = cluster();
    let (outcome, p) = run(
        &remote,
        vec![
            Y(true),
            T("10.0.0.2"),
            Y(true),
            T("yes"),
            S(token("2026-01-02T00:00:00Z")),
            Y(true),
            T("/srv/pool"),
            Y(false),
        ],
    );
    let (preseed, print) = applied(outcome);
    assert!(!print);
    let c = preseed.cluster.as_ref().unwrap();
    assert_eq!(c.server_name, "node2");
    assert_eq!(c.server_address, "10.0.0.2:8443");
    assert_eq!(c.cluster_token, token("2026-01-02T00:00:00Z"));
    assert!(c.cluster_password.is_empty() && c.cluster_address.is_empty());
    assert_eq!(c.member_config.len(), 1);
    assert_eq!(c.member_config[0].value, "/srv/pool");
    assert!(preseed.is_join());
    // The member name is not asked: it comes from the token.
    assert!(!p.asked().iter().any(|q| q.contains("member name")));
    let said = p.said();
    assert!(said.contains("\"node2\""), "{said}");
    assert!(said.contains("10.0.0.1:8443, 10.0.0.3:8443"), "{said}");
    assert!(said.contains("expires at 2026-01-02T00:00:00Z"), "{said}");
    assert!(
        p.asked()
            .contains(&"Choose \"source\" property for storage pool \"default\":")
    );
    assert_eq!(
        *remote.calls.borrow(),
        [
            "certificate 10.0.0.1:8443".to_owned(),
            format!("member_config 10.0.0.1:8443 {}", cluster_cert().fingerprint)
        ]
    );
}

#[test]
fn the_token_may_be_pasted_as_the_answer_to_do_you_have_one() {
    let remote = cluster();
    let (outcome, p) = run(
        &remote,
        vec![
            Y(true),
            T(""),
            Y(true),
            S(format!("  {}  ", token(""))),
            Y(true),
            T(""),
            Y(false),
        ],
    );
    let (preseed, _) = applied(outcome);
    let c = preseed.cluster.unwrap();
    assert_eq!(c.server_address, "10.1.1.7:8443", "the default address");
    assert_eq!(c.cluster_token, token(""));
    assert!(!p.asked().contains(&"Please provide join token:"));
    assert!(p.said().contains("never expires"));
}

#[test]
fn malformed_and_expired_tokens_are_refused_and_asked_again() {
    let remote = cluster();
    let (outcome, p) = run(
        &remote,
        vec![
            Y(true),
            T(""),
            Y(true),
            T("maybe"),
            T("yes"),
            T("eyJzZXJ2!"),
            S(token("2025-12-31T23:59:59Z")),
            S(token("2026-06-01T00:00:00Z")),
            Y(true),
            T(""),
            Y(false),
        ],
    );
    applied(outcome);
    let refusals = p.refusals();
    assert_eq!(refusals.len(), 3, "{refusals:#?}");
    assert!(refusals[0].contains("answer yes, no, or paste the token"));
    assert_eq!(
        refusals[1],
        "Invalid input: Invalid join token: illegal base64 data at input byte 8"
    );
    assert!(refusals[2].contains("expired at 2025-12-31T23:59:59Z"));
    assert!(refusals[2].contains("corral cluster add node2"));
}

#[test]
fn a_token_whose_cluster_presents_another_certificate_stops_everything() {
    let mut remote = cluster();
    remote
        .certificates
        .insert("10.0.0.1:8443".into(), Ok(other_cert()));
    remote
        .certificates
        .insert("10.0.0.3:8443".into(), Ok(cluster_cert()));
    let (outcome, _) = run(&remote, vec![Y(true), T(""), Y(true), S(token(""))]);
    let why = stopped(outcome);
    assert!(why.contains("Certificate fingerprint mismatch"), "{why}");
    assert!(why.contains(&other_cert().fingerprint), "{why}");
    // A mismatch is not a reason to try the next address.
    assert_eq!(remote.calls.borrow().len(), 1);
}

#[test]
fn unreachable_token_addresses_are_skipped_until_one_answers() {
    let remote = ScriptedRemote {
        certificates: BTreeMap::from([("10.0.0.3:8443".into(), Ok(cluster_cert()))]),
        ..Default::default()
    };
    let (outcome, p) = run(
        &remote,
        vec![Y(true), T(""), Y(true), S(token("")), Y(true), Y(false)],
    );
    applied(outcome);
    assert!(p.said().contains("Cannot reach 10.0.0.1:8443"));
    assert!(
        remote.calls.borrow()[2].starts_with("member_config 10.0.0.3:8443"),
        "{:?}",
        remote.calls.borrow()
    );

    let nowhere = ScriptedRemote::default();
    let (outcome, _) = run(&nowhere, vec![Y(true), T(""), Y(true), S(token(""))]);
    assert!(stopped(outcome).contains("Unable to connect to any of the cluster members"));
}

fn password_join_start() -> Vec<Say> {
    vec![
        Y(true),
        T("10.0.0.4"),
        Y(true),
        T("no"),
        T("node4"),
        T("10.0.0.1"),
    ]
}

#[test]
fn joins_with_an_address_a_confirmed_fingerprint_and_the_trust_password() {
    let remote = cluster();
    let mut script = password_join_start();
    script.extend([T("yes"), T("sekret"), Y(true), T(""), Y(true)]);
    let (outcome, p) = run(&remote, script);
    let (preseed, print) = applied(outcome);
    assert!(print);
    let c = preseed.cluster.as_ref().unwrap();
    assert_eq!(c.server_name, "node4");
    assert_eq!(c.server_address, "10.0.0.4:8443");
    assert_eq!(c.cluster_address, "10.0.0.1:8443");
    assert_eq!(c.cluster_password, "sekret");
    assert_eq!(c.cluster_certificate, cluster_cert().pem());
    assert!(c.cluster_token.is_empty());
    let said = p.said();
    assert!(
        said.contains(&format!(
            "Cluster fingerprint: {}",
            cluster_cert().fingerprint
        )),
        "{said}"
    );
    assert!(said.contains("corral query /1.0"), "{said}");
    assert!(
        said.contains("environment.certificate_fingerprint"),
        "{said}"
    );
    // The printed preseed reads back as the same thing.
    assert_eq!(crate::parse_preseed(&crate::to_yaml(&preseed)), Ok(preseed));
}

#[test]
fn a_pasted_fingerprint_is_compared() {
    let remote = cluster();
    let mut script = password_join_start();
    let upper_with_colons = cluster_cert()
        .fingerprint
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    script.extend([
        T("abc"),
        S(upper_with_colons),
        T("sekret"),
        Y(true),
        T(""),
        T(""),
    ]);
    let (outcome, p) = run(&remote, script);
    applied(outcome);
    assert!(p.refusals()[0].contains("64 hex digits"));

    let mut script = password_join_start();
    script.push(S(other_cert().fingerprint));
    let (outcome, _) = run(&remote, script);
    let why = stopped(outcome);
    assert!(
        why.contains("is not the one the server at 10.0.0.1:8443 presents"),
        "{why}"
    );
}

#[test]
fn a_declined_fingerprint_stops_before_the_password() {
    let remote = cluster();
    let mut script = password_join_start();
    script.push(T(""));
    let (outcome, p) = run(&remote, script);
    let why = stopped(outcome);
    assert!(why.contains("not confirmed"), "{why}");
    assert!(!p.asked().contains(&"Cluster trust password:"));
    // The cluster was never asked for anything but its certificate.
    assert_eq!(remote.calls.borrow().len(), 1);
}

#[test]
fn an_unreachable_member_sends_back_to_the_address_question() {
    let remote = cluster();
    let (outcome, p) = run(
        &remote,
        vec![
            Y(true),
            T(""),
            Y(true),
            T("no"),
            T(""),
            T("10.9.9.9:9000"),
            T("10.0.0.1:8443"),
            T("yes"),
            T("pw"),
            Y(true),
            T(""),
            Y(false),
        ],
    );
    let (preseed, _) = applied(outcome);
    let c = preseed.cluster.unwrap();
    assert_eq!(c.server_name, "host7", "the host name is the default");
    assert_eq!(c.cluster_address, "10.0.0.1:8443");
    assert!(p.said().contains("Cannot get the cluster certificate"));
}

#[test]
fn declining_the_data_loss_warning_or_a_failing_cluster_changes_nothing() {
    let remote = cluster();
    let (outcome, _) = run(
        &remote,
        vec![Y(true), T(""), Y(true), S(token("")), Y(false)],
    );
    assert!(stopped(outcome).contains("declined"));

    let mut failing = cluster();
    failing.member_config_error = Some("not authorized".into());
    let (outcome, _) = run(
        &failing,
        vec![Y(true), T(""), Y(true), S(token("")), Y(true)],
    );
    assert!(stopped(outcome).contains("not authorized"));
}

fn bootstrap_script() -> Vec<Say> {
    vec![
        Y(true),       // clustering
        T("10.0.0.1"), // address
        Y(false),      // joining
        T("node1"),    // name
        T(""),         // pool? default yes
        T(""),         // pool name: default
        T(""),         // driver: dir
        T(""),         // source
        T(""),         // bridge? default yes
        T(""),         // corralbr0
        T("10.66.0.1/24"),
        T("none"),
        T("sekret"),
        Y(true), // print
    ]
}

#[test]
fn bootstraps_with_a_pool_a_bridge_and_a_trust_password() {
    let remote = ScriptedRemote::default();
    let (outcome, _) = run(&remote, bootstrap_script());
    let (preseed, print) = applied(outcome);
    assert!(print);
    assert!(preseed.is_bootstrap());
    let expected = crate::parse_preseed(
        "config:
  core.https_address: 10.0.0.1:8443
  core.trust_password: sekret
networks:
- name: corralbr0
  type: bridge
  config:
    ipv4.address: 10.66.0.1/24
    ipv6.address: none
storage_pools:
- name: default
  driver: dir
profiles:
- name: default
  devices:
    eth0: {name: eth0, network: corralbr0, type: nic}
    root: {path: /, pool: default, type: disk}
cluster:
  server_name: node1
  enabled: true
",
    )
    .unwrap();
    assert_eq!(preseed, expected);
    assert_eq!(crate::parse_preseed(&crate::to_yaml(&preseed)), Ok(preseed));
    assert!(
        remote.calls.borrow().is_empty(),
        "bootstrapping asks no one"
    );
}

#[test]
fn bootstrap_with_tokens_only_and_nothing_else() {
    let (outcome, _) = run(
        &ScriptedRemote::default(),
        vec![
            Y(true),
            T(""),
            Y(false),
            T(""),
            Y(false),
            Y(false),
            T(""),
            T(""),
        ],
    );
    let (preseed, print) = applied(outcome);
    assert!(!print);
    assert_eq!(
        preseed.config,
        BTreeMap::from([("core.https_address".into(), "10.1.1.7:8443".into())])
    );
    assert!(preseed.storage_pools.is_empty() && preseed.networks.is_empty());
    assert!(preseed.profiles.is_empty());
    assert_eq!(preseed.cluster.unwrap().server_name, "host7");
}

#[test]
fn invalid_input_is_asked_again_with_what_is_allowed() {
    let (outcome, p) = run(
        &ScriptedRemote::default(),
        vec![
            Y(true),
            T("10.0.0.1:99999"),
            T("0.0.0.0"),
            T("10.0.0.1"),
            Y(false),
            T("none"),
            T("9lives"),
            T("node1"),
            Y(true),
            T("my pool"),
            T(""),
            T("floppy"),
            T("zfs"),
            T(""),
            Y(true),
            T("a-very-long-bridge-name"),
            T("br0"),
            T("300.1.1.1/24"),
            T("10.0.0.1/24"),
            T("10.0.0.1/24"),
            T("auto"),
            T(""),
            Y(false),
        ],
    );
    let (preseed, _) = applied(outcome);
    assert_eq!(preseed.storage_pools[0].driver, "zfs");
    assert_eq!(preseed.networks[0].name, "br0");
    let refusals = p.refusals();
    assert_eq!(refusals.len(), 9, "{refusals:#?}");
    assert!(refusals[0].contains("port"), "{}", refusals[0]);
    assert!(refusals[1].contains("wildcard"), "{}", refusals[1]);
    assert!(refusals[2].contains("reserved"), "{}", refusals[2]);
    assert!(
        refusals[3].contains("start with a letter"),
        "{}",
        refusals[3]
    );
    assert!(
        refusals[4].contains("start with a letter"),
        "{}",
        refusals[4]
    );
    assert!(refusals[5].contains("no option floppy"));
    assert!(refusals[6].contains("15"), "{}", refusals[6]);
    assert!(refusals[7].contains("ipv4.address"), "{}", refusals[7]);
    // An IPv4 subnet is no IPv6 address.
    assert!(refusals[8].contains("ipv6.address"), "{}", refusals[8]);
}

#[test]
fn esc_goes_back_one_question_and_the_answers_choose_the_way_again() {
    let remote = cluster();
    // Start joining, think better of it at the token question, go back and bootstrap.
    let (outcome, p) = run(
        &remote,
        vec![
            Y(true),
            T("10.0.0.1"),
            Y(true),
            Back,
            Y(false),
            T("node1"),
            Back,
            Back,
            Back,
            T("10.0.0.9"),
            Y(false),
            T("node1"),
            Y(false),
            Y(false),
            T(""),
            T(""),
        ],
    );
    let (preseed, _) = applied(outcome);
    assert_eq!(preseed.config["core.https_address"], "10.0.0.9:8443");
    assert!(preseed.is_bootstrap());
    let asked = p.asked();
    assert_eq!(asked[3], "Do you have a join token? (yes/no/[token])");
    assert_eq!(asked[4], "Are you joining an existing cluster?");
}

#[test]
fn esc_back_over_a_network_step_asks_the_question_before_it() {
    let remote = cluster();
    let (outcome, p) = run(
        &remote,
        vec![
            Y(true),
            T(""),
            Y(true),
            S(token("")),
            Back, // at the data-loss warning: back to the token
            S(token("")),
            Y(true),
            T(""),
            Y(false),
        ],
    );
    applied(outcome);
    let asked = p.asked();
    assert_eq!(
        asked[4],
        "All existing data is lost when joining a cluster, continue?"
    );
    assert_eq!(asked[5], "Do you have a join token? (yes/no/[token])");
}

#[test]
fn esc_at_the_first_question_or_ctrl_c_anywhere_changes_nothing() {
    let remote = cluster();
    let (outcome, _) = run(&remote, vec![Back]);
    assert!(stopped(outcome).contains("first question"));
    let (outcome, _) = run(&remote, vec![Y(true), T(""), Quit]);
    assert!(stopped(outcome).contains("Interrupted"));
    assert!(remote.calls.borrow().is_empty());
}

#[test]
fn standalone_without_clustering() {
    let (outcome, _) = run(
        &ScriptedRemote::default(),
        vec![
            Y(false),
            T(""),
            T(""),
            T(""),
            T(""),
            Y(false),
            Y(true),
            T("127.0.0.5:9443"),
            T(""),
            T(""),
        ],
    );
    let (preseed, _) = applied(outcome);
    assert!(preseed.cluster.is_none());
    assert_eq!(preseed.config["core.https_address"], "127.0.0.5:9443");
    assert!(!preseed.config.contains_key("core.trust_password"));
    assert_eq!(preseed.storage_pools[0].name, "default");
    assert!(preseed.networks.is_empty());
}

#[test]
fn yes_no_and_expiry() {
    assert_eq!(yes_no(" YES "), Some(true));
    assert_eq!(yes_no("n"), Some(false));
    assert_eq!(yes_no("ok"), None);
    let t = |at: &str| JoinToken {
        expires_at: at.into(),
        ..Default::default()
    };
    let now = datetime!(2026-01-01 00:00 UTC);
    assert!(!token_expired(&t(""), now));
    assert!(!token_expired(&t("0001-01-01T00:00:00Z"), now));
    assert!(token_expired(&t("2025-12-31T23:00:00+00:00"), now));
    assert!(!token_expired(&t("2026-01-01T00:00:01.5Z"), now));
}
