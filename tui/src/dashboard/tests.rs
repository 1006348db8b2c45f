//! The dashboard without a terminal: `update` driven by messages, and every screen and
//! dialog drawn on ratatui's TestBackend and compared with its snapshot (`snapshots/`).

use std::collections::BTreeMap;
use std::time::Duration;

use corral_shared::api::{
    ClusterMember, ClusterSnapshot, MemberStatus, RaftState, Role, WatchEvent,
};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::action::{Action, Outcome};
use super::app::{App, Command, Link, LogKind, Mode, Pane, View, backoff};
use super::clock::Stamp;
use super::update::update;
use super::view;

/// The moment the tests happen: 2025-06-15 15:06:40 UTC, shown as 14:00:00.
const NOW_MS: i64 = 1_750_000_000_000;

pub(super) fn now() -> Stamp {
    Stamp::at(NOW_MS, "14:00:00")
}

pub(super) fn later(seconds: i64, clock: &str) -> Stamp {
    Stamp::at(NOW_MS + seconds * 1000, clock)
}

/// RFC 3339 for `seconds` before [`NOW_MS`].
pub(super) fn ago(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(NOW_MS / 1000 - seconds)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

pub(super) fn member(
    name: &str,
    ip: &str,
    roles: &[Role],
    domain: &str,
    status: MemberStatus,
) -> ClusterMember {
    ClusterMember {
        roles: roles.to_vec(),
        failure_domain: domain.into(),
        description: String::new(),
        config: BTreeMap::new(),
        groups: vec!["default".into()],
        server_name: name.into(),
        url: format!("https://{ip}:8443"),
        database: roles.iter().any(|r| {
            matches!(
                r,
                Role::Database | Role::DatabaseLeader | Role::DatabaseStandby
            )
        }),
        status,
        message: match status {
            MemberStatus::Online => "Fully operational".into(),
            MemberStatus::Offline => "No heartbeat for 31s (2025-06-15 15:06:09 UTC)".into(),
            MemberStatus::Evacuated => "Unavailable due to maintenance".into(),
            MemberStatus::Blocked => "waiting for other members to be upgraded".into(),
        },
        architecture: "x86_64".into(),
    }
}

/// Five members: a leader, a voter, an offline voter, a stand-by, and a blocked spare.
pub(super) fn snapshot() -> ClusterSnapshot {
    use MemberStatus::*;
    let mut node1 = member(
        "node1",
        "127.0.0.1",
        &[Role::DatabaseLeader, Role::Database, Role::EventHub],
        "rack1",
        Online,
    );
    node1
        .config
        .insert("scheduler.instance".into(), "all".into());
    node1.description = "top of rack 1".into();
    let members = vec![
        node1,
        member("node2", "127.0.0.2", &[Role::Database], "rack2", Online),
        member("node3", "127.0.0.3", &[Role::Database], "rack3", Offline),
        member(
            "node4",
            "127.0.0.4",
            &[Role::DatabaseStandby],
            "rack1",
            Online,
        ),
        member("node5", "127.0.0.5", &[Role::OvnChassis], "rack2", Blocked),
    ];
    let heartbeats = BTreeMap::from([
        ("node1".to_string(), ago(1)),
        ("node2".to_string(), ago(3)),
        ("node3".to_string(), ago(31)),
        ("node4".to_string(), ago(2)),
        ("node5".to_string(), ago(4)),
    ]);
    ClusterSnapshot {
        server_name: "node1".into(),
        taken_at: ago(0),
        members,
        heartbeats,
        raft: RaftState {
            leader: Some("node1".into()),
            term: 7,
            commit_index: 1042,
            applied_index: 1042,
            voters: 3,
            quorum: 2,
            ..RaftState::default()
        },
        config: BTreeMap::from([
            ("cluster.max_voters".to_string(), serde_json::json!("3")),
            (
                "core.https_address".to_string(),
                serde_json::json!("127.0.0.1:8443"),
            ),
        ]),
        operations: Vec::new(),
        instances: BTreeMap::from([("node1".to_string(), 3), ("node2".to_string(), 1)]),
    }
}

/// A dashboard that received the snapshot, of a `width` x `height` terminal.
pub(super) fn live(width: u16, height: u16) -> App {
    let mut app = App::new("/tmp/corral/unix.socket", true, (width, height), now());
    update(
        &mut app,
        Msg::Watch(WatchEvent::Snapshot(snapshot()), now()),
    );
    app
}

use super::app::Msg;

pub(super) fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub(super) fn chars(app: &mut App, text: &str) -> Vec<Command> {
    let mut commands = Vec::new();
    for c in text.chars() {
        commands.extend(update(app, key(KeyCode::Char(c))));
    }
    commands
}

pub(super) fn render(app: &App) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
    terminal.draw(|frame| view::draw(frame, app)).unwrap();
    terminal
}

pub(super) fn screen_text(app: &App) -> String {
    render(app).backend().to_string()
}

// ---- update: keys, state and commands ----

#[test]
fn the_first_command_opens_the_stream_and_the_snapshot_fills_the_state() {
    let mut app = App::new("sock", true, (80, 24), now());
    assert_eq!(
        app.start(),
        vec![Command::Connect {
            after: Duration::ZERO
        }]
    );
    assert_eq!(app.link, Link::Connecting);
    let commands = update(
        &mut app,
        Msg::Watch(WatchEvent::Snapshot(snapshot()), now()),
    );
    assert!(commands.is_empty());
    assert_eq!(app.link, Link::Live);
    assert_eq!(app.server, "node1");
    let names: Vec<&str> = app.members.iter().map(|m| m.server_name.as_str()).collect();
    assert_eq!(names, ["node1", "node2", "node3", "node4", "node5"]);
    assert_eq!(app.selected.as_deref(), Some("node1"));
    assert_eq!(app.quorum(), (2, 3, 2, 1, 1));
    assert_eq!(app.heartbeat_age_ms("node3"), Some(31_000));
}

#[test]
fn movement_keys_move_the_selection_and_tab_the_focus() {
    let mut app = live(80, 24);
    update(&mut app, key(KeyCode::Char('j')));
    update(&mut app, key(KeyCode::Down));
    assert_eq!(app.selected.as_deref(), Some("node3"));
    update(&mut app, key(KeyCode::Char('k')));
    assert_eq!(app.selected.as_deref(), Some("node2"));
    update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT)),
    );
    assert_eq!(app.selected.as_deref(), Some("node5"));
    update(&mut app, key(KeyCode::Down));
    assert_eq!(app.selected.as_deref(), Some("node5"), "stays on the last");
    update(&mut app, key(KeyCode::Char('g')));
    assert_eq!(app.selected.as_deref(), Some("node1"));
    update(&mut app, key(KeyCode::Up));
    assert_eq!(app.selected.as_deref(), Some("node1"), "stays on the first");

    update(&mut app, key(KeyCode::Tab));
    assert_eq!(app.focus, Pane::Detail);
    update(&mut app, key(KeyCode::Char('j')));
    assert_eq!(app.detail_scroll, 1);
    assert_eq!(
        app.selected.as_deref(),
        Some("node1"),
        "j scrolls the detail now"
    );
    update(&mut app, key(KeyCode::Tab));
    assert_eq!(app.focus, Pane::Log);
    update(&mut app, key(KeyCode::BackTab));
    assert_eq!(app.focus, Pane::Detail);
    update(&mut app, key(KeyCode::Esc));
    assert_eq!(app.focus, Pane::Members);

    update(&mut app, key(KeyCode::Char('v')));
    assert_eq!(app.view, View::Domains);
    // rack1: node1, node4; rack2: node2, node5; rack3: node3.
    update(&mut app, key(KeyCode::Char('j')));
    assert_eq!(app.selected.as_deref(), Some("node4"));
    assert_eq!(app.selected_row(), Some(2));
}

#[test]
fn quitting_takes_q_ctrl_c_a_signal_or_colon_q() {
    let mut app = live(80, 24);
    assert_eq!(
        update(&mut app, key(KeyCode::Char('q'))),
        vec![Command::Quit]
    );
    let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(update(&mut app, ctrl_c), vec![Command::Quit]);
    assert_eq!(update(&mut app, Msg::Interrupted), vec![Command::Quit]);
    update(&mut app, key(KeyCode::Char(':')));
    chars(&mut app, "q");
    assert_eq!(update(&mut app, key(KeyCode::Enter)), vec![Command::Quit]);
    // q inside the help closes the help only.
    update(&mut app, key(KeyCode::Char('?')));
    assert_eq!(app.mode, Mode::Help);
    assert!(update(&mut app, key(KeyCode::Char('q'))).is_empty());
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn an_action_is_confirmed_run_and_reported() {
    let mut app = live(80, 24);
    update(&mut app, key(KeyCode::Char('j')));
    update(&mut app, key(KeyCode::Char('x')));
    let remove = Action::Remove {
        name: "node2".into(),
        force: false,
    };
    assert_eq!(app.mode, Mode::Confirm(remove.clone()));
    // Cancelled: nothing runs.
    assert!(update(&mut app, key(KeyCode::Esc)).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.notice.as_ref().unwrap().text.starts_with("cancelled"));

    update(&mut app, key(KeyCode::Char('X')));
    let force = Action::Remove {
        name: "node2".into(),
        force: true,
    };
    assert_eq!(app.mode, Mode::Confirm(force.clone()));
    assert_eq!(
        update(&mut app, key(KeyCode::Char('y'))),
        vec![Command::Run(force.clone())]
    );
    assert_eq!(app.busy, vec![force.clone()]);
    update(
        &mut app,
        Msg::Done {
            action: force,
            result: Ok(Outcome::Done("node2 removed by force".into())),
            at: later(1, "14:00:01"),
        },
    );
    assert!(app.busy.is_empty());
    let notice = app.notice.clone().unwrap();
    assert_eq!(
        (notice.text.as_str(), notice.error),
        ("node2 removed by force", false)
    );
    // The stream logs the member leaving; the action's success is not logged twice.
    assert!(
        !app.log.iter().any(|l| l.text.contains("removed")),
        "{:?}",
        app.log
    );
}

#[test]
fn role_keys_toggle_and_domain_and_setting_keys_prefill_the_prompt() {
    let mut app = live(80, 24);
    // node1 has event-hub: e removes it; it lacks ovn-chassis: o adds it.
    update(&mut app, key(KeyCode::Char('e')));
    assert_eq!(
        app.mode,
        Mode::Confirm(Action::Role {
            name: "node1".into(),
            role: Role::EventHub,
            add: false
        })
    );
    update(&mut app, key(KeyCode::Char('n')));
    update(&mut app, key(KeyCode::Char('o')));
    assert_eq!(
        app.mode,
        Mode::Confirm(Action::Role {
            name: "node1".into(),
            role: Role::OvnChassis,
            add: true
        })
    );
    update(&mut app, key(KeyCode::Esc));
    update(&mut app, key(KeyCode::Char('f')));
    assert_eq!(app.mode, Mode::Prompt("domain node1 ".into()));
    chars(&mut app, "rack9");
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(
        app.mode,
        Mode::Confirm(Action::FailureDomain {
            name: "node1".into(),
            domain: "rack9".into()
        })
    );
    update(&mut app, key(KeyCode::Esc));
    update(&mut app, key(KeyCode::Char('a')));
    assert_eq!(app.mode, Mode::Prompt("add ".into()));
    chars(&mut app, "node6");
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(
        app.mode,
        Mode::Confirm(Action::CreateToken {
            name: "node6".into()
        })
    );
}

#[test]
fn the_prompt_runs_commands_and_explains_mistakes() {
    let mut app = live(80, 24);
    update(&mut app, key(KeyCode::Char(':')));
    chars(&mut app, "set cluster.max_voters 5");
    assert!(app.prompt_hint().unwrap().contains("max_voters=3"));
    assert!(
        app.prompt_hint()
            .unwrap()
            .contains("offline_threshold=default")
    );
    update(&mut app, key(KeyCode::Enter));
    let set = Action::SetConfig {
        key: "cluster.max_voters".into(),
        value: "5".into(),
    };
    assert_eq!(app.mode, Mode::Confirm(set.clone()));
    assert_eq!(
        update(&mut app, key(KeyCode::Char('y'))),
        vec![Command::Run(set.clone())]
    );
    // The daemon's refusal is shown as it said it.
    let refusal = "cannot set 'cluster.max_voters' to '5': only 3 members can vote";
    update(
        &mut app,
        Msg::Done {
            action: set,
            result: Err(refusal.into()),
            at: now(),
        },
    );
    let notice = app.notice.clone().unwrap();
    assert_eq!((notice.text.as_str(), notice.error), (refusal, true));
    assert_eq!(app.log.last().unwrap().kind, LogKind::Bad);

    update(&mut app, key(KeyCode::Char(':')));
    chars(&mut app, "frob");
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(
        app.notice.clone().unwrap().text,
        ":frob — unknown command \"frob\"; ? lists the commands"
    );
    // Backspace on an empty prompt leaves it; Esc drops the notice.
    update(&mut app, key(KeyCode::Char(':')));
    update(&mut app, key(KeyCode::Backspace));
    assert_eq!(app.mode, Mode::Normal);
    update(&mut app, key(KeyCode::Esc));
    assert_eq!(app.notice, None);

    update(&mut app, key(KeyCode::Char(':')));
    chars(&mut app, "view domains");
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.view, View::Domains);
}

#[test]
fn the_filter_narrows_the_members_and_esc_clears_it() {
    let mut app = live(80, 24);
    update(&mut app, key(KeyCode::Char('/')));
    assert_eq!(app.mode, Mode::Filter);
    chars(&mut app, "rack2");
    let shown: Vec<&str> = app
        .visible()
        .iter()
        .map(|m| m.server_name.as_str())
        .collect();
    assert_eq!(shown, ["node2", "node5"]);
    assert_eq!(
        app.selected.as_deref(),
        Some("node2"),
        "the selection follows"
    );
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.filter, "rack2");
    // Status and roles match too, case-insensitively.
    app.filter = "OFFLINE".into();
    assert_eq!(app.visible().len(), 1);
    app.filter = "standby".into();
    assert_eq!(app.visible()[0].server_name, "node4");
    update(&mut app, key(KeyCode::Esc));
    assert_eq!(app.filter, "");
    assert_eq!(app.visible().len(), 5);
    // Nothing matches: nothing selected, and member actions say so.
    app.filter = "nothing".into();
    update(&mut app, key(KeyCode::Char('x')));
    assert_eq!(app.selected, None);
    assert_eq!(app.mode, Mode::Normal);
    assert!(
        app.notice
            .clone()
            .unwrap()
            .text
            .starts_with("no member selected")
    );
}

#[test]
fn stream_events_change_the_state_and_the_log() {
    let mut app = live(80, 24);
    let mut node2 = app.members[1].clone();
    node2.status = MemberStatus::Offline;
    node2.roles = vec![Role::DatabaseStandby];
    update(
        &mut app,
        Msg::Watch(
            WatchEvent::Member {
                name: "node2".into(),
                after: Some(node2),
            },
            later(5, "14:00:05"),
        ),
    );
    assert_eq!(app.members[1].status, MemberStatus::Offline);
    let texts: Vec<&str> = app.log.iter().map(|l| l.text.as_str()).collect();
    assert!(texts.contains(&"node2 ONLINE → OFFLINE"), "{texts:?}");
    assert!(
        texts.contains(&"node2 roles: database → database-standby"),
        "{texts:?}"
    );
    let history = &app.history["node2"];
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].clock, "14:00:05");

    let node6 = member("node6", "127.0.0.6", &[], "default", MemberStatus::Online);
    update(
        &mut app,
        Msg::Watch(
            WatchEvent::Member {
                name: "node6".into(),
                after: Some(node6),
            },
            now(),
        ),
    );
    assert_eq!(app.members.last().unwrap().server_name, "node6");
    assert_eq!(app.log.last().unwrap().text, "node6 joined (ONLINE)");
    update(
        &mut app,
        Msg::Watch(
            WatchEvent::Member {
                name: "node5".into(),
                after: None,
            },
            now(),
        ),
    );
    assert!(app.members.iter().all(|m| m.server_name != "node5"));
    assert_eq!(app.log.last().unwrap().text, "node5 left the cluster");

    update(
        &mut app,
        Msg::Watch(
            WatchEvent::Heartbeat {
                name: "node3".into(),
                at: ago(0),
            },
            now(),
        ),
    );
    assert_eq!(app.heartbeat_age_ms("node3"), Some(0));

    update(
        &mut app,
        Msg::Watch(
            WatchEvent::Raft(RaftState {
                leader: Some("node2".into()),
                term: 8,
                ..RaftState::default()
            }),
            now(),
        ),
    );
    assert_eq!(app.raft.leader.as_deref(), Some("node2"));
    assert_eq!(app.log.last().unwrap().text, "leader is now node2 (term 8)");

    update(
        &mut app,
        Msg::Watch(
            WatchEvent::Config {
                key: "cluster.offline_threshold".into(),
                value: Some(serde_json::json!("11")),
            },
            now(),
        ),
    );
    assert_eq!(app.setting("cluster.offline_threshold"), "11");
    assert_eq!(
        app.log.last().unwrap().text,
        "cluster.offline_threshold = 11"
    );
}

#[test]
fn a_broken_stream_is_retried_with_bounded_backoff_and_a_fresh_snapshot_heals() {
    assert_eq!(backoff(1), Duration::from_millis(200));
    assert_eq!(backoff(2), Duration::from_millis(400));
    assert_eq!(backoff(5), Duration::from_millis(3200));
    assert_eq!(backoff(6), Duration::from_secs(5));
    assert_eq!(backoff(60), Duration::from_secs(5));

    let mut app = live(80, 24);
    let ended = |clock: &str, s: i64| Msg::StreamEnded {
        error: "connection refused".into(),
        at: later(s, clock),
    };
    let commands = update(&mut app, ended("14:00:10", 10));
    assert_eq!(
        commands,
        vec![Command::Connect {
            after: Duration::from_millis(200)
        }]
    );
    let commands = update(&mut app, ended("14:00:11", 11));
    assert_eq!(
        commands,
        vec![Command::Connect {
            after: Duration::from_millis(400)
        }]
    );
    match &app.link {
        Link::Down { since, attempt, .. } => {
            assert_eq!(since.clock, "14:00:10", "since the first failure");
            assert_eq!(*attempt, 2);
        }
        other => panic!("{other:?}"),
    }
    assert!(screen_text(&app).contains("disconnected since 14:00:10, retrying"));
    // One log line for the outage, not one per attempt.
    let lost = app
        .log
        .iter()
        .filter(|l| l.text.starts_with("stream lost"))
        .count();
    assert_eq!(lost, 1);

    // The daemon is back: a snapshot, news of what changed meanwhile, and a fresh backoff.
    let mut fresh = snapshot();
    fresh.members[2].status = MemberStatus::Online;
    update(
        &mut app,
        Msg::Watch(WatchEvent::Snapshot(fresh), later(12, "14:00:12")),
    );
    assert_eq!(app.link, Link::Live);
    let texts: Vec<&str> = app.log.iter().map(|l| l.text.as_str()).collect();
    assert!(
        texts.contains(&"stream back (down since 14:00:10)"),
        "{texts:?}"
    );
    assert!(texts.contains(&"node3 OFFLINE → ONLINE"), "{texts:?}");
    assert_eq!(
        update(&mut app, ended("14:01:00", 60)),
        vec![Command::Connect {
            after: Duration::from_millis(200)
        }]
    );
}

#[test]
fn ticks_redraw_only_when_a_second_passes() {
    let mut app = live(80, 24);
    app.dirty = false;
    update(&mut app, Msg::Tick(Stamp::at(NOW_MS + 400, "14:00:00")));
    assert!(!app.dirty);
    update(&mut app, Msg::Tick(Stamp::at(NOW_MS + 1000, "14:00:01")));
    assert!(app.dirty);
    // A key that means nothing does not redraw either.
    app.dirty = false;
    update(&mut app, key(KeyCode::Char('z')));
    assert!(!app.dirty);
}

#[test]
fn a_click_selects_the_row_under_the_mouse_and_focuses_its_pane() {
    let mut app = live(80, 24);
    let click = |column, row| {
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    let table = view::areas(ratatui::layout::Rect::new(0, 0, 80, 24), &app).table;
    // Border, heading, then node1, node2, node3.
    update(&mut app, click(5, table.y + 4));
    assert_eq!(app.selected.as_deref(), Some("node3"));
    let log = view::areas(ratatui::layout::Rect::new(0, 0, 80, 24), &app).log;
    update(&mut app, click(log.x + 3, log.y + 2));
    assert_eq!(app.focus, Pane::Log);
    assert_eq!(app.selected.as_deref(), Some("node3"));
}

#[test]
fn a_small_terminal_keeps_the_selection_in_view() {
    let mut app = live(80, 24);
    update(&mut app, Msg::Resize(80, 14));
    let rows = view::table_rows(&app);
    assert!(rows < 5, "{rows}");
    update(&mut app, key(KeyCode::End));
    let row = app.selected_row().unwrap();
    assert!(row >= app.table_offset && row < app.table_offset + usize::from(rows));
    assert!(screen_text(&app).contains("node5"));
    update(&mut app, key(KeyCode::Home));
    assert_eq!(app.table_offset, 0);
}

// ---- snapshots ----

fn snap(name: &str, app: &App) {
    insta::assert_snapshot!(name, render(app).backend());
}

/// The live dashboard after a few events, as in the snapshots.
fn busy_day(width: u16, height: u16) -> App {
    let mut app = live(width, height);
    let mut node3 = app.members[2].clone();
    node3.message = "No heartbeat for 31s".into();
    update(
        &mut app,
        Msg::Watch(
            WatchEvent::Member {
                name: "node3".into(),
                after: Some(node3),
            },
            now(),
        ),
    );
    let mut node4 = app.members[3].clone();
    node4.roles = vec![Role::DatabaseStandby, Role::EventHub];
    update(
        &mut app,
        Msg::Watch(
            WatchEvent::Member {
                name: "node4".into(),
                after: Some(node4),
            },
            later(2, "14:00:02"),
        ),
    );
    update(&mut app, Msg::Tick(later(2, "14:00:02")));
    app
}

#[test]
fn snapshot_members_80x24() {
    snap("members_80x24", &busy_day(80, 24));
}

#[test]
fn snapshot_members_wide_132x34() {
    snap("members_132x34", &busy_day(132, 34));
}

#[test]
fn snapshot_failure_domains() {
    let mut app = busy_day(80, 24);
    update(&mut app, key(KeyCode::Char('v')));
    snap("domains_80x24", &app);
}

#[test]
fn snapshot_detail_pane_focused() {
    let mut app = busy_day(132, 34);
    update(&mut app, key(KeyCode::Char('j')));
    update(&mut app, key(KeyCode::Char('j')));
    update(&mut app, key(KeyCode::Char('j')));
    update(&mut app, key(KeyCode::Tab));
    snap("detail_node4_132x34", &app);
    // node1 carries config and a description.
    update(&mut app, key(KeyCode::Esc));
    update(&mut app, key(KeyCode::Char('g')));
    snap("detail_node1_80x24", &{
        let mut narrow = app.clone();
        update(&mut narrow, Msg::Resize(80, 24));
        narrow
    });
}

#[test]
fn snapshot_help_overlay() {
    let mut app = busy_day(80, 24);
    update(&mut app, key(KeyCode::Char('?')));
    snap("help_80x24", &app);
}

#[test]
fn snapshot_every_confirmation_dialog() {
    let dialogs = [
        (
            "confirm_token",
            Action::CreateToken {
                name: "node6".into(),
            },
        ),
        (
            "confirm_remove",
            Action::Remove {
                name: "node2".into(),
                force: false,
            },
        ),
        (
            "confirm_force_remove",
            Action::Remove {
                name: "node3".into(),
                force: true,
            },
        ),
        (
            "confirm_role_add",
            Action::Role {
                name: "node1".into(),
                role: Role::OvnChassis,
                add: true,
            },
        ),
        (
            "confirm_role_remove",
            Action::Role {
                name: "node1".into(),
                role: Role::EventHub,
                add: false,
            },
        ),
        (
            "confirm_domain",
            Action::FailureDomain {
                name: "node2".into(),
                domain: "rack9".into(),
            },
        ),
        (
            "confirm_set_max_voters",
            Action::SetConfig {
                key: "cluster.max_voters".into(),
                value: "5".into(),
            },
        ),
    ];
    for (name, action) in dialogs {
        let mut app = busy_day(80, 24);
        app.mode = Mode::Confirm(action);
        snap(name, &app);
    }
}

#[test]
fn snapshot_token_dialog() {
    let mut app = busy_day(80, 24);
    let action = Action::CreateToken {
        name: "node6".into(),
    };
    let token = "eyJzZXJ2ZXJfbmFtZSI6Im5vZGU2IiwiZmluZ2VycHJpbnQiOiJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYiIsImFkZHJlc3NlcyI6WyIxMjcuMC4wLjE6ODQ0MyJdLCJzZWNyZXQiOiJjZGNkIiwiZXhwaXJlc19hdCI6IjIwMjYtMTEtMjNUMjE6MjU6MDRaIn0=";
    update(
        &mut app,
        Msg::Done {
            action,
            result: Ok(Outcome::Token {
                name: "node6".into(),
                token: token.into(),
            }),
            at: now(),
        },
    );
    snap("token_80x24", &app);
    // The token can be read back off the screen whole (the tmux test does the same).
    assert_eq!(token_on_screen(&screen_text(&app)).as_deref(), Some(token));
}

/// The token shown in the dialog: the lines under the intro, from the intro's column.
fn token_on_screen(screen: &str) -> Option<String> {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let intro: Vec<char> = super::dialogs::TOKEN_INTRO.chars().collect();
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
    Some(token)
}

#[test]
fn snapshot_inline_refusal() {
    let mut app = busy_day(80, 24);
    let action = Action::SetConfig {
        key: "cluster.max_voters".into(),
        value: "4".into(),
    };
    update(&mut app, Msg::Done {
        action,
        result: Err("cannot set 'cluster.max_voters' to '4': Value must be an odd number equal to or higher than 3".into()),
        at: later(3, "14:00:03"),
    });
    snap("refusal_80x24", &app);
}

#[test]
fn snapshot_prompt_and_filter() {
    let mut app = busy_day(80, 24);
    update(&mut app, key(KeyCode::Char('c')));
    chars(&mut app, "cluster.max_standby 1");
    snap("prompt_set_80x24", &app);
    let mut app = busy_day(80, 24);
    update(&mut app, key(KeyCode::Char('/')));
    chars(&mut app, "rack1");
    snap("filter_80x24", &app);
}

#[test]
fn snapshot_disconnected_banner() {
    let mut app = busy_day(80, 24);
    update(
        &mut app,
        Msg::StreamEnded {
            error: "the daemon closed the stream".into(),
            at: later(9, "14:00:09"),
        },
    );
    update(
        &mut app,
        Msg::StreamEnded {
            error: "cannot reach the Corral daemon at /tmp/corral/unix.socket: connection refused"
                .into(),
            at: later(10, "14:00:10"),
        },
    );
    snap("disconnected_80x24", &app);
}

#[test]
fn snapshot_connecting() {
    let app = App::new("/tmp/corral/unix.socket", true, (80, 24), now());
    snap("connecting_80x24", &app);
}

#[test]
fn no_color_means_no_colour_anywhere() {
    let mut app = busy_day(80, 24);
    app.colors = false;
    update(
        &mut app,
        Msg::StreamEnded {
            error: "connection refused".into(),
            at: now(),
        },
    );
    app.notice = Some(super::app::Notice {
        text: "refused".into(),
        error: true,
    });
    let terminal = render(&app);
    let buffer = terminal.backend().buffer();
    for cell in buffer.content() {
        assert_eq!(cell.fg, Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, Color::Reset, "{cell:?}");
    }
    // The same screen with colours has them (statuses, banner).
    app.colors = true;
    let coloured = render(&app);
    assert!(
        coloured
            .backend()
            .buffer()
            .content()
            .iter()
            .any(|c| c.fg == Color::Green)
    );
    // The styles that remain (bold, reverse) are in the snapshot.
    app.colors = false;
    insta::assert_debug_snapshot!("no_color_80x24", render(&app).backend().buffer());
}

#[test]
fn evacuation_is_planned_first_and_confirmed_with_its_plan() {
    let mut app = busy_day(80, 24);
    update(&mut app, key(KeyCode::Char(':')));
    chars(&mut app, "evacuate node1");
    let plan = Action::PlanEvacuation {
        name: "node1".into(),
        restore: false,
    };
    assert_eq!(
        update(&mut app, key(KeyCode::Enter)),
        vec![Command::Run(plan.clone())]
    );
    assert_eq!(
        app.mode,
        Mode::Normal,
        "the plan is asked for, nothing to confirm yet"
    );
    let evacuate = Action::Evacuate {
        name: "node1".into(),
        restore: false,
        plan: vec![
            "c1: stop, migrate, start, node1 -> node3".into(),
            "c3: stop, stays on node1".into(),
            "c5: migrate, node1 -> node2".into(),
        ],
    };
    update(
        &mut app,
        Msg::Done {
            action: plan,
            result: Ok(Outcome::Planned(evacuate.clone())),
            at: now(),
        },
    );
    assert_eq!(app.mode, Mode::Confirm(evacuate.clone()));
    snap("confirm_evacuate", &app);
    assert_eq!(
        update(&mut app, key(KeyCode::Char('y'))),
        vec![Command::Run(evacuate)]
    );
}

#[test]
fn instance_counts_follow_the_stream() {
    let mut app = busy_day(80, 24);
    let row = |app: &App, name: &str| {
        screen_text(app)
            .lines()
            .find(|l| l.contains(&format!("{name} ")) && l.contains("ONLINE"))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        row(&app, "node1").contains("ONLINE       3"),
        "{}",
        screen_text(&app)
    );
    update(
        &mut app,
        Msg::Watch(
            WatchEvent::Instances(BTreeMap::from([
                ("node2".to_string(), 4),
                ("node4".to_string(), 1),
            ])),
            now(),
        ),
    );
    assert!(
        row(&app, "node1").contains("ONLINE       0"),
        "{}",
        screen_text(&app)
    );
    assert!(
        row(&app, "node2").contains("ONLINE       4"),
        "{}",
        screen_text(&app)
    );
}
