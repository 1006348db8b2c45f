//! The dashboard's state ([`App`]), what can happen to it ([`Msg`]) and the side effects it
//! asks for ([`Command`]); `update` (in update.rs, above the handlers it dispatches to)
//! turns a message into a new state and commands. Nothing here touches the terminal, the
//! network or the clock, and nothing here imports the modules that read or draw the state.

use std::collections::BTreeMap;
use std::time::Duration;

use corral_shared::api::{ClusterMember, MemberStatus, Operation, RaftState, Role, WatchEvent};
use crossterm::event::{KeyEvent, MouseEvent};

use super::action::{Action, CLUSTER_SETTINGS, Outcome};
use super::clock::{Stamp, parse_rfc3339_ms, short_duration};
use crate::commands::config::value_text;

/// The first wait before reconnecting; it doubles on each failed attempt.
pub const FIRST_RETRY: Duration = Duration::from_millis(200);
/// The longest wait between attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(5);
/// How many lines the event log keeps.
const LOG_CAP: usize = 500;
/// How many role changes are kept per member.
const HISTORY_CAP: usize = 20;

/// The wait before reconnect attempt `attempt` (1 for the first).
pub fn backoff(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    FIRST_RETRY.saturating_mul(1 << doublings).min(MAX_RETRY)
}

/// The two ways of looking at the members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// One row per member.
    Members,
    /// Members grouped under their failure domain.
    Domains,
}

/// The panes that take the keys in turn (Tab).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    /// The members table (or the failure-domain view).
    Members,
    /// The selected member's detail.
    Detail,
    /// The event log.
    Log,
}

impl Pane {
    pub(super) fn next(self) -> Pane {
        match self {
            Pane::Members => Pane::Detail,
            Pane::Detail => Pane::Log,
            Pane::Log => Pane::Members,
        }
    }

    pub(super) fn prev(self) -> Pane {
        self.next().next()
    }
}

/// What has the keyboard: the main screen, an input line, or a dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The main screen.
    Normal,
    /// Typing the filter (it applies as it is typed).
    Filter,
    /// Typing a `:` command; the text so far.
    Prompt(String),
    /// The help overlay.
    Help,
    /// Asking before an action.
    Confirm(Action),
    /// Showing a new join token.
    Token {
        /// The member it is for.
        name: String,
        /// The token.
        token: String,
    },
}

/// The state of the Watch stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// The first connection is under way.
    Connecting,
    /// Events are arriving.
    Live,
    /// The stream broke; reconnecting.
    Down {
        /// When it broke (the first failure of this outage).
        since: Stamp,
        /// Attempts made since.
        attempt: u32,
        /// The wait before the next one.
        retry_in: Duration,
        /// Why the last attempt failed.
        error: String,
    },
}

/// How a log line is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    /// Neutral news.
    Info,
    /// Something came back or succeeded.
    Good,
    /// Worth a look.
    Warn,
    /// Something failed or went down.
    Bad,
}

/// One line of the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Wall clock, `HH:MM:SS`.
    pub clock: String,
    /// What happened.
    pub text: String,
    /// How to mark it.
    pub kind: LogKind,
}

/// A one-line message above the footer: an action's result or the daemon's refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The words (a refusal is the daemon's text, unchanged).
    pub text: String,
    /// Whether it reports a failure.
    pub error: bool,
}

/// A member's roles at one moment of the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChange {
    /// Wall clock when they were seen.
    pub clock: String,
    /// The roles.
    pub roles: Vec<Role>,
}

/// A row of the members pane: a member, or (in the failure-domain view) a domain heading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Row<'a> {
    /// A failure domain and what it holds.
    Domain {
        /// Its name.
        name: &'a str,
        /// Members in it (after the filter).
        members: usize,
        /// Of which online.
        online: usize,
        /// Of which database voters.
        voters: usize,
    },
    /// A member.
    Member(&'a ClusterMember),
}

/// Everything the dashboard shows and remembers.
#[derive(Debug, Clone)]
pub struct App {
    /// Where the stream comes from (the socket), for the title.
    pub source: String,
    /// Every member socket the dashboard may watch, `source` among them: when the watched
    /// one cannot be reached, the next is tried.
    pub sources: Vec<String>,
    /// Which of `sources` is watched.
    pub watching: usize,
    /// Lines shown under the title (`corral demo`: the members' PIDs and directories).
    pub about: Vec<String>,
    /// The last moment the data was known live (stream up, quorum confirmed).
    pub fresh_at: Option<Stamp>,
    /// The member watched before the stream moved to another one, while it stays away.
    pub lost: Option<String>,
    /// The member answering the stream.
    pub server: String,
    /// The members, in natural name order.
    pub members: Vec<ClusterMember>,
    /// Last heartbeat per member, RFC 3339.
    pub heartbeats: BTreeMap<String, String>,
    /// The Raft state.
    pub raft: RaftState,
    /// Server configuration.
    pub config: BTreeMap<String, serde_json::Value>,
    /// Operations by id (join tokens among them).
    pub operations: BTreeMap<String, Operation>,
    /// How many instances each member holds, by name (absent: none).
    pub instances: BTreeMap<String, u64>,
    /// The stream's state.
    pub link: Link,
    /// Members table or failure domains.
    pub view: View,
    /// The pane with the keys.
    pub focus: Pane,
    /// What has the keyboard.
    pub mode: Mode,
    /// The selected member's name.
    pub selected: Option<String>,
    /// The first row shown in the members pane.
    pub table_offset: usize,
    /// Detail pane scroll, in lines.
    pub detail_scroll: u16,
    /// Log scroll: lines back from the newest (0 follows new lines).
    pub log_scroll: usize,
    /// The filter text (matched case-insensitively).
    pub filter: String,
    /// Role changes seen this session, per member.
    pub history: BTreeMap<String, Vec<RoleChange>>,
    /// The event log, oldest first.
    pub log: Vec<LogLine>,
    /// The line above the footer.
    pub notice: Option<Notice>,
    /// Actions under way.
    pub busy: Vec<Action>,
    /// The latest moment a message carried.
    pub now: Stamp,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    /// Whether colours may be used (false under NO_COLOR).
    pub colors: bool,
    /// Whether the screen needs drawing.
    pub dirty: bool,
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    /// A key was pressed.
    Key(KeyEvent),
    /// The mouse was used.
    Mouse(MouseEvent),
    /// The terminal has a new size.
    Resize(u16, u16),
    /// The clock moved (about once a second).
    Tick(Stamp),
    /// The stream delivered an event.
    Watch(WatchEvent, Stamp),
    /// The stream ended or could not be opened.
    StreamEnded {
        /// Why.
        error: String,
        /// When.
        at: Stamp,
    },
    /// An action finished.
    Done {
        /// Which.
        action: Action,
        /// Its outcome or the daemon's error text.
        result: Result<Outcome, String>,
        /// When.
        at: Stamp,
    },
    /// The process was asked to stop (SIGTERM, SIGHUP).
    Interrupted,
}

/// A side effect `update` asks the runner for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Open the Watch stream (of the source now watched) after waiting this long, closing
    /// any stream still open.
    Connect {
        /// The wait.
        after: Duration,
    },
    /// Carry out an action and report it with [`Msg::Done`].
    Run(Action),
    /// Leave the dashboard.
    Quit,
}

impl App {
    /// A dashboard of the daemon at `source`, before anything arrived.
    pub fn new(source: &str, colors: bool, size: (u16, u16), now: Stamp) -> App {
        App {
            source: source.to_string(),
            sources: vec![source.to_string()],
            watching: 0,
            about: Vec::new(),
            fresh_at: None,
            lost: None,
            server: String::new(),
            members: Vec::new(),
            heartbeats: BTreeMap::new(),
            raft: RaftState::default(),
            config: BTreeMap::new(),
            operations: BTreeMap::new(),
            instances: BTreeMap::new(),
            link: Link::Connecting,
            view: View::Members,
            focus: Pane::Members,
            mode: Mode::Normal,
            selected: None,
            table_offset: 0,
            detail_scroll: 0,
            log_scroll: 0,
            filter: String::new(),
            history: BTreeMap::new(),
            log: Vec::new(),
            notice: None,
            busy: Vec::new(),
            now,
            size,
            colors,
            dirty: true,
        }
    }

    /// Also watches `others` (sockets of members of the same cluster) when `source` fails.
    pub fn with_fallbacks(mut self, others: &[String]) -> App {
        self.sources
            .extend(others.iter().filter(|o| **o != self.source).cloned());
        self
    }

    /// With `lines` shown under the title.
    pub fn with_about(mut self, lines: Vec<String>) -> App {
        self.about = lines;
        self
    }

    /// The commands to run at start: open the stream.
    pub fn start(&self) -> Vec<Command> {
        vec![Command::Connect {
            after: Duration::ZERO,
        }]
    }

    /// Seconds since `name`'s last heartbeat, in milliseconds, if one was seen.
    pub fn heartbeat_age_ms(&self, name: &str) -> Option<i64> {
        let at = parse_rfc3339_ms(self.heartbeats.get(name)?)?;
        Some(self.now.unix_ms - at)
    }

    /// A server setting as text ("" when unset).
    pub fn setting(&self, key: &str) -> String {
        value_text(self.config.get(key))
    }

    /// The quorum figures: (voters online, voters, needed, stand-bys online, stand-bys).
    pub fn quorum(&self) -> (usize, usize, usize, usize, usize) {
        let voters: Vec<&ClusterMember> = self.members.iter().filter(|m| is_voter(m)).collect();
        let online = voters
            .iter()
            .filter(|m| m.status == MemberStatus::Online)
            .count();
        let needed = if self.raft.quorum > 0 {
            self.raft.quorum
        } else {
            // At least one: a list with no voter in it is never a quorum.
            corral_shared::quorum::quorum(voters.len()).max(1)
        };
        let standbys: Vec<&ClusterMember> = self
            .members
            .iter()
            .filter(|m| m.roles.contains(&Role::DatabaseStandby))
            .collect();
        let standbys_online = standbys
            .iter()
            .filter(|m| m.status == MemberStatus::Online)
            .count();
        (
            online,
            voters.len(),
            needed,
            standbys_online,
            standbys.len(),
        )
    }

    /// The hint under the prompt: the settings and their values when typing `:set`.
    pub fn prompt_hint(&self) -> Option<String> {
        let Mode::Prompt(line) = &self.mode else {
            return None;
        };
        let word = line.split_whitespace().next().unwrap_or("");
        if !matches!(word, "set" | "unset") {
            return None;
        }
        let parts: Vec<String> = CLUSTER_SETTINGS
            .iter()
            .map(|(key, _)| {
                let value = self.setting(key);
                let short = key.strip_prefix("cluster.").unwrap_or(key);
                format!(
                    "{short}={}",
                    if value.is_empty() { "default" } else { &value }
                )
            })
            .collect();
        Some(format!("cluster.{{{}}}", parts.join(", ")))
    }

    pub(super) fn push_log(&mut self, kind: LogKind, text: String) {
        self.log.push(LogLine {
            clock: self.now.clock.clone(),
            text,
            kind,
        });
        if self.log.len() > LOG_CAP {
            self.log.remove(0);
        }
        if self.log_scroll > 0 {
            // Someone is reading back: keep their place.
            self.log_scroll += 1;
        }
    }

    pub(super) fn record_roles(&mut self, m: &ClusterMember) {
        let clock = self.now.clock.clone();
        let history = self.history.entry(m.server_name.clone()).or_default();
        if history.last().is_none_or(|last| last.roles != m.roles) {
            history.push(RoleChange {
                clock,
                roles: m.roles.clone(),
            });
            if history.len() > HISTORY_CAP {
                history.remove(0);
            }
        }
    }
}

/// Whether a member is a database voter.
pub fn is_voter(m: &ClusterMember) -> bool {
    m.roles.contains(&Role::Database) || m.roles.contains(&Role::DatabaseLeader)
}

/// Roles as the dashboard writes them: the leader folded into `database (leader)`.
pub fn roles_text(roles: &[Role]) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if roles.contains(&Role::DatabaseLeader) {
        parts.push("database (leader)");
    } else if roles.contains(&Role::Database) {
        parts.push("database");
    }
    for role in roles {
        match role {
            Role::DatabaseLeader | Role::Database => {}
            other => parts.push(other.as_str()),
        }
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

/// The banner's words for a broken stream.
pub fn down_text(since: &Stamp, attempt: u32, retry_in: Duration, error: &str) -> String {
    format!(
        "disconnected since {}, retrying (attempt {attempt}, next in {}): {error}",
        since.clock,
        short_duration(retry_in)
    )
}
