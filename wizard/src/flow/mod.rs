//! The questions of `corrald init`, as `lxd init` asks them, and the branches between them.
//!
//! The flow is a small state machine: each [`Step`] is either a question (built from the
//! answers so far by [`Flow::question`]) or a network action (fetch a certificate, list
//! the member-specific keys). [`Flow::next`] is the only place branches are decided, so
//! going back one question (Esc) just re-asks the previous question and lets the answers
//! choose the way forward again. Nothing is sent to the daemon here: the result is a
//! validated [`Preseed`] for the caller to apply (or to print).

mod checks;

use std::collections::BTreeMap;

use corral_shared::api::MemberConfigKey;
use corral_shared::preseed::{
    ClusterPreseed, JoinToken, NetworkPreseed, Preseed, ProfilePreseed, STORAGE_DRIVERS,
    StoragePoolPreseed,
};

use crate::prompt::{Answer, Confirm, Password, Prompter, Question, Reply, Select, Text, ask};
use crate::remote::{Certificate, Remote};

pub use checks::{Clock, Environment, ListenCheck, token_expired, yes_no};

/// Said whenever the wizard stops before applying anything.
pub const NOTHING_CHANGED: &str = "Nothing was changed.";

/// One step of the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Would you like to use clustering?
    Clustering,
    /// The address other members (or clients) reach this server on.
    Address,
    /// Are you joining an existing cluster?
    Joining,
    /// Do you have a join token? (yes/no/[token])
    HaveToken,
    /// Please provide the join token.
    Token,
    /// Action: fetch the cluster certificate from the token's addresses and compare.
    CheckToken,
    /// This member's name.
    MemberName,
    /// Address of an existing member (password join).
    ClusterAddress,
    /// Action: fetch that member's certificate and show its fingerprint.
    FetchCertificate,
    /// Is this the correct fingerprint? (yes/no/[fingerprint])
    Fingerprint,
    /// The cluster's trust password (not echoed).
    ClusterPassword,
    /// All existing data is lost when joining, continue?
    DataLoss,
    /// Action: read the member-specific keys the cluster asks for.
    FetchMemberConfig,
    /// The answer to the n-th member-specific key.
    MemberConfig(usize),
    /// Create a storage pool?
    Pool,
    /// Its name.
    PoolName,
    /// Its driver.
    PoolDriver,
    /// Its source.
    PoolSource,
    /// Create a network bridge?
    Network,
    /// Its name.
    NetworkName,
    /// Its IPv4 address.
    Ipv4,
    /// Its IPv6 address.
    Ipv6,
    /// Standalone: be reachable over the network?
    Expose,
    /// The trust password for new clients (empty: tokens only).
    TrustPassword,
    /// Print the equivalent preseed?
    PrintPreseed,
    /// The end: build the preseed.
    Done,
}

impl Step {
    fn is_action(self) -> bool {
        matches!(
            self,
            Step::CheckToken | Step::FetchCertificate | Step::FetchMemberConfig
        )
    }
}

/// How the wizard ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Apply this preseed (already validated); print it first if asked.
    Apply {
        /// What to apply.
        preseed: Box<Preseed>,
        /// Whether the person asked to see it as YAML.
        print: bool,
    },
    /// Stopped before anything was sent: why (and that nothing changed).
    Stopped(String),
}

/// A storage pool being described.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct PoolAnswers {
    name: String,
    driver: String,
    source: String,
}

/// A network bridge being described.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct NetworkAnswers {
    name: String,
    ipv4: String,
    ipv6: String,
}

/// Everything answered so far.
#[derive(Debug, Clone, Default)]
struct Answers {
    clustering: bool,
    address: String,
    joining: bool,
    have_token: bool,
    token_inline: bool,
    token_text: String,
    token: Option<JoinToken>,
    server_name: String,
    cluster_address: String,
    /// The cluster certificate, checked against the token or confirmed by the person.
    certificate: Option<Certificate>,
    /// The member the certificate came from, which is asked for member_config.
    contact: String,
    cluster_password: String,
    member_config: Vec<MemberConfigKey>,
    pool: Option<PoolAnswers>,
    network: Option<NetworkAnswers>,
    expose: bool,
    trust_password: String,
    print: bool,
}

/// Why a step ends the wizard early, or sends it back.
enum Halt {
    /// Stop: nothing is applied.
    Stop(String),
    /// Say this and ask the previous question again.
    Retry(String),
}

/// The guided flow over a [`Prompter`] and a [`Remote`].
pub struct Flow<'a> {
    env: Environment,
    remote: &'a dyn Remote,
    a: Answers,
}

impl<'a> Flow<'a> {
    /// A flow for this machine (`env`) reaching clusters through `remote`.
    pub fn new(env: Environment, remote: &'a dyn Remote) -> Self {
        Self {
            env,
            remote,
            a: Answers::default(),
        }
    }

    /// Asks every question the answers lead to, and returns what to apply.
    pub fn run(mut self, prompter: &mut dyn Prompter) -> Outcome {
        if let Some(name) = &self.env.clustered_as {
            // Checked before the first question: no answer could be applied.
            return stopped(format!(
                "This server is already clustered (member \"{name}\"); to start over, remove it \
                 from its cluster first ('corral cluster remove {name}' on another member)."
            ));
        }
        let mut history: Vec<Step> = Vec::new();
        // The last answer given at each step, offered as the default when it is asked again.
        let mut given: Vec<(Step, Answer)> = Vec::new();
        let mut step = Step::Clustering;
        loop {
            if step == Step::Done {
                return self.finish();
            }
            if step.is_action() {
                match self.act(step, prompter) {
                    Ok(()) => step = self.next(step),
                    Err(Halt::Stop(reason)) => return stopped(reason),
                    Err(Halt::Retry(message)) => {
                        prompter.say(&message);
                        match history.pop() {
                            Some(previous) => step = previous,
                            None => return stopped(message),
                        }
                    }
                }
                continue;
            }
            let mut question = self.question(step);
            if let Some((_, earlier)) = given.iter().find(|(s, _)| *s == step) {
                offer(&mut question, earlier);
            }
            match ask(prompter, &question) {
                Reply::Answer(answer) => match self.record(step, answer.clone()) {
                    Ok(()) => {
                        given.retain(|(s, _)| *s != step);
                        given.push((step, answer));
                        history.push(step);
                        step = self.next(step);
                    }
                    Err(Halt::Stop(reason)) => return stopped(reason),
                    Err(Halt::Retry(message)) => prompter.say(&message),
                },
                Reply::Back => match history.pop() {
                    Some(previous) => step = previous,
                    None => return stopped("Stopped at the first question.".into()),
                },
                Reply::Quit => return stopped("Interrupted.".into()),
                Reply::Failed(e) => return stopped(format!("Cannot ask the questions: {e}.")),
            }
        }
    }

    /// Where the answers lead after `step`.
    pub fn next(&self, step: Step) -> Step {
        let a = &self.a;
        let after_network = if a.clustering {
            Step::TrustPassword
        } else {
            Step::Expose
        };
        match step {
            Step::Clustering if a.clustering => Step::Address,
            Step::Clustering => Step::Pool,
            Step::Address if a.clustering => Step::Joining,
            Step::Address => Step::TrustPassword,
            Step::Joining if a.joining => Step::HaveToken,
            Step::Joining => Step::MemberName,
            Step::HaveToken if a.token_inline => Step::CheckToken,
            Step::HaveToken if a.have_token => Step::Token,
            Step::HaveToken => Step::MemberName,
            Step::Token => Step::CheckToken,
            Step::CheckToken => Step::DataLoss,
            Step::MemberName if a.joining => Step::ClusterAddress,
            Step::MemberName => Step::Pool,
            Step::ClusterAddress => Step::FetchCertificate,
            Step::FetchCertificate => Step::Fingerprint,
            Step::Fingerprint => Step::ClusterPassword,
            Step::ClusterPassword => Step::DataLoss,
            Step::DataLoss => Step::FetchMemberConfig,
            Step::FetchMemberConfig if a.member_config.is_empty() => Step::PrintPreseed,
            Step::FetchMemberConfig => Step::MemberConfig(0),
            Step::MemberConfig(i) if i + 1 < a.member_config.len() => Step::MemberConfig(i + 1),
            Step::MemberConfig(_) => Step::PrintPreseed,
            Step::Pool if a.pool.is_some() => Step::PoolName,
            Step::Pool => Step::Network,
            Step::PoolName => Step::PoolDriver,
            Step::PoolDriver => Step::PoolSource,
            Step::PoolSource => Step::Network,
            Step::Network if a.network.is_some() => Step::NetworkName,
            Step::Network => after_network,
            Step::NetworkName => Step::Ipv4,
            Step::Ipv4 => Step::Ipv6,
            Step::Ipv6 => after_network,
            Step::Expose if a.expose => Step::Address,
            Step::Expose => Step::PrintPreseed,
            Step::TrustPassword => Step::PrintPreseed,
            Step::PrintPreseed | Step::Done => Step::Done,
        }
    }

    /// The question asked at `step` (not an action step).
    pub fn question(&self, step: Step) -> Question {
        let a = &self.a;
        match step {
            Step::Clustering => confirm("Would you like to use clustering?", false, None),
            Step::Address if a.clustering => text(
                "What IP address or DNS name should be used to reach this server?",
                Some(self.env.default_address.clone()),
                Some(
                    "Other members and clients connect here; host or host:port (port 8443 when omitted)",
                ),
                Some(checks::own_address(true, self.env.can_listen.clone())),
            ),
            Step::Address => text(
                "Address to bind to (host or host:port)?",
                Some(self.env.default_address.clone()),
                Some("Clients connect here; port 8443 when omitted; :8443 for every interface"),
                Some(checks::own_address(false, self.env.can_listen.clone())),
            ),
            Step::Joining => confirm("Are you joining an existing cluster?", false, None),
            Step::HaveToken => text(
                "Do you have a join token? (yes/no/[token])",
                Some("no".into()),
                Some(
                    "Run 'corral cluster add <name>' on a member to get one; you may paste it here",
                ),
                Some(checks::token_or_yes_no(self.env.clock.clone())),
            ),
            Step::Token => text(
                "Please provide join token:",
                None,
                Some("The token 'corral cluster add <name>' printed"),
                Some(checks::token(self.env.clock.clone())),
            ),
            Step::MemberName => text(
                "What member name should be used to identify this server in the cluster?",
                Some(self.env.hostname.clone()),
                None,
                Some(checks::member_name()),
            ),
            Step::ClusterAddress => text(
                "IP address or FQDN of an existing cluster member (may include port):",
                None,
                Some("host or host:port; port 8443 when omitted"),
                Some(checks::address(true)),
            ),
            Step::Fingerprint => text(
                "Is this the correct fingerprint? (yes/no/[fingerprint])",
                Some("no".into()),
                Some("Answer yes if it is the one an existing member shows, or paste that one"),
                Some(checks::fingerprint_or_yes_no()),
            ),
            Step::ClusterPassword => Question::Password(Password {
                message: "Cluster trust password:".into(),
                help: Some("The cluster's core.trust_password".into()),
                confirm: false,
                check: Some(checks::not_empty(
                    "The trust password is needed to join this way; or answer with a join token instead",
                )),
            }),
            Step::DataLoss => confirm(
                "All existing data is lost when joining a cluster, continue?",
                false,
                None,
            ),
            Step::MemberConfig(i) => {
                let key = &a.member_config[i];
                let what = if key.description.is_empty() {
                    format!(
                        "\"{}\" property for {} \"{}\"",
                        key.key, key.entity, key.name
                    )
                } else {
                    key.description.clone()
                };
                text(
                    &format!("Choose {what}:"),
                    Some(String::new()),
                    Some(&member_config_help(key)),
                    None,
                )
            }
            Step::Pool => confirm("Do you want to configure a new storage pool?", true, None),
            Step::PoolName => text(
                "Name of the new storage pool",
                Some("default".into()),
                None,
                Some(checks::pool_name()),
            ),
            Step::PoolDriver => Question::Select(Select {
                message: "Name of the storage backend to use".into(),
                options: STORAGE_DRIVERS.iter().map(|d| d.to_string()).collect(),
                default: 0,
                help: Some("dir keeps everything in a directory and needs nothing else".into()),
            }),
            Step::PoolSource => text(
                "Source of the storage pool (empty for a new one)",
                Some(String::new()),
                Some(
                    "An existing directory, block device or pool; empty: created under the daemon's directory",
                ),
                None,
            ),
            Step::Network => confirm("Would you like to create a new network bridge?", true, None),
            Step::NetworkName => text(
                "What should the new bridge be called?",
                Some("corralbr0".into()),
                None,
                Some(checks::network_name()),
            ),
            Step::Ipv4 => text(
                "What IPv4 address should be used? (CIDR subnet notation, \"auto\" or \"none\")",
                Some("auto".into()),
                None,
                Some(checks::bridge_address("ipv4.address")),
            ),
            Step::Ipv6 => text(
                "What IPv6 address should be used? (CIDR subnet notation, \"auto\" or \"none\")",
                Some("auto".into()),
                None,
                Some(checks::bridge_address("ipv6.address")),
            ),
            Step::Expose => confirm(
                "Would you like the server to be available over the network?",
                false,
                None,
            ),
            Step::TrustPassword => Question::Password(Password {
                message: "Trust password for new clients:".into(),
                help: Some("Leave empty to use join tokens only ('corral cluster add')".into()),
                confirm: true,
                check: None,
            }),
            Step::PrintPreseed => confirm(
                "Would you like a YAML \"init\" preseed to be printed?",
                false,
                None,
            ),
            Step::CheckToken | Step::FetchCertificate | Step::FetchMemberConfig | Step::Done => {
                unreachable!("{step:?} is not a question")
            }
        }
    }

    /// Takes an answer (already checked by the prompter) into the answers.
    fn record(&mut self, step: Step, answer: Answer) -> Result<(), Halt> {
        let a = &mut self.a;
        let text = match &answer {
            Answer::Text(t) => t.trim().to_owned(),
            Answer::Bool(_) => String::new(),
        };
        let yes = matches!(answer, Answer::Bool(true));
        match step {
            Step::Clustering => a.clustering = yes,
            Step::Address => {
                a.address = corral_shared::config::canonical_address(&text).map_err(Halt::Retry)?
            }
            Step::Joining => a.joining = yes,
            Step::HaveToken => match yes_no(&text) {
                Some(have) => {
                    a.have_token = have;
                    a.token_inline = false;
                }
                None => {
                    a.have_token = true;
                    a.token_inline = true;
                    self.take_token(&text)?;
                }
            },
            Step::Token => self.take_token(&text)?,
            Step::MemberName => a.server_name = text,
            Step::ClusterAddress => {
                a.cluster_address =
                    corral_shared::config::canonical_address(&text).map_err(Halt::Retry)?
            }
            Step::Fingerprint => {
                let cert = a.certificate.as_ref().expect("fetched before asking");
                match yes_no(&text) {
                    Some(true) => {}
                    Some(false) => {
                        return Err(Halt::Stop(
                            "The cluster certificate was not confirmed, so this server did not join."
                                .into(),
                        ));
                    }
                    None => {
                        let given = checks::normalise_fingerprint(&text);
                        if given != cert.fingerprint {
                            return Err(Halt::Stop(format!(
                                "The fingerprint you gave ({given}) is not the one the server at {} presents ({}): \
                                 it is not the cluster you meant, or someone is in between. Check the address.",
                                a.cluster_address, cert.fingerprint
                            )));
                        }
                    }
                }
            }
            Step::ClusterPassword => {
                a.cluster_password = match answer {
                    Answer::Text(t) => t,
                    Answer::Bool(_) => String::new(),
                }
            }
            Step::DataLoss if !yes => {
                return Err(Halt::Stop(
                    "Joining was declined, so this server did not join.".into(),
                ));
            }
            Step::DataLoss => {}
            Step::MemberConfig(i) => a.member_config[i].value = text,
            Step::Pool => a.pool = yes.then(|| a.pool.clone().unwrap_or_default()),
            Step::PoolName => pool(a).name = text,
            Step::PoolDriver => pool(a).driver = text,
            Step::PoolSource => pool(a).source = text,
            Step::Network => a.network = yes.then(|| a.network.clone().unwrap_or_default()),
            Step::NetworkName => network(a).name = text,
            Step::Ipv4 => network(a).ipv4 = text,
            Step::Ipv6 => network(a).ipv6 = text,
            Step::Expose => a.expose = yes,
            Step::TrustPassword => {
                a.trust_password = match answer {
                    Answer::Text(t) => t,
                    Answer::Bool(_) => String::new(),
                }
            }
            Step::PrintPreseed => a.print = yes,
            Step::CheckToken | Step::FetchCertificate | Step::FetchMemberConfig | Step::Done => {}
        }
        Ok(())
    }

    fn take_token(&mut self, text: &str) -> Result<(), Halt> {
        let token = checks::check_token(text, self.env.clock.now()).map_err(Halt::Retry)?;
        self.a.token_text = text.to_owned();
        self.a.server_name = token.server_name.clone();
        self.a.token = Some(token);
        Ok(())
    }

    /// Runs a network step.
    fn act(&mut self, step: Step, prompter: &mut dyn Prompter) -> Result<(), Halt> {
        match step {
            Step::CheckToken => self.check_token(prompter),
            Step::FetchCertificate => {
                let address = self.a.cluster_address.clone();
                let cert = self.remote.certificate(&address).map_err(|e| {
                    Halt::Retry(format!(
                        "Cannot get the cluster certificate: {e}. Check the address and try again."
                    ))
                })?;
                prompter.say(&format!("Cluster fingerprint: {}", cert.fingerprint));
                prompter.say(
                    "You can validate this fingerprint by running \"corral query /1.0\" on an existing \
                     cluster member: it shows it as environment.certificate_fingerprint.",
                );
                self.a.contact = address;
                self.a.certificate = Some(cert);
                Ok(())
            }
            Step::FetchMemberConfig => {
                let fingerprint = self
                    .a
                    .certificate
                    .as_ref()
                    .map(|c| c.fingerprint.clone())
                    .unwrap_or_default();
                let keys = self
                    .remote
                    .member_config(&self.a.contact, &fingerprint)
                    .map_err(|e| {
                        Halt::Stop(format!(
                            "Cannot read the cluster's member-specific questions: {e}."
                        ))
                    })?;
                // Keep answers already given if the person came back this way.
                let old = std::mem::take(&mut self.a.member_config);
                self.a.member_config =
                    keys.into_iter()
                        .map(|mut k| {
                            if let Some(o) = old.iter().find(|o| {
                                o.entity == k.entity && o.name == k.name && o.key == k.key
                            }) {
                                k.value = o.value.clone();
                            }
                            k
                        })
                        .collect();
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Fetches the cluster certificate from the first reachable address in the token and
    /// compares it with the token's fingerprint (a mismatch ends everything).
    fn check_token(&mut self, prompter: &mut dyn Prompter) -> Result<(), Halt> {
        let token = self.a.token.clone().expect("taken before checking");
        prompter.say(&checks::describe_token(&token));
        let mut failures = Vec::new();
        for address in &token.addresses {
            match self.remote.certificate(address) {
                Err(e) => {
                    prompter.say(&format!("Cannot reach {address}: {e}"));
                    failures.push(address.clone());
                }
                Ok(cert) if cert.fingerprint != token.fingerprint => {
                    return Err(Halt::Stop(format!(
                        "Certificate fingerprint mismatch between the join token and cluster member {address}: \
                         the token expects {}, the server presents {}. The address may now belong to another \
                         server, or the token to another cluster; ask for a new token with \
                         'corral cluster add {}' on a member.",
                        token.fingerprint, cert.fingerprint, token.server_name
                    )));
                }
                Ok(cert) => {
                    prompter.say(&format!(
                        "Cluster certificate at {address} matches the token ({}).",
                        cert.fingerprint
                    ));
                    self.a.contact = address.clone();
                    self.a.certificate = Some(cert);
                    return Ok(());
                }
            }
        }
        Err(Halt::Stop(format!(
            "Unable to connect to any of the cluster members specified in join token ({}).",
            failures.join(", ")
        )))
    }

    /// The preseed the answers describe.
    pub fn preseed(&self) -> Preseed {
        let a = &self.a;
        let mut p = Preseed::default();
        if a.clustering && a.joining {
            let mut c = ClusterPreseed {
                server_name: a.server_name.clone(),
                enabled: true,
                member_config: a.member_config.clone(),
                server_address: a.address.clone(),
                ..Default::default()
            };
            if a.token.is_some() {
                c.cluster_token = a.token_text.clone();
            } else {
                c.cluster_address = a.cluster_address.clone();
                c.cluster_certificate = a.certificate.as_ref().map(|c| c.pem()).unwrap_or_default();
                c.cluster_password = a.cluster_password.clone();
            }
            p.cluster = Some(c);
            return p;
        }
        if a.clustering || a.expose {
            p.config
                .insert("core.https_address".into(), a.address.clone());
        }
        if (a.clustering || a.expose) && !a.trust_password.is_empty() {
            p.config
                .insert("core.trust_password".into(), a.trust_password.clone());
        }
        let mut devices = BTreeMap::new();
        if let Some(pool) = &a.pool {
            let mut config = BTreeMap::new();
            if !pool.source.is_empty() {
                config.insert("source".into(), pool.source.clone());
            }
            p.storage_pools.push(StoragePoolPreseed {
                name: pool.name.clone(),
                driver: pool.driver.clone(),
                config,
                ..Default::default()
            });
            devices.insert(
                "root".to_owned(),
                BTreeMap::from([
                    ("path".to_owned(), "/".to_owned()),
                    ("pool".to_owned(), pool.name.clone()),
                    ("type".to_owned(), "disk".to_owned()),
                ]),
            );
        }
        if let Some(net) = &a.network {
            p.networks.push(NetworkPreseed {
                name: net.name.clone(),
                kind: "bridge".into(),
                config: BTreeMap::from([
                    ("ipv4.address".to_owned(), net.ipv4.clone()),
                    ("ipv6.address".to_owned(), net.ipv6.clone()),
                ]),
                ..Default::default()
            });
            devices.insert(
                "eth0".to_owned(),
                BTreeMap::from([
                    ("name".to_owned(), "eth0".to_owned()),
                    ("network".to_owned(), net.name.clone()),
                    ("type".to_owned(), "nic".to_owned()),
                ]),
            );
        }
        if !devices.is_empty() {
            p.profiles.push(ProfilePreseed {
                name: "default".into(),
                devices,
                ..Default::default()
            });
        }
        if a.clustering {
            p.cluster = Some(ClusterPreseed {
                server_name: a.server_name.clone(),
                enabled: true,
                ..Default::default()
            });
        }
        p
    }

    fn finish(&self) -> Outcome {
        let preseed = self.preseed();
        if let Err(violations) = preseed.validate() {
            let lines: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
            return stopped(format!(
                "The answers do not make a valid preseed: {}.",
                lines.join("; ")
            ));
        }
        Outcome::Apply {
            preseed: Box::new(preseed),
            print: self.a.print,
        }
    }
}

/// Makes an earlier answer the default of a question asked again (after Esc). Secrets are
/// not offered: they would have to be shown.
fn offer(question: &mut Question, earlier: &Answer) {
    match (question, earlier) {
        (Question::Text(q), Answer::Text(t)) => q.default = Some(t.clone()),
        (Question::Confirm(q), Answer::Bool(b)) => q.default = *b,
        (Question::Select(q), Answer::Text(t)) => {
            if let Some(i) = q.options.iter().position(|o| o == t) {
                q.default = i;
            }
        }
        _ => {}
    }
}

fn stopped(reason: String) -> Outcome {
    Outcome::Stopped(format!("{reason} {NOTHING_CHANGED}"))
}

fn pool(a: &mut Answers) -> &mut PoolAnswers {
    a.pool.get_or_insert_with(PoolAnswers::default)
}

fn network(a: &mut Answers) -> &mut NetworkAnswers {
    a.network.get_or_insert_with(NetworkAnswers::default)
}

fn member_config_help(key: &MemberConfigKey) -> String {
    match (key.entity.as_str(), key.key.as_str()) {
        ("storage-pool", "source") => {
            "This member's own source for the pool; empty: a new one under the daemon's directory"
                .into()
        }
        ("network", "bridge.external_interfaces") => {
            "Interfaces of this member to add to the bridge; empty: none".into()
        }
        ("network", "parent") => "This member's parent interface for the network".into(),
        _ => "This member's own value; empty leaves it unset".into(),
    }
}

fn confirm(message: &str, default: bool, help: Option<&str>) -> Question {
    Question::Confirm(Confirm {
        message: message.into(),
        default,
        help: help.map(Into::into),
    })
}

fn text(
    message: &str,
    default: Option<String>,
    help: Option<&str>,
    check: Option<crate::prompt::Check>,
) -> Question {
    Question::Text(Text {
        message: message.into(),
        default,
        help: help.map(Into::into),
        check,
    })
}

#[cfg(test)]
mod tests;
