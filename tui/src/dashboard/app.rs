//! The dashboard's state ([`App`]), what can happen to it ([`Msg`]), the side effects it
//! asks for ([`Command`]), and [`update`], the one pure function that turns a message into
//! a new state and commands. Nothing here touches the terminal, the network or the clock.

use std::collections::BTreeMap;
use std::time::Duration;

use corral_shared::api::{
    ClusterMember, ClusterSnapshot, MemberStatus, Operation, OperationClass, OperationStatus,
    RaftState, Role, WatchEvent,
};
use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};

use super::action::{Action, CLUSTER_SETTINGS, Outcome};
use super::clock::{Stamp, parse_rfc3339_ms, short_duration};
use super::keys::{self, KeyAction};
use super::prompt::{self, Parsed};
use super::view;
use crate::commands::cluster::natural_cmp;
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
    fn next(self) -> Pane {
        match self {
            Pane::Members => Pane::Detail,
            Pane::Detail => Pane::Log,
            Pane::Log => Pane::Members,
        }
    }

    fn prev(self) -> Pane {
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
    /// Open the Watch stream after waiting this long.
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
            server: String::new(),
            members: Vec::new(),
            heartbeats: BTreeMap::new(),
            raft: RaftState::default(),
            config: BTreeMap::new(),
            operations: BTreeMap::new(),
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

    /// The commands to run at start: open the stream.
    pub fn start(&self) -> Vec<Command> {
        vec![Command::Connect {
            after: Duration::ZERO,
        }]
    }

    /// Whether a member passes the filter.
    fn matches(&self, m: &ClusterMember) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let needle = self.filter.to_lowercase();
        let roles: Vec<&str> = m.roles.iter().map(|r| r.as_str()).collect();
        [
            m.server_name.as_str(),
            m.url.as_str(),
            m.failure_domain.as_str(),
            &m.status.to_string(),
            &roles.join(" "),
            &m.groups.join(" "),
            m.architecture.as_str(),
        ]
        .iter()
        .any(|field| field.to_lowercase().contains(&needle))
    }

    /// The members that pass the filter, in the current view's order.
    pub fn visible(&self) -> Vec<&ClusterMember> {
        let mut shown: Vec<&ClusterMember> =
            self.members.iter().filter(|m| self.matches(m)).collect();
        if self.view == View::Domains {
            shown.sort_by(|a, b| natural_cmp(&a.failure_domain, &b.failure_domain));
        }
        shown
    }

    /// The rows of the members pane.
    pub fn rows(&self) -> Vec<Row<'_>> {
        let shown = self.visible();
        if self.view == View::Members {
            return shown.into_iter().map(Row::Member).collect();
        }
        let mut rows = Vec::new();
        let mut i = 0;
        while i < shown.len() {
            let domain = shown[i].failure_domain.as_str();
            let group: Vec<&ClusterMember> = shown[i..]
                .iter()
                .take_while(|m| m.failure_domain == domain)
                .copied()
                .collect();
            rows.push(Row::Domain {
                name: domain,
                members: group.len(),
                online: group
                    .iter()
                    .filter(|m| m.status == MemberStatus::Online)
                    .count(),
                voters: group.iter().filter(|m| is_voter(m)).count(),
            });
            i += group.len();
            rows.extend(group.into_iter().map(Row::Member));
        }
        rows
    }

    /// The selected member, if any.
    pub fn selected_member(&self) -> Option<&ClusterMember> {
        let name = self.selected.as_deref()?;
        self.members.iter().find(|m| m.server_name == name)
    }

    /// The row index of the selection in the members pane.
    pub fn selected_row(&self) -> Option<usize> {
        let name = self.selected.as_deref()?;
        self.rows()
            .iter()
            .position(|r| matches!(r, Row::Member(m) if m.server_name == name))
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
            voters.len() / 2 + 1
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

    fn push_log(&mut self, kind: LogKind, text: String) {
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

    fn record_roles(&mut self, m: &ClusterMember) {
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

    /// Keeps the selection on a visible member and within the shown rows.
    fn fix_selection(&mut self) {
        let names: Vec<String> = self
            .visible_in_row_order()
            .into_iter()
            .map(|m| m.server_name.clone())
            .collect();
        if !self
            .selected
            .as_ref()
            .is_some_and(|s| names.iter().any(|n| n == s))
        {
            self.selected = names.first().cloned();
            self.detail_scroll = 0;
        }
        let visible = usize::from(view::table_rows(self));
        match self.selected_row() {
            Some(row) if row < self.table_offset => self.table_offset = row,
            Some(row) if visible > 0 && row >= self.table_offset + visible => {
                self.table_offset = row + 1 - visible;
            }
            _ => {}
        }
        // In the domain view, show a first member's heading with it.
        if self.selected_row() == Some(1) && self.table_offset == 1 {
            self.table_offset = 0;
        }
        let rows = self.rows().len();
        if visible > 0 && self.table_offset + visible > rows {
            self.table_offset = rows.saturating_sub(visible);
        }
    }

    fn visible_in_row_order(&self) -> Vec<&ClusterMember> {
        self.rows()
            .into_iter()
            .filter_map(|r| match r {
                Row::Member(m) => Some(m),
                Row::Domain { .. } => None,
            })
            .collect()
    }

    fn select_by(&mut self, pick: impl FnOnce(Option<usize>, usize) -> usize) {
        let names: Vec<String> = self
            .visible_in_row_order()
            .into_iter()
            .map(|m| m.server_name.clone())
            .collect();
        if names.is_empty() {
            return;
        }
        let current = self
            .selected
            .as_ref()
            .and_then(|s| names.iter().position(|n| n == s));
        let index = pick(current, names.len()).min(names.len() - 1);
        if self.selected.as_ref() != Some(&names[index]) {
            self.selected = Some(names[index].clone());
            self.detail_scroll = 0;
        }
    }

    fn move_selection(&mut self, delta: isize) {
        self.select_by(|current, _| match current {
            Some(i) => i.saturating_add_signed(delta),
            None => 0,
        });
    }
}

/// Whether a member is a database voter.
pub fn is_voter(m: &ClusterMember) -> bool {
    m.roles.contains(&Role::Database) || m.roles.contains(&Role::DatabaseLeader)
}

/// Applies `msg` to `app`; returns the side effects to run.
pub fn update(app: &mut App, msg: Msg) -> Vec<Command> {
    app.fix_selection();
    let commands = match msg {
        Msg::Key(key) if key.kind != KeyEventKind::Release => {
            app.dirty = true;
            on_key(app, key)
        }
        Msg::Key(_) => Vec::new(),
        Msg::Mouse(mouse) => on_mouse(app, mouse),
        Msg::Resize(columns, rows) => {
            app.size = (columns, rows);
            app.dirty = true;
            Vec::new()
        }
        Msg::Tick(now) => {
            // Ages on screen are whole seconds: redraw only when one ticks over.
            if now.unix_ms / 1000 != app.now.unix_ms / 1000 {
                app.dirty = true;
            }
            app.now = now;
            Vec::new()
        }
        Msg::Watch(event, at) => {
            app.now = at;
            app.dirty = true;
            on_watch(app, event);
            Vec::new()
        }
        Msg::StreamEnded { error, at } => {
            app.now = at.clone();
            app.dirty = true;
            let (since, attempt) = match &app.link {
                Link::Down { since, attempt, .. } => (since.clone(), attempt + 1),
                Link::Live | Link::Connecting => {
                    app.push_log(LogKind::Bad, format!("stream lost: {error}"));
                    (at, 1)
                }
            };
            let retry_in = backoff(attempt);
            app.link = Link::Down {
                since,
                attempt,
                retry_in,
                error,
            };
            vec![Command::Connect { after: retry_in }]
        }
        Msg::Done { action, result, at } => {
            app.now = at;
            app.dirty = true;
            on_done(app, action, result);
            Vec::new()
        }
        Msg::Interrupted => vec![Command::Quit],
    };
    app.fix_selection();
    commands
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        return vec![Command::Quit];
    }
    match app.mode.clone() {
        Mode::Normal => on_normal_key(app, key),
        Mode::Help => {
            if matches!(
                key.code,
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q' | '?') | KeyCode::F(1)
            ) {
                app.mode = Mode::Normal;
            }
            Vec::new()
        }
        Mode::Confirm(action) => match key.code {
            KeyCode::Char('y' | 'Y') | KeyCode::Enter => {
                app.mode = Mode::Normal;
                app.notice = None;
                app.busy.push(action.clone());
                vec![Command::Run(action)]
            }
            KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => {
                app.mode = Mode::Normal;
                app.notice = Some(Notice {
                    text: format!("cancelled: nothing was changed ({})", action.doing()),
                    error: false,
                });
                Vec::new()
            }
            _ => Vec::new(),
        },
        Mode::Token { .. } => {
            if matches!(key.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q')) {
                app.mode = Mode::Normal;
            }
            Vec::new()
        }
        Mode::Filter => {
            match key.code {
                KeyCode::Enter => app.mode = Mode::Normal,
                KeyCode::Esc => {
                    app.filter.clear();
                    app.mode = Mode::Normal;
                }
                KeyCode::Backspace => {
                    app.filter.pop();
                }
                KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    app.filter.clear();
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    app.filter.push(c);
                }
                _ => {}
            }
            Vec::new()
        }
        Mode::Prompt(mut line) => match key.code {
            KeyCode::Esc => {
                app.mode = Mode::Normal;
                Vec::new()
            }
            KeyCode::Enter => {
                app.mode = Mode::Normal;
                apply_command(app, &line)
            }
            KeyCode::Backspace => {
                if line.pop().is_none() {
                    app.mode = Mode::Normal;
                } else {
                    app.mode = Mode::Prompt(line);
                }
                Vec::new()
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                app.mode = Mode::Prompt(String::new());
                Vec::new()
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                line.push(c);
                app.mode = Mode::Prompt(line);
                Vec::new()
            }
            _ => Vec::new(),
        },
    }
}

fn apply_command(app: &mut App, line: &str) -> Vec<Command> {
    match prompt::parse(line) {
        Ok(Parsed::Confirm(action)) => app.mode = Mode::Confirm(action),
        Ok(Parsed::View(view)) => app.view = view,
        Ok(Parsed::Filter(text)) => app.filter = text,
        Ok(Parsed::Help) => app.mode = Mode::Help,
        Ok(Parsed::Quit) => return vec![Command::Quit],
        Err(message) => {
            app.notice = Some(Notice {
                text: format!(":{} — {message}", line.trim()),
                error: true,
            });
        }
    }
    Vec::new()
}

fn on_normal_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let Some(action) = keys::lookup(&key) else {
        app.dirty = false;
        return Vec::new();
    };
    let selected = app.selected_member().cloned();
    let need_selection = |app: &mut App| {
        app.notice = Some(Notice {
            text: "no member selected (the filter may hide them all)".into(),
            error: true,
        });
    };
    match action {
        KeyAction::Up => scroll(app, -1),
        KeyAction::Down => scroll(app, 1),
        KeyAction::Top => match app.focus {
            Pane::Members => app.select_by(|_, _| 0),
            Pane::Detail => app.detail_scroll = 0,
            Pane::Log => app.log_scroll = app.log.len().saturating_sub(1),
        },
        KeyAction::Bottom => match app.focus {
            Pane::Members => app.select_by(|_, len| len.saturating_sub(1)),
            Pane::Detail => app.detail_scroll = u16::MAX / 2,
            Pane::Log => app.log_scroll = 0,
        },
        KeyAction::NextPane => app.focus = app.focus.next(),
        KeyAction::PrevPane => app.focus = app.focus.prev(),
        KeyAction::ToggleView => {
            app.view = match app.view {
                View::Members => View::Domains,
                View::Domains => View::Members,
            };
            app.table_offset = 0;
        }
        KeyAction::Filter => app.mode = Mode::Filter,
        KeyAction::Prompt => app.mode = Mode::Prompt(String::new()),
        KeyAction::NewToken => app.mode = Mode::Prompt("add ".into()),
        KeyAction::SetConfig => app.mode = Mode::Prompt("set ".into()),
        KeyAction::Remove | KeyAction::ForceRemove => match selected {
            Some(m) => {
                app.mode = Mode::Confirm(Action::Remove {
                    name: m.server_name,
                    force: action == KeyAction::ForceRemove,
                });
            }
            None => need_selection(app),
        },
        KeyAction::ToggleEventHub | KeyAction::ToggleOvnChassis => match selected {
            Some(m) => {
                let role = if action == KeyAction::ToggleEventHub {
                    Role::EventHub
                } else {
                    Role::OvnChassis
                };
                app.mode = Mode::Confirm(Action::Role {
                    add: !m.roles.contains(&role),
                    name: m.server_name,
                    role,
                });
            }
            None => need_selection(app),
        },
        KeyAction::SetDomain => match selected {
            Some(m) => app.mode = Mode::Prompt(format!("domain {} ", m.server_name)),
            None => need_selection(app),
        },
        KeyAction::Help => app.mode = Mode::Help,
        KeyAction::Back => {
            if app.notice.is_some() {
                app.notice = None;
            } else if !app.filter.is_empty() {
                app.filter.clear();
            } else {
                app.focus = Pane::Members;
            }
        }
        KeyAction::Quit => return vec![Command::Quit],
    }
    Vec::new()
}

/// Up/down in the focused pane.
fn scroll(app: &mut App, delta: isize) {
    match app.focus {
        Pane::Members => app.move_selection(delta),
        Pane::Detail => {
            app.detail_scroll = app
                .detail_scroll
                .saturating_add_signed(delta as i16)
                .min(u16::MAX / 2);
        }
        Pane::Log => {
            // Up goes back in time.
            let back = app.log_scroll.saturating_add_signed(-delta);
            app.log_scroll = back.min(app.log.len().saturating_sub(1));
        }
    }
}

fn on_mouse(app: &mut App, mouse: MouseEvent) -> Vec<Command> {
    if app.mode != Mode::Normal {
        return Vec::new();
    }
    let screen = Rect::new(0, 0, app.size.0, app.size.1);
    let areas = view::areas(screen, app);
    let at = Position::new(mouse.column, mouse.row);
    let pane = if areas.table.contains(at) {
        Pane::Members
    } else if areas.detail.contains(at) {
        Pane::Detail
    } else if areas.log.contains(at) {
        Pane::Log
    } else {
        return Vec::new();
    };
    match mouse.kind {
        MouseEventKind::Down(MouseButton::Left) => {
            app.focus = pane;
            app.dirty = true;
            // Border and heading come first.
            let first = areas.table.y + 2;
            if pane == Pane::Members && at.y >= first && at.y < areas.table.bottom() - 1 {
                let index = app.table_offset + usize::from(at.y - first);
                if let Some(Row::Member(m)) = app.rows().get(index) {
                    let name = m.server_name.clone();
                    if app.selected.as_ref() != Some(&name) {
                        app.selected = Some(name);
                        app.detail_scroll = 0;
                    }
                }
            }
        }
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
            let delta = if mouse.kind == MouseEventKind::ScrollUp {
                -1
            } else {
                1
            };
            let focus = app.focus;
            app.focus = pane;
            scroll(app, delta);
            app.focus = focus;
            app.dirty = true;
        }
        _ => {}
    }
    Vec::new()
}

fn on_watch(app: &mut App, event: WatchEvent) {
    if app.link != Link::Live {
        let text = match &app.link {
            Link::Down { since, .. } => format!("stream back (down since {})", since.clock),
            _ => format!("watching {}", app.source),
        };
        app.link = Link::Live;
        app.push_log(LogKind::Good, text);
    }
    match event {
        WatchEvent::Snapshot(snapshot) => on_snapshot(app, snapshot),
        WatchEvent::Member { name, after } => on_member(app, &name, after),
        WatchEvent::Heartbeat { name, at } => {
            app.heartbeats.insert(name, at);
        }
        WatchEvent::Raft(raft) => on_raft(app, raft),
        WatchEvent::Config { key, value } => {
            let text = match &value {
                Some(v) => format!("{key} = {}", value_text(Some(v))),
                None => format!("{key} unset"),
            };
            app.push_log(LogKind::Info, text);
            match value {
                Some(v) => app.config.insert(key, v),
                None => app.config.remove(&key),
            };
        }
        WatchEvent::Operation { id, after } => on_operation(app, id, after),
    }
}

fn on_snapshot(app: &mut App, snapshot: ClusterSnapshot) {
    let first = app.server.is_empty();
    app.server = snapshot.server_name;
    if first {
        app.members.clear();
        app.push_log(
            LogKind::Info,
            format!(
                "{} members, leader {}",
                snapshot.members.len(),
                snapshot.raft.leader.as_deref().unwrap_or("unknown")
            ),
        );
        app.raft = snapshot.raft;
    } else {
        // A fresh picture after a gap: report what changed meanwhile.
        let gone: Vec<String> = app
            .members
            .iter()
            .filter(|old| {
                !snapshot
                    .members
                    .iter()
                    .any(|m| m.server_name == old.server_name)
            })
            .map(|m| m.server_name.clone())
            .collect();
        for name in gone {
            on_member(app, &name, None);
        }
        on_raft(app, snapshot.raft);
    }
    for m in snapshot.members {
        if first {
            app.record_roles(&m);
            let at = app.members.partition_point(|x| {
                natural_cmp(&x.server_name, &m.server_name) == std::cmp::Ordering::Less
            });
            app.members.insert(at, m);
        } else {
            let name = m.server_name.clone();
            on_member(app, &name, Some(m));
        }
    }
    app.heartbeats = snapshot.heartbeats;
    app.config = snapshot.config;
    app.operations = snapshot
        .operations
        .into_iter()
        .map(|op| (op.id.clone(), op))
        .collect();
}

fn on_member(app: &mut App, name: &str, after: Option<ClusterMember>) {
    let index = app.members.iter().position(|m| m.server_name == name);
    match (index, after) {
        (Some(i), None) => {
            app.members.remove(i);
            app.heartbeats.remove(name);
            app.push_log(LogKind::Warn, format!("{name} left the cluster"));
        }
        (None, None) => {}
        (None, Some(m)) => {
            app.push_log(
                LogKind::Good,
                format!("{name} joined ({})", m.status.to_string().to_uppercase()),
            );
            app.record_roles(&m);
            let at = app
                .members
                .partition_point(|x| natural_cmp(&x.server_name, name).is_lt());
            app.members.insert(at, m);
        }
        (Some(i), Some(m)) => {
            let old = &app.members[i];
            let mut news = Vec::new();
            if old.status != m.status {
                let kind = match m.status {
                    MemberStatus::Online => LogKind::Good,
                    MemberStatus::Offline => LogKind::Bad,
                    MemberStatus::Evacuated | MemberStatus::Blocked => LogKind::Warn,
                };
                news.push((
                    kind,
                    format!(
                        "{name} {} → {}",
                        old.status.to_string().to_uppercase(),
                        m.status.to_string().to_uppercase()
                    ),
                ));
            }
            if old.roles != m.roles {
                news.push((
                    LogKind::Info,
                    format!(
                        "{name} roles: {} → {}",
                        roles_text(&old.roles),
                        roles_text(&m.roles)
                    ),
                ));
            }
            if old.failure_domain != m.failure_domain {
                news.push((
                    LogKind::Info,
                    format!(
                        "{name} failure domain: {} → {}",
                        old.failure_domain, m.failure_domain
                    ),
                ));
            }
            for (kind, text) in news {
                app.push_log(kind, text);
            }
            app.record_roles(&m);
            app.members[i] = m;
        }
    }
}

fn on_raft(app: &mut App, raft: RaftState) {
    if raft.leader != app.raft.leader {
        let text = match &raft.leader {
            Some(leader) => format!("leader is now {leader} (term {})", raft.term),
            None => format!("no leader (term {})", raft.term),
        };
        let kind = if raft.leader.is_some() {
            LogKind::Info
        } else {
            LogKind::Bad
        };
        app.push_log(kind, text);
    }
    app.raft = raft;
}

fn on_operation(app: &mut App, id: String, after: Option<Operation>) {
    let token_for = |op: &Operation| {
        (op.class == OperationClass::Token)
            .then(|| op.metadata.get("serverName").and_then(|v| v.as_str()))
            .flatten()
            .map(str::to_string)
    };
    match after {
        Some(op) => {
            let fresh = !app.operations.contains_key(&id);
            if fresh
                && op.status == OperationStatus::Running
                && let Some(name) = token_for(&op)
            {
                app.push_log(LogKind::Info, format!("join token issued for {name}"));
            }
            app.operations.insert(id, op);
        }
        None => {
            if let Some(old) = app.operations.remove(&id)
                && let Some(name) = token_for(&old)
            {
                app.push_log(
                    LogKind::Info,
                    format!("join token for {name} used or revoked"),
                );
            }
        }
    }
}

fn on_done(app: &mut App, action: Action, result: Result<Outcome, String>) {
    if let Some(i) = app.busy.iter().position(|a| *a == action) {
        app.busy.remove(i);
    }
    match result {
        Ok(Outcome::Token { name, token }) => {
            app.push_log(LogKind::Good, format!("join token created for {name}"));
            app.notice = None;
            app.mode = Mode::Token { name, token };
        }
        Ok(Outcome::Done(text)) => {
            app.push_log(LogKind::Good, text.clone());
            app.notice = Some(Notice { text, error: false });
        }
        Err(error) => {
            app.push_log(LogKind::Bad, format!("{} failed: {error}", action.doing()));
            app.notice = Some(Notice {
                text: error,
                error: true,
            });
        }
    }
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
