//! The dashboard tells the truth: data that is not live is marked with the time it is
//! from, the quorum line follows Raft's own view, the dashboard moves to another member,
//! and keys, events and refusals do what they say.

use std::collections::BTreeMap;
use std::time::Duration;

use corral_shared::api::{
    Operation, OperationClass, OperationStatus, RaftRole, RaftState, WatchEvent,
};
use crossterm::event::KeyCode;

use super::action::{Action, Outcome};
use super::app::{App, Command, Link, Mode, Msg, Pane, View};
use super::tests::{chars, key, later, live, now, screen_text, snapshot};
use super::update::update;

/// The Raft view of a three-voter cluster led by node1, with `down` silent.
fn raft_view(leader: Option<&str>, down: &[&str]) -> RaftState {
    RaftState {
        leader: leader.map(str::to_string),
        term: 7,
        commit_index: 1042,
        applied_index: 1042,
        voters: 3,
        quorum: 2,
        role: RaftRole::Follower,
        voters_reachable: ["node1", "node2", "node3"]
            .into_iter()
            .map(|n| (n.to_string(), !down.contains(&n)))
            .collect(),
        leader_unreachable: false,
    }
}

fn raft(app: &mut App, state: RaftState, at: crate::dashboard::clock::Stamp) {
    update(app, Msg::Watch(WatchEvent::Raft(state), at));
}

/// The quorum line (second row of the screen).
fn quorum_line(app: &App) -> String {
    screen_text(app)
        .lines()
        .nth(1)
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}

#[test]
fn a_lost_stream_marks_the_data_not_live_as_of_its_last_live_moment() {
    let mut app = live(100, 24);
    update(&mut app, Msg::Tick(later(3, "14:00:03")));
    assert_eq!(app.stale(), None);
    update(
        &mut app,
        Msg::StreamEnded {
            error: "connection refused".into(),
            at: later(4, "14:00:04"),
        },
    );
    let stale = app.stale().expect("not live once the stream is gone");
    assert_eq!(stale.as_of, "14:00:03", "the last moment it was live");
    // Time passing does not move the mark.
    update(&mut app, Msg::Tick(later(9, "14:00:09")));
    let screen = screen_text(&app);
    assert!(
        screen.contains("NOT LIVE: as of 14:00:03 (node1 cannot be reached)"),
        "{screen}"
    );
    assert!(
        quorum_line(&app).starts_with(" as of 14:00:03 · Quorum"),
        "{}",
        quorum_line(&app)
    );
}

#[test]
fn a_local_copy_without_quorum_is_marked_not_live() {
    let mut app = live(100, 24);
    raft(
        &mut app,
        raft_view(Some("node1"), &[]),
        later(1, "14:00:01"),
    );
    assert_eq!(app.stale(), None);
    // The leader does not answer the watched member: what it shows is its own copy.
    let silent = RaftState {
        leader_unreachable: true,
        voters_reachable: BTreeMap::new(),
        role: RaftRole::Learner,
        ..raft_view(Some("node1"), &[])
    };
    raft(&mut app, silent, later(2, "14:00:02"));
    let stale = app.stale().expect("no quorum confirms it");
    assert_eq!(stale.as_of, "14:00:01");
    assert!(stale.why.contains("local copy"), "{stale:?}");
    let line = quorum_line(&app);
    assert!(line.contains("UNKNOWN"), "{line}");
    assert!(line.contains("the leader node1 does not answer"), "{line}");
}

#[test]
fn the_quorum_line_follows_rafts_view_not_the_statuses() {
    let mut app = live(120, 24);
    // Every member is still ONLINE by status (heartbeats are seconds old) ...
    for m in &mut app.members {
        m.status = corral_shared::api::MemberStatus::Online;
    }
    raft(&mut app, raft_view(Some("node1"), &[]), now());
    assert!(quorum_line(&app).contains("OK ■■■ 3 of 3 voters answer the leader"));

    // ... but Raft already knows node2 is silent: degraded, within one event.
    raft(&mut app, raft_view(Some("node1"), &["node2"]), now());
    let line = quorum_line(&app);
    assert!(line.contains("DEGRADED ■■□"), "{line}");
    assert!(
        line.contains("2 of 3 voters answer, 2 needed; down: node2"),
        "{line}"
    );

    raft(
        &mut app,
        raft_view(Some("node1"), &["node2", "node3"]),
        now(),
    );
    assert!(
        quorum_line(&app).contains("LOST ■□□"),
        "{}",
        quorum_line(&app)
    );

    raft(&mut app, raft_view(None, &[]), now());
    let line = quorum_line(&app);
    assert!(line.contains("ELECTION no leader (term 7)"), "{line}");
}

#[test]
fn when_the_watched_member_goes_the_dashboard_moves_to_another() {
    let mut app = App::new("/d/node1/unix.socket", true, (100, 24), now())
        .with_fallbacks(&["/d/node2/unix.socket".into(), "/d/node3/unix.socket".into()]);
    update(
        &mut app,
        Msg::Watch(WatchEvent::Snapshot(snapshot()), now()),
    );
    let commands = update(
        &mut app,
        Msg::StreamEnded {
            error: "connection reset".into(),
            at: later(5, "14:00:05"),
        },
    );
    assert_eq!(
        commands,
        vec![Command::Connect {
            after: Duration::from_millis(200)
        }]
    );
    assert_eq!(
        app.source, "/d/node2/unix.socket",
        "the next member is tried"
    );
    assert!(screen_text(&app).contains("next try: /d/node2/unix.socket"));
    // node2 is down too: node3 next, still without waiting long.
    update(
        &mut app,
        Msg::StreamEnded {
            error: "connection refused".into(),
            at: later(5, "14:00:05"),
        },
    );
    assert_eq!(app.source, "/d/node3/unix.socket");

    let mut from_node3 = snapshot();
    from_node3.server_name = "node3".into();
    update(
        &mut app,
        Msg::Watch(WatchEvent::Snapshot(from_node3), later(6, "14:00:06")),
    );
    assert_eq!(app.link, Link::Live);
    assert_eq!(app.server, "node3");
    assert_eq!(app.lost.as_deref(), Some("node1"));
    let texts: Vec<&str> = app.log.iter().map(|l| l.text.as_str()).collect();
    assert!(
        texts.contains(&"now watching node3 (/d/node3/unix.socket): node1 cannot be reached"),
        "{texts:?}"
    );
    assert!(
        !texts.iter().any(|t| t.starts_with("stream back")),
        "node1 is not back: {texts:?}"
    );
    let title = screen_text(&app)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        title.contains("watching node3 · node1 cannot be reached"),
        "{title}"
    );
    assert_eq!(app.stale(), None, "live again, from node3");
}

#[test]
fn a_single_source_keeps_its_backoff() {
    let mut app = live(80, 24);
    for (attempt, want) in [(1, 200), (2, 400), (3, 800)] {
        let commands = update(
            &mut app,
            Msg::StreamEnded {
                error: "refused".into(),
                at: later(attempt, "14:00:01"),
            },
        );
        assert_eq!(
            commands,
            vec![Command::Connect {
                after: Duration::from_millis(want)
            }],
            "attempt {attempt}"
        );
        assert_eq!(app.source, "/tmp/corral/unix.socket");
    }
}

#[test]
fn domain_names_are_not_cut_to_the_name_column() {
    let mut app = live(80, 24);
    for (m, domain) in
        app.members
            .iter_mut()
            .zip(["default", "rack-12", "default", "rack-12", "a-long-domain"])
    {
        m.failure_domain = domain.into();
    }
    app.view = View::Domains;
    let screen = screen_text(&app);
    for heading in ["▸ default", "▸ rack-12", "▸ a-long-domain"] {
        assert!(screen.contains(heading), "{heading} in:\n{screen}");
    }
}

#[test]
fn the_demo_s_pids_and_directory_stay_on_screen() {
    let mut app = live(100, 24).with_about(vec![
        "demo: node1 pid 11 · node2 pid 12 · node3 pid 13".into(),
        "from another shell: CORRAL_DIR=/tmp/corral-demo-x/node1 corral cluster list".into(),
    ]);
    update(&mut app, Msg::Tick(later(1, "14:00:01")));
    let screen = screen_text(&app);
    let lines: Vec<&str> = screen.lines().collect();
    assert!(
        lines[1].contains("node1 pid 11 · node2 pid 12 · node3 pid 13"),
        "{screen}"
    );
    assert!(
        lines[2].contains("CORRAL_DIR=/tmp/corral-demo-x/node1"),
        "{screen}"
    );
    assert!(
        lines[3].contains("Quorum"),
        "the quorum line follows: {screen}"
    );
}

#[test]
fn the_focused_pane_says_so_in_its_title_and_enter_opens_the_detail() {
    let mut app = live(80, 24);
    let screen = screen_text(&app);
    assert!(screen.contains("┌▶ Members 5"), "{screen}");
    assert!(!screen.contains("▶ node1"), "{screen}");

    update(&mut app, key(KeyCode::Char('j')));
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.focus, Pane::Detail);
    let screen = screen_text(&app);
    assert!(screen.contains("┌▶ node2"), "{screen}");
    assert!(screen.contains("┌ Members 5"), "{screen}");
    // Enter again goes back to the table.
    update(&mut app, key(KeyCode::Enter));
    assert_eq!(app.focus, Pane::Members);
}

#[test]
fn a_new_token_is_logged_once() {
    let mut app = live(80, 24);
    let action = Action::CreateToken {
        name: "node6".into(),
    };
    update(
        &mut app,
        Msg::Done {
            action,
            result: Ok(Outcome::Token {
                name: "node6".into(),
                token: "abc".into(),
            }),
            at: now(),
        },
    );
    let operation = Operation {
        id: "op1".into(),
        class: OperationClass::Token,
        description: "Requesting to join the cluster".into(),
        created_at: String::new(),
        updated_at: String::new(),
        status: OperationStatus::Running,
        status_code: OperationStatus::Running.code(),
        resources: BTreeMap::new(),
        metadata: serde_json::json!({ "serverName": "node6" }),
        may_cancel: true,
        err: String::new(),
        location: "node1".into(),
    };
    update(
        &mut app,
        Msg::Watch(
            WatchEvent::Operation {
                id: "op1".into(),
                after: Some(operation),
            },
            now(),
        ),
    );
    let about_token: Vec<&str> = app
        .log
        .iter()
        .map(|l| l.text.as_str())
        .filter(|t| t.contains("token"))
        .collect();
    assert_eq!(about_token, ["join token issued for node6"]);
    assert!(matches!(app.mode, Mode::Token { .. }), "the token is shown");
}

#[test]
fn a_setting_that_breaks_its_rule_is_refused_before_asking() {
    let mut app = live(80, 24);
    update(&mut app, key(KeyCode::Char(':')));
    chars(&mut app, "set cluster.max_voters 4");
    let commands = update(&mut app, key(KeyCode::Enter));
    assert!(commands.is_empty());
    assert_eq!(app.mode, Mode::Normal, "no go-ahead is asked");
    let notice = app.notice.clone().expect("a refusal");
    assert!(notice.error);
    assert!(
        notice.text.contains("cluster.max_voters")
            && notice.text.contains("odd number")
            && notice.text.contains("nothing was changed"),
        "{}",
        notice.text
    );
}

#[test]
fn only_y_confirms_a_force_removal() {
    let mut app = live(80, 24);
    update(&mut app, key(KeyCode::Char('j')));
    update(&mut app, key(KeyCode::Char('X')));
    let force = Action::Remove {
        name: "node2".into(),
        force: true,
    };
    assert_eq!(app.mode, Mode::Confirm(force.clone()));
    assert!(update(&mut app, key(KeyCode::Enter)).is_empty());
    assert_eq!(
        app.mode,
        Mode::Confirm(force.clone()),
        "Enter does not confirm"
    );
    assert_eq!(
        update(&mut app, key(KeyCode::Char('y'))),
        vec![Command::Run(force)]
    );
}

#[test]
fn a_fallback_from_another_cluster_is_not_shown_as_this_one() {
    let mut app = App::new("/d/node1/unix.socket", true, (100, 24), now())
        .with_fallbacks(&["/other/unix.socket".into(), "/d/node2/unix.socket".into()]);
    update(
        &mut app,
        Msg::Watch(WatchEvent::Snapshot(snapshot()), now()),
    );
    update(
        &mut app,
        Msg::StreamEnded {
            error: "connection reset".into(),
            at: later(1, "14:00:01"),
        },
    );
    assert_eq!(app.source, "/other/unix.socket");
    // The other socket answers for a different cluster: refused, and the next one tried.
    let mut foreign = snapshot();
    foreign.server_name = "web1".into();
    for (m, name) in foreign
        .members
        .iter_mut()
        .zip(["web1", "web2", "web3", "web4", "web5"])
    {
        m.server_name = name.into();
        m.url = format!("https://10.0.0.{}:8443", &name[3..]);
    }
    let commands = update(
        &mut app,
        Msg::Watch(WatchEvent::Snapshot(foreign), later(2, "14:00:02")),
    );
    assert!(
        matches!(commands.as_slice(), [Command::Connect { .. }]),
        "{commands:?}"
    );
    assert_eq!(app.source, "/d/node2/unix.socket");
    assert_eq!(
        app.server, "node1",
        "nothing of the other cluster was taken in"
    );
    assert!(
        app.members
            .iter()
            .all(|m| m.server_name.starts_with("node"))
    );
    assert!(
        app.log
            .iter()
            .any(|l| l.text
                == "/other/unix.socket is web1, not a member of this cluster: not watched"),
        "{:?}",
        app.log
    );
    assert!(app.stale().is_some(), "still not live");
}
